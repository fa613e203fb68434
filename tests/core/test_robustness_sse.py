"""The stream reader against SSE written by a different, spec-conformant server (protocol §6).

A property test serialises random event sequences with random formatting (with or without
``event:`` lines, ``data:`` with or without a space, CRLF/CR/LF, spaced JSON, shuffled keys,
extra keys, missing ``sequence_number``/``output_index``, JSON split over several ``data:``
lines, keep-alive comments) and random network chunking, and checks that the client's fast
paths give exactly what a plain reference reader of the spec gives.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_codex.core.errors import CodexError, StreamError, UsageLimitReached
from llm_codex.core.events import StreamAssembler
from llm_codex.core.sse import SSEDecoder, Utf8Decoder
from llm_codex.core.types import (
    Completed,
    ItemAdded,
    ItemDone,
    ReasoningDelta,
    TextDelta,
    ToolArgumentsDelta,
)

# -- random streams -----------------------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x1F600),
    max_size=12,
)
_delta_text = st.one_of(
    _text, st.sampled_from(["a", "x", "\\", '"', "\n", "é", "😀", "data: x", '"delta":"'])
)


@st.composite
def event_sequences(draw: Any) -> list[dict[str, Any]]:
    """A plausible turn: created, items with deltas, then a terminal event (or none)."""
    events: list[dict[str, Any]] = []
    if draw(st.booleans()):
        events.append({"type": "response.created", "response": {"id": "resp_1"}})
    n_items = draw(st.integers(0, 3))
    for index in range(n_items):
        kind = draw(st.sampled_from(["message", "reasoning", "function_call"]))
        added = {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {"type": kind},
        }
        events.append(added)
        deltas = draw(st.lists(_delta_text, max_size=6))
        if kind == "message":
            for d in deltas:
                events.append(
                    {
                        "type": "response.output_text.delta",
                        "item_id": f"msg_{index}",
                        "output_index": index,
                        "content_index": 0,
                        "delta": d,
                    }
                )
            item = {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "".join(deltas)}],
            }
        elif kind == "reasoning":
            for d in deltas:
                events.append(
                    {
                        "type": "response.reasoning_summary_text.delta",
                        "output_index": index,
                        "summary_index": draw(st.integers(0, 1)),
                        "delta": d,
                    }
                )
            item = {"type": "reasoning", "summary": [], "encrypted_content": "gAAA"}
        else:
            for d in deltas:
                events.append(
                    {
                        "type": "response.function_call_arguments.delta",
                        "item_id": f"fc_{index}",
                        "output_index": index,
                        "delta": d,
                    }
                )
            item = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
        if draw(st.booleans()) or index < n_items - 1:
            done: dict[str, Any] = {"type": "response.output_item.done", "item": item}
            if draw(st.integers(0, 4)):
                done["output_index"] = index
            events.append(done)
        if draw(st.booleans()):
            events.append({"type": "response.some_future_event", "x": 1})
    terminal = draw(st.sampled_from(["completed", "completed_full", "failed", "error", "none"]))
    if terminal.startswith("completed"):
        response: dict[str, Any] = {"id": "resp_1", "status": "completed", "output": []}
        if terminal == "completed_full":
            response["output"] = [{"type": "message", "role": "assistant", "content": []}]
        response["usage"] = draw(
            st.sampled_from(
                [
                    None,
                    {"input_tokens": 3, "output_tokens": 4},
                    {
                        "input_tokens": 3,
                        "output_tokens": 4,
                        "total_tokens": 7,
                        "input_tokens_details": None,
                        "output_tokens_details": {"reasoning_tokens": 2},
                    },
                ]
            )
        )
        events.append({"type": "response.completed", "response": response})
    elif terminal == "failed":
        events.append(
            {
                "type": "response.failed",
                "response": {"error": {"code": "server_error", "message": "boom"}},
            }
        )
    elif terminal == "error":
        events.append({"type": "error", "code": "server_error", "message": "broken"})
    if terminal != "none" and draw(st.booleans()):
        # Bytes after the terminal event must be ignored.
        events.append({"type": "response.output_text.delta", "output_index": 0, "delta": "LATE"})
    return events


def _shuffle(obj: Any, rng: random.Random) -> Any:
    if isinstance(obj, dict):
        keys = list(obj)
        rng.shuffle(keys)
        return {k: _shuffle(obj[k], rng) for k in keys}
    if isinstance(obj, list):
        return [_shuffle(v, rng) for v in obj]
    return obj


@st.composite
def styles(draw: Any) -> dict[str, Any]:
    return {
        "event_line": draw(st.booleans()),
        "space": draw(st.booleans()),
        "newline": draw(st.sampled_from(["\n", "\r\n", "\r"])),
        "separators": draw(st.sampled_from([(",", ":"), (", ", ": "), (",", ": ")])),
        "ascii": draw(st.booleans()),
        "shuffle": draw(st.integers(0, 3)),  # 0: type first (as the backend), else shuffled
        "extra": draw(st.booleans()),
        "nested": draw(st.integers(0, 3)) == 0,
        "no_seq": draw(st.booleans()),
        "multiline": draw(st.integers(0, 6)) == 0,
        "comments": draw(st.booleans()),
        "seed": draw(st.integers(0, 1 << 16)),
    }


def serialise(events: list[dict[str, Any]], style: dict[str, Any]) -> str:
    """Events as SSE text in ``style``."""
    rng = random.Random(style["seed"])
    nl = style["newline"]
    out: list[str] = []
    for seq, event in enumerate(events):
        ev = dict(event)
        if not style["no_seq"]:
            ev["sequence_number"] = seq
        if style["extra"]:
            ev["obfuscation"] = "Xy12"
            ev["logprobs"] = []
        if style.get("nested"):
            # An unknown object that happens to hold keys named like ours.
            ev = {"type": ev.pop("type"), "meta": {"delta": "N", "output_index": 9}, **ev}
        if style["shuffle"]:
            ev = _shuffle(ev, rng)
        else:
            ev = {"type": ev.pop("type"), **ev}
        if style["multiline"]:
            data = json.dumps(ev, indent=1, ensure_ascii=style["ascii"]).split("\n")
        else:
            data = [json.dumps(ev, separators=style["separators"], ensure_ascii=style["ascii"])]
        lines: list[str] = []
        if style["comments"] and rng.random() < 0.3:
            lines.append(": keep-alive")
        if style["event_line"]:
            lines.append(f"event: {event['type']}")
        prefix = "data: " if style["space"] else "data:"
        for i, part in enumerate(data):
            lines.append(prefix + part)
            if style["comments"] and i == 0 and len(data) > 1:
                lines.append(":mid-event comment")
        out.append(nl.join(lines) + nl + nl)
        if style["comments"] and rng.random() < 0.2:
            out.append(": ping" + nl + nl)
    return "".join(out)


# -- the two readers ----------------------------------------------------------------------------


def _merge(events: list[Any]) -> list[Any]:
    """Adjacent deltas of one stream joined (chunking decides how the client coalesces)."""
    out: list[Any] = []
    for ev in events:
        prev = out[-1] if out else None
        if isinstance(ev, TextDelta) and isinstance(prev, TextDelta):
            if prev.output_index == ev.output_index:
                out[-1] = TextDelta(prev.text + ev.text, ev.output_index)
                continue
        if isinstance(ev, ReasoningDelta) and isinstance(prev, ReasoningDelta):
            if (prev.output_index, prev.summary_index) == (ev.output_index, ev.summary_index):
                out[-1] = ReasoningDelta(prev.text + ev.text, ev.output_index, ev.summary_index)
                continue
        if isinstance(ev, ToolArgumentsDelta) and isinstance(prev, ToolArgumentsDelta):
            if prev.output_index == ev.output_index:
                out[-1] = ToolArgumentsDelta(prev.delta + ev.delta, ev.output_index, prev.item_id)
                continue
        out.append(ev)
    return [ev for ev in out if not (isinstance(ev, (TextDelta, ReasoningDelta)) and not ev.text)]


def _summary(events: list[Any], asm: StreamAssembler) -> dict[str, Any]:
    merged = _merge(events)
    plain: list[Any] = []
    result = None
    for ev in merged:
        if isinstance(ev, Completed):
            result = ev.result
            plain.append("completed")
        elif isinstance(ev, ToolArgumentsDelta):
            plain.append(("args", ev.delta, ev.output_index, ev.item_id))
        else:
            plain.append(ev)
    out: dict[str, Any] = {"events": plain, "error": None}
    if result is not None:
        out["result"] = (result.items, result.usage, result.status, result.response_id)
    if asm.error is not None:
        err = asm.error
        out["error"] = (type(err).__name__, str(err), err.partial.items)
    return out


def client_read(text: str, cuts: list[int]) -> dict[str, Any]:
    """What the client makes of ``text`` delivered as UTF-8 bytes cut at ``cuts``."""
    raw = text.encode("utf-8")
    bounds = sorted({c % (len(raw) + 1) for c in cuts} | {0, len(raw)})
    asm, split, decode = StreamAssembler(model="m"), SSEDecoder(), Utf8Decoder()
    events: list[Any] = []
    for a, b in itertools.pairwise(bounds):
        events.extend(asm.feed_text(split.feed_text(decode.decode(raw[a:b]))))
        if asm.done:
            break
    if not asm.done:
        events.extend(asm.feed_text(split.flush_text()))
    if not asm.done:
        asm.error = asm.eof_error()
    return _summary(events, asm)


def reference_read(text: str) -> dict[str, Any]:
    """The spec's reader, event by event with ``json.loads`` (no fast paths at all)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    asm = StreamAssembler(model="m")
    events: list[Any] = []
    for block in text.split("\n\n"):
        data = [
            line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")
        ]
        if not data:
            continue
        # Re-encode compactly-but-spaced so the assembler's own fast path cannot apply.
        try:
            event = json.loads("\n".join(data))
        except ValueError:
            continue
        payload = json.dumps(event, indent=0)
        events.extend(asm.feed([payload]))
        if asm.done:
            break
    if not asm.done:
        asm.error = asm.eof_error()
    return _summary(events, asm)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=event_sequences(),
    style=styles(),
    cuts=st.lists(st.integers(0, 1 << 16), max_size=8),
)
def test_fast_paths_match_the_reference_reader(events, style, cuts) -> None:
    """Any conformant formatting and chunking gives the same text, items and errors."""
    text = serialise(events, style)
    assert client_read(text, cuts) == reference_read(text)


@settings(max_examples=200, deadline=None)
@given(
    deltas=st.lists(_delta_text, min_size=1, max_size=30), cuts=st.lists(st.integers(), max_size=5)
)
def test_backend_style_text_runs_match_the_reference(deltas, cuts) -> None:
    """The real backend's compact text-delta runs (the bulk fast path) decode exactly."""
    events = [{"type": "response.output_text.delta", "output_index": 0, "delta": d} for d in deltas]
    item = {"type": "message", "role": "assistant", "content": []}
    events += [
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"output": []}},
    ]
    for style in (
        {
            "event_line": True,
            "space": True,
            "newline": "\n",
            "separators": (",", ":"),
            "ascii": False,
            "shuffle": 0,
            "extra": True,
            "no_seq": False,
            "multiline": False,
            "comments": False,
            "seed": 0,
        },
        {
            "event_line": False,
            "space": True,
            "newline": "\n",
            "separators": (",", ":"),
            "ascii": True,
            "shuffle": 0,
            "extra": False,
            "no_seq": True,
            "multiline": False,
            "comments": False,
            "seed": 0,
        },
    ):
        text = serialise(events, style)
        got = client_read(text, cuts)
        assert got == reference_read(text)
        assert "".join(e.text for e in got["events"] if isinstance(e, TextDelta)) == "".join(deltas)


def test_split_surrogate_escapes_decode_like_the_json_path() -> None:
    """A character sent as two escaped halves in two deltas streams the same either way."""
    text = "".join(
        'data: {"type":"response.output_text.delta","output_index":0,"delta":"' + d + '"}\n\n'
        for d in ("\\ud83d", "\\ude00", "ok\\n")
    )
    text += 'data: {"type":"response.completed","response":{"output":[]}}\n\n'
    assert client_read(text, []) == reference_read(text)


def test_error_event_shapes_map_to_clear_errors() -> None:
    """``error`` events of every shape end the stream with a specific, readable error."""
    shapes = [
        ({"type": "error", "code": "server_error", "message": "boom"}, StreamError, "boom"),
        ({"type": "error", "error": {"code": "x", "message": "inner"}}, StreamError, "inner"),
        (
            {
                "type": "error",
                "status": 429,
                "error": {"type": "usage_limit_reached", "resets_in_seconds": 60},
            },
            UsageLimitReached,
            "Usage limit",
        ),
        ({"type": "error", "message": "bare"}, StreamError, "bare"),
        ({"type": "error", "error": "a plain string"}, StreamError, "a plain string"),
    ]
    for event, kind, words in shapes:
        asm = StreamAssembler()
        asm.feed([json.dumps(event)])
        assert isinstance(asm.error, kind), event
        assert isinstance(asm.error, CodexError)
        assert words in str(asm.error), (event, str(asm.error))


def test_item_done_without_output_index_keeps_stream_order() -> None:
    """Items whose done event lacks ``output_index`` are kept in arrival order."""
    asm = StreamAssembler()
    for n in range(3):
        item = {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": str(n)}],
        }
        asm.feed([json.dumps({"type": "response.output_item.done", "item": item})])
    events = asm.feed([json.dumps({"type": "response.completed", "response": {}})])
    assert events[-1].result.text == "012"


def test_completed_with_full_output_and_no_item_done() -> None:
    """A ``response.completed`` carrying the whole ``output`` is used when no item came before."""
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hi"}],
    }
    asm = StreamAssembler()
    events = asm.feed(
        [json.dumps({"type": "response.completed", "response": {"output": [item], "usage": None}})]
    )
    assert events[-1].result.text == "Hi"
    assert events[-1].result.usage.total_tokens == 0


def test_odd_usage_values_do_not_break_the_result() -> None:
    """Usage with strings, floats or non-object details still yields a result."""
    usage = {
        "input_tokens": "5",
        "output_tokens": 2.0,
        "input_tokens_details": [],
        "output_tokens_details": {"reasoning_tokens": None},
        "total_tokens": "x",
    }
    asm = StreamAssembler()
    events = asm.feed([json.dumps({"type": "response.completed", "response": {"usage": usage}})])
    assert isinstance(events[-1], Completed)
    assert events[-1].result.usage.input_tokens == 5
    assert events[-1].result.usage.output_tokens == 2


def test_item_added_without_item_is_ignored_and_items_are_kept() -> None:
    """Partial or odd structural events never crash the reader."""
    asm = StreamAssembler()
    for ev in (
        {"type": "response.output_item.added"},
        {"type": "response.output_item.done", "output_index": "1", "item": {"type": "reasoning"}},
        {"type": "response.output_text.delta", "delta": None},
        {"type": "response.completed", "response": None},
    ):
        events = asm.feed([json.dumps(ev)])
    assert isinstance(events[-1], Completed)
    assert [i["type"] for i in events[-1].result.items] == ["reasoning"]
    assert [type(e) for e in events] == [Completed]
    assert ItemAdded and ItemDone  # imported for readers of the property test
