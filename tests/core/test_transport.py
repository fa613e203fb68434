"""The async client's transport (httpx2 over asyncio protocols and httptools) against real
sockets: framing, keep-alive, flow control, and httpx2's exceptions for broken answers."""

from __future__ import annotations

import asyncio
import ssl

import httpx2
import pytest
import trustme

from llm_codex.core.transport import HIGH_WATER, FastTransport, use_fast_transport


async def _serve(answer):
    """A raw HTTP server on 127.0.0.1: ``answer(reader, writer)`` handles each connection."""
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + (await reader.readexactly(length) if length else b"")


def _client() -> httpx2.AsyncClient:
    client = httpx2.AsyncClient(timeout=5)
    assert use_fast_transport(client)
    return client


async def test_keep_alive_reuses_one_connection_and_sends_head_and_body():
    """Three requests on one connection; each request arrives whole (head and body)."""
    connections = 0
    bodies = []

    async def answer(reader, writer):
        nonlocal connections
        connections += 1
        while True:
            try:
                request = await _read_request(reader)
            except asyncio.IncompleteReadError:
                break
            bodies.append(request.split(b"\r\n\r\n", 1)[1])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    server, url = await _serve(answer)
    async with server, _client() as client:
        for n in range(3):
            r = await client.post(url + "/x?q=1", content=b"body %d" % n)
            assert r.status_code == 200 and r.text == "ok"
    assert connections == 1
    assert bodies == [b"body 0", b"body 1", b"body 2"]


async def test_a_body_read_until_close_and_a_chunked_body():
    """No framing: the body is what comes before the close. Chunked: decoded."""

    async def answer(reader, writer):
        request = await _read_request(reader)
        if b"/chunked" in request:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\n\r\nuntil close")
        await writer.drain()
        writer.close()

    server, url = await _serve(answer)
    async with server, _client() as client:
        assert (await client.get(url + "/plain")).text == "until close"
        assert (await client.get(url + "/chunked")).text == "hello world"


async def test_a_body_cut_short_and_garbage_raise_httpx2_errors():
    """A body shorter than announced is a RemoteProtocolError; so is a non-HTTP answer."""

    async def answer(reader, writer):
        request = await _read_request(reader)
        if b"/garbage" in request:
            writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await writer.drain()
        writer.close()

    server, url = await _serve(answer)
    async with server, _client() as client:
        with pytest.raises(httpx2.RemoteProtocolError):
            await client.get(url + "/cut")
        with pytest.raises(httpx2.RemoteProtocolError):
            await client.get(url + "/garbage")


async def test_silence_is_a_read_timeout_and_no_listener_a_connect_error():
    """A server that says nothing for the read timeout: ReadTimeout; a closed port: ConnectError."""

    async def answer(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n")
        await writer.drain()
        await asyncio.sleep(0.6)
        writer.close()

    server, url = await _serve(answer)
    async with server, _client() as client:
        timeout = httpx2.Timeout(5, read=0.3)
        async with client.stream("GET", url, timeout=timeout) as r:
            with pytest.raises(httpx2.ReadTimeout):
                async for _ in r.aiter_bytes():
                    pass
        server.close()
        await server.wait_closed()
        with pytest.raises(httpx2.ConnectError):
            await client.get(url)


async def test_a_slow_reader_gets_every_byte_of_a_large_body_and_the_connection_back():
    """Flow control: more than the high-water mark arrives while nobody reads; reading then
    yields every byte in order and the connection serves the next request."""
    size = 4 * HIGH_WATER
    payload = bytes(range(256)) * (size // 256)
    connections = 0

    async def answer(reader, writer):
        nonlocal connections
        connections += 1
        for _ in range(2):
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + payload)
            await writer.drain()
        writer.close()

    server, url = await _serve(answer)
    async with server, _client() as client:
        async with client.stream("GET", url) as r:
            await asyncio.sleep(0.2)  # the server writes everything it can meanwhile
            # reading paused near the high-water mark: the rest waits in the kernel and the server
            assert r.stream._stream._conn.buffered < 2 * HIGH_WATER
            got = b"".join([chunk async for chunk in r.aiter_raw()])
        assert got == payload
        assert (await client.get(url)).content == payload
    assert connections == 1


async def test_a_server_that_went_away_gets_a_new_connection():
    """An idle connection the server closed is not reused: the next request reconnects."""
    connections = 0

    async def answer(reader, writer):
        nonlocal connections
        connections += 1
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # keep-alive offered, then closed anyway

    server, url = await _serve(answer)
    async with server, _client() as client:
        assert (await client.get(url)).text == "ok"
        await asyncio.sleep(0.05)
        assert (await client.get(url)).text == "ok"
    assert connections == 2


def test_only_the_default_transport_is_replaced():
    """A client with its own transport keeps it (nothing to speed up, nothing to break)."""
    mine = FastTransport()
    client = httpx2.AsyncClient(transport=mine)
    assert use_fast_transport(client) is False
    assert client._transport is mine


async def test_https_verifies_the_server_and_sends_the_host_name():
    """TLS to an origin: a certificate the context trusts works (SNI names the host), one it
    does not trust is a ConnectError; the connection is kept for the next request."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    names = []
    server_ctx.sni_callback = lambda sock, name, ctx: names.append(name)
    connections = 0

    async def answer(reader, writer):
        nonlocal connections
        connections += 1
        for _ in range(2):
            try:
                await _read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    url = f"https://localhost:{port}/"
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with server:
        async with httpx2.AsyncClient(transport=FastTransport(ssl_context=trusting)) as client:
            assert (await client.get(url)).text == "secret"
            assert (await client.get(url)).text == "secret"
        assert names[0] == "localhost"
        with pytest.raises(httpx2.ConnectError):
            async with httpx2.AsyncClient(transport=FastTransport()) as client:
                await client.get(url)  # the default context does not trust this CA
    assert connections == 1  # two requests on one connection (a refused handshake never gets here)


async def test_a_head_request_ends_at_the_headers():
    """A HEAD answer announces a length but has no body: the response ends at its headers."""

    async def answer(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.5)
        writer.close()

    server, url = await _serve(answer)
    async with server, _client() as client:
        r = await asyncio.wait_for(client.head(url), 5)
        assert r.status_code == 200 and r.content == b""
