"""A streamed request by the lean way gives what ``AsyncClient.stream`` gives: the same request
on the wire, the same response, cookies, errors and connection reuse; and every client the
lean way cannot serve exactly still goes through httpx2."""

from __future__ import annotations

import asyncio
import gzip
import string

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_codex.core.exchange import StreamExchange, lean_request, lean_transport
from llm_codex.core.transport import use_fast_transport

TIMEOUT = httpx2.Timeout(30, connect=5)


def _fast_client(**options) -> httpx2.AsyncClient:
    client = httpx2.AsyncClient(**options)
    assert use_fast_transport(client)
    return client


async def _serve(answer):
    """A raw HTTP server on 127.0.0.1 that records each request head and body it reads."""
    seen: list[bytes] = []

    async def handle(reader, writer):
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            seen.append(head + body)
            keep = await answer(head, writer)
            await writer.drain()
            if not keep:
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", seen


_token = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=12)
_value = st.text(string.ascii_letters + string.digits + " ;=/.,-_*", max_size=20)
_header_names = st.sampled_from(
    ["Accept", "accept", "User-Agent", "Host", "Content-Length", "Cookie", "X-Thing", "x-thing"]
)


@settings(max_examples=150, deadline=None)
@given(
    client_headers=st.lists(st.tuples(st.one_of(_header_names, _token), _value), max_size=4),
    headers=st.dictionaries(st.one_of(_header_names, _token), _value, max_size=6),
    cookies=st.dictionaries(_token, _token, max_size=2),
    path=st.sampled_from(["/responses", "/a/b?x=1", "/"]),
    content=st.binary(min_size=1, max_size=40),
)
def test_the_lean_request_is_the_one_httpx2_builds(client_headers, headers, cookies, path, content):
    """Same method, URL, headers (values and order), body and timeout as build_request, for
    any client headers, request headers and cookie jar."""
    client = httpx2.AsyncClient(headers=client_headers)
    for name, value in cookies.items():
        client.cookies.set(name, value, domain="127.0.0.1")
    url = "http://127.0.0.1:8123" + path
    if "content-length" in {k.lower() for k in headers}:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    expected = client.build_request("POST", url, content=content, headers=headers, timeout=TIMEOUT)
    got = lean_request(
        client, "POST", httpx2.URL(url), content=content, headers=headers, timeout=TIMEOUT
    )
    assert got.method == expected.method
    assert got.url == expected.url
    assert got.headers.raw == expected.headers.raw
    assert got.content == expected.content
    assert got.extensions == expected.extensions


def test_only_a_plain_client_over_fast_transport_goes_the_lean_way():
    """Auth, hooks, followed redirects, default params, a caller's transport or a proxy mount
    for the URL all take httpx2's own path."""
    url = httpx2.URL("http://127.0.0.1:8123/responses")
    assert lean_transport(_fast_client(), url) is not None
    assert lean_transport(httpx2.AsyncClient(), url) is None  # httpx2's own transport
    assert lean_transport(_fast_client(auth=("u", "p")), url) is None
    assert lean_transport(_fast_client(follow_redirects=True), url) is None
    assert lean_transport(_fast_client(params={"a": "1"}), url) is None
    hooked = _fast_client(event_hooks={"request": [lambda r: None]})
    assert lean_transport(hooked, url) is None
    mounted = _fast_client(mounts={"http://127.0.0.1": httpx2.AsyncHTTPTransport()})
    assert lean_transport(mounted, url) is None
    assert lean_transport(_fast_client(), httpx2.URL("http://u:p@127.0.0.1/x")) is None


def test_a_client_missing_an_internal_the_lean_way_needs_takes_httpx2s_path():
    """Another httpx2 release may rename what the lean way reads: then httpx2's own path
    serves, instead of every request failing."""
    url = httpx2.URL("http://127.0.0.1:8123/responses")
    for name in ("_params", "_default_encoding"):
        client = _fast_client()
        object.__setattr__(client, name, None)
        delattr(client, name)
        assert lean_transport(client, url) is None


async def _exchange(client, url, *, headers=None):
    """The response of one exchange and its body, read with chunks()."""
    exchange = StreamExchange(
        client, "POST", url, content=b'{"q":1}', headers=headers or {"X-A": "1"}, timeout=TIMEOUT
    )
    async with exchange as response:
        body = b"".join([chunk async for chunk in exchange.chunks()])
    return response, body


async def test_the_lean_way_answers_as_httpx2_does_cookies_included():
    """Byte for byte the same request reaches the server either way (the jar's cookie
    included); the response reads the same; Set-Cookie lands in the jar; the connection
    goes back to the pool."""

    async def answer(head, writer):
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: n=v; Path=/\r\n\r\nhello"
        )
        return True

    server, url, seen = await _serve(answer)
    async with server, _fast_client() as plain_client, _fast_client() as lean_client:
        for client in (plain_client, lean_client):
            client.cookies.set("pre", "1", domain="127.0.0.1")
        async with plain_client.stream(
            "POST", url + "/x", content=b'{"q":1}', headers={"X-A": "1"}, timeout=TIMEOUT
        ) as plain:
            plain_body = await plain.aread()
        lean, lean_body = await _exchange(lean_client, url + "/x")
        await _exchange(lean_client, url + "/x")
        assert len(lean_client._transport._idle[("http", "127.0.0.1", lean.request.url.port)]) == 1
    assert seen[0] == seen[1]
    assert b"cookie: pre=1" in seen[0].lower() and b"n=v" in seen[2]
    assert (lean.status_code, lean_body, lean.headers) == (200, plain_body, plain.headers)
    assert lean.is_closed and lean.num_bytes_downloaded == 5
    assert lean.request.headers.raw == plain.request.headers.raw
    assert lean.elapsed is not None and lean.default_encoding == plain.default_encoding
    assert dict(lean_client.cookies) == dict(plain_client.cookies) == {"pre": "1", "n": "v"}


async def test_an_encoded_body_is_decoded_and_an_error_carries_its_request():
    """Content-Encoding: the lean way hands over decoded bytes as httpx2 does; a body cut
    short raises RemoteProtocolError with the request attached."""
    packed = gzip.compress(b"data: x\n\n")

    async def answer(head, writer):
        if b"/gzip" in head:
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
                % (len(packed), packed)
            )
            return True
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        return False

    server, url, _ = await _serve(answer)
    async with server, _fast_client() as client:
        _, body = await _exchange(client, url + "/gzip")
        assert body == b"data: x\n\n"
        with pytest.raises(httpx2.RemoteProtocolError) as caught:
            await _exchange(client, url + "/cut")
        assert caught.value.request.url == url + "/cut"


async def test_a_client_with_its_own_transport_is_served_by_it():
    """A caller's transport (here a mock) answers, exactly as through client.stream."""
    calls = []

    def handler(request):
        calls.append(request.headers["x-a"])
        return httpx2.Response(201, content=b"mock")

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
        response, body = await _exchange(client, "http://example.test/x")
    assert (response.status_code, body, calls) == (201, b"mock", ["1"])


async def test_a_proxy_from_the_environment_still_carries_the_request(monkeypatch):
    """HTTP_PROXY makes httpx2 mount its proxy transport; the exchange goes through it."""

    async def answer(head, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied")
        return False

    server, proxy_url, seen = await _serve(answer)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with server, _fast_client() as client:
        response, body = await _exchange(client, "http://backend.invalid/x")
    assert (response.status_code, body) == (200, b"proxied")
    assert seen[0].startswith(b"POST http://backend.invalid/x HTTP/1.1")


async def test_a_redirect_answer_names_its_next_request_without_following_it():
    """As client.stream does with redirects off: the 302 itself, with next_request set."""

    async def answer(head, writer):
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
        return True

    server, url, seen = await _serve(answer)
    async with server, _fast_client() as client:
        response, _ = await _exchange(client, url + "/x")
    assert response.status_code == 302 and len(seen) == 1
    assert response.next_request.url == url + "/elsewhere"


async def test_the_request_is_logged_as_httpx2_logs_it(caplog):
    async def answer(head, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return True

    server, url, _ = await _serve(answer)
    async with server, _fast_client() as client:
        with caplog.at_level("INFO", logger="httpx2"):
            await _exchange(client, url + "/lean")
            async with client.stream("POST", url + "/plain", content=b"x") as plain:
                await plain.aread()
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx2"]
    assert lines == [
        f'HTTP Request: POST {url}/lean "HTTP/1.1 200 OK"',
        f'HTTP Request: POST {url}/plain "HTTP/1.1 200 OK"',
    ]
