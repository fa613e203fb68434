"""Overall deadlines and size caps for reading what a server sends.

An HTTP read timeout restarts on every byte, so a server that trickles a byte every few seconds
(or SSE comments with no events) would hold a client forever. These helpers bound the whole:

- :class:`EventIdleClock` — the idle timeout of a stream counts *events*, not bytes: a read that
  completes no event (a keep-alive comment, a dribble of one huge event) does not reset it;
- :func:`read_capped` / :func:`aread_capped` — read a body (an error answer, a token answer) up
  to ``limit`` bytes and for at most ``seconds`` in all, then stop; what arrived is returned;
- :func:`within` — await a coroutine for at most ``seconds``, in the calling task.

Pure standard library plus the response object handed in; shared by the core and auth.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

__all__ = [
    "ERROR_BODY_LIMIT",
    "ERROR_BODY_SECONDS",
    "EventIdleClock",
    "aread_capped",
    "completes_event",
    "read_capped",
    "within",
]

T = TypeVar("T")

#: At most this much of an error body is read (it is quoted as a short excerpt anyway).
ERROR_BODY_LIMIT = 64 * 1024
#: An error body, or a token endpoint's answer, must arrive within this many seconds in all.
ERROR_BODY_SECONDS = 10.0


class EventIdleClock:
    """Counts the time since the last complete SSE event of a stream."""

    __slots__ = ("_last", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = time.monotonic()

    def event(self) -> None:
        """An event arrived: start counting again."""
        self._last = time.monotonic()

    def expired(self) -> bool:
        """Whether no event arrived for longer than the idle timeout."""
        return time.monotonic() - self._last > self.seconds


def completes_event(text: str) -> bool:
    """Whether decoded stream text (whole events only) holds at least one ``data`` line.

    Comment lines (``: keep-alive``) and bare ``event:`` lines are not events.
    """
    return text.startswith("data") or "\ndata" in text


def read_capped(response: Any, *, limit: int = ERROR_BODY_LIMIT, seconds: float) -> bytes:
    """Up to ``limit`` bytes of a streamed ``httpx2`` response body, read for at most
    ``seconds`` in all (checked after each network read); the rest is left unread."""
    deadline = time.monotonic() + seconds
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size >= limit or time.monotonic() > deadline:
            break
    return b"".join(parts)[:limit]


async def aread_capped(response: Any, *, limit: int = ERROR_BODY_LIMIT, seconds: float) -> bytes:
    """Async :func:`read_capped`; here the deadline also interrupts a silent read."""
    parts: list[bytes] = []
    size = 0

    async def read() -> None:
        nonlocal size
        async for chunk in response.aiter_bytes():
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break

    try:
        await within(seconds, read())
    except asyncio.TimeoutError:
        pass
    return b"".join(parts)[:limit]


async def within(seconds: float | None, work: Coroutine[Any, Any, T]) -> T:
    """``await work``, cancelling it and raising :class:`asyncio.TimeoutError` after ``seconds``
    (``None``: no limit). It runs in the calling task with :func:`asyncio.timeout` where Python
    has it (3.11+: no task per call on a hot path), else in a task of
    :func:`asyncio.wait_for`.

    On 3.11+ the first step of ``work`` runs before any timer is armed: work that finishes
    without waiting (a request body already received, a stream already ended) returns at
    once, and arming and disarming a deadline would cost more than such work. Work that
    waits is bounded as before; its first step took no loop time, so the deadline is the same.
    """
    deadline = getattr(asyncio, "timeout", None)
    if deadline is None:
        return await asyncio.wait_for(work, seconds)
    try:
        first = work.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    async with deadline(seconds):
        return await _Resumed(work, first)


class _Resumed:
    """The rest of ``await work`` after its first step yielded ``first``: what ``await`` does
    (PEP 380), so values, exceptions, cancellation and closing pass through unchanged."""

    __slots__ = ("_first", "_work")

    def __init__(self, work: Coroutine[Any, Any, Any], first: Any) -> None:
        self._work = work
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        work, value = self._work, self._first
        self._first = None
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                work.close()
                raise
            except BaseException as exc:  # a cancellation: delivered to the work
                try:
                    value = work.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    value = work.send(sent)
                except StopIteration as done:
                    return done.value
