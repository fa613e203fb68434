"""Core stream events -> Anthropic Messages answers (one ``message`` object or SSE events).

Blocks, in the backend's item order: a ``reasoning`` item -> a ``thinking`` block (summary text
when thinking is shown, empty when omitted, none when off) whose ``signature`` seals the
encrypted reasoning (:mod:`.signature`); an assistant ``message`` -> a ``text`` block; a
``function_call`` -> a ``tool_use`` block (``input`` parsed from the JSON arguments); a hosted
``web_search_call`` -> a ``server_tool_use`` block and its ``web_search_tool_result``.

Stream: ``message_start`` first, then per block ``content_block_start`` / ``content_block_delta``
(``text_delta``, ``thinking_delta``, ``signature_delta``, ``input_json_delta``) /
``content_block_stop``, then ``message_delta`` (``stop_reason`` and usage) and
``message_stop``; a failure after the start is one ``event: error``. The frames of a delta are
built from byte templates around one ``json.dumps`` of the text (no event dict, no re-encoding).
:class:`MessagesEncoder` writes bytes directly, so it is a
:class:`~llm_codex.server.streaming.StreamEncoder` that the shared relay
(:class:`~llm_codex.server.streaming.EventStreamResponse`) drives, one write per upstream read.

``stop_reason``: ``stop_sequence`` when a requested stop sequence appeared in the text (the text
is cut before it and the backend stream is closed), ``max_tokens`` for a truncated turn,
``tool_use`` when the turn called a tool, else ``end_turn``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any

from llm_codex.core import errors as core_errors
from llm_codex.core.types import (
    CodexResult,
    Completed,
    ItemAdded,
    ItemDone,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolArgumentsDelta,
    Usage,
)
from llm_codex.server.anthropic.errors import anthropic_error
from llm_codex.server.anthropic.signature import seal
from llm_codex.server.streaming import FrameTemplate, json_string

__all__ = [
    "MessagesEncoder",
    "StopScanner",
    "anthropic_usage",
    "encode_stream",
    "message_object",
    "sse_event",
    "web_search_blocks",
]

_dumps = json.dumps


def sse_event(data: dict[str, Any]) -> bytes:
    """One SSE frame whose ``event:`` is the object's ``type``."""
    return f"event: {data['type']}\ndata: {_dumps(data, separators=(',', ':'))}\n\n".encode()


PING = sse_event({"type": "ping"})
_STOP = 'event: content_block_stop\ndata: {"type":"content_block_stop","index":%d}\n\n'
_DELTA = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":'
_TEXT = _DELTA + '{"type":"text_delta","text":%s}}\n\n'
_THINK = _DELTA + '{"type":"thinking_delta","thinking":%s}}\n\n'
_ARGS = _DELTA + '{"type":"input_json_delta","partial_json":%s}}\n\n'
_SIGN = _DELTA + '{"type":"signature_delta","signature":%s}}\n\n'
_MESSAGE_STOP = sse_event({"type": "message_stop"})
_THINKING_BLOCK = {"type": "thinking", "thinking": "", "signature": ""}
_TEXT_BLOCK = {"type": "text", "text": ""}
#: The two constant empty blocks an answer opens, each with its ``content_block_start``
#: frame (``%d``: the block index), serialised once.
_EMPTY_BLOCK_STARTS = tuple(
    (
        block,
        "event: content_block_start\ndata: "
        '{"type":"content_block_start","index":%d,"content_block":'
        + _dumps(block, separators=(",", ":"))
        + "}\n\n",
    )
    for block in (_THINKING_BLOCK, _TEXT_BLOCK)
)


def message_start_event(message_id: str, model: str) -> dict[str, Any]:
    """The ``message_start`` event of a streamed answer (no content or usage yet)."""
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": anthropic_usage(None),
    }
    return {"type": "message_start", "message": message}


@functools.lru_cache(maxsize=64)
def _message_start(model: str) -> FrameTemplate:
    """:func:`message_start_event`'s frame for ``model``, serialised once (slot: the id)."""
    return FrameTemplate(lambda message_id: sse_event(message_start_event(message_id, model)))


def anthropic_usage(usage: Usage | None) -> dict[str, int]:
    """A core :class:`Usage` in Anthropic's shape (``input_tokens`` excludes cache reads)."""
    usage = usage or Usage()
    return {
        "input_tokens": max(0, usage.input_tokens - usage.cached_tokens),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
    }


def _stop_reason(*, calls: bool, incomplete: str | None, stop_sequence: str | None) -> str:
    if stop_sequence is not None:
        return "stop_sequence"
    if incomplete == "content_filter":
        return "refusal"
    if incomplete is not None:
        return "max_tokens"
    return "tool_use" if calls else "end_turn"


def _tool_input(arguments: Any) -> Any:
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _message_text(item: dict[str, Any]) -> str:
    return "".join(
        p.get("text") or "" for p in item.get("content") or () if p.get("type") == "output_text"
    )


def web_search_blocks(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A hosted ``web_search_call`` as Anthropic's ``server_tool_use`` block and its
    ``web_search_tool_result`` (one result per source URL the backend reported)."""
    action = item.get("action") if isinstance(item.get("action"), dict) else {}
    tool_id = "srvtoolu_" + str(item.get("id") or "").removeprefix("ws_")
    query = action.get("query") if isinstance(action.get("query"), str) else ""
    results = [
        {
            "type": "web_search_result",
            "url": source["url"],
            "title": source.get("title") or source["url"],
            "encrypted_content": "",
            "page_age": None,
        }
        for source in action.get("sources") or ()
        if isinstance(source, dict) and isinstance(source.get("url"), str)
    ]
    return [
        {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {"query": query}},
        {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": results},
    ]


def _summary_text(item: dict[str, Any]) -> str:
    return "\n\n".join(p.get("text") or "" for p in item.get("summary") or () if p.get("text"))


class StopScanner:
    """Finds the first stop sequence in streamed text, holding back what could start one."""

    def __init__(self, sequences: tuple[str, ...]) -> None:
        self.sequences = sequences
        self._keep = max(len(s) for s in sequences) - 1
        self._tail = ""
        self.hit: str | None = None

    def _earliest(self, buf: str) -> tuple[int, str] | None:
        best = None
        for seq in self.sequences:
            at = buf.find(seq)
            if at >= 0 and (best is None or at < best[0]):
                best = (at, seq)
        return best

    def _undecided(self, buf: str, before: int) -> int | None:
        """The first position before ``before`` where a longer sequence may be starting: the
        text ends inside it, so a match found later in the text may not be the earliest."""
        for at in range(max(0, len(buf) - self._keep), before):
            rest = buf[at:]
            if any(len(seq) > len(rest) and seq.startswith(rest) for seq in self.sequences):
                return at
        return None

    def feed(self, text: str) -> str:
        """The text that is safe to send; sets :attr:`hit` (and drops the rest) on a match."""
        buf = self._tail + text
        best = self._earliest(buf)
        if best is not None:
            undecided = self._undecided(buf, best[0])
            if undecided is None:
                self.hit = best[1]
                self._tail = ""
                return buf[: best[0]]
            self._tail = buf[undecided:]
            return buf[:undecided]
        cut = max(0, len(buf) - self._keep)
        self._tail = buf[cut:]
        return buf[:cut]

    def flush(self) -> str:
        """What was held back, once the text ended (cut, with :attr:`hit` set, at a match
        that was waiting on a longer sequence starting earlier)."""
        tail, self._tail = self._tail, ""
        best = self._earliest(tail)
        if best is None:
            return tail
        self.hit = best[1]
        return tail[: best[0]]


class MessagesEncoder:
    """Turns core events into Anthropic SSE bytes (and keeps the turn for the log)."""

    def __init__(
        self,
        *,
        message_id: str,
        model: str,
        slug: str,
        thinking: str,
        stop_sequences: tuple[str, ...] = (),
    ) -> None:
        self.message_id = message_id
        self.model = model
        self.slug = slug
        self.thinking = thinking
        self.stop_sequences = stop_sequences
        self.result: CodexResult | None = None  # once Completed went through
        self.finished = False
        self._texted: set[int] = set()  # output indexes that had text deltas
        self._open: dict[int, int] = {}  # output index -> block index of the open block
        self._blocks = 0
        self._calls = 0
        self._args: dict[int, list[str]] = {}
        self._summary_index: dict[int, int] = {}
        self._scanner: StopScanner | None = None
        self.stop_sequence: str | None = None

    # -- frames --

    def start(self) -> bytes:
        """``message_start`` (usage arrives with ``message_delta``), from the model's
        template."""
        return _message_start(self.model).fill(FrameTemplate.text(self.message_id))

    def _begin(self, index: int, block: dict[str, Any]) -> bytes:
        self._open[index] = self._blocks
        self._blocks += 1
        for empty, frame in _EMPTY_BLOCK_STARTS:
            if block is empty:
                return (frame % self._open[index]).encode()
        return sse_event(
            {"type": "content_block_start", "index": self._open[index], "content_block": block}
        )

    def _end(self, index: int) -> bytes:
        return (_STOP % self._open.pop(index)).encode()

    def _text(self, index: int, text: str) -> bytes:
        out = b""
        if self.stop_sequences:
            if self._scanner is None:
                self._scanner = StopScanner(self.stop_sequences)
            text = self._scanner.feed(text)
        if text:
            out = self._text_raw(index, text)
        if self._scanner is not None and self._scanner.hit is not None:
            self.stop_sequence = self._scanner.hit
            if index in self._open:
                out += self._end(index)
            out += self._finish_frames(self.result, None)
        return out

    def _thinking(self, index: int, text: str, summary_index: int) -> bytes:
        out = b""
        if index not in self._open:
            out = self._begin(index, _THINKING_BLOCK)
            self._summary_index[index] = summary_index
        elif self._summary_index.get(index) != summary_index:
            self._summary_index[index] = summary_index
            text = "\n\n" + text
        return out + (_THINK % (self._open[index], json_string(text))).encode()

    def _call(self, index: int, item: dict[str, Any]) -> bytes:
        self._calls += 1
        self._args[index] = []
        block = {
            "type": "tool_use",
            "id": item.get("call_id") or item.get("id") or "",
            "name": item.get("name") or "",
            "input": {},
        }
        return self._begin(index, block)

    def _arguments(self, index: int, piece: str) -> bytes:
        self._args[index].append(piece)
        return (_ARGS % (self._open[index], json_string(piece))).encode()

    def _done(self, index: int, item: dict[str, Any]) -> bytes:
        kind = item.get("type")
        out = b""
        if kind == "message":
            if index not in self._texted:  # no deltas came: the item has the whole text
                out += self._text(index, _message_text(item))
                if self.finished:
                    return out
            if self._scanner is not None:
                tail = self._scanner.flush()
                if tail:
                    out += self._text_raw(index, tail)
                if self._scanner.hit is not None:
                    self.stop_sequence = self._scanner.hit
                    if index in self._open:
                        out += self._end(index)
                    return out + self._finish_frames(self.result, None)
        elif kind == "reasoning":
            if self.thinking == "off":
                return b""
            encrypted = item.get("encrypted_content")
            if index not in self._open:
                text = _summary_text(item) if self.thinking == "shown" else ""
                if not text and not encrypted:
                    return b""
                out += self._begin(index, _THINKING_BLOCK)
                if text:
                    out += (_THINK % (self._open[index], json_string(text))).encode()
            if isinstance(encrypted, str) and encrypted:
                signature = seal(encrypted, model=self.slug)
                out += (_SIGN % (self._open[index], json_string(signature))).encode()
        elif kind == "web_search_call":
            for block in web_search_blocks(item):
                out += self._begin(index, block) + self._end(index)
        elif kind == "function_call":
            if index not in self._open:
                out += self._call(index, item)
            final = item.get("arguments") or ""
            sent = "".join(self._args[index])
            if final != sent and final.startswith(sent):
                out += self._arguments(index, final[len(sent) :])
        if index in self._open:
            out += self._end(index)
        return out

    def _text_raw(self, index: int, text: str) -> bytes:
        """A ``text_delta`` (opening the text block first if needed), no stop-sequence scan."""
        out = b""
        if index not in self._open:
            out = self._begin(index, _TEXT_BLOCK)
        return out + (_TEXT % (self._open[index], json_string(text))).encode()

    def feed(self, event: StreamEvent) -> bytes:
        """The SSE bytes one core event turns into (often none)."""
        if self.finished:
            return b""
        if isinstance(event, TextDelta):
            self._texted.add(event.output_index)
            return self._text(event.output_index, event.text) if event.text else b""
        if isinstance(event, ReasoningDelta):
            if self.thinking != "shown" or not event.text:
                return b""
            return self._thinking(event.output_index, event.text, event.summary_index)
        if isinstance(event, ToolArgumentsDelta):
            if event.output_index in self._args and event.delta:
                return self._arguments(event.output_index, event.delta)
            return b""
        if isinstance(event, ItemAdded):
            item = event.item
            if item.get("type") == "function_call" and item.get("call_id"):
                return self._call(event.output_index, item)
            return b""
        if isinstance(event, ItemDone):
            return self._done(event.output_index, event.item)
        if isinstance(event, Completed):
            self.result = event.result
            return self._finish_frames(event.result, None)
        return b""

    # -- the relay's interface (StreamEncoder) --

    def head_bytes(self) -> bytes:
        """``message_start``."""
        return self.start()

    def encode(self, events: list[StreamEvent]) -> bytes:
        """The frames the events of one upstream read turn into (none after the end)."""
        if len(events) == 1:
            return self.feed(events[0])
        return b"".join([self.feed(event) for event in events])

    def failure_bytes(self, exc: BaseException) -> bytes:
        return self.fail(exc)

    def tail(self) -> bytes:
        return b""

    @property
    def usage(self) -> Usage | None:
        return self.result.usage if self.result is not None else None

    def _finish_frames(self, result: Any, incomplete: str | None) -> bytes:
        self.finished = True
        out = b"".join(self._end(i) for i in list(self._open))
        usage = getattr(result, "usage", None)
        reason = _stop_reason(
            calls=self._calls > 0, incomplete=incomplete, stop_sequence=self.stop_sequence
        )
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": self.stop_sequence},
            "usage": anthropic_usage(usage),
        }
        return out + sse_event(delta) + _MESSAGE_STOP

    def fail(self, exc: BaseException) -> bytes:
        """The end of a broken stream: ``max_tokens`` for a truncated turn, else an error."""
        if self.finished:
            return b""
        if isinstance(exc, core_errors.IncompleteResponse):
            return self._finish_frames(getattr(exc, "partial", None), exc.reason or "unknown")
        self.finished = True
        _, body, _ = anthropic_error(exc)
        return sse_event(body)


async def encode_stream(
    encoder: MessagesEncoder, first: StreamEvent | None, rest: AsyncIterator[StreamEvent]
) -> AsyncIterator[bytes]:
    """The SSE body of a streamed message: one write per backend event that produced frames."""
    pending = encoder.start()

    async def events() -> AsyncIterator[StreamEvent]:
        if first is not None:
            yield first
        async for event in rest:
            yield event

    try:
        async for event in events():
            data = encoder.feed(event)
            if data or pending:
                yield pending + data
                pending = b""
            if encoder.stop_sequence is not None:
                return  # stop generating: the backend stream is closed by the caller
        # (after Completed the core ends the stream itself, handing the connection back to
        # the pool; leaving the loop early would cost a new connection per turn)
        if not encoder.finished:
            raise core_errors.StreamClosedEarly(
                "The backend's stream ended before the response was complete."
            )
    except Exception as exc:  # ends the stream with an error event, never a traceback
        yield pending + encoder.fail(exc)


def _cut_text(blocks: list[dict[str, Any]], sequences: tuple[str, ...]) -> str | None:
    """Cuts the content at the first stop sequence of the first text that has one."""
    for n, block in enumerate(blocks):
        if block["type"] != "text":
            continue
        scanner = StopScanner(sequences)
        kept = scanner.feed(block["text"])
        if scanner.hit is None:
            kept += scanner.flush()
        if scanner.hit is not None:
            block["text"] = kept
            del blocks[n + 1 :]
            if not kept:
                del blocks[n]
            return scanner.hit
    return None


def message_object(
    *,
    message_id: str,
    model: str,
    slug: str,
    items: list[dict[str, Any]],
    usage: Usage | None,
    thinking: str,
    stop_sequences: tuple[str, ...] = (),
    incomplete_reason: str | None = None,
) -> dict[str, Any]:
    """A non-streamed ``message`` from what the turn produced (``model`` as the client named
    it, ``slug`` the backend model, which the thinking signatures are sealed for)."""
    content: list[dict[str, Any]] = []
    calls = False
    for item in items:
        kind = item.get("type")
        if kind == "reasoning" and thinking != "off":
            encrypted = item.get("encrypted_content")
            text = _summary_text(item) if thinking == "shown" else ""
            if text or encrypted:
                sealed = isinstance(encrypted, str) and encrypted
                signature = seal(encrypted, model=slug) if sealed else ""
                content.append({"type": "thinking", "thinking": text, "signature": signature})
        elif kind == "message":
            text = _message_text(item)
            if text:
                content.append({"type": "text", "text": text})
        elif kind == "web_search_call":
            content.extend(web_search_blocks(item))
        elif kind == "function_call":
            calls = True
            content.append(
                {
                    "type": "tool_use",
                    "id": item.get("call_id") or item.get("id") or "",
                    "name": item.get("name") or "",
                    "input": _tool_input(item.get("arguments")),
                }
            )
    hit = _cut_text(content, stop_sequences) if stop_sequences else None
    if hit is not None:
        calls = any(b["type"] == "tool_use" for b in content)
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(calls=calls, incomplete=incomplete_reason, stop_sequence=hit),
        "stop_sequence": hit,
        "usage": anthropic_usage(usage),
    }
