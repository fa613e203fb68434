"""The Anthropic translator's pure parts: request mapping, signatures, stop sequences, SSE."""

from __future__ import annotations

import asyncio
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_codex.core.types import (
    CodexResult,
    Completed,
    ItemAdded,
    ItemDone,
    ReasoningDelta,
    TextDelta,
    ToolArgumentsDelta,
    Usage,
)
from llm_codex.server.anthropic.encode import MessagesEncoder, StopScanner, encode_stream
from llm_codex.server.anthropic.models import DEFAULT_ALIASES, parse_alias, resolve_model
from llm_codex.server.anthropic.signature import open_signature, seal
from llm_codex.server.anthropic.tokens import count_text
from llm_codex.server.anthropic.translate import reasoning_for, translate_messages_request
from llm_codex.server.errors import RequestRefused

KEY = b"k" * 32
LEVELS = ("low", "medium", "high", "xhigh")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
block_types = st.sampled_from(
    ["text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking", "document", "x"]
)
blocks = st.fixed_dictionaries(
    {"type": block_types},
    optional={
        "text": json_values,
        "source": json_values,
        "id": json_values,
        "name": json_values,
        "input": json_values,
        "content": json_values,
        "tool_use_id": json_values,
        "signature": json_values,
        "thinking": json_values,
        "data": json_values,
        "is_error": json_values,
    },
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system"]),
            "content": st.text(max_size=10) | st.lists(blocks, max_size=4),
        }
    ),
    min_size=1,
    max_size=4,
)


def _translate(body, **kw):
    return translate_messages_request(
        body, aliases=DEFAULT_ALIASES, find_model=lambda s: None, **kw
    )


@settings(max_examples=80, deadline=None)
@given(messages, json_values, json_values, json_values)
def test_any_request_translates_or_is_refused(msgs, system, thinking, tools):
    """Whatever a client sends, the answer is a core request or a clear 400, never a crash."""
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 5,
        "messages": msgs,
        "system": system,
        "thinking": thinking,
        "tools": tools,
    }
    try:
        tr = _translate(body)
    except RequestRefused as exc:
        assert exc.status == 400 and exc.message
        return
    for item in tr.request.input:
        assert item.get("role") != "system"
        if item["type"] == "reasoning":
            raise AssertionError("a reasoning item without a valid signature got through")


@given(st.text(min_size=1, max_size=200))
def test_signature_round_trip(content):
    assert open_signature(seal(content, model="m", key=KEY), model="m", key=KEY) == content
    assert open_signature(seal(content, model="m", key=KEY), model="m2", key=KEY) is None


@given(st.text(min_size=1, max_size=100), st.data())
def test_damaged_or_foreign_signatures_are_refused(content, data):
    sig = seal(content, model="m", key=KEY)
    at = data.draw(st.integers(0, len(sig) - 1))
    ch = data.draw(st.sampled_from("AbZ09-_.x"))
    damaged = sig[:at] + ch + sig[at + 1 :]
    if damaged != sig:
        assert open_signature(damaged, model="m", key=KEY) in (None, content)
        # the MAC covers the payload: a changed payload never opens to different content
    assert open_signature(sig, model="m", key=b"o" * 32) is None
    assert open_signature("EqQBCkYIARgCKkA" + sig, model="m", key=KEY) is None


def _reference_cut(text, seqs):
    hits = [(text.find(s), s) for s in seqs if s in text]
    if not hits:
        return text, None
    at, seq = min(hits, key=lambda h: h[0])
    return text[:at], seq


@given(
    st.lists(st.text(alphabet="abS", max_size=6), max_size=8),
    st.lists(st.text(alphabet="abS", min_size=1, max_size=3), min_size=1, max_size=3),
)
def test_stop_scanner_matches_a_plain_search(pieces, seqs):
    """Streaming through the scanner gives the text cut at the earliest stop sequence."""
    scanner = StopScanner(tuple(seqs))
    out = ""
    for piece in pieces:
        out += scanner.feed(piece)
        if scanner.hit is not None:
            break
    if scanner.hit is None:
        out += scanner.flush()
    expected, _ = _reference_cut("".join(pieces), seqs)
    assert out == expected
    assert (scanner.hit is None) == (_reference_cut("".join(pieces), seqs)[1] is None)


@given(
    st.sampled_from([None, "enabled", "adaptive", "disabled"]),
    st.none() | st.integers(0, 200000),
    st.none() | st.sampled_from(["low", "medium", "high", "max", "bogus"]),
    st.sampled_from([LEVELS, ("low", "medium", "high"), ("minimal", "high"), ()]),
)
def test_reasoning_level_is_always_one_the_model_has(kind, budget, effort, levels):
    thinking = {"type": kind, "budget_tokens": budget} if kind else None
    level, display = reasoning_for(thinking, {"effort": effort}, levels)
    assert level is None or level in levels
    assert display in ("shown", "omitted", "off")
    if kind == "disabled":
        assert display == "off"


def test_budget_and_effort_mapping():
    assert reasoning_for({"type": "enabled", "budget_tokens": 2000}, None, LEVELS)[0] == "low"
    assert reasoning_for({"type": "enabled", "budget_tokens": 10000}, None, LEVELS)[0] == "medium"
    assert reasoning_for({"type": "enabled", "budget_tokens": 30000}, None, LEVELS)[0] == "high"
    assert reasoning_for({"type": "adaptive"}, {"effort": "max"}, LEVELS) == ("xhigh", "shown")
    assert reasoning_for({"type": "adaptive"}, None, LEVELS) == (None, "shown")
    assert reasoning_for(None, None, LEVELS) == (None, "off")


def test_token_count_is_o200k():
    """The count is the o200k tokenizer's, not an estimate ("hello world" is 2 tokens there)."""
    assert count_text("hello world") == 2
    assert count_text("") == 0


def test_model_aliases():
    assert resolve_model("claude-sonnet-4-5-20250929", DEFAULT_ALIASES) == "gpt-5.5"
    assert resolve_model("claude-3-5-haiku-latest", DEFAULT_ALIASES) == "gpt-5.4-mini"
    assert resolve_model("openai-codex/gpt-5.4", DEFAULT_ALIASES) == "gpt-5.4"
    assert parse_alias(" claude-fast = gpt-5.3-codex-spark ") == (
        "claude-fast",
        "gpt-5.3-codex-spark",
    )


def test_claude_code_shapes():
    """Billing-header system block dropped; session header keys the cache; web search becomes
    the hosted tool; other server tools and unknown fields are dropped and named;
    mid-conversation system messages become developer."""
    body = {
        "model": "claude-sonnet",
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.5b8;"},
            {"type": "text", "text": "You are Claude Code."},
        ],
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "Agent types: …"},
        ],
        "tools": [
            {"name": "Read", "input_schema": {"type": "object"}, "defer_loading": True},
            {"type": "web_search_20250305", "name": "web_search"},
            {"type": "code_execution_20250522", "name": "code_execution"},
        ],
        "temperature": 0.2,
        "context_management": {"edits": []},
    }
    tr = _translate(body, session="f598c69c-1197-43ee-b502-0c8dfb57b6fa")
    assert tr.request.instructions == "You are Claude Code."
    assert tr.request.session_id == "f598c69c-1197-43ee-b502-0c8dfb57b6fa"
    assert [t.get("name") for t in tr.request.tools] == ["Read", None]
    assert tr.request.tools[1] == {"type": "web_search"}
    assert tr.dropped == ["temperature", "tools.code_execution_20250522"]
    assert tr.request.input[-1]["role"] == "developer"


def _sse(data: bytes) -> list[tuple[str, dict]]:
    out = []
    for frame in data.decode().split("\n\n"):
        if frame:
            event, payload = frame.split("\n", 1)
            out.append((event.removeprefix("event: "), json.loads(payload.removeprefix("data: "))))
    return out


async def _aiter(events):
    for event in events:
        yield event


def _run(encoder, events) -> bytes:
    async def go():
        return b"".join([p async for p in encode_stream(encoder, events[0], _aiter(events[1:]))])

    return asyncio.run(go())


@given(
    st.lists(st.text(max_size=5), min_size=1, max_size=6),
    st.lists(st.text(min_size=1, max_size=5), max_size=3),
    st.text(max_size=12),
)
def test_stream_is_well_formed(text_pieces, summary_pieces, arguments):
    """Every frame parses; block indexes open and close in order; the deltas add up."""
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": []}
    r_done = {
        **reasoning,
        "summary": [{"type": "summary_text", "text": "".join(summary_pieces)}],
        "encrypted_content": "gAAAA-blob",
    }
    msg = {"type": "message", "id": "m1", "role": "assistant", "content": []}
    m_done = {**msg, "content": [{"type": "output_text", "text": "".join(text_pieces)}]}
    call = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "f",
        "arguments": "",
    }
    c_done = {**call, "arguments": arguments}
    events = [
        ItemAdded(reasoning, 0),
        *[ReasoningDelta(t, 0, 0) for t in summary_pieces],
        ItemDone(r_done, 0),
        ItemAdded(msg, 1),
        *[TextDelta(t, 1) for t in text_pieces],
        ItemDone(m_done, 1),
        ItemAdded(call, 2),
        *([ToolArgumentsDelta(arguments[:3], 2)] if arguments[:3] else []),
        ItemDone(c_done, 2),
        Completed(CodexResult(items=[r_done, m_done, c_done], usage=Usage(10, 5, 4))),
    ]
    encoder = MessagesEncoder(
        message_id="msg_1", model="claude-x", slug="gpt-5.5", thinking="shown"
    )
    frames = _sse(_run(encoder, events))
    assert frames[0][0] == "message_start" and frames[-1][0] == "message_stop"
    open_block, texts, blocks = None, {}, []
    for name, data in frames:
        assert name == data["type"]
        if name == "content_block_start":
            assert open_block is None and data["index"] == len(blocks)
            open_block = data["index"]
            blocks.append(data["content_block"]["type"])
        elif name == "content_block_delta":
            assert data["index"] == open_block
            delta = data["delta"]
            key = {
                "text_delta": "text",
                "thinking_delta": "thinking",
                "input_json_delta": "partial_json",
                "signature_delta": "signature",
            }[delta["type"]]
            texts.setdefault((open_block, delta["type"]), []).append(delta[key])
        elif name == "content_block_stop":
            assert data["index"] == open_block
            open_block = None
    delta = [d for n, d in frames if n == "message_delta"]
    assert len(delta) == 1 and delta[0]["delta"]["stop_reason"] == "tool_use"
    assert delta[0]["usage"] == {
        "input_tokens": 6,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 4,
        "output_tokens": 5,
    }
    assert blocks[-1] == "tool_use" and blocks[0] == "thinking"
    got = {k[1]: "".join(v) for k, v in texts.items()}
    assert got.get("thinking_delta", "") == "".join(summary_pieces)
    assert open_signature(got["signature_delta"], model="gpt-5.5") == "gAAAA-blob"
    assert got.get("text_delta", "") == "".join(text_pieces)
    assert got.get("input_json_delta", "") == arguments


@given(st.text(max_size=12), st.sampled_from(["claude-x", 'm"1', "é\n"]), st.integers(0, 40))
def test_opening_frames_from_templates_are_the_general_frames(message_id, model, blocks):
    """``message_start`` from the model's template and the start of an empty text or
    thinking block are byte for byte the serialised events."""
    from llm_codex.server.anthropic.encode import (
        _TEXT_BLOCK,
        _THINKING_BLOCK,
        message_start_event,
        sse_event,
    )

    for _ in range(2):  # the second answer reuses the model's template
        encoder = MessagesEncoder(message_id=message_id, model=model, slug="s", thinking="off")
        assert encoder.start() == sse_event(message_start_event(message_id, model))
    encoder._blocks = blocks
    for n, block in enumerate((_THINKING_BLOCK, _TEXT_BLOCK, {"type": "text", "text": ""})):
        want = {"type": "content_block_start", "index": blocks + n, "content_block": block}
        assert encoder._begin(n, block) == sse_event(want)
