"""``POST /v1/chat/completions``: Chat Completions translated to and from the Codex backend.

Request mapping (to a :class:`~llm_codex.core.types.CodexRequest`):

- leading ``system``/``developer`` messages -> ``instructions``; later ones -> ``developer``
  messages; ``user`` text and ``image_url`` parts -> ``input_text``/``input_image``;
  ``assistant`` text -> ``output_text`` and its ``tool_calls`` -> ``function_call`` items;
  ``tool`` messages -> ``function_call_output``.
- images: ``data:`` URLs and ``http(s)`` URLs are passed to the backend as they are (the server
  never fetches anything itself); other schemes are refused.
- ``tools`` (function) -> Responses function tools; ``parallel_tool_calls``; ``tool_choice``
  mapped conservatively by :func:`~llm_codex.server.common.resolve_tool_choice` (the Codex CLI
  only sends ``"auto"``): ``"none"`` sends no tools, ``"required"`` and a named function pass,
  ``allowed_tools`` narrows the tools, choices that cannot work are refused with a 400.
- ``response_format``: ``json_schema`` -> ``text.format`` json_schema (``strict`` defaults to
  true, as the Codex CLI sends it); ``json_object`` -> ``text.format`` json_object.
- ``reasoning_effort``, ``verbosity``, ``service_tier``; the extra field ``reasoning_summary``
  (``auto``/``concise``/``detailed``) asks for summaries, streamed as ``reasoning_content``.
- ``temperature``, ``top_p``, ``max_tokens``, penalties, ``seed``, ``logit_bias``,
  ``metadata``… are dropped and named in ``x-llm-codex-dropped-params``.
- refused with 400: ``n`` > 1, ``stop``, ``logprobs``, audio, ``store: true``, legacy
  ``functions``.

Responses: ``chat.completion`` with usage, or ``chat.completion.chunk`` events: the role in the
first delta, content / ``reasoning_content`` / ``tool_calls`` deltas, ONE final chunk with
``finish_reason`` (``stop``, ``tool_calls``, ``length`` or ``content_filter``), then a usage
chunk with empty ``choices`` when ``stream_options.include_usage`` is set, then ``[DONE]``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from llm_codex.core import errors as core_errors
from llm_codex.core.request import derive_session_id
from llm_codex.core.sse import encode_event
from llm_codex.core.types import (
    CodexRequest,
    Completed,
    ItemAdded,
    ItemDone,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolArgumentsDelta,
    Usage,
)
from llm_codex.server.common import (
    Translation,
    function_tool,
    input_image,
    model_slug,
    resolve_tool_choice,
    split_system,
    text_of,
)
from llm_codex.server.errors import RequestRefused, error_info
from llm_codex.server.lite import apply_lite_form
from llm_codex.server.streaming import FrameEncoder, FrameTemplate
from llm_codex.server.validation import CHAT_FIELDS, checked_translation, expect

__all__ = [
    "ChatEncoder",
    "chat_completion",
    "chat_usage",
    "function_tools",
    "message_text",
    "reasoning_text",
    "translate_chat_request",
]

_USED = {
    "model",
    "messages",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "reasoning_summary",
    "verbosity",
    "service_tier",
    "prompt_cache_key",
    "user",
    "safety_identifier",
    "n",
    "store",
    "logprobs",
    "modalities",
    "web_search_options",
}
_REFUSED_IF_SET = {
    "stop": "'stop' sequences are not supported by the Codex backend.",
    "audio": "Audio output is not supported by the Codex backend.",
    "functions": "Legacy 'functions' are not supported: use 'tools'.",
    "function_call": "Legacy 'function_call' is not supported: use 'tool_choice'.",
    "top_logprobs": "'top_logprobs' is not supported by the Codex backend.",
}
_SUMMARIES = {"auto", "concise", "detailed"}


def _refuse(message: str, param: str | None = None, **kw: Any) -> RequestRefused:
    return RequestRefused(message, param=param, **kw)


_M = {"param": "messages"}
_T = {"param": "tools"}


# --- request -------------------------------------------------------------------------------------


def _image_part(part: dict[str, Any], n: int) -> dict[str, Any]:
    spec = part.get("image_url")
    if isinstance(spec, str):
        spec = {"url": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
        raise _refuse(f"messages[{n}]: an image_url part needs 'image_url.url'.", "messages")
    return input_image(spec["url"], detail=spec.get("detail"), where=f"messages[{n}]")


def _user_content(content: Any, n: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        raise _refuse(f"messages[{n}].content must be a string or a list of parts.", "messages")
    parts: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            raise _refuse(f"messages[{n}].content parts must be objects.", "messages")
        kind = part.get("type")
        if kind == "text":
            text = expect(part.get("text"), "string", where=f"messages[{n}].content.text", **_M)
            parts.append({"type": "input_text", "text": text or ""})
        elif kind == "image_url":
            parts.append(_image_part(part, n))
        elif kind == "file":
            file = expect(part.get("file"), "object", where=f"messages[{n}].file", **_M) or {}
            for key in ("file_data", "filename"):
                expect(file.get(key), "string", where=f"messages[{n}].file.{key}", **_M)
            if not file.get("file_data"):
                raise _refuse(
                    f"messages[{n}]: files must be sent inline ('file_data'); uploaded "
                    "files ('file_id') are not supported by the Codex backend.",
                    "messages",
                )
            entry = {"type": "input_file", "file_data": file["file_data"]}
            if file.get("filename"):
                entry["filename"] = file["filename"]
            parts.append(entry)
        else:
            raise _refuse(
                f"messages[{n}]: content parts of type {kind!r} are not supported.", "messages"
            )
    return parts


def messages_to_input(messages: Any) -> list[dict[str, Any]]:
    """Chat ``messages`` as Responses input items (system messages still in place)."""
    if not isinstance(messages, list) or not messages:
        raise _refuse("'messages' must be a non-empty list.", "messages")
    items: list[dict[str, Any]] = []
    for n, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise _refuse(f"messages[{n}] must be an object.", "messages")
        role = msg.get("role")
        content = msg.get("content")
        if role in ("system", "developer"):
            if isinstance(content, list):
                content = text_of(content)
            text = content if isinstance(content, str) else ""
            items.append(
                {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}
            )
        elif role == "user":
            items.append({"type": "message", "role": "user", "content": _user_content(content, n)})
        elif role == "assistant":
            text = text_of(content) if content is not None else ""
            if not text and isinstance(msg.get("refusal"), str):
                text = msg["refusal"]
            if text:
                items.append(
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text}],
                    }
                )
            calls = expect(msg.get("tool_calls"), "array", where=f"messages[{n}].tool_calls", **_M)
            for call in calls or []:
                if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
                    raise _refuse(f"messages[{n}].tool_calls entries need 'function'.", "messages")
                fn = call["function"]
                where = f"messages[{n}].tool_calls"
                call_id = expect(call.get("id"), "string", where=f"{where}.id", **_M)
                name = expect(fn.get("name"), "string", where=f"{where}.function.name", **_M)
                arguments = fn.get("arguments")
                if not isinstance(arguments, str):
                    arguments = json.dumps(arguments if arguments is not None else {})
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call_id or "",
                        "name": name or "",
                        "arguments": arguments,
                    }
                )
        elif role == "tool":
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise _refuse(f"messages[{n}]: a tool message needs 'tool_call_id'.", "messages")
            items.append(
                {"type": "function_call_output", "call_id": call_id, "output": text_of(content)}
            )
        elif role == "function":
            raise _refuse("Legacy 'function' messages are not supported: use 'tool'.", "messages")
        else:
            raise _refuse(f"messages[{n}] has an unknown role {role!r}.", "messages")
    return items


def function_tools(tools: Any) -> list[dict[str, Any]]:
    """``[{"type": "function", "function": {...}}]`` tools (Chat Completions and Ollama shape)
    as Responses function tools (non-strict unless ``strict`` is set)."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _refuse("'tools' must be a list.", "tools")
    out = []
    for n, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise _refuse(f"tools[{n}]: only function tools are supported.", "tools")
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise _refuse(f"tools[{n}] needs 'function.name'.", "tools")
        where = f"tools[{n}].function"
        parameters = expect(fn.get("parameters"), "object", where=f"{where}.parameters", **_T)
        strict = expect(fn.get("strict"), "boolean", where=f"{where}.strict", **_T)
        description = expect(fn.get("description"), "string", where=f"{where}.description", **_T)
        out.append(
            function_tool(fn["name"], parameters, description=description, strict=bool(strict))
        )
    return out


def _text_format(fmt: Any) -> dict[str, Any] | None:
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise _refuse("'response_format' must be an object.", "response_format")
    kind = fmt.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise _refuse("'response_format.json_schema.schema' is required.", "response_format")
        for key, kind in (("name", "string"), ("description", "string"), ("strict", "boolean")):
            where = f"response_format.json_schema.{key}"
            expect(spec.get(key), kind, where=where, param="response_format")
        out: dict[str, Any] = {
            "type": "json_schema",
            "name": spec.get("name") or "output",
            "schema": spec["schema"],
            "strict": bool(spec.get("strict", True)),
        }
        if spec.get("description"):
            out["description"] = spec["description"]
        return out
    raise _refuse(f"Unknown response_format type {kind!r}.", "response_format")


def translate_chat_request(body: dict[str, Any]) -> Translation:
    """Turn a Chat Completions request body into a core request (or raise RequestRefused).

    The JSON types of the fields are checked first (:mod:`.validation`); any shape the
    translation still does not foresee is refused with a 400 as well.
    """
    return checked_translation(body, CHAT_FIELDS, _translate, endpoint="/v1/chat/completions")


def _translate(body: dict[str, Any]) -> Translation:
    for name, message in _REFUSED_IF_SET.items():
        if body.get(name):
            raise _refuse(message, name, code="unsupported_parameter")
    n = body.get("n")
    if n is not None and n != 1:
        raise _refuse(
            "'n' other than 1 is not supported by the Codex backend.",
            "n",
            code="unsupported_parameter",
        )
    if body.get("logprobs"):
        raise _refuse(
            "'logprobs' is not supported by the Codex backend.",
            "logprobs",
            code="unsupported_parameter",
        )
    if body.get("store") is True:
        raise _refuse(
            "'store': true is not supported: the Codex backend stores nothing.",
            "store",
            code="unsupported_parameter",
        )
    modalities = body.get("modalities")
    if modalities and any(m != "text" for m in modalities):
        raise _refuse("Only text output is supported.", "modalities", code="unsupported_parameter")
    dropped = [k for k in body if k not in _USED and k not in _REFUSED_IF_SET]

    model = model_slug(body.get("model"))
    items = messages_to_input(body.get("messages"))
    instructions, items = split_system(items, None, roles=("system", "developer"))
    tools = function_tools(body.get("tools"))
    if body.get("web_search_options") is not None:
        tools.append({"type": "web_search"})
    tool_choice, tools, choice_dropped = resolve_tool_choice(body.get("tool_choice"), tools)
    if choice_dropped:
        dropped.append("tool_choice")
    summary = body.get("reasoning_summary")
    if summary is not None and summary not in _SUMMARIES and summary != "none":
        raise _refuse(
            "'reasoning_summary' must be auto, concise, detailed or none.", "reasoning_summary"
        )
    if summary == "none":
        summary = None
    tier = body.get("service_tier")
    if tier in ("auto", "default"):
        tier = None
    stream_options = body.get("stream_options") or {}
    expect(
        stream_options.get("include_usage"),
        "boolean",
        where="stream_options.include_usage",
        param="stream_options",
    )
    user = body.get("safety_identifier") or body.get("user")
    request = CodexRequest(
        model=model,
        input=items,
        instructions=instructions,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=bool(body.get("parallel_tool_calls", True)),
        reasoning_effort=body.get("reasoning_effort"),
        reasoning_summary=summary,
        verbosity=body.get("verbosity"),
        text_format=_text_format(body.get("response_format")),
        service_tier=tier,
        session_id=derive_session_id(
            explicit=body.get("prompt_cache_key"),
            user=user if isinstance(user, str) else None,
            instructions=instructions,
            input=items,
        ),
    )
    tr = Translation(
        request=request,
        stream=bool(body.get("stream")),
        dropped=dropped,
        include_usage=bool(stream_options.get("include_usage")),
        reasoning_content=summary is not None,
        model=model,
    )
    apply_lite_form(tr, body)
    return tr


# --- response ------------------------------------------------------------------------------------


def chat_usage(usage: Usage) -> dict[str, Any]:
    """A core :class:`Usage` in the Chat Completions shape."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens or usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _finish_reason(has_tool_calls: bool, incomplete_reason: str | None) -> str:
    if incomplete_reason == "content_filter":
        return "content_filter"
    if incomplete_reason is not None:
        return "length"
    return "tool_calls" if has_tool_calls else "stop"


def message_text(items: list[dict[str, Any]]) -> str:
    """The assistant text of output items (every ``output_text`` part, in order)."""
    parts = []
    for item in items:
        if item.get("type") == "message" and item.get("role", "assistant") == "assistant":
            for part in item.get("content") or []:
                if part.get("type") == "output_text":
                    parts.append(part.get("text") or "")
    return "".join(parts)


def reasoning_text(items: list[dict[str, Any]]) -> str:
    """The reasoning summaries of output items, paragraphs separated by a blank line."""
    paragraphs = []
    for item in items:
        if item.get("type") == "reasoning":
            for part in item.get("summary") or []:
                if part.get("text"):
                    paragraphs.append(part["text"])
    return "\n\n".join(paragraphs)


def chat_completion(
    *,
    completion_id: str,
    created: int,
    model: str,
    items: list[dict[str, Any]],
    usage: Usage | None,
    reasoning_content: bool,
    incomplete_reason: str | None = None,
) -> dict[str, Any]:
    """A ``chat.completion`` object from the turn's output items (finished or partial)."""
    calls = [i for i in items if i.get("type") == "function_call"]
    text = message_text(items)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if (text or not calls) else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = [
            {
                "id": c.get("call_id") or c.get("id"),
                "type": "function",
                "function": {"name": c.get("name"), "arguments": c.get("arguments") or ""},
            }
            for c in calls
        ]
    if reasoning_content:
        message["reasoning_content"] = reasoning_text(items) or None
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _finish_reason(bool(calls), incomplete_reason),
                "logprobs": None,
            }
        ],
        "usage": chat_usage(usage or Usage()),
    }


class ChatEncoder(FrameEncoder):
    """Turns core stream events into ``chat.completion.chunk`` objects (and their bytes).

    Exactly one chunk carries a ``finish_reason``; tool calls stream as ``tool_calls`` deltas
    with a stable ``index`` (``id`` and ``name`` in the first delta of each call). A text
    delta, nearly every chunk of a turn, is written from a :class:`FrameTemplate`.
    """

    def __init__(
        self,
        *,
        completion_id: str,
        created: int,
        model: str,
        include_usage: bool,
        reasoning_content: bool,
    ) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model
        self.include_usage = include_usage
        self.reasoning_content = reasoning_content
        self._tool_index: dict[int, int] = {}
        self._sent_args: dict[int, list[str]] = {}
        self._has_calls = False
        self.finished = False
        self.result = None
        content, chunk, usage = _chunk_templates(model, include_usage)
        turn = (FrameTemplate.text(completion_id), FrameTemplate.number(created))
        self._content = content.partial(*turn)
        self._any_chunk = chunk.partial(*turn)
        self._usage_chunk = usage.partial(*turn)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return _chat_chunk(
            self.completion_id, self.created, self.model, self.include_usage, delta, finish
        )

    def start(self) -> list[dict[str, Any]]:
        """The first chunk: the assistant role with empty content."""
        return [self._chunk({"role": "assistant", "content": ""})]

    def head_bytes(self) -> bytes:
        """:meth:`start`'s chunk, from the turn's template."""
        return self._any_chunk.fill(_ROLE_DELTA, b"null")

    def _open_call(self, index: int, item: dict[str, Any]) -> dict[str, Any]:
        k = len(self._tool_index)
        self._tool_index[index] = k
        self._sent_args[index] = []
        return self._chunk(
            {
                "tool_calls": [
                    {
                        "index": k,
                        "id": item.get("call_id") or item.get("id"),
                        "type": "function",
                        "function": {"name": item.get("name"), "arguments": ""},
                    }
                ]
            }
        )

    def _args(self, index: int, piece: str) -> dict[str, Any]:
        self._sent_args[index].append(piece)
        k = self._tool_index[index]
        return self._chunk({"tool_calls": [{"index": k, "function": {"arguments": piece}}]})

    def fast(self, event: StreamEvent) -> bytes | None:
        """A text delta's chunk, or the end of a completed turn, from the turn's templates."""
        kind = type(event)
        if kind is TextDelta and event.text:  # type: ignore[attr-defined]
            return self._content.fill(FrameTemplate.text(event.text))  # type: ignore[attr-defined]
        if kind is Completed:
            self.result = event.result  # type: ignore[attr-defined]
            return self.finish_bytes(event.result.usage)  # type: ignore[attr-defined]
        return None

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        """The chunks one core event turns into (often none)."""
        out: list[dict[str, Any]] = []
        if isinstance(event, TextDelta):
            if event.text:
                out.append(self._chunk({"content": event.text}))
        elif isinstance(event, ReasoningDelta):
            if self.reasoning_content and event.text:
                out.append(self._chunk({"reasoning_content": event.text}))
        elif isinstance(event, ItemAdded):
            if event.item.get("type") == "function_call":
                self._has_calls = True
                if event.item.get("call_id"):
                    out.append(self._open_call(event.output_index, event.item))
        elif isinstance(event, ToolArgumentsDelta):
            if event.output_index in self._tool_index and event.delta:
                out.append(self._args(event.output_index, event.delta))
        elif isinstance(event, Completed):
            self.result = event.result
            out.extend(self.finish(event.result.usage))
        elif isinstance(event, ItemDone):
            item = event.item
            if item.get("type") == "function_call":
                self._has_calls = True
                index = event.output_index
                if index not in self._tool_index:
                    out.append(self._open_call(index, item))
                final = item.get("arguments") or ""
                sent = "".join(self._sent_args[index])
                if final != sent and final.startswith(sent):
                    out.append(self._args(index, final[len(sent) :]))
        return out

    def _finishing(self, incomplete_reason: str | None) -> str | None:
        """The turn's one ``finish_reason``, or None when it was already given."""
        if self.finished:
            return None
        self.finished = True
        calls = bool(self._tool_index) or self._has_calls
        return _finish_reason(calls, incomplete_reason)

    def finish(self, usage: Usage | None, incomplete_reason: str | None = None) -> list[dict]:
        """The single ``finish_reason`` chunk, then the usage chunk when asked for."""
        reason = self._finishing(incomplete_reason)
        if reason is None:
            return []
        out = [self._chunk({}, reason)]
        if self.include_usage:
            out.append(_usage_chunk(self.completion_id, self.created, self.model, usage or Usage()))
        return out

    def finish_bytes(self, usage: Usage | None, incomplete_reason: str | None = None) -> bytes:
        """:meth:`finish`'s chunks as bytes, from the turn's templates."""
        reason = self._finishing(incomplete_reason)
        if reason is None:
            return b""
        out = self._any_chunk.fill(b"{}", FrameTemplate.text(reason))
        if self.include_usage:
            usage_json = json.dumps(chat_usage(usage or Usage()), separators=(",", ":"))
            out += self._usage_chunk.fill(usage_json.encode())
        return out

    def fail(self, exc: BaseException) -> list[dict[str, Any]]:
        """What ends a broken stream: a ``length`` finish for a truncated turn, else an error."""
        if isinstance(exc, core_errors.IncompleteResponse):
            partial = getattr(exc, "partial", None)
            if partial is not None:
                self.result = partial
            return self.finish(getattr(partial, "usage", None), exc.reason or "unknown")
        return [error_info(exc).body()]

    def tail(self) -> bytes:
        """``data: [DONE]``, after everything else."""
        return _DONE


_DONE = encode_event("[DONE]")
_ROLE_DELTA = b'{"role":"assistant","content":""}'


def _chat_chunk(
    completion_id: str,
    created: int,
    model: str,
    include_usage: bool,
    delta: dict[str, Any],
    finish: str | None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` with one choice."""
    chunk: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    if include_usage:
        chunk["usage"] = None
    return chunk


def _usage_chunk(completion_id: str, created: int, model: str, usage: Usage) -> dict[str, Any]:
    """The chunk after the finish that carries the turn's usage (``include_usage``)."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": chat_usage(usage),
    }


@functools.lru_cache(maxsize=64)
def _chunk_templates(
    model: str, include_usage: bool
) -> tuple[FrameTemplate, FrameTemplate, FrameTemplate]:
    """The frames of a turn's chunks, serialised once per model (slots: id, created, then
    the text of a content delta; the delta and finish_reason of any chunk; the usage)."""

    def chunk(completion_id: str, created: str, delta: Any, finish: Any = None) -> bytes:
        return encode_event(
            _chat_chunk(completion_id, created, model, include_usage, delta, finish)
        )  # type: ignore[arg-type]

    def usage(completion_id: str, created: str, usage: str) -> bytes:
        frame = _usage_chunk(completion_id, created, model, Usage())  # type: ignore[arg-type]
        frame["usage"] = usage
        return encode_event(frame)

    return (
        FrameTemplate(lambda i, c, text: chunk(i, c, {"content": text}), 3),
        FrameTemplate(chunk, 4),
        FrameTemplate(usage, 3),
    )
