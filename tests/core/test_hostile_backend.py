"""A hostile or broken backend never hangs or bloats the client, and is described truly
(issue 14, items 4b, 8 and 9). Shapes the fake will not produce come from a raw server."""

from __future__ import annotations

import pytest

from llm_codex.core import client as client_mod
from llm_codex.core.errors import (
    IdleTimeout,
    NotAnEventStream,
    NotFound,
    ServerError,
    StreamClosedEarly,
    StreamError,
)
from llm_codex.core.types import Credentials

from .helpers import RawServer, StaticCredentials, drive, user_request

MODES = ["sync", "async"]
CREDS = StaticCredentials(Credentials("at", "acct"))


def _run(mode: str, server: RawServer, **kwargs):
    return drive(
        mode,
        user_request(),
        credentials=CREDS,
        base_url=server.url + "/backend-api/codex",
        max_attempts=1,
        **kwargs,
    )


def _head(status: int, ctype: str | None, extra: str = "") -> bytes:
    kind = f"content-type: {ctype}\r\n" if ctype else ""
    return f"HTTP/1.1 {status} X\r\n{kind}connection: close\r\n{extra}\r\n".encode()


@pytest.fixture
def serve():
    servers: list[RawServer] = []

    def start(head: bytes, parts: list) -> RawServer:
        server = RawServer([(head, parts)])
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("mode", MODES)
def test_keep_alive_comments_do_not_keep_a_prompt_alive(mode, serve):
    """Comments every 50 ms and no event: the idle timeout (0.4 s) counts events, not bytes."""
    server = serve(_head(200, "text/event-stream"), [b": keep-alive\n\n", 0.05] * 400)
    _events, err = _run(mode, server, idle_timeout=0.4)
    assert isinstance(err, IdleTimeout), err
    assert "no event" in str(err)
    assert server.replies_done == 0  # given up long before the backend stopped


@pytest.mark.parametrize("mode", MODES)
def test_a_dripping_error_body_has_an_overall_deadline(mode, serve, monkeypatch):
    monkeypatch.setattr(client_mod, "ERROR_BODY_SECONDS", 0.5)
    head = _head(500, "application/json", "content-length: 100000\r\n")
    server = serve(head, [b'{"detail": "', *([b"x", 0.05] * 400)])
    _events, err = _run(mode, server)
    assert isinstance(err, ServerError), err
    assert server.replies_done == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_huge_error_body_is_capped_and_quoted_short(mode, serve):
    chunk = b"y" * (1 << 20)
    head = _head(500, "text/plain", f"content-length: {32 << 20}\r\n")
    server = serve(head, [chunk] * 32)
    _events, err = _run(mode, server)
    assert isinstance(err, ServerError), err
    assert len(str(err)) < 700
    assert server.replies_done == 0  # stopped reading: the 32 MB were never all taken


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", None])
def test_an_html_200_is_a_web_page_not_a_dropped_connection(mode, ctype, serve):
    page = b"<!DOCTYPE html><html><head><title>Wi-Fi sign in</title></head><body>x</body></html>"
    server = serve(_head(200, ctype), [page])
    _events, err = _run(mode, server)
    assert isinstance(err, NotAnEventStream), err
    assert "web page" in str(err) and server.url in str(err)
    assert not isinstance(err, StreamClosedEarly)


@pytest.mark.parametrize("mode", MODES)
def test_a_json_200_is_not_an_event_stream(mode, serve):
    server = serve(_head(200, "application/json"), [b'{"ok": true}'])
    _events, err = _run(mode, server)
    assert isinstance(err, NotAnEventStream), err
    assert "application/json" in str(err)


@pytest.mark.parametrize("mode", MODES)
def test_a_404_names_the_url(mode, serve):
    server = serve(_head(404, "application/json"), [b'{"detail": "Not Found"}'])
    _events, err = _run(mode, server)
    assert isinstance(err, NotFound), err
    assert f"{server.url}/backend-api/codex/responses" in str(err)


@pytest.mark.parametrize("mode", MODES)
def test_gzip_garbage_is_reported_as_undecodable(mode, serve):
    server = serve(
        _head(200, "text/event-stream", "content-encoding: gzip\r\n"), [b"not gzip at all" * 10]
    )
    _events, err = _run(mode, server)
    assert isinstance(err, StreamError), err
    assert not isinstance(err, StreamClosedEarly)
    assert "could not be decoded" in str(err)


@pytest.mark.parametrize("mode", MODES)
def test_a_huge_error_body_on_a_get_is_capped_too(mode, serve):
    import asyncio

    from llm_codex.core.client import AsyncCodexClient, CodexClient
    from llm_codex.core.errors import CodexError

    head = _head(500, "text/plain", f"content-length: {32 << 20}\r\n")
    server = serve(head, [b"z" * (1 << 20)] * 32)
    kwargs = {"credentials": CREDS, "base_url": server.url + "/backend-api/codex"}
    kwargs["max_attempts"] = 1
    with pytest.raises(CodexError) as info:
        if mode == "sync":
            CodexClient(**kwargs).get_json("/models")
        else:
            asyncio.run(AsyncCodexClient(**kwargs).get_json("/models"))
    assert isinstance(info.value, ServerError)
    assert len(str(info.value)) < 700
    assert server.replies_done == 0
