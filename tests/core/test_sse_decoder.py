"""The SSE decoder: any split of the byte stream into network reads gives the same events."""

from __future__ import annotations

import itertools
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_codex.core.sse import SSEDecoder, Utf8Decoder, locate_run, parse_events

# Payload lines never contain a line break (SSE splits on them).
_line = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30
)
_event = st.fixed_dictionaries(
    {
        "data": st.lists(_line, min_size=1, max_size=3),
        "name": st.none() | _line.filter(lambda s: ":" not in s),
        "comment": st.booleans(),
        "id": st.booleans(),
    }
)


def _render(events: list[dict], newline: str) -> str:
    out = []
    for ev in events:
        lines = []
        if ev["comment"]:
            lines.append(": keep-alive")
        if ev["name"] is not None:
            lines.append(f"event: {ev['name']}")
        if ev["id"]:
            lines.append("id: 7")
        lines.extend(f"data: {d}" for d in ev["data"])
        out.append(newline.join(lines) + newline + newline)
    return "".join(out)


def _decode_in_pieces(raw: bytes, cuts: list[int]) -> list[str]:
    decoder, utf8 = SSEDecoder(), Utf8Decoder()
    payloads: list[str] = []
    bounds = sorted({c % (len(raw) + 1) for c in cuts} | {0, len(raw)})
    for a, b in itertools.pairwise(bounds):
        payloads.extend(decoder.feed(utf8.decode(raw[a:b])))
    payloads.extend(decoder.feed(utf8.decode(b"", True)))
    payloads.extend(decoder.flush())
    return payloads


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_event, max_size=6),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_chunking_yields_the_same_payloads(events, cuts, newline):
    """However the stream is split into reads (even inside a UTF-8 character), events match."""
    raw = _render(events, newline).encode("utf-8")
    expected = ["\n".join(ev["data"]) for ev in events]
    assert _decode_in_pieces(raw, []) == expected
    assert _decode_in_pieces(raw, cuts) == expected


def test_fields_other_than_data_are_ignored():
    """event/id/retry lines and comments do not produce payloads; data without space works."""
    text = ': hi\nevent: x\nid: 1\nretry: 5\ndata:{"a":1}\n\nevent: only\n\ndata\n\n'
    assert SSEDecoder().feed(text) == ['{"a":1}', ""]


def test_an_unterminated_last_event_is_handed_over_at_eof():
    """A last event without its blank line is still read at EOF (a cut-off one is not JSON)."""
    decoder = SSEDecoder()
    assert decoder.feed('data: {"a":1}\n\ndata: {"b"') == ['{"a":1}']
    assert decoder.pending > 0
    assert decoder.flush() == ['{"b"']
    assert decoder.feed('data: {"c":1}\n') == []
    assert decoder.flush() == ['{"c":1}']
    assert decoder.flush() == []


def test_feed_text_returns_only_whole_events():
    """The bulk reader gets whole events; the tail waits for the next read."""
    decoder = SSEDecoder()
    assert decoder.feed_text("data: 1\n\ndata: 2") == "data: 1\n"
    assert decoder.feed_text("\n\n") == "data: 2\n"
    assert parse_events("data: 1\n") == ["1"]
    assert parse_events("") == []


def test_large_event_split_over_many_reads():
    """A big payload (an image, say) arriving in many small reads comes out whole."""
    payload = "x" * 100_000
    decoder = SSEDecoder()
    raw = f"data: {payload}\n\n"
    out: list[str] = []
    for i in range(0, len(raw), 997):
        out.extend(decoder.feed(raw[i : i + 997]))
    assert out == [payload]


def _memory_allocated_reading(size: int, read: int = 16 * 1024) -> int:
    """Bytes the decoder allocates, summed over the reads, for one event of ``size`` characters.

    The work of copying text is measured by what each read makes the decoder allocate (its
    peak above what was held before the read), which does not depend on the machine's speed.
    """
    raw = "data: " + "x" * size + "\n\n"
    reads = [raw[i : i + read] for i in range(0, len(raw), read)]
    decoder = SSEDecoder()
    out: list[str] = []
    total = 0
    tracemalloc.start()
    try:
        for chunk in reads:
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            out.append(decoder.feed_text(chunk))
            total += tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert "".join(out) == raw[:-1]
    return total


def test_one_huge_event_costs_work_linear_in_its_size():
    """A 16 MB event in 16 KB reads costs about four times a 4 MB one, not sixteen times: the
    decoder does not copy what it already holds on every read."""
    small = _memory_allocated_reading(4 * 1024 * 1024)
    large = _memory_allocated_reading(16 * 1024 * 1024)
    assert large < 3 * 16 * 1024 * 1024  # within a small multiple of the event itself
    assert large < 5 * small  # linear: ~4x (quadratic would be ~16x)


def test_utf8_split_inside_a_character_and_invalid_bytes():
    """A character cut between reads is joined; invalid bytes become U+FFFD, never an error."""
    utf8 = Utf8Decoder()
    raw = "é😀".encode()
    assert utf8.decode(raw[:1]) == ""
    assert utf8.decode(raw[1:3]) == "é"
    assert utf8.decode(raw[3:]) == "😀"
    assert utf8.decode(b"ok\xff!") == "ok\ufffd!"
    assert utf8.decode(b"\xe2\x82", True) == "\ufffd"
    assert utf8.decode(b"plain") == "plain"


def test_locate_run_gives_the_bounds_and_the_joint_of_a_run_written_alike():
    """The run reaches from the first matching event to the last one's data line; the joint
    is what the first event writes around its payload; an event whose head holds a data line,
    or whose last line is not its data line, gives no run."""
    text = "data: other\n\nevent: td\ndata: {td 1}\n\nevent: td\ndata: {td 2}\n\ndata: after\n"
    run = locate_run(text, "{td")
    assert run is not None
    assert parse_events(text[: run.start]) == ["other"]
    payloads = ["{td 1}", "{td 2}"]
    assert text[run.first : run.stop] == run.joint.join(payloads)
    assert run.joint == "\n\nevent: td\ndata: "
    assert parse_events(text[run.stop + 1 :]) == ["after"]
    assert locate_run(text, "{none") is None
    assert locate_run("data: x\ndata: {td 1}\n", "{td") is None
    assert locate_run("data: {td 1}\nid: 3\n", "{td") is None
    assert locate_run("event: data: {td 1}\n", "{td") is None


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(data=_JSON_VALUES, event=st.none() | st.sampled_from(["response.created", "x"]))
def test_an_encoded_event_is_its_compact_json_in_one_data_line(data, event):
    """A frame holds exactly ``json.dumps`` with compact separators (ASCII, NaN as JSON
    writes it), after the optional event line, and reads back as that payload."""
    import json

    from llm_codex.core.sse import encode_event

    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    frame = encode_event(data, event=event)
    assert frame == f"{head}data: {payload}\n\n".encode()
    if "\n" not in payload and "\r" not in payload:
        assert SSEDecoder().feed(frame.decode()) == [payload]
