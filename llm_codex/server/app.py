"""The ASGI application of ``llm codex serve``: routes, local-client checks, limits, access log.

Routes:

- ``GET /health`` — ``{"status": "ok", "version": …}``; no API key needed, reveals nothing else.
- ``GET /v1/models`` and ``GET /v1/models/{id}`` — the catalog (cache or built-in list; no
  network), OpenAI list shape.
- ``POST /v1/responses`` — :mod:`.responses`, with ``previous_response_id`` and item
  references resolved from :mod:`.response_store`; ``GET``/``DELETE /v1/responses/{id}`` and
  ``GET /v1/responses/{id}/input_items`` while a response is stored.
- ``POST /v1/chat/completions`` — :mod:`.chat` (reasoning restored by echoed tool-call ids).
- ``POST /v1/messages``, ``POST /v1/messages/count_tokens`` — the Anthropic face,
  :mod:`.anthropic` (``/v1/models`` answers in Anthropic's shape when ``anthropic-version`` is
  sent).
- ``/api/*`` and ``GET``/``HEAD /`` — the Ollama API, :mod:`.ollama` (``/`` is also the probe
  Anthropic clients make).

Every request first passes the layers of :mod:`.middleware` (access log, Host check, CORS,
API key). Request bodies are limited to ``max_body`` bytes (413). Errors are OpenAI-shaped JSON
(:mod:`.errors`). All backend traffic goes through one :class:`AsyncCodexClient` per app, with
the process-wide credential provider, so concurrent requests share one token refresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from llm_codex.core import errors as core_errors
from llm_codex.core.types import CodexRequest, StreamEvent
from llm_codex.server import chat, responses
from llm_codex.server.common import model_slug, new_id
from llm_codex.server.disconnect import client_left, until_client_leaves
from llm_codex.server.errors import ErrorInfo, RequestRefused, error_info, error_response
from llm_codex.server.middleware import access_record, middleware_stack
from llm_codex.server.response_store import (
    DEFAULT_STORE_MEMORY,
    DEFAULT_STORE_SIZE,
    DEFAULT_STORE_TTL,
    ResponseStore,
)
from llm_codex.server.streaming import EventStreamResponse, StreamEncoder, collect_turn
from llm_codex.server.validation import parse_body

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_PORT", "ServerSettings", "create_app"]

DEFAULT_PORT = 8765
DEFAULT_MAX_BODY = 20 * 1024 * 1024

error_logger = logging.getLogger("llm_codex.server")


@dataclass(frozen=True)
class ServerSettings:
    """How the server was started. ``api_key`` None means no key is required (loopback only)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_body: int = DEFAULT_MAX_BODY
    #: Claude-style model names (``(name, slug)`` pairs) for Anthropic clients; empty: defaults.
    anthropic_aliases: tuple[tuple[str, str], ...] = ()
    #: Seconds of silence after which a streamed Anthropic message gets a ``ping`` event.
    ping_interval: float = 10.0
    #: The response store (:mod:`.response_store`): turns kept at most (0: none), seconds,
    #: and roughly how many bytes their items may take.
    store_size: int = DEFAULT_STORE_SIZE
    store_ttl: float = DEFAULT_STORE_TTL
    store_memory: int = DEFAULT_STORE_MEMORY
    #: Seconds a client has to send a request's headers (from connecting, or from its first
    #: byte on a kept-alive connection), to send the whole body, and to start another request
    #: on a kept-alive connection; then it gets 408 or the connection is closed.
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keep_alive_timeout: float = 5.0


# --- helpers for handlers ------------------------------------------------------------------------


def _log_info(request: Request) -> dict[str, Any]:
    return access_record(request.scope)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, refusing bodies over the limit (413), bodies slower
    than ``body_timeout`` (408) and bad JSON (:func:`.validation.parse_body`)."""
    limit: int = request.app.state.settings.max_body
    too_big = RequestRefused(
        f"The request body is larger than this server's limit of {limit} bytes (--max-body).",
        status=413,
        code="request_too_large",
    )
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0

    async def read_all() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)

    timeout: float = request.app.state.settings.body_timeout
    try:
        await asyncio.wait_for(read_all(), timeout)
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
            self._client = AsyncCodexClient(credentials=credentials)
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


async def _open(request: Request, req: CodexRequest) -> tuple[list[StreamEvent], Any]:
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
        await _aclose(stream)
        raise
    return first, stream


async def _aclose(stream: Any) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        try:
            await closer()
        except Exception:  # closing a broken stream must not hide the real answer
            error_logger.debug("closing the backend stream failed", exc_info=True)


Handler = Callable[[Request], Awaitable[Response]]


def _guarded_as(respond: Callable[[ErrorInfo], Response]) -> Callable[[Handler], Handler]:
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
_guarded = _guarded_as(error_response)


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
        await _aclose(stream)
    _log_info(request)["usage"] = result.usage
    return result, incomplete


def _event_stream(
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
            _log_info(request)["usage"] = encoder.usage

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


# --- handlers ------------------------------------------------------------------------------------


async def health(request: Request) -> Response:
    """Liveness: status and version only."""
    from llm_codex.core.identity import version

    return JSONResponse({"status": "ok", "version": version()})


def _model_json(model: Any) -> dict[str, Any]:
    return {"id": model.slug, "object": "model", "created": 0, "owned_by": "openai-codex"}


@_guarded
async def list_models(request: Request) -> Response:
    """The models of the catalog in OpenAI's list shape (Anthropic's, for Anthropic clients)."""
    from llm_codex.core.catalog import load_models
    from llm_codex.server.anthropic import routes as anthropic

    if anthropic.wants_anthropic(request):
        return await anthropic.list_models(request)

    data = [_model_json(m) for m in load_models()]
    return JSONResponse({"object": "list", "data": data})


@_guarded
async def get_model(request: Request) -> Response:
    """One model of the catalog, or 404 ``model_not_found`` (Anthropic-shaped if asked)."""
    from llm_codex.core.catalog import load_models
    from llm_codex.server.anthropic import routes as anthropic

    if anthropic.wants_anthropic(request):
        return await anthropic.get_model(request)

    slug = model_slug(request.path_params["model"])
    for model in load_models():
        if model.slug == slug:
            return JSONResponse(_model_json(model))
    raise RequestRefused(
        f"The model '{slug}' is not in the catalog (run 'llm codex models --refresh').",
        status=404,
        code="model_not_found",
        param="model",
    )


@_guarded
async def create_response(request: Request) -> Response:
    """``POST /v1/responses``."""
    body = await read_json(request)
    store: ResponseStore = request.app.state.response_store
    resolved = store.resolve_input(body)
    tr = responses.translate_responses_request({**body, "input": resolved})
    keep = store.enabled and body.get("store") is not False
    tr.echo["store"] = keep
    _log_info(request)["model"] = tr.model
    first, stream = await _open(request, tr.request)
    encoder = responses.ResponsesEncoder(
        tr.request, response_id=new_id("resp_"), created_at=int(time.time()), echo=tr.echo
    )

    def answer(result: Any, incomplete: str | None) -> dict[str, Any]:
        """The response object of the turn, stored (when asked) as the client saw it."""
        if incomplete is not None:
            obj = encoder.response(
                "incomplete",
                output=encoder.output(result),
                usage=result.usage,
                incomplete_reason=incomplete,
            )
        else:
            obj = encoder.response("completed", output=encoder.output(), usage=result.usage)
        if keep:
            store.put(
                encoder.response_id, response=obj, input_items=resolved, output_items=obj["output"]
            )
        return obj

    if tr.stream:
        return _event_stream(
            request,
            encoder,
            first,
            stream,
            tr,
            on_complete=lambda result: answer(result, result.incomplete_reason),
        )
    result, incomplete = await read_turn(request, first, stream, feed=encoder.feed)
    return JSONResponse(answer(result, incomplete), headers=tr.headers())


def _stored(request: Request) -> tuple[ResponseStore, Any]:
    store: ResponseStore = request.app.state.response_store
    response_id = request.path_params["response_id"]
    turn = store.get(response_id)
    if turn is None:
        raise RequestRefused(
            f"Response with id {response_id!r} not found: this server keeps responses in "
            "memory only, for a while.",
            status=404,
            code="not_found",
        )
    return store, turn


@_guarded
async def get_response(request: Request) -> Response:
    """``GET /v1/responses/{id}``: a stored response, or 404."""
    return JSONResponse(_stored(request)[1].response)


@_guarded
async def delete_response(request: Request) -> Response:
    """``DELETE /v1/responses/{id}``: forget a stored response, or 404."""
    store, _ = _stored(request)
    response_id = request.path_params["response_id"]
    store.delete(response_id)
    return JSONResponse({"id": response_id, "object": "response.deleted", "deleted": True})


@_guarded
async def list_input_items(request: Request) -> Response:
    """``GET /v1/responses/{id}/input_items``: a stored response's input, newest first unless
    ``order=asc`` (one page: everything is in memory)."""
    items = list(_stored(request)[1].input_items)
    if request.query_params.get("order", "desc") != "asc":
        items.reverse()
    return JSONResponse(
        {
            "object": "list",
            "data": items,
            "first_id": items[0].get("id") if items else None,
            "last_id": items[-1].get("id") if items else None,
            "has_more": False,
        }
    )


def stored_routes() -> list[Route]:
    """The routes of the response store."""
    return [
        Route("/v1/responses/{response_id}", get_response, methods=["GET"]),
        Route("/v1/responses/{response_id}", delete_response, methods=["DELETE"]),
        Route("/v1/responses/{response_id}/input_items", list_input_items, methods=["GET"]),
    ]


@_guarded
async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions``."""
    body = await read_json(request)
    tr = chat.translate_chat_request(body)
    store: ResponseStore = request.app.state.response_store
    tr.request.input = store.restore_reasoning(tr.request.input)
    _log_info(request)["model"] = tr.model
    first, stream = await _open(request, tr.request)
    completion_id = new_id("chatcmpl-")
    created = int(time.time())
    if tr.stream:
        encoder = chat.ChatEncoder(
            completion_id=completion_id,
            created=created,
            model=tr.model,
            include_usage=tr.include_usage,
            reasoning_content=tr.reasoning_content,
        )
        return _event_stream(
            request,
            encoder,
            first,
            stream,
            tr,
            on_complete=lambda result: store.remember_calls(completion_id, result.items),
        )
    result, incomplete = await read_turn(request, first, stream)
    usage = result.usage
    store.remember_calls(completion_id, result.items)
    obj = chat.chat_completion(
        completion_id=completion_id,
        created=created,
        model=tr.model,
        items=result.items,
        usage=usage,
        reasoning_content=tr.reasoning_content,
        incomplete_reason=incomplete,
    )
    return JSONResponse(obj, headers=tr.headers())


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    message = {
        404: f"No such endpoint: {request.url.path}.",
        405: f"Method {request.method} is not allowed on {request.url.path}.",
    }.get(exc.status_code, str(exc.detail))
    info = ErrorInfo(exc.status_code, message, "invalid_request_error", codes.get(exc.status_code))
    return error_response(info, dict(exc.headers or {}))


# --- the app -------------------------------------------------------------------------------------


def create_app(
    settings: ServerSettings | None = None,
    *,
    client: Any = None,
    credentials: Any = None,
) -> Starlette:
    """The server as an ASGI app.

    ``client`` (an ``AsyncCodexClient``) and ``credentials`` (a ``CredentialProvider``) are for
    tests and embedding; by default one client is made on first use with
    :func:`llm_codex.auth.default_auth_manager`.
    """
    settings = settings or ServerSettings()
    backend = Backend(client=client, credentials=credentials)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
        Route("/v1/responses", create_response, methods=["POST"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        *stored_routes(),
    ]
    from llm_codex.server import ollama  # they import helpers from this module: load them last
    from llm_codex.server.anthropic import routes as anthropic

    routes += ollama.routes() + anthropic.routes()

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await backend.aclose()

    app = Starlette(
        routes=routes,
        middleware=middleware_stack(settings),
        exception_handlers={HTTPException: _http_exception},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.backend = backend
    app.state.response_store = ResponseStore(
        max_entries=settings.store_size,
        max_age=settings.store_ttl,
        max_bytes=settings.store_memory,
    )
    return app
