"""One streamed request through an ``httpx2.AsyncClient``, by a shorter way when it can be.

``async with StreamExchange(client, "POST", url, ...) as response`` is
``async with client.stream("POST", url, ...) as response``: same request, same response,
same exceptions. A relay sends one such request per turn, and httpx2's general machinery
(merging the client's URL, headers and parameters through several ``Headers`` copies, the
auth, redirect and hook layers, five generator layers per body read) cost about as much CPU
as reading the turn's body. When the client is a plain one whose transport for the URL is
:class:`~llm_codex.core.transport.FastTransport` (the pooled client; see :func:`lean_transport`
for every condition), the exchange builds the identical request directly and hands it to the
transport, and :meth:`StreamExchange.chunks` reads the body in one generator. What
``AsyncClient.send`` does around the transport is kept: the client's cookie jar is sent and
updated from ``Set-Cookie``, ``response.request``, ``elapsed`` and ``default_encoding`` are
set, the request is logged as httpx2 logs it, errors carry their request, and a redirect
answer gets its ``next_request``. Anything else (another transport, a proxy mount, auth,
event hooks, followed redirects, a ``Content-Encoding`` to decode) takes httpx2's own path.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx2

from llm_codex.core.transport import FastTransport, headers_of

__all__ = ["StreamExchange", "lean_request", "lean_transport"]

try:  # httpx2 internals the lean way reproduces; missing ones make every request take httpx2's
    from httpx2._client import BoundAsyncStream, ClientState

    _LEAN = True
except ImportError:  # pragma: no cover - another httpx2
    _LEAN = False

_log = logging.getLogger("httpx2")
#: Parsed URLs by their text (the same one or two URLs are requested all day); bounded.
_URLS: dict[str, httpx2.URL] = {}
_URLS_MAX = 64


def _url(text: str) -> httpx2.URL:
    """``httpx2.URL(text)``, remembered (a URL object is never modified, only copied)."""
    url = _URLS.get(text)
    if url is None:
        if len(_URLS) >= _URLS_MAX:
            _URLS.clear()
        url = _URLS[text] = httpx2.URL(text)
    return url


def lean_transport(client: httpx2.AsyncClient, url: httpx2.URL) -> FastTransport | None:
    """The FastTransport to send a streamed request for ``url`` to directly, or ``None`` when
    httpx2's own path must run: a client of another class or closed, with auth (its own or
    from the URL's user info), event hooks, redirects to follow or default query parameters,
    or whose transport for the URL (a proxy mount, a caller's transport) is not ours."""
    if not _LEAN or type(client) is not httpx2.AsyncClient:
        return None
    try:
        if (
            client._state is ClientState.CLOSED
            or client._auth is not None
            or client.follow_redirects
            or client._event_hooks["request"]
            or client._event_hooks["response"]
            or client._params
            or url.userinfo
            or not url.is_absolute_url
            or not hasattr(client, "_default_encoding")
            or not hasattr(client, "_build_redirect_request")
        ):
            return None
        transport = client._transport_for_url(url)
    except (AttributeError, KeyError, TypeError):  # another httpx2's internals: its own path
        return None
    return transport if isinstance(transport, FastTransport) else None


def lean_request(
    client: httpx2.AsyncClient,
    method: str,
    url: httpx2.URL,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout: httpx2.Timeout,
) -> httpx2.Request:
    """The request ``client.build_request(method, url, content=..., headers=..., timeout=...)``
    builds (same headers in the same order, cookies, body and timeout), with one ``Headers``
    built instead of four. ``content`` must not be empty (an empty body is framed
    differently).

    httpx2's order, reproduced: the client's headers without those ``headers`` replace, then
    ``headers`` (ASCII, as httpx2 requires), then the jar's ``Cookie``, then
    ``Content-Length`` unless given (or ``Transfer-Encoding`` is), and ``Host`` first unless
    given.
    """
    own = [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]
    replaced = {name.lower() for name, _ in own}
    merged = [(name, value) for name, value in client.headers.raw if name.lower() not in replaced]
    merged += own
    cookies = client.cookies
    with_cookies = bool(cookies)
    # The jar's Cookie header is set by httpx2's own Request code (versions differ in how).
    request = httpx2.Request(
        method,
        url,
        headers=merged if with_cookies else None,
        cookies=cookies if with_cookies else None,
        stream=httpx2.ByteStream(content),
        extensions={"timeout": timeout.as_dict()},
    )
    request.read()  # the body is the content itself, as Request(content=...) holds it
    if with_cookies:
        merged = request.headers.raw
    names = {name.lower() for name, _ in merged}
    if b"content-length" not in names and b"transfer-encoding" not in names:
        merged.append((b"Content-Length", str(len(content)).encode("ascii")))
    if b"host" not in names and url.host:
        merged.insert(0, (b"Host", url.netloc))
    request.headers = headers_of(merged)
    return request


class StreamExchange:
    """``async with`` one streamed request: ``client.stream(...)``, by the lean way when
    :func:`lean_transport` allows it (see the module docstring)."""

    __slots__ = ("_args", "_body", "_client", "_context", "response")

    def __init__(
        self,
        client: httpx2.AsyncClient,
        method: str,
        url: str,
        *,
        content: bytes,
        headers: Mapping[str, str],
        timeout: httpx2.Timeout,
    ) -> None:
        self._client = client
        self._args = (method, url, content, headers, timeout)
        self._context: Any = None
        self._body: Any = None
        self.response: httpx2.Response | None = None

    async def __aenter__(self) -> httpx2.Response:
        client = self._client
        method, text, content, headers, timeout = self._args
        url = _url(text)
        transport = lean_transport(client, url) if content else None
        if transport is None:
            self._context = client.stream(
                method, text, content=content, headers=headers, timeout=timeout
            )
            self.response = await self._context.__aenter__()
            return self.response
        request = lean_request(
            client, method, url, content=content, headers=headers, timeout=timeout
        )
        client._state = ClientState.OPENED  # as AsyncClient.send marks it
        start = time.perf_counter()
        try:
            response = await transport.handle_async_request(request)
        except httpx2.RequestError as exc:
            exc.request = request  # as httpx2's request_context does
            raise
        self._body = response.stream
        response.request = request
        response.stream = BoundAsyncStream(response.stream, start=start)
        self.response = response
        try:
            if self._body.sets_cookies:  # extract_cookies does nothing otherwise
                client.cookies.extract_cookies(response)
            response.default_encoding = client._default_encoding
            if _log.isEnabledFor(logging.INFO):  # its arguments cost more than the check
                _log.info(
                    'HTTP Request: %s %s "%s %d %s"',
                    request.method,
                    request.url,
                    response.http_version,
                    response.status_code,
                    response.reason_phrase,
                )
            # (every redirect status is a 3xx; the property looks its codes up one by one)
            if 300 <= response.status_code < 400 and response.has_redirect_location:
                with contextlib.suppress(httpx2.RemoteProtocolError):
                    response.next_request = client._build_redirect_request(request, response)
        except BaseException:
            await response.aclose()
            raise
        return response

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        if self._context is not None:
            return await self._context.__aexit__(*exc_info)
        if self.response is not None:
            await self.response.aclose()
        return None

    def chunks(self) -> AsyncIterator[bytes]:
        """The response body as it arrives: ``response.aiter_bytes()``, read straight from
        the connection when the exchange went the lean way and there is nothing to decode."""
        response = self.response
        assert response is not None
        if self._body is None or self._body.encoded:
            return response.aiter_bytes()
        if response.is_stream_consumed:
            raise httpx2.StreamConsumed()
        if response.is_closed:
            raise httpx2.StreamClosed()
        response.is_stream_consumed = True
        return self._body.chunks(response)
