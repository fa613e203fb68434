"""Core stream events -> llm ``StreamEvent``s, for one response (shared by sync and async models).

:class:`EventTranslator` is a small state machine fed with the core's typed events
(:mod:`llm_codex.core.types`) in stream order. It returns what the model's ``execute()`` should
yield and books tool calls, usage and ``response_json`` on the llm response. It does no I/O.

What the parts look like (the provider-metadata agreement with :mod:`llm_codex.plugin.request`,
which replays them on the next turn):

- **Reasoning**: one ``ReasoningPart`` per reasoning item. Its summary text streams as
  ``reasoning`` events; when the item is done, a ``reasoning`` event on the same part carries
  ``{METADATA_KEY: {"encrypted_content": ..., "summary": [...]}}`` (never the item id). A
  reasoning item without a visible summary still gets its part, from that event alone. For
  readability on the terminal (llm prints reasoning on stderr as it arrives), summary
  paragraphs are separated by a blank line, visible reasoning ends with ``"\n"`` (so the
  answer, or the next response of a tool chain, starts on a fresh line after a blank one), and
  a second reasoning item starts after a blank line.
- **Function calls**: ``tool_call_name`` / ``tool_call_args`` events with ``tool_call_id`` = the
  item's ``call_id``; ``{METADATA_KEY: {"namespace": ...}}`` when the call has one; and
  ``response.add_tool_call(...)`` once the item is done. Arguments that are not a JSON object
  are passed as ``{"_raw": "<the string>"}`` (llm's own convention).
- **Assistant messages**: ``text`` events; each message item after the first starts a new llm
  message (``message_index``), and the item's ``phase`` is kept as
  ``{METADATA_KEY: {"phase": ...}}`` on its text part.
- **Hosted tools** (``web_search_call``, ``image_generation_call``): whatever the request
  translator's ``server_item_events`` returns for the finished item; web-search citations on a
  message become the ``citations_text`` footer appended to that message's text.

Every part gets an explicit ``part_index`` so that two reasoning items in a row never merge into
one part; continuation text deltas are yielded as plain ``str`` (llm appends them to the current
text part), which keeps the per-delta cost of a long answer low.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import llm
from llm.parts import StreamEvent

from llm_codex.core.types import (
    CodexResult,
    Completed,
    ItemAdded,
    ItemDone,
    ReasoningDelta,
    TextDelta,
    ToolArgumentsDelta,
)
from llm_codex.plugin.messages import CARRIED_SUFFIX

__all__ = ["EventTranslator", "parse_arguments", "response_json_for"]

#: ``server_item_events(item, *, response) -> list[StreamEvent]`` for hosted tool items.
ServerItemEvents = Callable[..., list[StreamEvent]]

_SERVER_ITEM_TYPES = frozenset({"web_search_call", "image_generation_call"})


def parse_arguments(arguments: str | None) -> dict[str, Any]:
    """A function call's JSON arguments as a dict; ``{"_raw": text}`` if they are not an object."""
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_raw": arguments}


def response_json_for(result: CodexResult) -> dict[str, Any]:
    """What is logged as ``response_json``: ids, model, status, usage and rate limits, no token."""
    usage = result.usage
    snapshot = result.rate_limits
    data: dict[str, Any] = {
        "id": result.response_id,
        "model": result.model,
        "status": result.status,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_tokens": usage.cached_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "total_tokens": usage.total_tokens,
        },
        "rate_limits": snapshot.to_json() if hasattr(snapshot, "to_json") else snapshot,
        "request_id": result.request_id,
        "incomplete_reason": result.incomplete_reason,
    }
    return {key: value for key, value in data.items() if value is not None}


class _Call:
    """A function call being streamed."""

    __slots__ = ("arguments", "call_id", "name", "name_sent", "part")

    def __init__(self, part: int, call_id: str | None, name: str | None) -> None:
        self.part = part
        self.call_id = call_id
        self.name = name
        self.name_sent = False
        self.arguments: list[str] = []


class EventTranslator:
    """Translate one response's core events into llm stream events (see the module docstring).

    ``feed(event)`` returns a list of ``str`` / ``StreamEvent`` to yield; ``text(delta)`` is the
    fast path for :class:`TextDelta` and returns a single value. ``finish(result)`` books usage,
    ``response_json`` and the resolved model; ``record_partial(result)`` does the same for the
    partial result attached to an error.
    """

    def __init__(
        self,
        *,
        response: Any,
        metadata_key: str,
        model_slug: str,
        server_item_events: ServerItemEvents | None = None,
        citations_text: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        self.response = response
        self.key = metadata_key
        self.model_slug = model_slug
        self.server_item_events = server_item_events
        self.citations_text = citations_text
        self._next_part = 0
        self._last_part: int | None = None  # part of the last event handed out
        self._parts: dict[int, int] = {}  # output_index -> part_index
        self._message_of: dict[int, int] = {}  # output_index -> message_index
        self._message_index = 0
        self._seen_message = False
        self._text_seen: set[int] = set()  # output indexes whose text was emitted
        self._summary_index: dict[int, int] = {}  # reasoning output_index -> last summary_index
        self._calls: dict[int, _Call] = {}
        self._had_reasoning = False
        self._reasoning_shown = False  # some reasoning text was handed out
        self._reasoning_open: set[int] = set()  # reasoning items whose text was handed out
        self._last_text = ""  # the last assistant text chunk handed out
        #: Metadata of reasoning items that showed nothing, waiting to ride on the next part.
        self._pending_reasoning: list[dict[str, Any]] = []

    @property
    def open_line(self) -> bool:
        """True when assistant text was handed out and its last line is not finished."""
        return bool(self._last_text) and not self._last_text.endswith("\n")

    # --- bookkeeping ---------------------------------------------------------------------------

    def _new_part(self) -> int:
        part = self._next_part
        self._next_part += 1
        return part

    def _part_for(self, output_index: int) -> int:
        part = self._parts.get(output_index)
        if part is None:
            part = self._parts[output_index] = self._new_part()
        return part

    def _message_for(self, output_index: int) -> int:
        """The llm message index of a message item; a new message item after the first starts
        a new llm message."""
        index = self._message_of.get(output_index)
        if index is None:
            if self._seen_message:
                self._message_index += 1
            self._seen_message = True
            index = self._message_of[output_index] = self._message_index
        return index

    def _event(self, type_: str, chunk: str, part: int, **kw: Any) -> StreamEvent:
        self._last_part = part
        self._carry_reasoning(kw)
        return StreamEvent(
            type=type_, chunk=chunk, part_index=part, message_index=self._message_index, **kw
        )

    def _carry_reasoning(self, kw: dict[str, Any]) -> None:
        """Put the reasoning items that showed nothing on the part that follows them.

        An empty ``reasoning`` event would make llm print a stray blank line before the answer
        (``-o reasoning_summary none``), yet their encrypted content must be replayed, before
        this part: :func:`llm_codex.plugin.messages.build_input` reads them back from here.
        """
        if not self._pending_reasoning:
            return
        meta = dict(kw.get("provider_metadata") or {})
        meta[self.key + CARRIED_SUFFIX] = self._pending_reasoning
        self._pending_reasoning = []
        kw["provider_metadata"] = meta

    # --- the hot path ----------------------------------------------------------------------------

    def text(self, event: TextDelta) -> str | StreamEvent:
        """One assistant text delta: a plain ``str`` when it continues the current text part."""
        oi = event.output_index
        part = self._parts.get(oi)
        text = event.text
        if text:
            self._last_text = text
        if part is not None and part == self._last_part and self._message_of.get(oi) == 0:
            return text
        return self._text_start(oi, text)

    def _text_start(self, oi: int, text: str) -> StreamEvent:
        mi = self._message_for(oi)
        part = self._part_for(oi)
        self._text_seen.add(oi)
        self._last_part = part
        if text:
            self._last_text = text
        kw: dict[str, Any] = {}
        self._carry_reasoning(kw)
        return StreamEvent(type="text", chunk=text, part_index=part, message_index=mi, **kw)

    # --- everything else -------------------------------------------------------------------------

    def feed(self, event: Any) -> list[str | StreamEvent]:
        """Events to yield for one core event other than :class:`Completed`."""
        cls = event.__class__
        if cls is TextDelta:
            return [self.text(event)]
        if cls is ReasoningDelta:
            return self._reasoning_delta(event)
        if cls is ItemAdded:
            return self._item_added(event)
        if cls is ToolArgumentsDelta:
            return self._arguments_delta(event)
        if cls is ItemDone:
            return self._item_done(event)
        if cls is Completed:
            return self.finish(event.result)
        return []

    def _reasoning_delta(self, event: ReasoningDelta) -> list[str | StreamEvent]:
        oi = event.output_index
        part = self._part_for(oi)
        chunk = event.text
        previous = self._summary_index.get(oi)
        if previous is not None and previous != event.summary_index:
            chunk = "\n\n" + chunk  # a new summary paragraph
        elif previous is None and self._reasoning_shown and chunk:
            chunk = "\n" + chunk  # a new reasoning item: the last one ended with "\n"
        self._summary_index[oi] = event.summary_index
        if not chunk:
            return []
        self._reasoning_shown = True
        self._reasoning_open.add(oi)
        return [self._event("reasoning", chunk, part)]

    def _item_added(self, event: ItemAdded) -> list[str | StreamEvent]:
        item = event.item
        kind = item.get("type")
        oi = event.output_index
        if kind == "message":
            self._message_for(oi)
        elif kind == "reasoning":
            self._part_for(oi)
        elif kind == "function_call":
            call = self._call(oi, item)
            if call.name:
                call.name_sent = True
                return [
                    self._event("tool_call_name", call.name, call.part, tool_call_id=call.call_id)
                ]
        return []

    def _call(self, oi: int, item: dict[str, Any] | None = None) -> _Call:
        call = self._calls.get(oi)
        if call is None:
            item = item or {}
            call = self._calls[oi] = _Call(
                self._part_for(oi), item.get("call_id"), item.get("name")
            )
        elif item:
            call.call_id = call.call_id or item.get("call_id")
            call.name = call.name or item.get("name")
        return call

    def _arguments_delta(self, event: ToolArgumentsDelta) -> list[str | StreamEvent]:
        call = self._call(event.output_index)
        if not event.delta:
            return []
        call.arguments.append(event.delta)
        return [self._event("tool_call_args", event.delta, call.part, tool_call_id=call.call_id)]

    def _item_done(self, event: ItemDone) -> list[str | StreamEvent]:
        item = event.item
        kind = item.get("type")
        if kind == "reasoning":
            return self._reasoning_done(event.output_index, item)
        if kind == "function_call":
            return self._call_done(event.output_index, item)
        if kind == "message":
            return self._message_done(event.output_index, item)
        if kind in _SERVER_ITEM_TYPES and self.server_item_events is not None:
            return self._server_item(item)
        return []

    def _reasoning_done(self, oi: int, item: dict[str, Any]) -> list[str | StreamEvent]:
        self._had_reasoning = True
        part = self._part_for(oi)
        summary = item.get("summary") or []
        chunk = ""
        if oi not in self._summary_index:  # nothing streamed: show the final summary, if any
            texts = [s.get("text") or "" for s in summary if isinstance(s, dict)]
            chunk = "\n\n".join(t for t in texts if t)
            if chunk:
                chunk = ("\n" if self._reasoning_shown else "") + chunk + "\n"
                self._reasoning_shown = True
        elif oi in self._reasoning_open:
            chunk = "\n"  # end the streamed summary's line
        meta: dict[str, Any] = {"summary": summary}
        encrypted = item.get("encrypted_content")
        if encrypted:
            meta["encrypted_content"] = encrypted
        if not chunk and oi not in self._reasoning_open:
            self._pending_reasoning.append(meta)  # nothing to show: carried by the next part
            return []
        return [self._event("reasoning", chunk, part, provider_metadata={self.key: meta})]

    def _call_done(self, oi: int, item: dict[str, Any]) -> list[str | StreamEvent]:
        call = self._call(oi, item)
        call.call_id = item.get("call_id") or call.call_id
        call.name = item.get("name") or call.name
        out: list[str | StreamEvent] = []
        if not call.name_sent:
            call.name_sent = True
            out.append(
                self._event("tool_call_name", call.name or "", call.part, tool_call_id=call.call_id)
            )
        final = item.get("arguments")
        if not isinstance(final, str):
            final = json.dumps(final) if final is not None else ""
        streamed = "".join(call.arguments)
        missing = ""
        if streamed != final and final.startswith(streamed):
            missing = final[len(streamed) :]
        meta = {self.key: {"namespace": item["namespace"]}} if item.get("namespace") else None
        if missing or meta:
            out.append(
                self._event(
                    "tool_call_args",
                    missing,
                    call.part,
                    tool_call_id=call.call_id,
                    provider_metadata=meta,
                )
            )
        self.response.add_tool_call(
            llm.ToolCall(
                name=call.name or "", arguments=parse_arguments(final), tool_call_id=call.call_id
            )
        )
        return out

    def _message_done(self, oi: int, item: dict[str, Any]) -> list[str | StreamEvent]:
        if item.get("role", "assistant") != "assistant":
            return []
        out: list[str | StreamEvent] = []
        if oi not in self._text_seen:  # nothing streamed: use the final text
            texts = []
            for part in item.get("content") or []:
                if part.get("type") == "output_text":
                    texts.append(part.get("text") or "")
                elif part.get("type") == "refusal":
                    texts.append(part.get("refusal") or "")
            text = "".join(texts)
            if text:
                out.append(self._text_start(oi, text))
        footer = self.citations_text(item) if self.citations_text is not None else ""
        if footer:
            self._last_text = footer
            if oi in self._text_seen:
                part = self._parts[oi]
                self._last_part = part
                out.append(
                    StreamEvent(
                        type="text",
                        chunk=footer,
                        part_index=part,
                        message_index=self._message_of.get(oi, self._message_index),
                    )
                )
            else:
                out.append(self._text_start(oi, footer))
        phase = item.get("phase")
        if phase and oi in self._text_seen:
            part = self._parts[oi]
            self._last_part = part
            out.append(
                StreamEvent(
                    type="text",
                    chunk="",
                    part_index=part,
                    message_index=self._message_of.get(oi, self._message_index),
                    provider_metadata={self.key: {"phase": phase}},
                )
            )
        return out

    def _server_item(self, item: dict[str, Any]) -> list[str | StreamEvent]:
        assert self.server_item_events is not None
        events = list(
            self.server_item_events(item, response=self.response, message_index=self._message_index)
        )
        by_call: dict[str, int] = {}
        previous: str | None = None
        for ev in events:
            ev.message_index = self._message_index
            family = "tool_call" if ev.type in ("tool_call_name", "tool_call_args") else ev.type
            if ev.part_index is not None:
                self._next_part = max(self._next_part, ev.part_index + 1)
            elif family == "tool_call" and ev.tool_call_id:
                if ev.tool_call_id not in by_call:
                    by_call[ev.tool_call_id] = self._new_part()
                ev.part_index = by_call[ev.tool_call_id]
            elif family in ("text", "reasoning") and previous == family:
                ev.part_index = self._next_part - 1
            else:
                ev.part_index = self._new_part()
            previous = family
            self._last_part = ev.part_index
            if ev.type == "text" and ev.chunk:
                self._last_text = ev.chunk
        return list(events)

    # --- the end -------------------------------------------------------------------------------

    def finish(self, result: CodexResult) -> list[str | StreamEvent]:
        """Book the final result on the response; returns a redacted-reasoning marker when the
        model reasoned but no reasoning item arrived."""
        self.record(result)
        if self._pending_reasoning:  # nothing followed: they are parts of their own, last
            pending, self._pending_reasoning = self._pending_reasoning, []
            return [
                self._event("reasoning", "", self._new_part(), provider_metadata={self.key: m})
                for m in pending
            ]
        if result.usage.reasoning_tokens and not self._had_reasoning:
            self._last_part = None
            return [StreamEvent(type="reasoning", chunk="", redacted=True)]
        return []

    def record(self, result: CodexResult) -> None:
        """Set usage, ``response_json`` and the resolved model from a (possibly partial) result."""
        usage = result.usage
        details = {
            key: value
            for key, value in (
                ("cached_tokens", usage.cached_tokens),
                ("reasoning_tokens", usage.reasoning_tokens),
            )
            if value
        }
        self.response.set_usage(
            input=usage.input_tokens, output=usage.output_tokens, details=details or None
        )
        self.response.response_json = response_json_for(result)
        if result.model and result.model != self.model_slug:
            self.response.set_resolved_model(result.model)
