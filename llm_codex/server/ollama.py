"""The Ollama API over the Codex backend, for Open WebUI and the many local tools that speak it.

Routes: ``GET /`` ("Ollama is running", the probe Ollama clients make), ``GET /api/version``,
``GET /api/tags``, ``POST /api/show``, ``GET /api/ps``, ``POST /api/chat``, ``POST
/api/generate``. They sit behind the same checks as every other route (Host check, loopback
binding, API key when one is set: the official clients send ``OLLAMA_API_KEY`` as a bearer
token).

Requests (unknown fields are accepted and ignored, never a 400):

- ``/api/chat`` ``messages``: ``system`` (leading ones become ``instructions``), ``user`` with
  ``images`` (base64, sent inline as data URLs), ``assistant`` with ``tool_calls`` (arguments as
  a JSON object; call ids are made up when the client sends none), ``tool`` results paired with
  their call by ``tool_call_id``, else ``tool_name``, else order; ``tools`` in the function shape;
  ``think`` (true, or ``low``/``medium``/``high`` as the reasoning effort) asks for reasoning
  summaries, returned in ``message.thinking``; ``format`` ``"json"`` or a JSON schema;
  ``options`` (temperature, ``num_ctx``…) and ``keep_alive`` are ignored.
- ``/api/generate``: ``prompt``, ``system``, ``images``, ``think``, ``format``. An empty
  prompt (or message list) only "loads" the model, or "unloads" it with ``keep_alive: 0``:
  answered at once, nothing sent upstream, like Ollama.
- ``stream`` defaults to true, as in Ollama.

Answers: NDJSON lines (``application/x-ndjson``) while streaming, one JSON object otherwise, in
Ollama's shapes; ``done_reason`` is ``stop`` or ``length``; token counts in
``prompt_eval_count``/``eval_count``. Errors are ``{"error": "<one sentence>"}`` with the status
of the shared error mapping (:func:`~llm_codex.server.errors.error_info`); after a stream has
started, as a last ``{"error": …}`` line. Text and thinking deltas are written from byte
templates (one ``json.dumps`` of the delta string per event), so a streamed token costs no more
here than in Chat Completions.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import time
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from llm_codex.core import errors as core_errors
from llm_codex.core.request import derive_session_id
from llm_codex.core.types import (
    CodexRequest,
    Completed,
    ItemDone,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)
from llm_codex.server.chat import function_tools, message_text, reasoning_text
from llm_codex.server.common import (
    Translation,
    input_image,
    model_slug,
    new_id,
    split_system,
    text_of,
)
from llm_codex.server.errors import ErrorInfo, RequestRefused, error_info
from llm_codex.server.lite import apply_lite_form
from llm_codex.server.streaming import FrameEncoder, FrameTemplate
from llm_codex.server.turns import (
    event_stream,
    guarded_as,
    log_info,
    open_turn,
    read_json,
    read_turn,
)

__all__ = [
    "OLLAMA_API_VERSION",
    "OllamaEncoder",
    "messages_to_items",
    "ollama_model",
    "routes",
    "translate_chat",
    "translate_generate",
]

#: The Ollama API level this server speaks (what ``/api/version`` reports; clients compare it).
OLLAMA_API_VERSION = "0.12.0"
_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")
_FAR_FUTURE = "2999-01-01T00:00:00Z"
_NDJSON = b"application/x-ndjson"


def _refuse(message: str, param: str | None = None) -> RequestRefused:
    return RequestRefused(message, param=param)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def ollama_model(value: Any) -> str:
    """The backend slug for an Ollama model name (``gpt-5.5``, ``gpt-5.5:latest``)."""
    slug = model_slug(value)
    name, _, tag = slug.rpartition(":")
    return name if name and tag == "latest" else slug


# --- request -------------------------------------------------------------------------------------

_IMAGE_MAGIC = (
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
)


def _image(value: Any, where: str) -> dict[str, Any]:
    """One Ollama image (base64, or already a data: URL) as an ``input_image`` part."""
    if isinstance(value, str) and value.startswith("data:"):
        return input_image(value, where=where)
    try:
        if not isinstance(value, str):
            raise ValueError
        head = base64.b64decode(value[:32], validate=True)
    except (ValueError, binascii.Error):
        raise _refuse(f"{where} must be a base64-encoded image.", "images") from None
    mime = next((m for magic, m in _IMAGE_MAGIC if head.startswith(magic)), "image/png")
    return input_image(f"data:{mime};base64,{value}", where=where)


def _user_item(text: str, images: Any, where: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "input_text", "text": text}] if text else []
    if images:
        if not isinstance(images, list):
            raise _refuse(f"{where}.images must be a list.", "images")
        content += [_image(img, f"{where}.images[{k}]") for k, img in enumerate(images)]
    if not content:
        content = [{"type": "input_text", "text": ""}]
    return {"type": "message", "role": "user", "content": content}


def _arguments_json(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments if arguments is not None else {})


def messages_to_items(messages: Any) -> list[dict[str, Any]]:
    """Ollama chat ``messages`` as Responses input items (system messages still in place)."""
    if not isinstance(messages, list):
        raise _refuse("'messages' must be a list.", "messages")
    items: list[dict[str, Any]] = []
    pending: list[tuple[str, str]] = []  # (call_id, name) of calls still without a result
    for n, msg in enumerate(messages):
        where = f"messages[{n}]"
        if not isinstance(msg, dict):
            raise _refuse(f"{where} must be an object.", "messages")
        role = msg.get("role")
        text = text_of(msg.get("content"))
        if role in ("system", "developer"):
            items.append(
                {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}
            )
        elif role == "user":
            items.append(_user_item(text, msg.get("images"), where))
        elif role == "assistant":
            if text:
                content = [{"type": "output_text", "text": text}]
                items.append({"type": "message", "role": "assistant", "content": content})
            pending = []
            tool_calls = msg.get("tool_calls") or []
            if not isinstance(tool_calls, list):
                raise _refuse(f"{where}.tool_calls must be a list.", "messages")
            for k, call in enumerate(tool_calls):
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise _refuse(f"{where}.tool_calls[{k}] needs 'function.name'.", "messages")
                call_id = call.get("id") if isinstance(call.get("id"), str) else None
                call_id = call_id or f"call_{n}_{k}"
                pending.append((call_id, fn["name"]))
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call_id,
                        "name": fn["name"],
                        "arguments": _arguments_json(fn.get("arguments")),
                    }
                )
        elif role == "tool":
            call_id = _pair_result(msg, pending)
            if call_id is None:  # a result with no call to answer: keep it as context
                items.append(_user_item(f"Tool result: {text}", None, where))
            else:
                items.append({"type": "function_call_output", "call_id": call_id, "output": text})
        else:
            raise _refuse(f"{where} has an unknown role {role!r}.", "messages")
    return items


def _pair_result(msg: dict[str, Any], pending: list[tuple[str, str]]) -> str | None:
    """The call a ``tool`` message answers: by ``tool_call_id``, else ``tool_name``, else order."""
    wanted_id = msg.get("tool_call_id")
    wanted_name = msg.get("tool_name") or msg.get("name")
    for k, (call_id, name) in enumerate(pending):
        if call_id == wanted_id or (not wanted_id and name == wanted_name):
            return pending.pop(k)[0]
    if isinstance(wanted_id, str) and wanted_id:
        return wanted_id
    return pending.pop(0)[0] if pending else None


def _think(value: Any) -> tuple[str | None, str | None]:
    """``think`` -> (reasoning effort, reasoning summary)."""
    if value is True:
        return None, "auto"
    if isinstance(value, str) and value.lower() in _EFFORTS:
        return value.lower(), "auto"
    if value in (None, False) or (isinstance(value, str) and value.lower() in ("", "false")):
        return None, None
    raise _refuse("'think' must be true, false, low, medium or high.", "think")


def _format(value: Any) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    if value == "json":
        return {"type": "json_object"}
    if isinstance(value, dict):
        return {"type": "json_schema", "name": "output", "schema": value, "strict": False}
    raise _refuse("'format' must be \"json\" or a JSON schema object.", "format")


def _translation(
    body: dict[str, Any], items: list[dict[str, Any]], instructions: str | None, tools: list
) -> Translation:
    model = ollama_model(body.get("model"))
    instructions, items = split_system(items, instructions, roles=("system", "developer"))
    effort, summary = _think(body.get("think"))
    request = CodexRequest(
        model=model,
        input=items,
        instructions=instructions,
        tools=tools,
        reasoning_effort=effort,
        reasoning_summary=summary,
        text_format=_format(body.get("format")),
        session_id=derive_session_id(instructions=instructions, input=items),
    )
    tr = Translation(
        request=request,
        stream=body.get("stream") is not False,
        reasoning_content=summary is not None,
        model=model,
    )
    apply_lite_form(tr, body)
    return tr


def translate_chat(body: dict[str, Any]) -> Translation:
    """An ``/api/chat`` body as a core request (or :class:`RequestRefused`)."""
    items = messages_to_items(body.get("messages") or [])
    return _translation(body, items, None, function_tools(body.get("tools")))


def translate_generate(body: dict[str, Any]) -> Translation:
    """An ``/api/generate`` body as a core request (or :class:`RequestRefused`)."""
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise _refuse("'prompt' must be a string.", "prompt")
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        raise _refuse("'system' must be a string.", "system")
    items = [_user_item(prompt or "", body.get("images"), "request")]
    return _translation(body, items, system or None, [])


# --- answers -------------------------------------------------------------------------------------


def _tool_call(item: dict[str, Any]) -> dict[str, Any]:
    raw = item.get("arguments") or "{}"
    try:
        arguments = json.loads(raw)
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):  # Ollama clients need an object
        arguments = {"arguments": raw}
    return {
        "id": item.get("call_id") or item.get("id"),
        "function": {"name": item.get("name"), "arguments": arguments},
    }


def _counts(usage: Usage | None, started_ns: int) -> dict[str, Any]:
    usage = usage or Usage()
    total = max(time.perf_counter_ns() - started_ns, 0)
    return {
        "total_duration": total,
        "load_duration": 0,
        "prompt_eval_count": usage.input_tokens,
        "prompt_eval_duration": 0,
        "eval_count": usage.output_tokens,
        "eval_duration": total,
    }


class OllamaEncoder(FrameEncoder):
    """Core events -> Ollama NDJSON lines (``chat`` or ``generate`` shape), on the shared
    streaming hot path (:mod:`.streaming`).

    Text and thinking deltas are filled into :class:`FrameTemplate` lines built once per
    answer; tool calls (chat only) go out as one line when the call is complete; the last line
    has ``done: true``. :meth:`final` builds the whole answer of a non-streamed turn.
    """

    def __init__(self, *, kind: str, model: str, thinking: bool, started_ns: int) -> None:
        self.kind = kind
        self.model = model
        self.thinking = thinking
        self.started_ns = started_ns
        self.created_at = _now()
        self.finished = False
        self.result = None
        text, think = _delta_templates(kind, model)
        created = FrameTemplate.text(self.created_at)
        self._text = text.partial(created)
        self._think = think.partial(created) if thinking else None

    def _base(self) -> dict[str, Any]:
        return {"model": self.model, "created_at": self.created_at}

    def frame(self, obj: Any) -> bytes:
        """One NDJSON line."""
        return _line(obj)

    def fast(self, event: StreamEvent) -> bytes | None:
        """A text (or wanted thinking) delta's line, from its template."""
        kind = type(event)
        if kind is TextDelta and event.text:
            return self._text.fill(FrameTemplate.text(event.text))
        if kind is ReasoningDelta and self._think is not None and event.text:
            return self._think.fill(FrameTemplate.text(event.text))
        return None

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        """The lines (as objects) one core event turns into (often none)."""
        if type(event) is ItemDone:
            item = event.item
            if self.kind == "chat" and item.get("type") == "function_call":
                message = {"role": "assistant", "content": "", "tool_calls": [_tool_call(item)]}
                return [{**self._base(), "message": message, "done": False}]
        elif type(event) is Completed:
            self.result = event.result
            self.finished = True
            return [self.final(event.result, streamed=True)]
        return []

    def final(
        self, result: Any, *, streamed: bool, incomplete_reason: str | None = None
    ) -> dict[str, Any]:
        """The ``done: true`` object: the whole answer of ``result`` unless ``streamed``."""
        items = [] if streamed or result is None else list(result.items)
        obj = self._base()
        if self.kind == "chat":
            message: dict[str, Any] = {"role": "assistant", "content": message_text(items)}
            if self.thinking and not streamed:
                message["thinking"] = reasoning_text(items)
            calls = [_tool_call(i) for i in items if i.get("type") == "function_call"]
            if calls:
                message["tool_calls"] = calls
            obj["message"] = message
        else:
            obj["response"] = message_text(items)
            if self.thinking and not streamed:
                obj["thinking"] = reasoning_text(items)
        obj["done"] = True
        obj["done_reason"] = "length" if incomplete_reason else "stop"
        obj.update(_counts(getattr(result, "usage", None), self.started_ns))
        if self.kind == "generate":
            obj["context"] = []
        return obj

    def fail(self, exc: BaseException) -> list[dict[str, Any]]:
        """The last line of a broken stream: a ``length`` end for a truncated turn, else an
        ``{"error"}`` line."""
        self.finished = True
        if isinstance(exc, core_errors.IncompleteResponse):
            self.result = exc.partial
            reason = exc.reason or "unknown"
            return [self.final(exc.partial, streamed=True, incomplete_reason=reason)]
        return [{"error": error_info(exc).message}]


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _delta_line(kind: str, model: str, created_at: str, fields: dict[str, Any]) -> bytes:
    """The line of a text or thinking delta (``fields``) of a ``chat`` or ``generate`` answer."""
    base = {"model": model, "created_at": created_at}
    if kind == "chat":
        return _line({**base, "message": {"role": "assistant", **fields}, "done": False})
    return _line({**base, **fields, "done": False})


@functools.lru_cache(maxsize=64)
def _delta_templates(kind: str, model: str) -> tuple[FrameTemplate, FrameTemplate]:
    """The lines of a text delta and of a thinking delta, serialised once per kind and model
    (slots: ``created_at``, then the text)."""
    key = "content" if kind == "chat" else "response"
    return (
        FrameTemplate(lambda at, text: _delta_line(kind, model, at, {key: text}), 2),
        FrameTemplate(
            lambda at, text: _delta_line(kind, model, at, {key: "", "thinking": text}), 2
        ),
    )


# --- handlers ------------------------------------------------------------------------------------


def _error_response(info: ErrorInfo) -> Response:
    return JSONResponse({"error": info.message}, status_code=info.status, headers=info.headers)


_guarded = guarded_as(_error_response)


async def _turn(request: Request, kind: str) -> Response:
    started = time.perf_counter_ns()
    body = await read_json(request)
    tr = translate_chat(body) if kind == "chat" else translate_generate(body)
    log_info(request)["model"] = tr.model
    encoder = OllamaEncoder(
        kind=kind, model=tr.model, thinking=tr.reasoning_content, started_ns=started
    )
    if _only_loads(kind, body):
        final = encoder.final(None, streamed=False)
        unload = body.get("keep_alive") in (0, "0", "0s", "0m")
        final["done_reason"] = "unload" if unload else "load"
        return JSONResponse(final)
    store = request.app.state.response_store
    session = tr.request.session_id
    tr.request.input = store.restore_reasoning(tr.request.input, session=session)
    first, stream = await open_turn(request, tr.request)
    turn_id = new_id("ollama-")

    def remember(result: Any) -> None:
        store.remember_calls(turn_id, result.items, session=session)

    if tr.stream:
        return event_stream(
            request, encoder, first, stream, tr, on_complete=remember, media_type=_NDJSON
        )
    result, incomplete = await read_turn(request, first, stream)
    remember(result)
    return JSONResponse(encoder.final(result, streamed=False, incomplete_reason=incomplete))


def _only_loads(kind: str, body: dict[str, Any]) -> bool:
    """An empty prompt / message list asks Ollama to load the model: nothing to send."""
    if kind == "chat":
        return not body.get("messages")
    return not body.get("prompt") and not body.get("images")


@_guarded
async def chat(request: Request) -> Response:
    """``POST /api/chat``."""
    return await _turn(request, "chat")


@_guarded
async def generate(request: Request) -> Response:
    """``POST /api/generate``."""
    return await _turn(request, "generate")


async def root(request: Request) -> Response:
    """``GET /``: the liveness text Ollama clients probe for; ``HEAD /`` (Claude Code's probe)
    gets the same 200 without a body. No key is needed (see ``ApiKeyCheck``)."""
    return PlainTextResponse("Ollama is running")


async def version(request: Request) -> Response:
    """``GET /api/version``."""
    return JSONResponse({"version": OLLAMA_API_VERSION})


def _details() -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "remote",
        "family": "gpt",
        "families": ["gpt"],
        "parameter_size": "",
        "quantization_level": "",
    }


def _model_entry(model: Any, modified_at: str) -> dict[str, Any]:
    return {
        "name": model.slug,
        "model": model.slug,
        "modified_at": modified_at,
        "size": 0,
        "digest": hashlib.sha256(model.slug.encode()).hexdigest(),
        "details": _details(),
    }


@_guarded
async def tags(request: Request) -> Response:
    """``GET /api/tags``: the catalog (no network); clients read ``model``, some ``name``."""
    from llm_codex.core.catalog import load_models

    now = _now()
    return JSONResponse({"models": [_model_entry(m, now) for m in load_models()]})


@_guarded
async def ps(request: Request) -> Response:
    """``GET /api/ps``: every catalog model counts as loaded (nothing is loaded locally)."""
    from llm_codex.core.catalog import load_models

    now = _now()
    models = [
        {
            **_model_entry(m, now),
            "expires_at": _FAR_FUTURE,
            "size_vram": 0,
            "context_length": m.context_window or 0,
        }
        for m in load_models()
    ]
    return JSONResponse({"models": models})


@_guarded
async def show(request: Request) -> Response:
    """``POST /api/show``: one model's details, capabilities and ``model_info``, or 404."""
    from llm_codex.core.catalog import find_model

    body = await read_json(request)
    slug = ollama_model(body.get("model") or body.get("name"))
    model = find_model(slug)
    if model is None:
        raise RequestRefused(f"model '{slug}' not found", status=404, code="model_not_found")
    capabilities = ["completion", "tools"]
    if model.reasoning_levels:
        capabilities.append("thinking")
    if model.supports_images:
        capabilities.append("vision")
    return JSONResponse(
        {
            "license": "",
            "modelfile": f"# {model.slug} on your ChatGPT plan, served by llm-codex\n",
            "parameters": "",
            "template": "{{ .Prompt }}",
            "details": _details(),
            "model_info": {
                "general.architecture": "gpt",
                "general.basename": model.slug,
                "general.parameter_count": 0,
                "gpt.context_length": model.context_window or 0,
            },
            "capabilities": capabilities,
            "modified_at": _now(),
        }
    )


async def unsupported(request: Request) -> Response:
    """Any other ``/api/…`` path (pull, push, create, copy, delete, embed…): a 404 in Ollama's
    shape that says why."""
    return _error_response(
        ErrorInfo(
            404,
            f"{request.url.path} is not available here: llm-codex serves the models of your "
            "ChatGPT plan (listed by /api/tags); nothing can be pulled, created or embedded.",
            "invalid_request_error",
        )
    )


def routes() -> list[Route]:
    """The Ollama API routes (``GET`` routes answer ``HEAD`` too)."""
    return [
        Route("/", root, methods=["GET"]),
        Route("/api/version", version, methods=["GET"]),
        Route("/api/tags", tags, methods=["GET"]),
        Route("/api/ps", ps, methods=["GET"]),
        Route("/api/show", show, methods=["POST"]),
        Route("/api/chat", chat, methods=["POST"]),
        Route("/api/generate", generate, methods=["POST"]),
        Route("/api/{path:path}", unsupported, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
