"""Per-request cost of the streaming relay: one write per upstream read, template frames that
are byte-for-byte the slow path's, and the relay's guarantees (terminal frames, upstream
closed, usage reported)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_codex.core import errors as core
from llm_codex.core.sse import encode_event as sse_bytes
from llm_codex.core.types import (
    CodexRequest,
    CodexResult,
    Completed,
    ItemAdded,
    ItemDone,
    TextDelta,
    Usage,
)
from llm_codex.server import chat, responses
from llm_codex.server.streaming import EventStreamResponse, FrameTemplate


class _Upstream:
    """The core's batches, recording whether the relay closed the stream."""

    def __init__(self, batches, error: Exception | None = None) -> None:
        self.batches = list(batches)
        self.error = error
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.batches:
            return self.batches.pop(0)
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


def _relay(encoder, batches, error: Exception | None = None):
    """Run the relay; return (body writes, whether upstream was closed, on_close's encoder)."""
    upstream = _Upstream(batches[1:], error)
    closed_with = []
    response = EventStreamResponse(
        encoder, batches[0] if batches else [], upstream, on_close=closed_with.append
    )
    messages = []

    async def receive():
        await asyncio.Event().wait()  # the client never hangs up

    async def send(message):
        messages.append(message)

    asyncio.run(response({"type": "http"}, receive, send))
    assert messages[0]["type"] == "http.response.start" and messages[0]["status"] == 200
    bodies = messages[1:]
    assert all(m["more_body"] for m in bodies[:-1]) and not bodies[-1]["more_body"]
    return [m["body"] for m in bodies], upstream.closed, closed_with


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


def _chat_encoder(include_usage: bool = True) -> chat.ChatEncoder:
    return chat.ChatEncoder(
        completion_id="c",
        created=0,
        model="m",
        include_usage=include_usage,
        reasoning_content=False,
    )


def test_chat_stream_one_write_per_upstream_read_and_done_with_finish():
    """The role chunk leaves at once with the first read's chunks; a read of several deltas is
    one write; finish, usage and [DONE] go in the last write; the upstream stream is closed."""
    events = _turn(["a", "b", "c"])
    reads = [[events[0]], [events[1]], [events[2], events[3]], events[4:]]
    encoder = _chat_encoder()
    writes, closed, closed_with = _relay(encoder, reads)
    # role (with the ItemAdded read, which has no chunk), "a", "b"+"c", the end
    assert len(writes) == 4
    first = _frames(writes[0])
    assert json.loads(first[0][6:])["choices"][0]["delta"]["role"] == "assistant"
    assert len(_frames(writes[2])) == 2  # two deltas of one read, one write
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
    assert closed and closed_with[0].usage.output_tokens == 4


def test_chat_stream_error_before_completion_still_ends_with_done():
    """A stream that ends early sends its error object and [DONE] in one last write."""
    writes, closed, _ = _relay(_chat_encoder(False), [[TextDelta("x")]])
    last = _frames(writes[-1])
    assert "error" in json.loads(last[0][6:])
    assert last[-1] == "data: [DONE]"
    assert closed


def test_chat_stream_core_failure_mid_stream_ends_with_error_and_done():
    """An exception from the core after output started becomes the error frame."""
    failure = core.StreamError("The backend reported an error: boom")
    writes, closed, _ = _relay(_chat_encoder(False), [[TextDelta("x")], [TextDelta("y")]], failure)
    last = _frames(writes[-1])
    assert json.loads(last[0][6:])["error"]["code"] == "stream_error"
    assert last[-1] == "data: [DONE]" and closed


def test_responses_stream_first_write_carries_created_and_first_read():
    """response.created and response.in_progress go out with the first read's frames."""
    req = CodexRequest(model="m", input=[])
    enc = responses.ResponsesEncoder(req, response_id="r", created_at=0)
    events = _turn(["a", "b"])
    writes, _, _ = _relay(enc, [[e] for e in events])
    assert len(writes) == len(events)
    kinds = [json.loads(f.split("data: ", 1)[1])["type"] for f in _frames(writes[0])]
    assert kinds == ["response.created", "response.in_progress", "response.output_item.added"]
    seqs = [
        json.loads(f.split("data: ", 1)[1])["sequence_number"] for w in writes for f in _frames(w)
    ]
    assert seqs == list(range(len(seqs)))
    assert '"type":"response.completed"' in writes[-1].decode()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=5), st.booleans())
def test_template_frames_are_the_slow_paths_bytes(pieces, include_usage):
    """A text delta written from a template is byte-for-byte what the dict path writes."""
    enc = _chat_encoder(include_usage)
    for piece in pieces:
        assert enc.encode([TextDelta(piece)]) == sse_bytes(enc._chunk({"content": piece}))
    req = CodexRequest(model="m", input=[])
    fast = responses.ResponsesEncoder(req, response_id="r", created_at=0)
    slow = responses.ResponsesEncoder(req, response_id="r", created_at=0)
    events = [ItemAdded({"type": "message", "id": "msg_1", "role": "assistant"})]
    events += [TextDelta(p) for p in pieces]
    for event in events:
        want = b"".join(slow.frame(obj) for obj in slow.feed(event))
        assert fast.encode([event]) == want


def test_frame_template_fills_every_slot():
    """Each slot holds the JSON text of its value, in order."""
    template = FrameTemplate(lambda a, b: sse_bytes({"n": a, "s": b}), slots=2)
    frame = template.fill(FrameTemplate.number(7), FrameTemplate.text('q"\n\u00e9'))
    assert json.loads(frame.decode()[6:]) == {"n": 7, "s": 'q"\n\u00e9'}


def test_streamed_turns_through_the_server_share_one_upstream_connection(
    client, codex_backend, codex_login, patient_drain
):
    """After a streamed answer the server reads the backend's body to its end, so the next
    turn reuses the connection: no new TCP (and, for real, TLS) handshake per turn."""
    before = codex_backend.connections_accepted
    for n in range(3):
        stream = client.chat.completions.create(
            model="gpt-5.5", messages=[{"role": "user", "content": f"turn {n}"}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text.endswith(f"You said: turn {n}")
        time.sleep(0.2)  # the hand-back happens just after the last byte was sent
    assert codex_backend.connections_accepted - before == 1


def test_a_client_hang_up_stops_the_relay_and_closes_the_upstream_stream():
    """While the backend is silent, a hang-up ends the relay at once and closes upstream."""

    class Silent(_Upstream):
        async def __anext__(self):
            await asyncio.Event().wait()  # the backend sends nothing more

    upstream = Silent([])
    response = EventStreamResponse(_chat_encoder(False), [TextDelta("x")], upstream)
    hang_up = asyncio.Event()
    sent = []

    async def receive():
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message.get("body"):
            hang_up.set()  # the client reads the first chunk, then goes away

    async def run():
        await asyncio.wait_for(response({"type": "http"}, receive, send), 5)

    asyncio.run(run())
    assert upstream.closed
    assert all(m.get("more_body", True) for m in sent)  # no terminal frames to a gone client


class _StubBackend:
    """A core client whose turn is the given reads (one batch each), no network."""

    def __init__(self, reads) -> None:
        self.reads = reads

    async def stream_batches(self, request):
        for batch in self.reads:
            yield batch

    async def aclose(self) -> None:
        pass


def test_a_stream_through_the_apps_layers_keeps_cors_status_and_time_to_first_byte(
    access_log,
):
    """Later writes of a stream skip the app's own layers, but everything outside the app
    sees every message, the CORS header is on the answer and the access log has the status
    and the time to first byte."""
    from llm_codex.server.app import create_app
    from llm_codex.server.settings import ServerSettings

    events = _turn(["a", "b", "c", "d"])
    reads = [[e] for e in events]
    app = create_app(
        ServerSettings(cors_origins=("https://app.example",)), client=_StubBackend(reads)
    )
    raw = json.dumps(
        {"model": "gpt-5.5", "messages": [{"role": "user", "content": "q"}], "stream": True}
    ).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"origin", b"https://app.example"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
    }
    sent = []
    done = asyncio.Event()
    requests = [{"type": "http.request", "body": raw, "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message["more_body"]:
            done.set()

    asyncio.run(app(scope, receive, send))
    start, bodies = sent[0], sent[1:]
    assert start["status"] == 200
    assert (b"access-control-allow-origin", b"https://app.example") in start["headers"]
    assert len(bodies) == 6 and all(m["more_body"] for m in bodies[:-1])
    text = b"".join(m["body"] for m in bodies).decode()
    assert text.count('"content":"') == 5 and text.endswith("data: [DONE]\n\n")
    (line,) = [r.getMessage() for r in access_log]
    assert '"POST /v1/chat/completions" 200 model=gpt-5.5' in line
    assert "ttfb=-" not in line and "tokens=3+4" in line


def test_a_partly_filled_template_fills_the_rest():
    """``partial`` fills the first slots once; ``fill`` then gives the same frame."""
    template = FrameTemplate(lambda a, b, c: json.dumps([a, {"b": b}, c]).encode(), 3)
    whole = template.fill(b"1", b'"x"', b"[]")
    assert template.partial(b"1").fill(b'"x"', b"[]") == whole
    assert template.partial(b"1", b'"x"').fill(b"[]") == whole
    with pytest.raises(ValueError):
        template.partial(b"1", b"2", b"3")
