"""Work that stops when the client hangs up, so the user's plan is not spent on nobody.

A streaming answer notices a client that left when its next write fails, and closes its
upstream stream then. A non-streaming answer writes nothing until the end, so it has to watch
for the ``http.disconnect`` message itself: :func:`until_client_leaves` runs the work and, if
the client hangs up first, cancels it (the upstream request is closed by the work's own
``finally``) and answers 499 (*client closed request*) for the access log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.types import Receive

from llm_codex.server.errors import RequestRefused

__all__ = ["client_left", "disconnected", "until_client_leaves"]

T = TypeVar("T")


def client_left() -> RequestRefused:
    """The refusal recorded when the client hung up before its answer (status 499)."""
    return RequestRefused(
        "The client closed the connection before its answer was ready.",
        status=499,
        code="client_closed_request",
    )


async def disconnected(receive: Receive) -> None:
    """Returns when the server reports that the client hung up (the body is already read)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def until_client_leaves(receive: Receive, work: Coroutine[Any, Any, T]) -> T:
    """``await work``, unless the client hangs up first: then ``work`` is cancelled and
    :func:`client_left` raised. Call it only once the request body has been read.

    ``work`` runs in the calling task; a watcher task cancels that task when the server reports
    the hang-up (a cancellation from anywhere else passes through unchanged).
    """
    task = asyncio.current_task()
    left = False

    async def watch() -> None:
        nonlocal left
        await disconnected(receive)
        left = True
        if task is not None:
            task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not left:
            raise
        uncancel = getattr(task, "uncancel", None)  # Python 3.11+: this cancel is handled
        if uncancel is not None:
            uncancel()
        raise client_left() from None
    finally:
        watcher.cancel()
