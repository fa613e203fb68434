"""Per-request cost of the streaming encoders: one write per backend event, linear assembly."""

from __future__ import annotations

import asyncio
import json

from llm_codex.core.types import (
    CodexRequest,
    CodexResult,
    Completed,
    ItemAdded,
    ItemDone,
    TextDelta,
    ToolArgumentsDelta,
    Usage,
)
from llm_codex.server import chat, responses
from llm_codex.server.common import Accumulator


async def _aiter(events):
    for event in events:
        yield event


def _collect(agen) -> list[bytes]:
    async def run():
        return [piece async for piece in agen]

    return asyncio.run(run())


def _turn(text_pieces: list[str]) -> list:
    message = {"type": "message", "id": "msg_1", "role": "assistant", "content": []}
    done = {
        **message,
        "content": [{"type": "output_text", "text": "".join(text_pieces), "annotations": []}],
    }
    result = CodexResult(items=[done], usage=Usage(input_tokens=3, output_tokens=4))
    return [
        ItemAdded(message),
        *[TextDelta(t) for t in text_pieces],
        ItemDone(done),
        Completed(result),
    ]


def _frames(piece: bytes) -> list[str]:
    return [f for f in piece.decode().split("\n\n") if f]


def test_chat_stream_one_write_per_event_and_done_with_finish():
    """The role chunk goes with the first event; finish, usage and [DONE] in the last write."""
    enc = chat.ChatEncoder(
        completion_id="c", created=0, model="m", include_usage=True, reasoning_content=False
    )
    events = _turn(["a", "b", "c"])
    writes = _collect(chat.encode_stream(enc, events[0], _aiter(events[1:])))
    # role (with the ItemAdded that has no chunk), three text deltas, the end: 5 writes for
    # 6 events, never one write per SSE frame
    assert len(writes) == 5
    first = _frames(writes[0])
    assert len(first) == 1 and json.loads(first[0][6:])["choices"][0]["delta"]["role"]
    last = _frames(writes[-1])
    assert [json.loads(f[6:])["choices"][0]["finish_reason"] for f in last[:1]] == ["stop"]
    assert json.loads(last[1][6:])["usage"]["completion_tokens"] == 4
    assert last[2] == "data: [DONE]"
    text = "".join(
        json.loads(f[6:])["choices"][0]["delta"].get("content") or ""
        for w in writes
        for f in _frames(w)
        if f != "data: [DONE]" and json.loads(f[6:])["choices"]
    )
    assert text == "abc"


def test_chat_stream_error_before_completion_still_ends_with_done():
    """A stream that ends early sends its error object and [DONE] in one last write."""
    enc = chat.ChatEncoder(
        completion_id="c", created=0, model="m", include_usage=False, reasoning_content=False
    )
    writes = _collect(chat.encode_stream(enc, TextDelta("x"), _aiter([])))
    last = _frames(writes[-1])
    assert "error" in json.loads(last[0][6:])
    assert last[-1] == "data: [DONE]"


def test_responses_stream_first_write_carries_created_and_first_event():
    """response.created and response.in_progress go out with the first event's frames."""
    req = CodexRequest(model="m", input=[])
    enc = responses.ResponsesEncoder(req, response_id="r", created_at=0)
    events = _turn(["a", "b"])
    writes = _collect(responses.encode_stream(enc, events[0], _aiter(events[1:])))
    assert len(writes) == len(events)
    kinds = [json.loads(f.split("data: ", 1)[1])["type"] for f in _frames(writes[0])]
    assert kinds == ["response.created", "response.in_progress", "response.output_item.added"]
    seqs = [
        json.loads(f.split("data: ", 1)[1])["sequence_number"] for w in writes for f in _frames(w)
    ]
    assert seqs == list(range(len(seqs)))
    assert '"type":"response.completed"' in writes[-1].decode()


def test_accumulator_rebuilds_long_partial_items():
    """Tens of thousands of deltas are kept as pieces and joined once."""
    acc = Accumulator()
    acc.feed(ItemAdded({"type": "message", "role": "assistant"}, 0))
    acc.feed(ItemAdded({"type": "function_call", "call_id": "c", "name": "f"}, 1))
    for _ in range(50_000):
        acc.feed(TextDelta("xy", 0))
        acc.feed(ToolArgumentsDelta("1", 1))
    message, call = acc.items()
    assert message["content"][0]["text"] == "xy" * 50_000
    assert call["arguments"] == "1" * 50_000
    assert message["status"] == call["status"] == "incomplete"
