"""The plumbing every API face of the server shares: reading a request body, the one backend
client, opening a turn (failures before any output become an HTTP status), one error mapping
with each face's own error shape, and a turn answered whole or streamed.

The handlers of the OpenAI face live in :mod:`.openai_api`, the Anthropic face in
:mod:`.anthropic`, the Ollama face in :mod:`.ollama`; :mod:`.app` wires them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from llm_codex.core import errors as core_errors
from llm_codex.core.deadline import within
from llm_codex.core.types import CodexRequest, StreamEvent
from llm_codex.server.disconnect import client_left, until_client_leaves
from llm_codex.server.errors import ErrorInfo, RequestRefused, error_info, error_response
from llm_codex.server.middleware import access_record
from llm_codex.server.streaming import EventStreamResponse, StreamEncoder, collect_turn
from llm_codex.server.validation import parse_body

__all__ = [
    "Backend",
    "Handler",
    "event_stream",
    "guarded",
    "guarded_as",
    "log_info",
    "open_turn",
    "read_json",
    "read_turn",
]

error_logger = logging.getLogger("llm_codex.server")


def log_info(request: Request) -> dict[str, Any]:
    """The access-log record of this request (model and usage are added to it)."""
    return access_record(request.scope)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, refusing bodies over the limit (413), bodies slower
    than ``body_timeout`` (408) and bad JSON (:func:`.validation.parse_body`)."""
    limit: int = request.app.state.settings.max_body

    def too_big() -> RequestRefused:
        return RequestRefused(
            f"The request body is larger than this server's limit of {limit} bytes (--max-body).",
            status=413,
            code="request_too_large",
        )

    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise too_big()
    chunks: list[bytes] = []
    size = 0

    async def read_all() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big()
            chunks.append(chunk)

    timeout: float = request.app.state.settings.body_timeout
    try:
        await within(timeout, read_all())
    except ClientDisconnect:  # logged as 499 (client closed request), not as a failure
        raise client_left() from None
    except asyncio.TimeoutError:
        raise RequestRefused(
            f"The request body did not arrive within {timeout:g} s.",
            status=408,
            code="request_timeout",
        ) from None
    return parse_body(b"".join(chunks))


class Backend:
    """The one core client of this app, created on first use (inside the serving loop)."""

    def __init__(self, *, client: Any = None, credentials: Any = None) -> None:
        self._client = client
        self._credentials = credentials

    def client(self) -> Any:
        if self._client is None:
            from llm_codex.core.client import AsyncCodexClient

            credentials = self._credentials
            if credentials is None:
                from llm_codex.auth import default_auth_manager

                credentials = default_auth_manager()
            self._client = AsyncCodexClient(credentials=credentials, rate_limits=False)
        return self._client

    async def aclose(self) -> None:
        """Close the client's connection pool (it belongs to the serving loop, ending now)."""
        if self._client is None:
            return
        closer = getattr(self._client, "aclose", None)
        if closer is None:
            closer = getattr(getattr(self._client, "http", None), "aclose", None)
        if closer is not None:
            try:
                await closer()
            except Exception:  # shutting down: nothing useful to do about it
                error_logger.debug("closing the backend client failed", exc_info=True)


async def open_turn(request: Request, req: CodexRequest) -> tuple[list[StreamEvent], Any]:
    """Start the backend stream and wait for its first batch of events, so that failures
    before any output (no login, usage limit, Cloudflare, 5xx…) become a proper HTTP error
    status. Returns that batch and the stream of the next ones (one per network read).
    A client that hangs up meanwhile ends the wait, and the upstream request with it."""
    stream = request.app.state.backend.client().stream_batches(req)

    async def first_batch() -> list[StreamEvent]:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return []

    try:
        first = await until_client_leaves(request.receive, first_batch())
    except BaseException:
        await aclose_stream(stream)
        raise
    return first, stream


async def aclose_stream(stream: Any) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        try:
            await closer()
        except Exception:  # closing a broken stream must not hide the real answer
            error_logger.debug("closing the backend stream failed", exc_info=True)


Handler = Callable[[Request], Awaitable[Response]]


def guarded_as(respond: Callable[[ErrorInfo], Response]) -> Callable[[Handler], Handler]:
    """A decorator turning every exception a handler raises into ``respond(error_info(exc))``:
    one error mapping for every API face, each answering in its own shape."""

    def guard(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                if not isinstance(exc, core_errors.CodexError):
                    error_logger.exception("unexpected error answering %s", request.url.path)
                return respond(error_info(exc))

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return guard


#: Turns every exception a handler raises into an OpenAI-shaped error answer.
guarded = guarded_as(error_response)


async def read_turn(
    request: Request,
    first: list[StreamEvent],
    stream: Any,
    feed: Callable[[StreamEvent], object] | None = None,
) -> tuple[Any, str | None]:
    """:func:`~llm_codex.server.streaming.collect_turn` for a handler: the backend stream is
    always closed and the usage recorded for the access log. A client that hangs up ends the
    turn at once, and the upstream request with it (:func:`.disconnect.until_client_leaves`)."""
    try:
        result, incomplete = await until_client_leaves(
            request.receive, collect_turn(first, stream, feed=feed)
        )
    finally:
        await aclose_stream(stream)
    log_info(request)["usage"] = result.usage
    return result, incomplete


def event_stream(
    request: Request,
    encoder: StreamEncoder,
    first: list[StreamEvent],
    stream: Any,
    tr: Any,
    on_complete: Callable[[Any], None] | None = None,
    **options: Any,
) -> EventStreamResponse:
    """The streamed answer of any face (``options``: pings, for the Anthropic one, a media
    type); the turn's usage goes to the access log when it ends, and ``on_complete(result)``
    runs when the turn ended with a result (complete or truncated), before its last bytes are
    sent, so the client's next request already finds what it stored."""

    def log_usage(encoder: StreamEncoder) -> None:
        if encoder.usage is not None:
            log_info(request)["usage"] = encoder.usage

    def finish(encoder: StreamEncoder) -> None:
        if on_complete is not None and encoder.result is not None:
            on_complete(encoder.result)

    return EventStreamResponse(
        encoder,
        first,
        stream,
        headers=tr.headers(),
        on_close=log_usage,
        on_finish=finish if on_complete is not None else None,
        **options,
    )
