"""Helpers of the core-client tests: a static credential provider, a turn driver, sleeps."""

from __future__ import annotations

import asyncio
from typing import Any

from llm_codex.core.client import AsyncCodexClient, CodexClient
from llm_codex.core.errors import AuthenticationRequired, CodexError
from llm_codex.core.types import CodexRequest, Credentials, StreamEvent


class StaticCredentials:
    """A CredentialProvider holding fixed credentials; after a 401 it hands out ``refreshed``."""

    def __init__(self, creds: Credentials, *, refreshed: Credentials | None = None) -> None:
        self.creds = creds
        self.refreshed = refreshed
        self.unauthorized: list[Credentials] = []

    def current(self) -> Credentials:
        return self.creds

    def after_unauthorized(self, rejected: Credentials) -> Credentials:
        self.unauthorized.append(rejected)
        if self.refreshed is None:
            raise AuthenticationRequired("sign in again with 'llm codex login'")
        self.creds = self.refreshed
        return self.creds

    async def acurrent(self) -> Credentials:
        return self.current()

    async def aafter_unauthorized(self, rejected: Credentials) -> Credentials:
        return self.after_unauthorized(rejected)


def creds_from(tokens: dict[str, Any]) -> Credentials:
    """Credentials for tokens minted by the fake."""
    return Credentials(tokens["access_token"], tokens["account_id"])


def user_request(text: str = "hello pelican", **options: Any) -> CodexRequest:
    """A one-message request for the fake's default model."""
    return CodexRequest(
        model=options.pop("model", "gpt-5.5"),
        input=[
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        ],
        **options,
    )


class Sleeps(list):
    """Records backoff sleeps instead of sleeping (sync and async clients accept it)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def drive(
    mode: str, req: CodexRequest, **client_kwargs: Any
) -> tuple[list[StreamEvent], CodexError | None]:
    """Run one turn with the sync or async client; returns the events and the error raised."""
    events: list[StreamEvent] = []
    if mode == "sync":
        client = CodexClient(**client_kwargs)
        try:
            for event in client.stream(req):
                events.append(event)
        except CodexError as exc:
            return events, exc
        return events, None

    async def run() -> tuple[list[StreamEvent], CodexError | None]:
        client = AsyncCodexClient(**client_kwargs)
        try:
            async for event in client.stream(req):
                events.append(event)
        except CodexError as exc:
            return events, exc
        return events, None

    return asyncio.run(run())


class RawServer:
    """A one-reply-per-connection HTTP server on 127.0.0.1 for shapes the fake cannot produce.

    Each connection gets the next reply: ``(head, body_parts)`` where parts are bytes or a float
    (sleep that long). The connection is closed after the reply (``Connection: close``), so
    a reply without a terminal event is an EOF. Requests are recorded as (head, body) bytes.
    """

    def __init__(self, replies: list[tuple[bytes, list[bytes | float]]]) -> None:
        import socket
        import threading

        self.replies = list(replies)
        self.requests: list[tuple[bytes, bytes]] = []
        #: How many replies were sent to their end (a client that gave up early stops this).
        self.replies_done = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import time

        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append((head, body))
                if not self.replies:
                    continue
                reply_head, parts = self.replies.pop(0)
                try:
                    conn.sendall(reply_head)
                    for part in parts:
                        if self._stop.is_set():
                            raise OSError("stopped")
                        if isinstance(part, float):
                            self._stop.wait(part)
                        else:
                            conn.sendall(part)
                    self.replies_done += 1
                except OSError:
                    pass
                time.sleep(0.01)

    def header(self, index: int, name: str) -> str | None:
        """A header of recorded request ``index`` (case-insensitive)."""
        head = self.requests[index][0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


def sse_head(status: int = 200, extra: str = "") -> bytes:
    """Response head for a raw reply that ends when the connection closes."""
    kind = "text/event-stream" if status == 200 else "application/json"
    return (
        f"HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\nconnection: close\r\n{extra}\r\n"
    ).encode()


def sse_events(*events: dict[str, Any]) -> bytes:
    """Events in the backend's wire format."""
    import json

    return "".join(
        f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events
    ).encode()
