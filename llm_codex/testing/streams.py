"""SSE rendering of one model turn, shaped like the real backend's streams (protocol §6).

A :class:`TurnPlan` says what the turn contains (output items in order, a terminal outcome,
pacing); :func:`render` turns it into the byte pieces the HTTP layer streams: ``event:`` and
``data:`` lines per event, ``sequence_number`` on every event, ``response.completed`` with an
**empty** ``output`` and the usage, or ``response.failed`` / ``response.incomplete``, or a drop
(:data:`~llm_codex.testing._http.ABORT`, no terminal event).

Text deltas are rendered from a pre-built template (one ``json.dumps`` per distinct delta), so a
20,000-delta stream is generated in a few milliseconds.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from llm_codex.testing._http import ABORT, Pause

__all__ = [
    "FunctionCallSpec",
    "ImageSpec",
    "MessageSpec",
    "ReasoningSpec",
    "TurnPlan",
    "WebSearchSpec",
    "encode_event",
    "new_id",
    "render",
    "split_text",
]


def new_id(prefix: str, nbytes: int = 24) -> str:
    """A server-style id: ``<prefix>_<hex>`` (no dashes), e.g. ``rs_68ab…``."""
    return f"{prefix}_{secrets.token_hex(nbytes)}"


def _dumps(obj: Any) -> str:
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    except UnicodeEncodeError:  # pragma: no cover - json.dumps does not encode
        return json.dumps(obj, separators=(",", ":"))


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from the client: fall back to \u escapes
        return text.encode("utf-8", "backslashreplace")


def encode_event(event: dict[str, Any]) -> bytes:
    """One SSE frame: ``event: <type>``, ``data: <json>``, blank line."""
    data = _dumps(event)
    try:
        return f"event: {event['type']}\ndata: {data}\n\n".encode()
    except UnicodeEncodeError:
        data = json.dumps(event, separators=(",", ":"))
        return f"event: {event['type']}\ndata: {data}\n\n".encode()


def split_text(text: str, chunks: int | list[str] | None, *, size: int = 5) -> list[str]:
    """The deltas for ``text``: an explicit list, pieces of ``chunks`` characters, or ~5 chars."""
    if isinstance(chunks, list):
        return [str(c) for c in chunks]
    step = chunks if isinstance(chunks, int) and chunks > 0 else size
    if not text:
        return []
    return [text[i : i + step] for i in range(0, len(text), step)]


@dataclass
class ReasoningSpec:
    """A reasoning item: optional summary paragraphs, optional encrypted content."""

    summary: list[str] = field(default_factory=list)
    encrypted_content: str | None = None
    id: str = field(default_factory=lambda: new_id("rs"))


@dataclass
class MessageSpec:
    """An assistant message."""

    text: str
    deltas: list[str] | None = None
    phase: str = "final_answer"
    annotations: list[dict[str, Any]] = field(default_factory=list)
    repeat: tuple[str, int] | None = None  # (delta, n): a long stream of identical deltas
    id: str = field(default_factory=lambda: new_id("msg"))

    def all_deltas(self) -> list[str]:
        return self.deltas if self.deltas is not None else split_text(self.text, None)


@dataclass
class FunctionCallSpec:
    """A function call by the model."""

    name: str
    arguments: str
    call_id: str = field(default_factory=lambda: "call_" + secrets.token_urlsafe(18))
    namespace: str | None = None
    id: str = field(default_factory=lambda: new_id("fc"))


@dataclass
class WebSearchSpec:
    """A hosted web search call."""

    query: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    id: str = field(default_factory=lambda: new_id("ws"))


@dataclass
class ImageSpec:
    """A hosted image generation call (``result`` is base64 PNG)."""

    result_b64: str
    revised_prompt: str
    id: str = field(default_factory=lambda: new_id("ig"))


Item = ReasoningSpec | MessageSpec | FunctionCallSpec | WebSearchSpec | ImageSpec


@dataclass
class TurnPlan:
    """Everything :func:`render` needs for one streamed turn."""

    response: dict[str, Any]  # the response object (id, model, echo of request fields)
    items: list[Item] = field(default_factory=list)
    terminal: str = "completed"  # completed | failed | incomplete | error | drop
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    incomplete_reason: str | None = None
    drop_after_deltas: int | None = None
    drop_clean: bool = False
    delay: float = 0.0
    initial_delay: float = 0.0


class _Dropped(Exception):
    pass


class _Writer:
    def __init__(self, plan: TurnPlan) -> None:
        self.plan = plan
        self.seq = 0
        self.text_deltas = 0
        self.pause = Pause(plan.delay) if plan.delay > 0 else None

    def event(self, type_: str, **fields: Any) -> bytes:
        event = {"type": type_, "sequence_number": self.seq, **fields}
        self.seq += 1
        return encode_event(event)

    def response(self, status: str, **extra: Any) -> dict[str, Any]:
        return {**self.plan.response, "status": status, **extra}


def render(plan: TurnPlan) -> Iterator[bytes | Pause | object]:
    """Yield the stream's pieces (bytes, pauses, and ABORT for a drop)."""
    w = _Writer(plan)
    if plan.initial_delay > 0:
        yield Pause(plan.initial_delay)
    limit = plan.drop_after_deltas if plan.terminal == "drop" else None
    yield w.event("response.created", response=w.response("in_progress"))
    yield w.event("response.in_progress", response=w.response("in_progress"))
    try:
        for index, item in enumerate(plan.items):
            for piece in _render_item(w, index, item, limit):
                yield piece
                if w.pause is not None:
                    yield w.pause
    except _Dropped:
        yield ABORT if not plan.drop_clean else b""
        return
    if plan.terminal == "drop":
        if not plan.drop_clean:
            yield ABORT
        return
    if plan.terminal == "failed":
        yield w.event(
            "response.failed",
            response=w.response("failed", error=plan.error, usage=plan.usage, output=[]),
        )
    elif plan.terminal == "error":
        yield w.event("error", **(plan.error or {}))
    elif plan.terminal == "incomplete":
        yield w.event(
            "response.incomplete",
            response=w.response(
                "incomplete",
                incomplete_details={"reason": plan.incomplete_reason},
                usage=plan.usage,
                output=[],
            ),
        )
    else:
        yield w.event("response.completed", response=w.response("completed", usage=plan.usage))


def _render_item(w: _Writer, index: int, item: Item, limit: int | None) -> Iterator[bytes]:
    if isinstance(item, ReasoningSpec):
        yield from _reasoning(w, index, item)
    elif isinstance(item, MessageSpec):
        yield from _message(w, index, item, limit)
    elif isinstance(item, FunctionCallSpec):
        yield from _function_call(w, index, item)
    elif isinstance(item, WebSearchSpec):
        yield from _web_search(w, index, item)
    elif isinstance(item, ImageSpec):
        yield from _image(w, index, item)


def _reasoning(w: _Writer, index: int, item: ReasoningSpec) -> Iterator[bytes]:
    yield w.event(
        "response.output_item.added",
        output_index=index,
        item={"id": item.id, "type": "reasoning", "summary": []},
    )
    for s_index, paragraph in enumerate(item.summary):
        common = {"item_id": item.id, "output_index": index, "summary_index": s_index}
        yield w.event(
            "response.reasoning_summary_part.added",
            **common,
            part={"type": "summary_text", "text": ""},
        )
        for delta in split_text(paragraph, None, size=8):
            yield w.event("response.reasoning_summary_text.delta", **common, delta=delta)
        yield w.event("response.reasoning_summary_text.done", **common, text=paragraph)
        yield w.event(
            "response.reasoning_summary_part.done",
            **common,
            part={"type": "summary_text", "text": paragraph},
        )
    done: dict[str, Any] = {
        "id": item.id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": p} for p in item.summary],
    }
    if item.encrypted_content is not None:
        done["encrypted_content"] = item.encrypted_content
    yield w.event("response.output_item.done", output_index=index, item=done)


def _message(w: _Writer, index: int, item: MessageSpec, limit: int | None) -> Iterator[bytes]:
    yield w.event(
        "response.output_item.added",
        output_index=index,
        item={
            "id": item.id,
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
            "phase": item.phase,
        },
    )
    common = {"item_id": item.id, "output_index": index, "content_index": 0}
    yield w.event(
        "response.content_part.added",
        **common,
        part={"type": "output_text", "annotations": [], "logprobs": [], "text": ""},
    )
    # Deltas from a template: only the sequence number and the delta vary.
    head = (
        'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        '"sequence_number":'
    )
    tail_prefix = f',"item_id":"{item.id}","output_index":{index},"content_index":0,"delta":'
    encoded: dict[str, bytes] = {}

    def delta_frame(delta: str) -> bytes:
        body = encoded.get(delta)
        if body is None:
            body = _utf8(f'{tail_prefix}{_dumps(delta)},"logprobs":[]}}\n\n')
            if len(encoded) < 4096:
                encoded[delta] = body
        frame = _utf8(head + str(w.seq)) + body
        w.seq += 1
        return frame

    deltas: Iterator[str] | list[str]
    if item.repeat is not None:
        rep_delta, count = item.repeat
        deltas = (rep_delta for _ in range(count))
    else:
        deltas = item.all_deltas()
    for delta in deltas:
        if limit is not None and w.text_deltas >= limit:
            raise _Dropped
        yield delta_frame(delta)
        w.text_deltas += 1
    if limit is not None and w.text_deltas >= limit:
        raise _Dropped
    for a_index, annotation in enumerate(item.annotations):
        yield w.event(
            "response.output_text.annotation.added",
            **common,
            annotation_index=a_index,
            annotation=annotation,
        )
    text = item.text
    yield w.event("response.output_text.done", **common, text=text, logprobs=[])
    part = {
        "type": "output_text",
        "annotations": item.annotations,
        "logprobs": [],
        "text": text,
    }
    yield w.event("response.content_part.done", **common, part=part)
    yield w.event(
        "response.output_item.done",
        output_index=index,
        item={
            "id": item.id,
            "type": "message",
            "status": "completed",
            "content": [part],
            "role": "assistant",
            "phase": item.phase,
        },
    )


def _function_call(w: _Writer, index: int, item: FunctionCallSpec) -> Iterator[bytes]:
    base: dict[str, Any] = {
        "id": item.id,
        "type": "function_call",
        "status": "in_progress",
        "arguments": "",
        "call_id": item.call_id,
        "name": item.name,
    }
    if item.namespace is not None:
        base["namespace"] = item.namespace
    yield w.event("response.output_item.added", output_index=index, item=base)
    for delta in split_text(item.arguments, None, size=8):
        yield w.event(
            "response.function_call_arguments.delta",
            item_id=item.id,
            output_index=index,
            delta=delta,
        )
    yield w.event(
        "response.function_call_arguments.done",
        item_id=item.id,
        output_index=index,
        name=item.name,
        arguments=item.arguments,
    )
    yield w.event(
        "response.output_item.done",
        output_index=index,
        item={**base, "status": "completed", "arguments": item.arguments},
    )


def _web_search(w: _Writer, index: int, item: WebSearchSpec) -> Iterator[bytes]:
    yield w.event(
        "response.output_item.added",
        output_index=index,
        item={"id": item.id, "type": "web_search_call", "status": "in_progress"},
    )
    for stage in ("in_progress", "searching", "completed"):
        yield w.event(f"response.web_search_call.{stage}", item_id=item.id, output_index=index)
    action: dict[str, Any] = {"type": "search", "query": item.query}
    if item.sources:
        action["sources"] = [{"type": "url", "url": s["url"]} for s in item.sources]
    yield w.event(
        "response.output_item.done",
        output_index=index,
        item={"id": item.id, "type": "web_search_call", "status": "completed", "action": action},
    )


def _image(w: _Writer, index: int, item: ImageSpec) -> Iterator[bytes]:
    yield w.event(
        "response.output_item.added",
        output_index=index,
        item={"id": item.id, "type": "image_generation_call", "status": "in_progress"},
    )
    for stage in ("in_progress", "generating"):
        yield w.event(
            f"response.image_generation_call.{stage}", item_id=item.id, output_index=index
        )
    yield w.event("response.image_generation_call.completed", item_id=item.id, output_index=index)
    yield w.event(
        "response.output_item.done",
        output_index=index,
        item={
            "id": item.id,
            "type": "image_generation_call",
            "status": "completed",
            "background": "opaque",
            "output_format": "png",
            "quality": "high",
            "size": "1024x1024",
            "revised_prompt": item.revised_prompt,
            "result": item.result_b64,
        },
    )


def response_object(
    *, response_id: str, body: dict[str, Any], created_at: int | None = None
) -> dict[str, Any]:
    """The ``response`` object echoed in lifecycle events (status and usage set per event)."""
    reasoning = body.get("reasoning")
    text = body.get("text") if isinstance(body.get("text"), dict) else {}
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()) if created_at is None else created_at,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": body.get("model"),
        "output": [],
        "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
        "previous_response_id": None,
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {
            "effort": (reasoning or {}).get("effort"),
            "summary": (reasoning or {}).get("summary"),
        },
        "service_tier": body.get("service_tier") or "auto",
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": text.get("verbosity", "medium")},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": {},
    }
