"""Assembling a response from SSE events: coalesced deltas, output_item.done, terminal events."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from llm_codex.core.errors import (
    ContextWindowExceeded,
    IncompleteResponse,
    QuotaExceeded,
    ResponseFailed,
    ServerOverloaded,
    StreamClosedEarly,
    StreamError,
    UsageLimitReached,
)
from llm_codex.core.events import StreamAssembler
from llm_codex.core.sse import SSEDecoder, parse_events
from llm_codex.core.types import (
    Completed,
    ItemAdded,
    ItemDone,
    ReasoningDelta,
    TextDelta,
    ToolArgumentsDelta,
)


def sse(events: list[Any], *, compact: bool = True) -> str:
    """Render events as the backend does (``event:`` + ``data:`` lines); strings go raw."""
    out = []
    for ev in events:
        if isinstance(ev, str):
            out.append(f"data: {ev}\n\n")
            continue
        data = json.dumps(ev, separators=(",", ":") if compact else None, ensure_ascii=compact)
        out.append(f"event: {ev.get('type')}\ndata: {data}\n\n")
    return "".join(out)


def run(text: str, cuts: list[int] = ()) -> tuple[list[Any], StreamAssembler]:
    """Feed ``text`` split at ``cuts`` through decoder and assembler; EOF error as last event."""
    asm, decoder = StreamAssembler(model="gpt-5.5"), SSEDecoder()
    bounds = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    events: list[Any] = []
    for a, b in itertools.pairwise(bounds):
        events.extend(asm.feed_text(decoder.feed_text(text[a:b])))
        if asm.done:
            break
    if not asm.done:
        events.extend(asm.feed_text(decoder.flush_text()))
    if asm.error is not None:
        events.append(asm.error)
    elif not asm.done:
        events.append(asm.eof_error())
    return events, asm


def text_delta(delta: str, index: int = 1, seq: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "sequence_number": seq,
        "item_id": "msg_1",
        "output_index": index,
        "content_index": 0,
        "delta": delta,
        "logprobs": [],
        **extra,
    }


def message(text: str, index: int = 1) -> dict[str, Any]:
    return {
        "type": "response.output_item.done",
        "output_index": index,
        "item": {
            "id": f"msg_{index}",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        },
    }


CREATED = {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5.5"}}
ADDED = {
    "type": "response.output_item.added",
    "output_index": 1,
    "item": {"type": "message", "role": "assistant", "content": []},
}
USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 4},
    "output_tokens": 5,
    "output_tokens_details": None,
    "total_tokens": 15,
}


def completed(output: list[Any] | None = None) -> dict[str, Any]:
    return {
        "type": "response.completed",
        "response": {"id": "resp_1", "status": "completed", "output": output or [], "usage": USAGE},
    }


_delta_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    deltas=st.lists(_delta_text, min_size=1, max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=100_000), max_size=15),
    compact=st.booleans(),
    noise=st.lists(st.integers(min_value=0, max_value=40), max_size=4),
)
def test_coalescing_never_changes_the_text(deltas, cuts, compact, noise):
    """However reads split the stream, the streamed text equals the deltas joined, in order."""
    body: list[Any] = [CREATED, ADDED]
    for i, delta in enumerate(deltas):
        if i in noise:  # events that are skipped or produce nothing
            body.append("not json")
            body.append({"type": "response.unknown_thing", "x": 1})
            body.append(
                {
                    "type": "response.reasoning_summary_text.delta",
                    "output_index": 0,
                    "summary_index": 0,
                    "delta": "hm",
                }
            )
        body.append(text_delta(delta, seq=i))
    full = "".join(deltas)
    body += [message(full), completed()]
    text = sse(body, compact=compact)
    events, _ = run(text, cuts)
    streamed = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(e.text for e in streamed) == full
    assert all(e.output_index == 1 for e in streamed)
    reads = len({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    assert len(streamed) <= reads + len(noise)
    assert isinstance(events[-1], Completed)
    assert events[-1].result.text == full


def test_deltas_from_one_read_become_one_event():
    """Many deltas in one network read reach the caller as a single TextDelta."""
    body = [CREATED, ADDED, *[text_delta("ab", seq=i) for i in range(500)], message("ab" * 500)]
    events, _ = run(sse([*body, completed()]))
    assert [type(e) for e in events] == [ItemAdded, TextDelta, ItemDone, Completed]
    assert events[1] == TextDelta("ab" * 500, 1)


def test_escaped_and_unicode_deltas_in_bulk():
    """Quotes, backslashes, newlines and surrogate pairs survive the bulk reader."""
    deltas = ['say "hi"', "\\path", "line\n", "😀", "é", "\u2028", "\\u0041"]
    for compact in (True, False):
        events, _ = run(sse([ADDED, *[text_delta(d) for d in deltas]], compact=compact))
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "".join(deltas)


def test_output_comes_from_item_done_when_completed_is_empty():
    """response.completed with output [] still gives the items streamed before it (§6.3)."""
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"}
    body = [
        CREATED,
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning},
        message("Hi!", 1),
        completed([]),
    ]
    events, _ = run(sse(body))
    result = events[-1].result
    assert result.items == [reasoning, message("Hi!", 1)["item"]]
    assert result.text == "Hi!" and result.response_id == "resp_1"
    assert result.usage.input_tokens == 10 and result.usage.cached_tokens == 4
    assert result.usage.reasoning_tokens == 0 and result.status == "completed"


def test_completed_output_is_used_when_no_item_was_streamed():
    """Without output_item.done events, the completed response's output is the result."""
    item = message("From completed")["item"]
    events, _ = run(sse([completed([item])]))
    assert events[-1].result.items == [item]


def test_items_are_ordered_by_output_index():
    """Items finishing out of order are returned in output_index order."""
    events, _ = run(sse([message("second", 2), message("first", 1), completed()]))
    assert events[-1].result.text == "firstsecond"


def test_reasoning_and_tool_argument_deltas_are_coalesced_per_part():
    """Reasoning summary deltas coalesce per paragraph; tool argument deltas per call."""
    body = [
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "summary_index": 0,
            "delta": "Think",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "summary_index": 0,
            "delta": "ing",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "summary_index": 1,
            "delta": "More",
        },
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {"type": "function_call", "name": "get_weather", "arguments": ""},
        },
        {
            "type": "response.function_call_arguments.delta",
            "output_index": 1,
            "item_id": "fc_1",
            "delta": '{"city":',
        },
        {
            "type": "response.function_call_arguments.delta",
            "output_index": 1,
            "item_id": "fc_1",
            "delta": '"Oslo"}',
        },
    ]
    events, _ = run(sse(body))
    assert events[:4] == [
        ReasoningDelta("Thinking", 0, 0),
        ReasoningDelta("More", 0, 1),
        ItemAdded({"type": "function_call", "name": "get_weather", "arguments": ""}, 1),
        ToolArgumentsDelta('{"city":"Oslo"}', 1, "fc_1"),
    ]


def test_events_after_completed_are_ignored():
    """Reading stops at response.completed: nothing after it is delivered."""
    events, asm = run(sse([completed(), text_delta("late")]))
    assert [type(e) for e in events] == [Completed]
    assert asm.done and asm.feed(['{"type":"response.output_text.delta","delta":"x"}']) == []


@pytest.mark.parametrize(
    ("error", "cls", "attrs"),
    [
        (
            {"code": "context_length_exceeded", "message": "Too long."},
            ContextWindowExceeded,
            {"code": "context_length_exceeded"},
        ),
        (
            {"type": "usage_limit_reached", "plan_type": "pro", "resets_at": 1_900_000_000},
            UsageLimitReached,
            {"plan_type": "pro", "resets_at": 1_900_000_000},
        ),
        (
            {"code": "insufficient_quota", "message": "No quota."},
            QuotaExceeded,
            {"code": "insufficient_quota"},
        ),
        ({"code": "usage_not_included"}, QuotaExceeded, {"code": "usage_not_included"}),
        ({"code": "slow_down"}, ServerOverloaded, {"code": "slow_down"}),
        ({"code": "server_is_overloaded"}, ServerOverloaded, {}),
        (
            {"code": "invalid_prompt", "message": "Nope."},
            ResponseFailed,
            {"code": "invalid_prompt"},
        ),
        (None, ResponseFailed, {"code": None}),
    ],
)
def test_response_failed_maps_to_a_specific_error(error, cls, attrs):
    """A failed response raises the error class the user needs, with what arrived so far."""
    failed = {"type": "response.failed", "response": {"id": "resp_1", "error": error}}
    events, asm = run(sse([CREATED, ADDED, text_delta("Partial"), failed]))
    exc = events[-1]
    assert type(exc) is cls
    for name, value in attrs.items():
        assert getattr(exc, name) == value
    assert exc.partial.text == "Partial" and exc.partial.status == "failed"
    assert str(exc) and "\n" not in str(exc)
    assert asm.done


def test_failed_message_is_passed_through():
    """The backend's own failure message reaches the user."""
    failed = {
        "type": "response.failed",
        "response": {"error": {"code": "invalid_prompt", "message": "Flagged."}},
    }
    events, _ = run(sse([failed]))
    assert "Flagged." in str(events[-1]) and "invalid_prompt" in str(events[-1])


def test_incomplete_returns_the_partial_result_with_its_reason():
    """response.incomplete raises IncompleteResponse carrying the text and the reason."""
    incomplete = {
        "type": "response.incomplete",
        "response": {
            "id": "resp_1",
            "incomplete_details": {"reason": "max_output_tokens"},
            "usage": USAGE,
        },
    }
    events, _ = run(sse([CREATED, ADDED, text_delta("Cut"), text_delta(" off"), incomplete]))
    assert events[:2] == [ItemAdded(ADDED["item"], 1), TextDelta("Cut off", 1)]
    exc = events[-1]
    assert isinstance(exc, IncompleteResponse) and exc.reason == "max_output_tokens"
    assert exc.partial.text == "Cut off" and exc.partial.incomplete_reason == "max_output_tokens"
    assert exc.partial.usage.total_tokens == 15 and exc.partial.response_id == "resp_1"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "error", "code": "server_error", "message": "Something broke."},
        {
            "type": "error",
            "status": 500,
            "error": {"type": "server_error", "message": "Something broke."},
        },
    ],
)
def test_error_event_raises_stream_error(event):
    """An ``error`` event ends the stream with StreamError and the backend's message."""
    events, _ = run(sse([ADDED, text_delta("So far"), event]))
    exc = events[-1]
    assert type(exc) is StreamError and "Something broke." in str(exc)
    assert exc.partial.text == "So far"


def test_error_event_with_a_usage_limit_is_a_usage_limit():
    """An error event carrying usage-limit fields is reported as the usage limit."""
    event = {
        "type": "error",
        "error": {"type": "usage_limit_reached", "plan_type": "plus", "resets_at": 1_900_000_000},
    }
    events, _ = run(sse([event]))
    assert isinstance(events[-1], UsageLimitReached) and events[-1].plan_type == "plus"


def test_eof_without_terminal_event_keeps_the_partial_text():
    """A stream that just stops raises StreamClosedEarly with the text received so far."""
    events, _ = run(sse([CREATED, ADDED, text_delta("Half "), text_delta("done")]), [40, 300])
    exc = events[-1]
    assert isinstance(exc, StreamClosedEarly)
    assert exc.partial.text == "Half done" and exc.partial.response_id == "resp_1"
    assert exc.partial.items[0]["status"] == "incomplete"


def test_finished_items_are_kept_in_the_partial_result():
    """Items finished before the break are in the partial result exactly once."""
    body = [ADDED, text_delta("Done."), message("Done."), text_delta("Next", index=2)]
    events, _ = run(sse(body))
    assert events[-1].partial.text == "Done.Next"
    assert len(events[-1].partial.items) == 2


@pytest.mark.parametrize(
    "odd",
    [10**400, -(10**400), "1e999", "nan", True, [3], {"n": 1}],
    ids=["huge", "-huge", "inf string", "nan string", "bool", "list", "object"],
)
def test_an_odd_token_count_counts_as_zero(odd):
    """A usage value that is no finite number (an integer too large for a float among
    them) counts as 0 and the turn still completes (protocol §6.2)."""
    event = completed()
    event["response"]["usage"] = {"input_tokens": odd, "output_tokens": 5}
    text = sse([text_delta("Hi")]) + "data: " + json.dumps(event) + "\n\n"
    events, asm = run(text)
    assert isinstance(events[-1], Completed)
    assert asm.result.usage.input_tokens == 0 and asm.result.usage.output_tokens == 5


def test_missing_output_index_and_odd_payloads_are_tolerated():
    """Events without output_index, non-object JSON and empty data do not break the stream."""
    body = [
        "[1,2]",
        "",
        "null",
        {"type": "response.output_text.delta", "delta": "a"},
        {"type": "response.output_text.delta", "delta": 5},
        {"type": "response.output_item.done", "item": "not a dict"},
        {
            "type": "response.output_item.done",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a"}],
            },
        },
        {"type": "response.completed"},
    ]
    events, _ = run(sse(body))
    assert events[0] == TextDelta("a", 0)
    assert events[-1].result.text == "a" and events[-1].result.usage.total_tokens == 0


def test_partial_result_rebuilds_every_unfinished_item():
    """A broken turn's partial result holds unfinished reasoning, text and tool arguments too,
    rebuilt from output_item.added and the deltas (tens of thousands of them, joined once)."""
    asm = StreamAssembler()
    added = [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "id": "msg_1", "role": "assistant", "content": []},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f"},
    ]
    asm.feed(
        [
            json.dumps({"type": "response.output_item.added", "output_index": i, "item": item})
            for i, item in enumerate(added)
        ]
    )
    asm.feed(
        [
            json.dumps(
                {
                    "type": "response.reasoning_summary_text.delta",
                    "output_index": 0,
                    "summary_index": 0,
                    "delta": "think",
                }
            )
        ]
    )
    for _ in range(50_000):  # one read each, as a slow stream arrives
        asm.feed(
            [json.dumps({"type": "response.output_text.delta", "output_index": 1, "delta": "xy"})]
        )
        asm.feed(
            [
                json.dumps(
                    {
                        "type": "response.function_call_arguments.delta",
                        "output_index": 2,
                        "delta": "1",
                    }
                )
            ]
        )
    reasoning, text, call = asm.partial().items
    assert reasoning["summary"] == [{"type": "summary_text", "text": "think"}]
    assert text["content"][0]["text"] == "xy" * 50_000 and text["id"] == "msg_1"
    assert call["arguments"] == "1" * 50_000 and call["call_id"] == "call_1"
    assert reasoning["status"] == text["status"] == call["status"] == "incomplete"


# -- a read holding a long run of text deltas reads exactly as event by event -----------------

_ITEM = "msg_695305bd9b818ef5f0deca6e9042fe67fdd10f68d47d5bb6"


def _backend_delta(
    seq: int,
    delta: str,
    *,
    ascii_only: bool = True,
    layout: str = "backend",
    index: int = 0,
    obfuscation: str | None = None,
    obfuscation_at: int = -1,
    item_id: str = _ITEM,
) -> str:
    """A text-delta payload as the backend writes it (compact JSON, keys in its order), or
    with ``delta`` before ``sequence_number`` (as in the API reference), or without one;
    with an ``obfuscation`` string (as the Responses API adds to every delta event), its
    key at place ``obfuscation_at`` after ``type`` (-1: last)."""
    payload: dict[str, Any] = {"type": "response.output_text.delta"}
    if layout == "backend":
        payload["sequence_number"] = seq
    payload.update(item_id=item_id, output_index=index, content_index=0, delta=delta)
    if layout == "backend":
        payload["logprobs"] = []
    elif layout == "reference":
        payload["sequence_number"] = seq
    if obfuscation is not None:
        items = list(payload.items())
        at = len(items) if obfuscation_at < 0 else 1 + obfuscation_at % len(items)
        items.insert(at, ("obfuscation", obfuscation))
        payload = dict(items)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only)


def _nonce(i: int) -> str:
    """A random-looking obfuscation value of varying length, as the Responses API sends."""
    return "".join("aZ09xQ7k"[(i * 7 + k * 3) % 8] for k in range(1 + i % 16))


def _at_delta_end(payload: str, raw: str) -> str:
    """``payload`` with ``raw`` written at the end of its delta string, as is."""
    body = _JSON_STRING_BODY.match(payload, payload.index('"delta":"') + 9)
    assert body is not None
    return payload[: body.end()] + raw + payload[body.end() :]


_JSON_STRING_BODY = re.compile(r'(?:[^"\\]|\\.)*')


def _frame(payload: str) -> str:
    return f"event: response.output_text.delta\ndata: {payload}\n\n"


def _run_text(payloads: list[str]) -> str:
    """The events of ``payloads`` as :meth:`SSEDecoder.feed_text` hands them over."""
    return "".join(_frame(p) for p in payloads)[:-1]


def _nonced_payloads(
    deltas: list[str], first: int, obfuscation_at: int | None, **shape: Any
) -> list[str]:
    """Backend text deltas numbered from ``first``, each with its own nonce at place
    ``obfuscation_at`` (None: without one), built as ``shape`` says (see _backend_delta)."""
    return [
        _backend_delta(
            first + i,
            d,
            obfuscation=None if obfuscation_at is None else _nonce(i),
            obfuscation_at=obfuscation_at or 0,
            **shape,
        )
        for i, d in enumerate(deltas)
    ]


# Ways one event of a run can stop being like the others; each must make the bulk reading
# give exactly what reading event by event gives (most of them by not taking the bulk path).
_ODD_EVENTS: dict[str, Any] = {
    "same": lambda p: _frame(p),
    "other output_index": lambda p: _frame(p.replace('"output_index":', '"output_index":1')),
    "next output_index": lambda p: _frame(
        re.sub(r'"output_index":(\d+)', lambda m: f'"output_index":{int(m[1]) + 1}', p, count=1)
    ),
    "nested delta key": lambda p: _frame(p[:-1] + ',"x":{"delta":"nested"}}'),
    "nested object first": lambda p: _frame(p.replace('"item_id"', '"x":{"delta":"n"},"item_id"')),
    "second delta key": lambda p: _frame(p[:-1] + ',"delta":"again"}'),
    "a key ending like delta": lambda p: _frame(p[:-1] + ',"alta":"again"}'),
    "a key ending like obfuscation": lambda p: _frame(
        p.replace('"item_id"', '"xfuscation":"","item_id"')
    ),
    "second spaced delta key": lambda p: _frame(p[:-1] + ',"delta": "again"}'),
    "no delta key": lambda p: _frame(p.replace('"delta":', '"delta_":')),
    "delta not a string": lambda p: _frame(p.split('"delta":')[0] + '"delta":5,"logprobs":[]}'),
    "second index key": lambda p: _frame(p.replace('"item_id"', '"output_index":1,"item_id"')),
    "no index key": lambda p: _frame(p.replace('"output_index":', '"output_index_":')),
    "spaced delta": lambda p: _frame(p.replace('"delta":"', '"delta": "')),
    "invalid escape": lambda p: _frame(p.replace('"delta":"', '"delta":"\\q')),
    "cut unicode escape": lambda p: _frame(_at_delta_end(p, "\\u12")),
    "lone surrogate": lambda p: _frame(p.replace('"delta":"', '"delta":"\\ud83d')),
    "raw control character": lambda p: _frame(p.replace('"delta":"', '"delta":"\x01')),
    "sequence gap": lambda p: _frame(p.replace('"sequence_number":', '"sequence_number":9')),
    "sequence leading zero": lambda p: _frame(
        p.replace('"sequence_number":', '"sequence_number":0')
    ),
    "no sequence number": lambda p: _frame(p.replace('"sequence_number":', '"sequence":')),
    "garbage after": lambda p: _frame(p + "{garbage"),
    "not JSON": lambda p: _frame(p[:-1]),
    "other event name": lambda p: _frame(p).replace(
        "event: response.output_text.delta", "event: x"
    ),
    "no event line": lambda p: f"data: {p}\n\n",
    "comment line": lambda p: ": keep-alive\n" + _frame(p),
    "id line": lambda p: _frame(p).replace("\ndata:", "\nid: 7\ndata:"),
    "second data line": lambda p: _frame(p).replace("\n\n", "\ndata: " + p + "\n\n"),
    "data line after": lambda p: _frame(p).replace("\n\n", "\ndata: more\n\n"),
    "extra blank line": lambda p: _frame(p) + "\n",
    "other event": lambda p: _frame(p.replace("output_text.delta", "reasoning_text.delta")),
    "a comment event": lambda p: _frame(p) + ": keep-alive\n\n",
    "spaced type": lambda p: _frame(p.replace('"type":"', '"type": "', 1)),
    "type not first": lambda p: _frame(
        p.replace('{"type":"response.output_text.delta",', '{"item_id":"x",', 1)[:-1]
        + ',"type":"response.output_text.delta"}'
    ),
    # The obfuscation field (no change where a payload has none).
    "no obfuscation": lambda p: _frame(re.sub(r',?"obfuscation":"[^"]*"', "", p, count=1)),
    "second obfuscation key": lambda p: _frame(p[:-1] + ',"obfuscation":"again"}'),
    "first obfuscation key": lambda p: _frame(p.replace('"type":', '"obfuscation":"x","type":')),
    "spaced obfuscation": lambda p: _frame(p.replace('"obfuscation":"', '"obfuscation": "')),
    "obfuscation not a string": lambda p: _frame(
        re.sub(r'"obfuscation":"[^"]*"', '"obfuscation":5', p)
    ),
    "escaped obfuscation": lambda p: _frame(p.replace('"obfuscation":"', '"obfuscation":"\\"')),
    "obfuscation invalid escape": lambda p: _frame(
        p.replace('"obfuscation":"', '"obfuscation":"\\q')
    ),
    "obfuscation raw control character": lambda p: _frame(
        p.replace('"obfuscation":"', '"obfuscation":"\x01')
    ),
    "obfuscation brace": lambda p: _frame(p.replace('"obfuscation":"', '"obfuscation":"{')),
    "obfuscation brace, delta raw control character": lambda p: _frame(
        p.replace('"obfuscation":"', '"obfuscation":"{').replace('"delta":"', '"delta":"\x01')
    ),
    "obfuscation holding a delta key": lambda p: _frame(
        p.replace('"obfuscation":"', '"obfuscation":"\\"delta\\":\\"no')
    ),
    "empty obfuscation": lambda p: _frame(re.sub(r'"obfuscation":"[^"]*"', '"obfuscation":""', p)),
    "long obfuscation": lambda p: _frame(
        p.replace('"obfuscation":"', '"obfuscation":"' + "z" * 3000)
    ),
    # The item id (new in every turn, so left out of what a shape is kept by).
    "other item id": lambda p: _frame(p.replace(_ITEM, _ITEM[:-1] + "7")),
    "longer item id": lambda p: _frame(p.replace(_ITEM, _ITEM + "7")),
    "item id with a brace": lambda p: _frame(p.replace(_ITEM, _ITEM[:-1] + "{")),
    "escaped item id": lambda p: _frame(p.replace(_ITEM, _ITEM[:-1] + '\\"')),
    "item id not a string": lambda p: _frame(p.replace(f'"{_ITEM}"', "5")),
    "second item id key": lambda p: _frame(p[:-1] + ',"item_id":"again"}'),
}

# Obfuscation values all events of a run may carry: none, random-looking, or odd ones.
_OBFUSCATIONS: dict[str, Any] = {
    "none": lambda i: None,
    "random": _nonce,
    "empty": lambda i: "",
    "constant": lambda i: "abc",
    "very long": lambda i: _nonce(i) * 200,
    "escapes": lambda i: _nonce(i) + '"\\\n',
    "raw control characters": lambda i: _nonce(i) + "\x01\x1f",
    "braces": lambda i: "{" + _nonce(i) + "}",
    "non-ASCII": lambda i: _nonce(i) + "é😀",
    "text": lambda i: f'"delta":"{i}',
}


def _read_both_ways(text: str) -> tuple[Any, Any]:
    fast, slow = StreamAssembler(), StreamAssembler()
    fast_events = fast.feed_text(text)
    slow_events = slow.feed(parse_events(text))
    return (fast_events, fast.partial().items), (slow_events, slow.partial().items)


@settings(max_examples=400, deadline=None)
@given(
    deltas=st.lists(st.text(max_size=8), min_size=20, max_size=60),
    odd=st.sampled_from(sorted(_ODD_EVENTS)),
    where=st.integers(min_value=0) | st.none(),
    ascii_only=st.booleans(),
    layout=st.sampled_from(["backend", "reference", "no sequence number"]),
    index=st.integers(min_value=0, max_value=12),
    seq=st.sampled_from([0, 4, 9_990, 16_370, 40_000]),
    before=st.booleans(),
    after=st.booleans(),
    obfuscation=st.sampled_from(sorted(_OBFUSCATIONS)),
    obfuscation_at=st.integers(min_value=-1, max_value=7),
)
def test_a_long_run_reads_as_its_events_one_by_one(
    deltas, odd, where, ascii_only, layout, index, seq, before, after, obfuscation, obfuscation_at
):
    """Whatever one event of a long run of text deltas looks like, or all of them (another
    index or key, a nested object, escapes valid or not, a sequence number out of step, not
    JSON, other SSE lines, an odd or missing obfuscation string), the bulk reading of the
    read gives the same events and partial result as reading it event by event (``where``
    None: every event is odd)."""
    payloads = [
        _backend_delta(
            seq + i,
            d,
            ascii_only=ascii_only,
            layout=layout,
            index=index,
            obfuscation=_OBFUSCATIONS[obfuscation](i),
            obfuscation_at=obfuscation_at,
        )
        for i, d in enumerate(deltas)
    ]
    if where is None:
        events = [_ODD_EVENTS[odd](p) for p in payloads]
    else:
        events = [_frame(p) for p in payloads]
        where %= len(payloads)
        events[where] = _ODD_EVENTS[odd](payloads[where])
    text = "".join(events)
    if before:
        text = sse([CREATED, ADDED]) + text
    if after:
        text += sse([message("".join(deltas), index=0)])
    text = text[:-1]  # as SSEDecoder.feed_text hands it over: the last line break, no blank line
    fast, slow = _read_both_ways(text)
    assert fast == slow


@pytest.mark.parametrize("odd", sorted(_ODD_EVENTS))
@pytest.mark.parametrize("obfuscation", [None, True])
@pytest.mark.parametrize("deltas", [["x"], ["word ", 'say "hi"\n']])
def test_a_run_of_odd_events_reads_as_event_by_event(odd, obfuscation, deltas):
    """Every event of a burst is odd the same way (the first payload's checks alone must
    then refuse what would read otherwise): the read gives what event by event gives."""
    payloads = [
        _backend_delta(4 + i, deltas[i % len(deltas)], obfuscation=obfuscation and _nonce(i))
        for i in range(30)
    ]
    fast, slow = _read_both_ways("".join(_ODD_EVENTS[odd](p) for p in payloads)[:-1])
    assert fast == slow


def test_a_run_only_json_reads_is_read_as_json_reads_it():
    """Payloads with a nested object are read by JSON alone, event by event, which skips a
    delta holding a raw control character: so must the bulk reading."""
    payloads = [
        _backend_delta(4 + i, "x").replace('"item_id"', '"x":{},"item_id"') for i in range(30)
    ]
    payloads[7] = payloads[7].replace('"delta":"', '"delta":"\x01')
    fast, slow = _read_both_ways(_run_text(payloads))
    assert fast == slow
    assert fast[0] == [TextDelta("x" * 29, 0)]


@pytest.mark.parametrize("layout", ["backend", "reference", "no sequence number"])
@pytest.mark.parametrize("obfuscation_at", [None, -1, 0, 1, 3, 5])
def test_a_backend_burst_is_read_by_rebuilding_the_run(layout, obfuscation_at):
    """The common case, a long burst written alike, is confirmed in one piece (escapes and
    all, and a random obfuscation string in every event, wherever its key) and gives the
    text of its deltas."""
    deltas = ["x", 'a "quote"', "line\nbreak", "back\\slash", "é", "😀", "\ud83d", "\ude00", "{"]
    deltas = deltas * 30
    run_text = _run_text(_nonced_payloads(deltas, 7, obfuscation_at, layout=layout))
    assert StreamAssembler()._text_run(run_text) == (0, len(run_text), 0, "".join(deltas))
    fast, slow = _read_both_ways(run_text)
    assert fast == slow
    assert fast[0] == [TextDelta("".join(deltas), 0)]


@pytest.mark.parametrize("odd", [name for name in sorted(_ODD_EVENTS) if "obfuscation" in name])
@pytest.mark.parametrize("delta", ["x", 'say "hi"\n'])
@pytest.mark.parametrize("where", [0, 10, 29])
def test_an_odd_obfuscation_string_reads_as_event_by_event(odd, delta, where):
    """One event of a burst with an obfuscation string in every event has an odd one
    (missing, doubled, escaped, with a brace or a raw control character, beside a delta
    that only the fast reading would take...): the read gives what event by event gives."""
    payloads = [_backend_delta(4 + i, delta, obfuscation=_nonce(i)) for i in range(30)]
    events = [_frame(p) for p in payloads]
    events[where] = _ODD_EVENTS[odd](payloads[where])
    fast, slow = _read_both_ways("".join(events)[:-1])
    assert fast == slow


@pytest.mark.parametrize("odd", ["spaced type", "type not first", "first obfuscation key"])
@pytest.mark.parametrize("where", [0, 29])
def test_a_delta_of_the_same_item_beside_a_run_joins_its_text(odd, where):
    """A text delta of the run's item written otherwise (so outside the run) right before
    or after it joins the run's text in one event, as reading event by event joins them."""
    payloads = [_backend_delta(4 + i, "x", obfuscation=_nonce(i)) for i in range(30)]
    events = [_frame(p) for p in payloads]
    events[where] = _ODD_EVENTS[odd](payloads[where])
    fast, slow = _read_both_ways("".join(events)[:-1])
    assert fast == slow
    assert fast[0] == [TextDelta("x" * 30, 0)]


def test_a_run_after_a_run_of_another_layout_is_still_read_in_one_piece():
    """An assembler remembers the last run's layout; a read whose payloads are built
    otherwise (here with an obfuscation string before ``logprobs``) is not taken for it."""
    asm = StreamAssembler()
    for i, obfuscation_at in enumerate([None, 5, None, 0]):
        text = _run_text(_nonced_payloads(["x"] * 30, 4 + 30 * i, obfuscation_at))
        assert asm._text_run(text) == (0, len(text), 0, "x" * 30)


def test_an_escape_cut_between_two_deltas_is_not_completed_by_the_next():
    """A delta ending in half a \\u escape is not JSON, so reading event by event skips it;
    the bulk reading must not join it to the next delta's digits into one valid escape."""
    payloads = [_backend_delta(4 + i, "41 and more") for i in range(30)]
    payloads[10] = _at_delta_end(payloads[10], "\\u00")
    text = _run_text(payloads)
    fast, slow = _read_both_ways(text)
    assert fast == slow
    assert "A" not in fast[0][0].text


@settings(max_examples=200, deadline=None)
@given(
    reads=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2),  # output_index
            st.sampled_from(["backend", "reference", "no sequence number"]),
            st.sampled_from([1, 3, 12, 30]),  # events in the read
            st.sampled_from(["x", "wörd ", 'say "hi"\n']),
            st.sampled_from(sorted(_ODD_EVENTS)),  # what one of them looks like
            st.integers(min_value=0),  # which one
            st.sampled_from(["none", "random", "braces", "escapes"]),  # obfuscation
        ),
        min_size=1,
        max_size=6,
    )
)
@example(
    reads=[
        (0, "reference", 30, "x", "same", 0, "none"),
        (1, "reference", 30, "x", "same", 0, "none"),
    ]
)
@example(
    reads=[
        (0, "reference", 30, "x", "same", 0, "none"),
        (0, "reference", 30, "x", "next output_index", 0, "none"),
    ]
)
@example(
    reads=[
        (0, "backend", 30, "x", "same", 0, "random"),
        (0, "backend", 30, "x", "same", 0, "braces"),
    ]
)
def test_reads_of_changing_items_through_one_assembler(reads):
    """An assembler remembers how the last run's payloads were built; reads of other items
    and layouts, with or without obfuscation strings, long and short, with an odd event
    anywhere, still read exactly as event by event."""
    fast, slow = StreamAssembler(), StreamAssembler()
    seq = 3
    for index, layout, count, delta, odd, where, obfuscation in reads:
        payloads = [
            _backend_delta(
                seq + i,
                delta,
                layout=layout,
                index=index,
                obfuscation=_OBFUSCATIONS[obfuscation](seq + i),
            )
            for i in range(count)
        ]
        events = [_frame(p) for p in payloads]
        events[where % count] = _ODD_EVENTS[odd](payloads[where % count])
        text = "".join(events)[:-1]
        seq += count
        assert fast.feed_text(text) == slow.feed(parse_events(text))
    assert fast.partial().items == slow.partial().items


# Item ids a turn's text deltas may carry: the usual, and odd ones (what a shape is kept by
# leaves out only an id of the nonce form).
_ITEM_IDS = [
    "msg_0123",
    "msg_" + "ab" * 24,
    "",
    "msg_é😀",
    "msg_{brace}",
    'msg_\\"quoted\\"',
    "msg_\\u0041",
    "msg_\x01",
    '\\",\\"delta\\":\\"x',
]


@pytest.mark.parametrize("first", _ITEM_IDS)
@pytest.mark.parametrize("second", _ITEM_IDS)
@pytest.mark.parametrize("obfuscation_at", [None, -1, 0, 2, 3])
def test_turns_with_other_item_ids_read_as_event_by_event(first, second, obfuscation_at):
    """Turn after turn, each with its own item id (odd ones too) and a fresh assembler, a
    long run reads exactly as event by event (deltas that only JSON reads, or only the fast
    reading, among them), and a run of well-formed payloads is still read in one piece
    whatever the previous turn's item id was."""
    deltas = ["x", 'say "hi"\n', "\x01y"] * 10
    for item_id in (first, second):
        text = _run_text(_nonced_payloads(deltas, 4, obfuscation_at, item_id=item_id))
        fast, slow = _read_both_ways(text)
        assert fast == slow
        if item_id in ("msg_0123", "", "msg_é😀"):
            assert StreamAssembler()._text_run(text) == (0, len(text), 0, "".join(deltas))


@pytest.mark.parametrize("where", [0, 1, 29])
def test_a_run_whose_item_id_changes_reads_as_event_by_event(where):
    """The item id is fixed text of a run: one payload with another id (a valid one) is not
    taken for the run's, and the read still gives what event by event gives."""
    payloads = [_backend_delta(4 + i, "x", obfuscation=_nonce(i)) for i in range(30)]
    payloads[where] = payloads[where].replace(_ITEM, "msg_other")
    text = _run_text(payloads)
    fast, slow = _read_both_ways(text)
    assert fast == slow
    asm = StreamAssembler()
    found = asm._text_run(text)
    assert found is None or found[:2] != (0, len(text))


# -- payloads of types the reading ignores are skipped unparsed only when that is exact ---------

_TYPES = [
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.done",
    "response.output_text.delta",
    "response.completed",
    "response.failed",
    "error",
    "response.created",
    "response.output_item.done",
]
_TYPE_KEYS = ['"type"', '"typ\\u0065"', '"\\u0074ype"', '"types"', '"xtype"']


def _json_value(draw: Any, depth: int) -> str:
    """A JSON value written by hand, so that objects may repeat keys and keys may be escaped."""
    kind = draw(st.sampled_from(["str", "num", "obj", "arr"] if depth < 3 else ["str", "num"]))
    if kind == "str":
        return json.dumps(
            draw(st.sampled_from([*_TYPES, '{"type":"error"', "{", 'a"b', "\\"]) | st.text()),
            ensure_ascii=draw(st.booleans()),
        )
    if kind == "num":
        return str(draw(st.integers()))
    if kind == "arr":
        items = [_json_value(draw, depth + 1) for _ in range(draw(st.integers(0, 3)))]
        return "[" + ",".join(items) + "]"
    return _json_object(draw, depth + 1)


def _json_object(draw: Any, depth: int) -> str:
    fields = []
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(_TYPE_KEYS) | st.text(max_size=5).map(json.dumps))
        fields.append(f"{key}:{_json_value(draw, depth)}")
    return "{" + ",".join(fields) + "}"


@st.composite
def _typed_payloads(draw: Any) -> str:
    """A payload whose first key is ``type`` (as a backend writes it), with any other keys,
    repeated ``type`` keys at any depth, escapes, strings that look like keys; sometimes cut
    short or spaced."""
    first = f'{{"type":{json.dumps(draw(st.sampled_from(_TYPES)))}'
    rest = _json_object(draw, 1)[1:]
    payload = first + ("}" if rest == "}" else "," + rest)
    if draw(st.booleans()):
        payload = payload[: draw(st.integers(0, len(payload)))]
    if draw(st.booleans()):
        payload = payload.replace(",", ", ").replace(":", ": ")
    return payload


@settings(max_examples=1500, deadline=None)
@given(payload=_typed_payloads(), delta=st.booleans())
@example(payload='{"type":"response.content_part.done","type":"error","code":"x"}', delta=False)
@example(payload='{"type":"response.content_part.done","p":{"type":"error"}}', delta=False)
@example(payload='{"type":"response.content_part.done","typ\\u0065":"error"}', delta=False)
@example(payload='{"type":"response.content_part.done","a":"{","type":"error"}', delta=False)
@example(payload='{"type":"response.content_part.done","a":"{"type":"error"}', delta=True)
def test_a_payload_is_skipped_unparsed_only_where_parsing_would_skip_it(payload, delta):
    """Whatever keys follow the first, a payload the reading skips without parsing gives
    exactly what parsing it gives (between two deltas of one item, which it must not part),
    and one of a type the reading acts on is never skipped."""
    from llm_codex.core.events import _READ_TYPES, _skipped_unparsed

    if _skipped_unparsed(payload):
        try:
            event = json.loads(payload)
        except ValueError:
            event = None
        assert not isinstance(event, dict) or event.get("type") not in _READ_TYPES
    text = _backend_delta(4, "x")
    asm = StreamAssembler()
    events = asm.feed([text, payload, text] if delta else [payload])
    assert events in ([], [TextDelta("xx", 0)]) or not _skipped_unparsed(payload)


@pytest.mark.parametrize("kind", ["{}", "[]", '{"a":1}', "5", "null"])
def test_a_payload_whose_type_is_not_a_string_is_skipped(kind):
    """A ``type`` that is an object or a list (or any non-string) is skipped like any unknown
    type, between two deltas of one item too; it does not crash the reading."""
    text = _backend_delta(4, "x")
    asm = StreamAssembler()
    assert asm.feed([text, f'{{"type":{kind},"delta":"y"}}', text]) == [TextDelta("xx", 0)]


@pytest.mark.parametrize(
    "value",
    [0, 7, -3, 2**53, -(2**53), 2**53 + 1, -(2**53) - 1, 3**40, True, False, 2.5, "9", " 4 "],
)
def test_a_token_count_reads_as_its_float_would(value):
    """Usage counts are read through their float (a numeric string too, a bool not): the
    quick answer for plain integers gives what that gives, at the edges of exact floats."""
    expected = 0 if isinstance(value, bool) else int(float(value))
    asm = StreamAssembler()
    done = {"type": "response.completed", "response": {"usage": {"output_tokens": value}}}
    (event,) = asm.feed([json.dumps(done)])
    assert event.result.usage.output_tokens == expected


def _outcome(parse: Any, text: str) -> Any:
    try:
        return ("value", parse(text))
    except ValueError:
        return ("error",)


@settings(max_examples=400, deadline=None)
@given(
    payload=_typed_payloads() | st.text() | st.from_regex(r"\s*\{.*\}\s*", fullmatch=True),
    around=st.sampled_from(["", " ", "\n", "x", "{}", "}"]),
    where=st.sampled_from(["before", "after"]),
)
@example(payload='{"a":1} ', around="", where="after")
@example(payload='{"a":1}{"b":2}', around="", where="after")
@example(payload='{"a":NaN}', around="", where="after")
def test_a_payload_parses_as_json_loads_parses_it(payload, around, where):
    """The reading's shortcut to JSON's scanner gives exactly what ``json.loads`` gives, or
    fails where it fails, whatever surrounds the object."""
    from llm_codex.core.events import _parse

    text = around + payload if where == "before" else payload + around
    assert _outcome(_parse, text) == _outcome(json.loads, text)


@settings(max_examples=400, deadline=None)
@given(
    odd=st.sampled_from(sorted(_ODD_EVENTS)),
    where=st.integers(min_value=0) | st.none(),
    layout=st.sampled_from(["backend", "reference", "no sequence number"]),
    obfuscation=st.sampled_from(["none", "random", "braces", "text"]),
    obfuscation_at=st.integers(min_value=-1, max_value=7),
    ids=st.tuples(st.sampled_from(_ITEM_IDS), st.sampled_from(_ITEM_IDS)),
    delta=st.sampled_from(["x", 'say "hi"\n', "\x01y", "é"]),
)
def test_a_turn_after_a_turn_with_another_item_id_reads_as_event_by_event(
    odd, where, layout, obfuscation, obfuscation_at, ids, delta
):
    """The next turn's first run is tried against the last run's shape with its own item id
    put in: whatever the new turn's payloads look like (an odd event anywhere, or in all of
    them; an odd item id), it reads exactly as event by event."""

    def run(item_id: str) -> list[str]:
        return [
            _backend_delta(
                4 + i,
                delta if i % 3 else "x",
                layout=layout,
                item_id=item_id,
                obfuscation=_OBFUSCATIONS[obfuscation](i),
                obfuscation_at=obfuscation_at,
            )
            for i in range(30)
        ]

    previous = _run_text(run(ids[0]))
    assert _read_both_ways(previous)[0] == _read_both_ways(previous)[1]
    payloads = run(ids[1])
    if where is None:
        events = [_ODD_EVENTS[odd](p) for p in payloads]
    else:
        events = [_frame(p) for p in payloads]
        events[where % 30] = _ODD_EVENTS[odd](payloads[where % 30])
    fast, slow = _read_both_ways("".join(events)[:-1])
    assert fast == slow


@pytest.mark.parametrize("item_id", ["msg_{brace}", "msg_\x01", "msg_\\u0041", "msg_\\"])
@pytest.mark.parametrize("obfuscation", [None, True])
def test_a_turn_whose_odd_item_id_changes_the_reading_is_not_taken_for_the_last(
    item_id, obfuscation
):
    """After a turn with a plain item id, a turn whose id makes the fast reading refuse its
    payloads (a brace) or JSON refuse them (a raw control character), beside deltas that
    only one reading takes, reads exactly as event by event."""

    def run(raw_id: str, deltas: list[str]) -> str:
        payloads = [
            _backend_delta(4 + i, d, obfuscation=obfuscation and _nonce(i)).replace(_ITEM, raw_id)
            for i, d in enumerate(deltas)
        ]
        return _run_text(payloads)

    _read_both_ways(run("msg_plain", ["x"] * 30))
    for deltas in (["x", "y"] * 15, ["x", 'say "hi"\n'] * 15):
        text = run(item_id, deltas).replace('"delta":"x"', '"delta":"\x01x"')
        fast, slow = _read_both_ways(text)
        assert fast == slow


def _noted(kind: str, seq: str, rest: str) -> str:
    return f'{{"type":"response.{kind}","sequence_number":{seq},{rest}'


_RESTS = [
    '"response":{"id":"resp_1","model":"gpt-5.5","status":"in_progress"}}',
    '"response":{"id":"resp_2","model":"gpt-5.5","status":"in_progress"}}',
    '"response":{"id":"","model":"other"}}',
    '"response":{"id":"resp_1","model":"gpt-5.5"},"type":"error","code":"x"}',
    '"response":{"id":"resp_1","model":"gpt-5.5"},"type":"response.in_progress"}',
    '"response":{"id":"resp_1","model":"gpt-5.5"},"type":"response.completed"}',
    '"response":{"id":"resp_1","model":"gpt-5.5"},"response":{"id":"resp_3"}}',
    '"response":{"id":"resp_1","model":"gpt-5.5"}',
    '"response":5}',
]


@settings(max_examples=300, deadline=None)
@given(
    first=st.tuples(st.sampled_from(["created", "in_progress"]), st.sampled_from(["0", "7"])),
    second=st.tuples(
        st.sampled_from(["created", "in_progress", "completed", "failed"]),
        st.sampled_from(["1", "01", "x"]),
    ),
    rests=st.tuples(st.sampled_from(_RESTS), st.sampled_from(_RESTS)),
    same=st.sampled_from(["same", "other", "longer"]),
    between=st.sampled_from([None, "delta", "other"]),
)
@example(
    first=("created", "0"),
    second=("in_progress", "1"),
    rests=(_RESTS[0], _RESTS[0]),
    same="longer",
    between=None,
)
def test_a_repeated_response_note_reads_as_each_payload_read_alone(
    first, second, rests, same, between
):
    """A ``response.in_progress`` written like the ``response.created`` before it (or
    otherwise: another id, another type, a duplicate key, more keys before the same text,
    not JSON) gives the same events and result as when each payload is read alone."""
    rest = {"same": rests[0], "other": rests[1], "longer": '"type":"error",' + rests[0]}[same]
    payloads = [_noted(*first, rests[0]), _noted(*second, rest)]
    if between == "delta":
        payloads.insert(1, _backend_delta(4, "x"))
    elif between == "other":
        payloads.insert(1, _noted("in_progress", "3", _RESTS[1]))
    together, alone = StreamAssembler(), StreamAssembler()
    events = together.feed(payloads)
    one_by_one = [e for p in payloads for e in alone.feed([p])]
    assert events == one_by_one
    assert together.partial() == alone.partial()
    assert (together.done, repr(together.error)) == (alone.done, repr(alone.error))


@pytest.mark.parametrize("layout", ["backend", "reference", "no sequence number"])
@pytest.mark.parametrize("obfuscation_at", [None, -1, 0, 1, 2, 3, 5])
def test_the_next_turn_with_a_new_item_id_is_read_in_one_piece(layout, obfuscation_at):
    """Turn after turn, each with a new item id wherever it lies among the values, a run
    written alike is read in one piece and gives the text of its deltas; the turn's next
    read is taken for the same shape at once."""
    deltas = ["x", 'a "quote"', "é"] * 10

    def run(turn: int, first: int) -> str:
        item_id = f"msg_{turn}{'ab' * turn}"
        return _run_text(
            _nonced_payloads(deltas, first, obfuscation_at, layout=layout, item_id=item_id)
        )

    for turn in range(3):
        asm = StreamAssembler()
        text = run(turn, 4)
        assert asm._text_run(text) == (0, len(text), 0, "".join(deltas))
        shape = asm._last_shape
        text = run(turn, 4 + len(deltas))
        assert asm._text_run(text) == (0, len(text), 0, "".join(deltas))
        assert asm._last_shape is shape
