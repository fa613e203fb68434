"""The ASGI application of ``llm codex serve``: it only wires the faces' routes, the layers of
:mod:`.middleware`, the error pages and the app's state.

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

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from llm_codex.server import ollama, openai_api
from llm_codex.server.anthropic import routes as anthropic
from llm_codex.server.errors import ErrorInfo, error_response
from llm_codex.server.middleware import middleware_stack
from llm_codex.server.response_store import ResponseStore
from llm_codex.server.settings import ServerSettings
from llm_codex.server.streaming import DIRECT_SEND
from llm_codex.server.turns import Backend

__all__ = ["create_app"]


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


#: The paths of the turns, where nearly all requests go: each is one route, on a path no other
#: route matches (the Ollama catch-all ``/api/{path}`` stays after ``/api/chat``).
_HOT_PATHS = ("/v1/chat/completions", "/v1/responses", "/v1/messages", "/api/chat")


def _hot_first(routes: list[Any]) -> list[Any]:
    """``routes`` with those of :data:`_HOT_PATHS` first (else in their order): the router
    tries each route's pattern in turn, and an Anthropic turn came after 16 others."""
    return sorted(routes, key=lambda route: getattr(route, "path", None) not in _HOT_PATHS)


class _App(Starlette):
    """Starlette, keeping the ``send`` it is given in the scope for streams
    (:data:`~llm_codex.server.streaming.DIRECT_SEND`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[DIRECT_SEND] = send
        await super().__call__(scope, receive, send)


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

    routes = _hot_first(openai_api.routes() + ollama.routes() + anthropic.routes())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await backend.aclose()

    app = _App(
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
