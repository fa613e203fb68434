"""``POST /v1/responses``: the OpenAI Responses API over the Codex backend.

The request is translated into a :class:`~llm_codex.core.types.CodexRequest` with the backend's
rules applied:

- sampling and length parameters (``temperature``, ``top_p``, ``max_output_tokens``, …) and
  unknown fields are dropped and named in the ``x-llm-codex-dropped-params`` response header;
- ``previous_response_id``, ``item_reference`` items and id-only reasoning items are resolved
  from the server's own store before translation (:mod:`.response_store`); ``store: true`` is
  accepted (the backend still gets ``store: false``);
- things that would change the meaning of the request are refused with a 400:
  ``conversation``, ``background: true``, ``prompt`` templates and ``file_id`` images;
- leading ``system`` messages become ``instructions``; later ones become ``developer`` messages;
- item ids are stripped (the backend stores nothing, replayed ids fail);
- ``tool_choice`` is mapped conservatively (:func:`~llm_codex.server.common.resolve_tool_choice`);
  the answer's ``response`` object echoes the ``tool_choice`` and ``tools`` the client sent.

Streaming answers re-serialise the core's events as Responses API SSE events in order
(``response.created`` … ``response.completed``); the final ``response.completed`` carries the
assembled ``output`` (the backend's own is empty). Non-stream answers are assembled from the
same stream.
"""

from __future__ import annotations

import json
import time
from typing import Any

from llm_codex.core import errors as core_errors
from llm_codex.core.request import derive_session_id
from llm_codex.core.sse import encode_event
from llm_codex.core.types import (
    CodexRequest,
    CodexResult,
    Completed,
    ItemAdded,
    ItemDone,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolArgumentsDelta,
)
from llm_codex.server.common import (
    Translation,
    function_tool,
    model_slug,
    new_id,
    resolve_tool_choice,
    split_system,
    usage_json,
)
from llm_codex.server.errors import RequestRefused, error_info
from llm_codex.server.lite import apply_lite_form
from llm_codex.server.streaming import FrameEncoder, FrameTemplate
from llm_codex.server.validation import RESPONSES_FIELDS, checked_translation, expect

__all__ = [
    "ResponsesEncoder",
    "normalise_input",
    "normalise_tools",
    "response_error",
    "response_object",
    "translate_responses_request",
]

#: Accepted and used.
_USED = {
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "service_tier",
    "prompt_cache_key",
    "stream",
    "store",
    "include",
    "user",
    "safety_identifier",
    "background",
    "previous_response_id",
}
#: Refused when present and not null/false: they change what the request means.
_REFUSED = {
    "conversation": "'conversation' is not supported: the Codex backend stores nothing, so send "
    "the whole conversation in 'input'.",
    "prompt": "Stored prompt templates ('prompt') are not supported by the Codex backend.",
}
_SERVICE_TIERS_OMITTED = {"auto", "default"}


def _refuse(message: str, param: str | None = None, **kw: Any) -> RequestRefused:
    return RequestRefused(message, param=param, **kw)


_T = {"param": "tools"}


def _normalise_part(part: Any, role: str, where: str) -> dict[str, Any]:
    if isinstance(part, str):
        part = {"type": "output_text" if role == "assistant" else "input_text", "text": part}
    if not isinstance(part, dict):
        raise _refuse(f"{where} must be an object.", "input")
    part = dict(part)
    kind = part.get("type")
    if kind in ("input_image",) and part.get("file_id") and not part.get("image_url"):
        raise _refuse(
            "Uploaded files ('file_id') are not supported by the Codex backend: send the image "
            "inline as a data: URL in 'image_url'.",
            "input",
        )
    if kind == "input_file" and part.get("file_id") and not part.get("file_data"):
        raise _refuse(
            "Uploaded files ('file_id') are not supported by the Codex backend: send the file "
            "inline in 'file_data'.",
            "input",
        )
    return part


def normalise_input(value: Any) -> list[dict[str, Any]]:
    """Responses ``input`` as a list of typed items, without ids, with list ``content``.

    A string becomes one user message; string ``content`` becomes one text part; items with a
    ``role`` but no ``type`` are messages. ``item_reference`` items and ``file_id`` references
    are refused: the server's store resolves them before (:mod:`.response_store`).
    """
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": [_text("user", value)]}]
    if not isinstance(value, list):
        raise _refuse("'input' must be a string or a list of items.", "input")
    items: list[dict[str, Any]] = []
    for n, raw in enumerate(value):
        if not isinstance(raw, dict):
            raise _refuse(f"input[{n}] must be an object.", "input")
        item = {k: v for k, v in raw.items() if k != "id"}
        kind = expect(item.get("type"), "string", where=f"input[{n}].type", param="input")
        kind = kind or ("message" if "role" in item else None)
        if kind is None:
            raise _refuse(f"input[{n}] has no 'type'.", "input")
        if kind == "item_reference":
            raise _refuse(
                "'item_reference' items are not supported: the Codex backend stores nothing, "
                "so send the items themselves.",
                "input",
            )
        item["type"] = kind
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise _refuse(f"input[{n}] has an unknown role {role!r}.", "input")
            content = item.get("content")
            if isinstance(content, str):
                item["content"] = [_text(role, content)]
            elif isinstance(content, list):
                where = f"input[{n}].content part"
                item["content"] = [_normalise_part(p, role, where) for p in content]
            else:
                raise _refuse(f"input[{n}].content must be a string or a list.", "input")
        items.append(item)
    return items


def _text(role: str, text: str) -> dict[str, Any]:
    return {"type": "output_text" if role == "assistant" else "input_text", "text": text}


def normalise_tools(tools: list[Any]) -> list[dict[str, Any]]:
    """Responses ``tools`` checked, with function tools in the one shape of
    :func:`~llm_codex.server.common.function_tool` (``strict`` and ``parameters`` present);
    hosted tools (``web_search``, ``image_generation``…) are passed on as they are."""
    out: list[dict[str, Any]] = []
    for n, tool in enumerate(tools):
        where = f"tools[{n}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise _refuse(f"'{where}' must be an object with a 'type'.", "tools")
        if tool["type"] != "function":
            out.append(tool)
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise _refuse(f"'{where}' is a function tool without a 'name'.", "tools")
        unknown = set(tool) - {"type", "name", "parameters", "strict", "description"}
        out.append(
            {
                **{k: tool[k] for k in sorted(unknown)},
                **function_tool(
                    name,
                    expect(tool.get("parameters"), "object", where=f"{where}.parameters", **_T),
                    strict=bool(
                        expect(tool.get("strict"), "boolean", where=f"{where}.strict", **_T)
                    ),
                    description=expect(
                        tool.get("description"), "string", where=f"{where}.description", **_T
                    ),
                ),
            }
        )
    return out


def translate_responses_request(body: dict[str, Any]) -> Translation:
    """Turn a Responses API request body into a core request (or raise :class:`RequestRefused`).

    The JSON types of the fields are checked first (:mod:`.validation`); any shape the
    translation still does not foresee is refused with a 400 as well.
    """
    return checked_translation(body, RESPONSES_FIELDS, _translate, endpoint="/v1/responses")


def _translate(body: dict[str, Any]) -> Translation:
    dropped: list[str] = []
    for name, message in _REFUSED.items():
        if body.get(name):
            raise _refuse(message, name, code="unsupported_parameter")
    if body.get("background"):
        raise _refuse(
            "'background' responses are not supported by the Codex backend.",
            "background",
            code="unsupported_parameter",
        )
    for name in body:
        if name not in _USED and name not in _REFUSED:
            dropped.append(name)

    model = model_slug(body.get("model"))
    items = normalise_input(body.get("input", []))
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise _refuse("'instructions' must be a string.", "instructions")
    instructions, items = split_system(items, instructions)

    reasoning = body.get("reasoning") or {}
    for key in ("effort", "summary", "generate_summary"):
        expect(reasoning.get(key), "string", where=f"reasoning.{key}", param="reasoning")
    text = body.get("text") or {}
    expect(text.get("verbosity"), "string", where="text.verbosity", param="text")
    text_format = expect(text.get("format"), "object", where="text.format", param="text")
    if isinstance(text_format, dict) and text_format.get("type") == "text":
        text_format = None
    tools = normalise_tools(body.get("tools") or [])
    tool_choice, sent_tools, choice_dropped = resolve_tool_choice(body.get("tool_choice"), tools)
    if choice_dropped:
        dropped.append("tool_choice")
    include = body.get("include") or []
    if any(value != "reasoning.encrypted_content" for value in include or []):
        dropped.append("include")
    tier = body.get("service_tier")
    if tier in _SERVICE_TIERS_OMITTED:
        tier = None

    user = body.get("safety_identifier") or body.get("user")
    request = CodexRequest(
        model=model,
        input=items,
        instructions=instructions,
        tools=list(sent_tools),
        tool_choice=tool_choice,
        parallel_tool_calls=bool(body.get("parallel_tool_calls", True)),
        reasoning_effort=reasoning.get("effort"),
        reasoning_summary=reasoning.get("summary") or reasoning.get("generate_summary"),
        verbosity=text.get("verbosity"),
        text_format=text_format,
        service_tier=tier,
        session_id=derive_session_id(
            explicit=body.get("prompt_cache_key"),
            user=user if isinstance(user, str) else None,
            instructions=instructions,
            input=items,
        ),
    )
    echo = {
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": list(tools),
        "store": body.get("store") is not False,
        "previous_response_id": body.get("previous_response_id"),
    }
    tr = Translation(
        request=request, stream=bool(body.get("stream")), dropped=dropped, model=model, echo=echo
    )
    apply_lite_form(tr, body)
    return tr


def response_object(
    *,
    response_id: str,
    created_at: int,
    request: CodexRequest,
    status: str,
    output: list[dict[str, Any]] | None = None,
    usage: Any = None,
    error: dict[str, Any] | None = None,
    incomplete_reason: str | None = None,
    echo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Responses API ``response`` object describing this turn (``echo`` overrides fields
    that should show the request as the client sent it)."""
    reasoning = None
    if request.reasoning_effort or request.reasoning_summary:
        reasoning = {"effort": request.reasoning_effort, "summary": request.reasoning_summary}
    text: dict[str, Any] = {"format": request.text_format or {"type": "text"}}
    if request.verbosity:
        text["verbosity"] = request.verbosity
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "model": request.model,
        "output": output or [],
        "error": error,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "instructions": request.instructions,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "parallel_tool_calls": request.parallel_tool_calls,
        "reasoning": reasoning,
        "text": text,
        "service_tier": request.service_tier,
        "store": False,
        "background": False,
        "metadata": {},
        "temperature": None,
        "top_p": None,
        "max_output_tokens": None,
        "previous_response_id": None,
        "prompt_cache_key": request.session_id,
        # OpenAI's schema has no null usage: it is left out until the turn has one
        **({"usage": usage_json(usage)} if usage is not None else {}),
        **(echo or {}),
    }


#: The codes OpenAI's schema allows in a ``response`` object's ``error`` (``ResponseErrorCode``).
RESPONSE_ERROR_CODES = frozenset(
    {
        "server_error", "rate_limit_exceeded", "invalid_prompt", "vector_store_timeout",
        "invalid_image", "invalid_image_format", "invalid_base64_image", "invalid_image_url",
        "image_too_large", "image_too_small", "image_parse_error",
        "image_content_policy_violation", "invalid_image_mode", "image_file_too_large",
        "unsupported_image_media_type", "empty_image_file", "failed_to_download_image",
        "image_file_not_found",
    }
)  # fmt: skip


def _response_event_template(kind: str) -> FrameTemplate:
    """The frame of a ``kind`` event carrying the response (slots: sequence number, response)."""

    def render(seq: str, response: str) -> bytes:
        return encode_event(
            {"type": kind, "sequence_number": seq, "response": response}, event=kind
        )

    return FrameTemplate(render, slots=2)


#: The frames of :meth:`ResponsesEncoder.start`'s events, in order.
_HEAD_TEMPLATES = tuple(
    _response_event_template(kind) for kind in ("response.created", "response.in_progress")
)

_LIMIT_WORDS = ("rate_limit", "usage_limit", "quota", "overloaded")
_PROMPT_WORDS = ("context_length", "invalid", "content_policy", "too_long")


def response_error(code: str | None, message: str) -> dict[str, str]:
    """The ``error`` of a failed ``response`` object, with a code the schema allows.

    A backend code outside :data:`RESPONSE_ERROR_CODES` is mapped (limits ->
    ``rate_limit_exceeded``, refusals of the input -> ``invalid_prompt``, anything else ->
    ``server_error``) and kept at the end of the message: ``(backend code: …)``.
    """
    if code in RESPONSE_ERROR_CODES:
        return {"code": code, "message": message}
    original = code or "unknown"
    if any(word in original for word in _LIMIT_WORDS):
        mapped = "rate_limit_exceeded"
    elif any(word in original for word in _PROMPT_WORDS):
        mapped = "invalid_prompt"
    else:
        mapped = "server_error"
    return {"code": mapped, "message": f"{message} (backend code: {original})"}


class ResponsesEncoder(FrameEncoder):
    """Turns core stream events into Responses API SSE events, in order, with sequence numbers.

    The core hands over typed events (text deltas, items added/done); this class adds the
    framing events a Responses client expects (``content_part.added``/``.done``,
    ``output_text.done``, ``reasoning_summary_part.added``…) so the official SDK's stream
    accumulator sees a consistent sequence. Ids stay those of the backend's items. The output
    of the final event comes from the items the core finished (``output_item.done``) or, for
    a broken turn, from the core's partial result; nothing is reassembled here. A text delta
    of an item already open is written from a per-item :class:`FrameTemplate`.
    """

    def __init__(
        self,
        request: CodexRequest,
        *,
        response_id: str,
        created_at: int,
        echo: dict[str, Any] | None = None,
    ) -> None:
        self.request = request
        self.echo = echo
        self.response_id = response_id
        self.created_at = created_at
        self.finished = False
        self.result = None
        self._seq = 0
        self._done: dict[int, dict[str, Any]] = {}  # finished items by output_index
        self._seen: set[int] = set()  # every output_index an event named
        self._text_templates: dict[int, FrameTemplate] = {}
        self._item_ids: dict[int, str] = {}
        self._kinds: dict[int, str] = {}
        self._content_started: set[int] = set()
        self._summary_started: dict[int, set[int]] = {}
        self._synthesised: set[int] = set()

    # -- helpers ------------------------------------------------------------------------------
    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        data = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return data

    def response(self, status: str, **kw: Any) -> dict[str, Any]:
        """The ``response`` object of this turn with ``status`` (and output, usage… in ``kw``)."""
        return response_object(
            response_id=self.response_id,
            created_at=self.created_at,
            request=self.request,
            status=status,
            echo=self.echo,
            **kw,
        )

    def _ensure_item(self, index: int, kind: str, out: list[dict[str, Any]]) -> str:
        if index not in self._item_ids:
            prefix = {"message": "msg_", "reasoning": "rs_"}.get(kind, "item_")
            item_id = new_id(prefix)
            self._item_ids[index] = item_id
            self._kinds[index] = kind
            self._synthesised.add(index)
            item: dict[str, Any] = {"id": item_id, "type": kind, "status": "in_progress"}
            if kind == "message":
                item.update(role="assistant", content=[])
            elif kind == "reasoning":
                item["summary"] = []
            out.append(self._event("response.output_item.added", output_index=index, item=item))
        return self._item_ids[index]

    # -- public ---------------------------------------------------------------------------------
    def start(self) -> list[dict[str, Any]]:
        """``response.created`` and ``response.in_progress``."""
        resp = self.response("in_progress")
        return [
            self._event("response.created", response=resp),
            self._event("response.in_progress", response=resp),
        ]

    def head_bytes(self) -> bytes:
        """:meth:`start`'s two events, the ``response`` object serialised once for both."""
        response = json.dumps(self.response("in_progress"), separators=(",", ":")).encode()
        out = []
        for template in _HEAD_TEMPLATES:
            out.append(template.fill(FrameTemplate.number(self._seq), response))
            self._seq += 1
        return b"".join(out)

    def frame(self, obj: dict[str, Any]) -> bytes:
        return encode_event(obj, event=obj["type"])

    def fast(self, event: StreamEvent) -> bytes | None:
        """A text delta of an item whose content part is open, from that item's template."""
        if type(event) is not TextDelta:
            return None
        template = self._text_templates.get(event.output_index)
        if template is None:
            return None
        seq = self._seq
        self._seq = seq + 1
        return template.fill(FrameTemplate.number(seq), FrameTemplate.text(event.text))

    def _text_template(self, index: int, item_id: str) -> FrameTemplate:
        def render(seq: str, delta: str) -> bytes:
            data = {
                "type": "response.output_text.delta",
                "sequence_number": seq,
                "item_id": item_id,
                "output_index": index,
                "content_index": 0,
                "delta": delta,
                "logprobs": [],
            }
            return self.frame(data)

        return FrameTemplate(render, slots=2)

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        """The SSE events (as dicts) that one core event turns into."""
        out: list[dict[str, Any]] = []
        index = getattr(event, "output_index", None)
        if index is not None:
            self._seen.add(index)
        if isinstance(event, ItemAdded):
            item = dict(event.item)
            index = event.output_index
            item_id = item.get("id")
            if not item_id:
                item_id = item["id"] = new_id("item_")
                self._synthesised.add(index)
            self._item_ids[index] = item_id
            self._kinds[index] = item.get("type", "")
            if item.get("type") == "image_generation_call":
                item.setdefault("result", None)  # the schema requires it; none yet
            out.append(self._event("response.output_item.added", output_index=index, item=item))
        elif isinstance(event, TextDelta):
            index = event.output_index
            item_id = self._ensure_item(index, "message", out)
            if index not in self._content_started:
                self._content_started.add(index)
                part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                out.append(
                    self._event(
                        "response.content_part.added",
                        item_id=item_id,
                        output_index=index,
                        content_index=0,
                        part=part,
                    )
                )
            out.append(
                self._event(
                    "response.output_text.delta",
                    item_id=item_id,
                    output_index=index,
                    content_index=0,
                    delta=event.text,
                    logprobs=[],
                )
            )
            self._text_templates[index] = self._text_template(index, item_id)
        elif isinstance(event, ReasoningDelta):
            index = event.output_index
            item_id = self._ensure_item(index, "reasoning", out)
            started = self._summary_started.setdefault(index, set())
            if event.summary_index not in started:
                started.add(event.summary_index)
                out.append(
                    self._event(
                        "response.reasoning_summary_part.added",
                        item_id=item_id,
                        output_index=index,
                        summary_index=event.summary_index,
                        part={"type": "summary_text", "text": ""},
                    )
                )
            out.append(
                self._event(
                    "response.reasoning_summary_text.delta",
                    item_id=item_id,
                    output_index=index,
                    summary_index=event.summary_index,
                    delta=event.text,
                )
            )
        elif isinstance(event, ToolArgumentsDelta):
            index = event.output_index
            item_id = self._item_ids.get(index) or event.item_id or ""
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item_id,
                    output_index=index,
                    delta=event.delta,
                )
            )
        elif isinstance(event, ItemDone):
            self._text_templates.pop(event.output_index, None)
            self._done[event.output_index] = event.item
            out.extend(self._item_done(event))
        elif isinstance(event, Completed):
            result = self.result = event.result
            self.finished = True
            out.append(
                self._event(
                    "response.completed",
                    response=self.response("completed", output=self.output(), usage=result.usage),
                )
            )
        return out

    def output(self, partial: CodexResult | None = None) -> list[dict[str, Any]]:
        """The output items, with the ids the client saw in the stream.

        Finished: the items of ``output_item.done`` (else the result's own). Broken: the
        core's ``partial`` items, which cover exactly the output indexes the stream named.
        """
        if partial is not None:
            indexes: list[int | None] = sorted(self._seen)
            items = partial.items
            if len(indexes) != len(items):
                indexes = [None] * len(items)
            pairs = list(zip(indexes, items, strict=True))
        elif self._done:
            pairs = sorted(self._done.items())
        else:
            pairs = [(None, item) for item in (self.result.items if self.result else [])]
        fixed = []
        for index, item in pairs:
            if index is not None and index in self._synthesised:
                item = {**item, "id": self._item_ids[index]}
            fixed.append(_conforming(item))
        return fixed

    def _item_done(self, event: ItemDone) -> list[dict[str, Any]]:
        index = event.output_index
        item = dict(event.item)
        kind = item.get("type", "")
        out: list[dict[str, Any]] = []
        if index not in self._item_ids:
            self._item_ids[index] = item.get("id") or new_id("item_")
            out.append(
                self._event(
                    "response.output_item.added",
                    output_index=index,
                    item={**item, "id": self._item_ids[index], "status": "in_progress"},
                )
            )
        elif index in self._synthesised or not item.get("id"):
            item["id"] = self._item_ids[index]
        item_id = self._item_ids[index]
        if kind == "message":
            for n, part in enumerate(item.get("content") or []):
                if part.get("type") != "output_text":
                    continue
                if n == 0 and index not in self._content_started:
                    out.append(
                        self._event(
                            "response.content_part.added",
                            item_id=item_id,
                            output_index=index,
                            content_index=n,
                            part={**part, "text": ""},
                        )
                    )
                out.append(
                    self._event(
                        "response.output_text.done",
                        item_id=item_id,
                        output_index=index,
                        content_index=n,
                        text=part.get("text", ""),
                        logprobs=[],
                    )
                )
                out.append(
                    self._event(
                        "response.content_part.done",
                        item_id=item_id,
                        output_index=index,
                        content_index=n,
                        part=part,
                    )
                )
        elif kind == "reasoning":
            for n, part in enumerate(item.get("summary") or []):
                text = part.get("text", "")
                out.append(
                    self._event(
                        "response.reasoning_summary_text.done",
                        item_id=item_id,
                        output_index=index,
                        summary_index=n,
                        text=text,
                    )
                )
                out.append(
                    self._event(
                        "response.reasoning_summary_part.done",
                        item_id=item_id,
                        output_index=index,
                        summary_index=n,
                        part={"type": "summary_text", "text": text},
                    )
                )
        elif kind == "function_call":
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item_id,
                    output_index=index,
                    name=item.get("name"),
                    arguments=item.get("arguments", ""),
                )
            )
        out.append(self._event("response.output_item.done", output_index=index, item=item))
        return out

    def fail(self, exc: BaseException) -> list[dict[str, Any]]:
        """The terminal event for a stream that broke: ``response.incomplete``,
        ``response.failed`` or an ``error`` event."""
        self.finished = True
        partial = getattr(exc, "partial", None)
        if not isinstance(partial, CodexResult):
            partial = CodexResult(items=[])
        if isinstance(exc, core_errors.IncompleteResponse):
            self.result = partial
            return [
                self._event(
                    "response.incomplete",
                    response=self.response(
                        "incomplete",
                        output=self.output(partial),
                        usage=partial.usage if exc.partial is not None else None,
                        incomplete_reason=exc.reason or "unknown",
                    ),
                )
            ]
        info = error_info(exc)
        if isinstance(exc, core_errors.ResponseFailed):
            return [
                self._event(
                    "response.failed",
                    response=self.response(
                        "failed",
                        output=self.output(partial),
                        error=response_error(info.code, info.message),
                    ),
                )
            ]
        return [self._event("error", code=info.code, message=info.message, param=info.param)]


def _conforming(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with the fields OpenAI's schema requires of its text parts (``annotations``,
    ``logprobs``), which a partial item rebuilt from deltas does not have."""
    if item.get("type") != "message" or not isinstance(item.get("content"), list):
        return item
    parts = [
        {"annotations": [], "logprobs": [], **part}
        if isinstance(part, dict) and part.get("type") == "output_text"
        else part
        for part in item["content"]
    ]
    return {**item, "content": parts}


def now_seconds() -> int:
    """Whole seconds since the epoch, for ``created_at``."""
    return int(time.time())
