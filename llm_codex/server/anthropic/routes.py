"""The Anthropic face of ``llm codex serve``: handlers and their routes.

- ``POST /v1/messages`` (query such as ``?beta=true`` ignored): stream and non-stream;
- ``POST /v1/messages/count_tokens``: a local o200k count (:mod:`.tokens`);
- ``GET /v1/models`` and ``GET /v1/models/{id}`` when the request carries ``anthropic-version``
  (:func:`list_models`, :func:`get_model`, called by the OpenAI-shaped handlers);
- ``HEAD /`` (Claude Code probes the base URL) is answered by the one root route, in
  :mod:`llm_codex.server.ollama`.

Errors are Anthropic-shaped (:mod:`.errors`) with the shared status mapping. A streamed answer
sends ``message_start`` as soon as the backend has answered, and a ``ping`` event whenever
nothing was written for ``ping_interval`` seconds (reasoning can be silent for minutes, and
proxies and clients drop idle streams).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from llm_codex.server import turns
from llm_codex.server.anthropic.encode import PING, MessagesEncoder, message_object
from llm_codex.server.anthropic.errors import anthropic_error
from llm_codex.server.anthropic.models import (
    DEFAULT_ALIASES,
    model_list,
    model_object,
    resolve_model,
)
from llm_codex.server.anthropic.tokens import count_request_tokens
from llm_codex.server.anthropic.translate import translate_messages_request
from llm_codex.server.common import new_id
from llm_codex.server.errors import ErrorInfo, RequestRefused

__all__ = [
    "DEFAULT_PING_INTERVAL",
    "get_model",
    "list_models",
    "routes",
    "wants_anthropic",
]

#: Claude Code's conversation id header (keys the prompt cache).
SESSION_HEADER = "x-claude-code-session-id"
#: Seconds of silence after which a ``ping`` event is written.
DEFAULT_PING_INTERVAL = 10.0


def aliases(request: Request) -> dict[str, str]:
    """The Claude-style aliases this server was started with (defaults when none were given)."""
    given = getattr(request.app.state.settings, "anthropic_aliases", ())
    return dict(given) if given else dict(DEFAULT_ALIASES)


def _error(exc_or_info: BaseException | ErrorInfo) -> Response:
    status, body, headers = anthropic_error(exc_or_info)
    return JSONResponse(body, status_code=status, headers=headers)


#: Every exception a handler raises becomes an Anthropic-shaped error answer.
_guarded = turns.guarded_as(_error)


@_guarded
async def create_message(request: Request) -> Response:
    """``POST /v1/messages``."""
    body = await turns.read_json(request)
    tr = translate_messages_request(
        body, aliases=aliases(request), session=request.headers.get(SESSION_HEADER)
    )
    turns.log_info(request)["model"] = tr.model
    first, stream = await turns.open_turn(request, tr.request)
    message_id = new_id("msg_")
    if tr.stream:
        encoder = MessagesEncoder(
            message_id=message_id,
            model=tr.echo_model,
            slug=tr.model,
            thinking=tr.thinking,
            stop_sequences=tr.stop_sequences,
        )
        settings = request.app.state.settings
        interval = getattr(settings, "ping_interval", DEFAULT_PING_INTERVAL)
        return turns.event_stream(
            request, encoder, first, stream, tr, ping=PING, ping_interval=interval
        )
    result, incomplete = await turns.read_turn(request, first, stream)
    usage = result.usage
    obj = message_object(
        message_id=message_id,
        model=tr.echo_model,
        slug=tr.model,
        items=result.items,
        usage=usage,
        thinking=tr.thinking,
        stop_sequences=tr.stop_sequences,
        incomplete_reason=incomplete,
    )
    return JSONResponse(obj, headers=tr.headers())


@_guarded
async def count_tokens(request: Request) -> Response:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": n}``, counted locally."""
    body = await turns.read_json(request)
    tr = translate_messages_request(body, aliases=aliases(request), find_model=lambda slug: None)
    return JSONResponse({"input_tokens": count_request_tokens(tr.request)})


async def list_models(request: Request) -> Response:
    """The aliases and the catalog in Anthropic's list shape."""
    from llm_codex.core.catalog import load_models

    return JSONResponse(model_list(aliases(request), load_models()))


async def get_model(request: Request) -> Response:
    """One alias or catalog model in Anthropic's shape, or 404 ``not_found_error``."""
    from llm_codex.core.catalog import load_models

    name = request.path_params["model"]
    try:
        slug = resolve_model(name, aliases(request))
    except RequestRefused as exc:
        return _error(exc)
    for model in load_models():
        if model.slug == slug:
            shown = model.display_name if name == slug else f"{name} ({slug} on ChatGPT)"
            return JSONResponse(model_object(name, shown))
    return _error(
        RequestRefused(f"The model '{name}' is not known here.", status=404, param="model")
    )


def routes() -> list[Route]:
    """The Anthropic routes, for :func:`llm_codex.server.app.create_app`."""
    return [
        Route("/v1/messages", create_message, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
    ]


def wants_anthropic(request: Request) -> bool:
    """Whether the client speaks Anthropic's API (it sends ``anthropic-version``)."""
    return "anthropic-version" in request.headers
