"""The server lets go: of upstream requests nobody waits for, of idle and slow connections,
and of what it writes to its log."""

from __future__ import annotations

import socket
import threading
import time

import httpx2
import pytest

from llm_codex.auth import default_auth_manager
from llm_codex.core.client import AsyncCodexClient
from llm_codex.server.runner import ServerThread
from llm_codex.server.settings import ServerSettings


class UpstreamSpy:
    """The real core client, recording whether each upstream stream was read to its end or
    closed before (what the user's plan pays for)."""

    def __init__(self) -> None:
        self._client: AsyncCodexClient | None = None
        self.outcomes: list[str] = []
        self.finished = threading.Event()

    def stream_batches(self, req):
        if self._client is None:
            self._client = AsyncCodexClient(credentials=default_auth_manager())
        return self._relay(self._client.stream_batches(req))

    async def _relay(self, batches):
        count = 0
        outcome = "abandoned"
        try:
            async for batch in batches:
                count += len(batch)
                outcome = f"abandoned after {count} events"
                yield batch
            outcome = "read to the end"
        finally:
            await batches.aclose()
            self.outcomes.append(outcome)
            self.finished.set()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/v1/responses", {"input": "hi"}),
    ],
)
def test_non_streaming_client_hanging_up_cancels_the_upstream_request(
    codex_backend, codex_login, path, body
):
    """Reproduced: the upstream request of a non-streaming client that hung up ran to the end
    (20/20); it is closed as soon as the client leaves, as the streaming path does."""
    codex_backend.enqueue_slow(" ".join(["word"] * 40), delay=0.2)  # about 8 s if read through
    spy = UpstreamSpy()
    with ServerThread(ServerSettings(port=0), client=spy) as server:
        with pytest.raises(httpx2.TimeoutException):
            httpx2.post(server.url + path, json={"model": "gpt-5.5", **body}, timeout=1.0)
        assert spy.finished.wait(30)
    assert spy.outcomes[0].startswith("abandoned")


@pytest.mark.parametrize("stream", [False, True])
def test_client_hanging_up_before_the_first_event_cancels_the_upstream_request(
    codex_backend, codex_login, stream
):
    """While the backend has not answered yet (a long think), a client that leaves ends the
    upstream request too."""
    codex_backend.enqueue_slow("late", delay=8)
    spy = UpstreamSpy()
    body = {"model": "gpt-5.5", "input": "hi", "stream": stream}
    with ServerThread(ServerSettings(port=0), client=spy) as server:
        with pytest.raises(httpx2.TimeoutException):
            httpx2.post(server.url + "/v1/responses", json=body, timeout=1.0)
        assert spy.finished.wait(30)
    assert spy.outcomes == ["abandoned"]  # before its first event


# --- slow and idle connections -------------------------------------------------------------------

QUICK = {"header_timeout": 1.0, "body_timeout": 1.0, "keep_alive_timeout": 1.0}


def _connect(server: ServerThread) -> socket.socket:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=15)
    return sock


def _read_until_closed(sock: socket.socket, *, trickle: bytes = b"") -> bytes:
    """Everything the server sends until it closes the connection (within 15 s), sending a
    byte of ``trickle`` after each 0.2 s wait meanwhile (reading first, so that an answer sent
    before the close is never lost to a reset)."""
    sock.settimeout(0.2)
    received = b""
    pending = list(trickle)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            data = None
        except ConnectionResetError:
            return received
        if data == b"":
            return received
        if data:
            received += data
            continue
        if pending:
            try:
                sock.sendall(bytes([pending.pop(0)]))
            except (BrokenPipeError, ConnectionResetError):
                pending.clear()
    raise AssertionError("the server kept the connection open")


def test_slowloris_connections_are_closed(serve, codex_login):
    """Reproduced: 64 connections trickling header bytes all stayed open after 60 s; now each
    gets 408 and is closed once the header deadline passes, however often bytes arrive."""
    server = serve(**QUICK)
    socks = [_connect(server) for _ in range(8)]
    trickle = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    answers = [_read_until_closed(sock, trickle=trickle) for sock in socks]
    for sock in socks:
        sock.close()
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers
    with httpx2.Client(base_url=server.url) as http:
        assert http.get("/health").status_code == 200


def test_silent_and_idle_connections_are_closed(serve, codex_login):
    """A connection that never sends a byte, and one idle after its answer, are closed."""
    server = serve(**QUICK)
    with _connect(server) as silent:
        assert _read_until_closed(silent).startswith(b"HTTP/1.1 408")
    with _connect(server) as kept_alive:
        kept_alive.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = _read_until_closed(kept_alive)
    assert answer.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in answer


def test_slow_body_gets_408(serve, codex_login, server_errors):
    """A body that does not arrive within the body deadline is answered 408, not waited for."""
    server = serve(**QUICK)
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"
        )
        answer = _read_until_closed(sock, trickle=b" " * 100)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b'"code":"request_timeout"' in answer
    assert server_errors == []


def test_long_streams_outlive_the_header_deadline(serve, codex_login, codex_backend):
    """The deadlines are for clients that send nothing useful, not for long answers."""
    server = serve(**QUICK)
    codex_backend.enqueue_slow("one two three four five six seven", delay=0.3)
    body = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}
    with httpx2.Client(base_url=server.url, timeout=30) as http:
        answer = http.post("/v1/chat/completions", json={**body, "stream": True})
        assert answer.text.rstrip().endswith("data: [DONE]")
        assert http.post("/v1/chat/completions", json=body).status_code == 200


# --- the access log ------------------------------------------------------------------------------


def test_access_log_escapes_and_cuts_what_clients_choose(server, codex_login, access_log):
    """Reproduced: CR/LF in a model name or path forged access-log lines, and a 1 MB model name
    made a 1 MB line."""
    forged = 'x\r\n10:00:00 127.0.0.1:1 "GET /admin" 200'
    with httpx2.Client(base_url=server.url, timeout=30) as http:
        http.post("/v1/responses", json={"model": forged, "input": "hi"})
        http.post("/v1/responses", json={"model": "m" * 1_000_000, "input": "hi"})
        http.get("/v1/models/a%0d%0aforged")
    for _ in range(100):  # a line is written once its answer is sent: wait for the last
        if len(access_log) >= 3:
            break
        time.sleep(0.05)
    lines = [record.getMessage() for record in access_log]
    assert len(lines) == 3
    assert all("\n" not in line and "\r" not in line for line in lines)
    assert "\\r\\n" in lines[0] and "\\r\\n" in lines[2]
    assert all(len(line) < 500 for line in lines)
