"""The OpenAI face of the server: ``/health``, ``/v1/models``, ``/v1/responses`` (with the
response store's routes) and ``/v1/chat/completions``; translation lives in :mod:`.responses`
and :mod:`.chat`, the shared plumbing in :mod:`.turns`."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from llm_codex.server import chat, responses
from llm_codex.server.common import model_slug, new_id
from llm_codex.server.errors import RequestRefused
from llm_codex.server.response_store import ResponseStore
from llm_codex.server.turns import event_stream, guarded, log_info, open_turn, read_json, read_turn

__all__ = ["routes"]


async def health(request: Request) -> Response:
    """Liveness: status and version only."""
    from llm_codex.core.identity import version

    return JSONResponse({"status": "ok", "version": version()})


def _model_json(model: Any) -> dict[str, Any]:
    return {"id": model.slug, "object": "model", "created": 0, "owned_by": "openai-codex"}


@guarded
async def list_models(request: Request) -> Response:
    """The models of the catalog in OpenAI's list shape (Anthropic's, for Anthropic clients)."""
    from llm_codex.core.catalog import load_models
    from llm_codex.server.anthropic import routes as anthropic

    if anthropic.wants_anthropic(request):
        return await anthropic.list_models(request)

    data = [_model_json(m) for m in load_models()]
    return JSONResponse({"object": "list", "data": data})


@guarded
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


@guarded
async def create_response(request: Request) -> Response:
    """``POST /v1/responses``."""
    body = await read_json(request)
    store: ResponseStore = request.app.state.response_store
    resolved = store.resolve_input(body)
    tr = responses.translate_responses_request({**body, "input": resolved})
    keep = store.enabled and body.get("store") is not False
    tr.echo["store"] = keep
    log_info(request)["model"] = tr.model
    first, stream = await open_turn(request, tr.request)
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
        return event_stream(
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


@guarded
async def get_response(request: Request) -> Response:
    """``GET /v1/responses/{id}``: a stored response, or 404."""
    return JSONResponse(_stored(request)[1].response)


@guarded
async def delete_response(request: Request) -> Response:
    """``DELETE /v1/responses/{id}``: forget a stored response, or 404."""
    store, _ = _stored(request)
    response_id = request.path_params["response_id"]
    store.delete(response_id)
    return JSONResponse({"id": response_id, "object": "response.deleted", "deleted": True})


@guarded
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


@guarded
async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions``."""
    body = await read_json(request)
    tr = chat.translate_chat_request(body)
    store: ResponseStore = request.app.state.response_store
    tr.request.input = store.restore_reasoning(tr.request.input)
    log_info(request)["model"] = tr.model
    first, stream = await open_turn(request, tr.request)
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
        return event_stream(
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


def routes() -> list[Route]:
    """The OpenAI face's routes, for :func:`llm_codex.server.app.create_app`."""
    return [
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
        Route("/v1/responses", create_response, methods=["POST"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        *stored_routes(),
    ]
