"""The async client's HTTP/1.1 transport: httpx2's API over asyncio protocols and httptools.

A streamed turn is hundreds of small network reads, and httpx2's default async stack pays a
lot for each one: anyio arms a cancel scope and a timer and re-registers the socket with
epoll, h11 parses the chunked framing in Python, and five layers of async generators hand
the bytes up. A local relay such as ``llm codex serve`` does little else per event, so that
stack was most of its CPU. :class:`FastTransport` is an ``httpx2.AsyncBaseTransport`` that
keeps httpx2's client, requests, responses and exceptions and replaces what lies below:

- each connection is an :class:`asyncio.Protocol`; the loop hands it bytes as they arrive
  and httptools (the C parser uvicorn uses, llhttp) turns them into status, headers and body
  pieces at once; a read takes the pieces buffered, or waits on one future;
- the read timeout is one lazy timer per connection: a wait notes when it started, and the
  timer, when it fires, either fails that wait (nothing arrived for the whole timeout) or
  re-arms itself for the rest. Reads in a steady stream touch no timer at all;
- a request's head and body leave in one write;
- idle connections are kept per origin for ``keepalive_expiry`` seconds (HTTP/1.1
  keep-alive), and a connection the server closed is never reused.

It speaks plain HTTP/1.1 to an origin (``http`` and ``https``), which is all the Codex backend
needs; requests through a proxy keep going through httpx2's own transports
(:func:`use_fast_transport` leaves the proxy mounts httpx2 made from the environment alone).
Failures raise httpx2's exceptions: ``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
``ReadError``, ``RemoteProtocolError`` (a body cut short), ``WriteError``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx2

from llm_codex.core.deadline import within

__all__ = ["FastTransport", "headers_of", "use_fast_transport"]

#: Seconds an idle connection is kept for the next request (httpx2's default).
KEEPALIVE_EXPIRY = 5.0
#: Body bytes buffered unread before the connection stops reading from its socket (so a slow
#: consumer makes the server wait, through TCP, instead of filling our memory).
HIGH_WATER = 256 * 1024


def _direct_headers(pairs: list[tuple[bytes, bytes]]) -> httpx2.Headers:
    """``httpx2.Headers(pairs)`` for byte pairs, built without checking each pair again.

    ``Headers`` keeps ``(name, lowercased name, value)`` triples in ``_list``; a list of byte
    pairs needs no conversion, so the triples are made at once (a third of the cost, on every
    request and answer). :data:`headers_of` uses this only when a probe at import shows this
    httpx2 stores headers so; otherwise it is the public constructor.
    """
    headers = httpx2.Headers()
    headers._list = [(name, name.lower(), value) for name, value in pairs]
    return headers


def _direct_headers_work() -> bool:
    pairs = [(b"X-One", b"1"), (b"x-one", b"2"), (b"Two", b"\xc3\xa9")]
    try:
        fast, slow = _direct_headers(pairs), httpx2.Headers(pairs)
        return fast._list == slow._list and fast.raw == slow.raw and fast == slow
    except Exception:  # pragma: no cover - another httpx2
        return False


#: ``httpx2.Headers`` of a list of ``(bytes, bytes)`` pairs, the quick way where it is exact.
headers_of = _direct_headers if _direct_headers_work() else httpx2.Headers


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: parses what arrives and wakes the request waiting on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: tuple[str, str, int]) -> None:
        self.loop = loop
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.reading_paused = False
        self._waiter: asyncio.Future[None] | None = None
        # the lazy read-timeout timer
        self._timer: asyncio.TimerHandle | None = None
        self._wait_started = 0.0
        self._wait_timeout: float | None = None
        self._reset()

    def _reset(self) -> None:
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.body: list[bytes] = []
        self.buffered = 0
        self.complete = False
        self.until_eof = False
        self.keep_alive = False
        self.head_request = False
        #: Whether the answer declares a Content-Encoding / sets cookies (told by the head).
        self.encoded = False
        self.sets_cookies = False
        self.eof = False
        self.error: BaseException | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = exc
        if self.buffered > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = self.closed = True
        if exc is not None and self.error is None:
            self.error = exc
        self._cancel_timer()
        self._wake()

    # -- httptools callbacks --------------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer: the real one follows
            self.headers = []
            self.reason = b""
            return
        self.status = status
        framed = False
        for name, value in self.headers:
            lower = name.lower()
            if lower == b"content-length" or (
                lower == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                framed = True
            elif lower == b"content-encoding":
                self.encoded = True
            elif lower == b"set-cookie" or lower == b"set-cookie2":
                self.sets_cookies = True
        self.until_eof = not framed and status not in (204, 304)
        self.keep_alive = self.parser.should_keep_alive()  # only valid inside the callbacks
        self.headers_done = True
        if self.head_request:  # no body follows, whatever the headers announce; the parser
            self.complete = True  # cannot know that, so the connection is not reused
            self.until_eof = self.keep_alive = False

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.complete = True

    def take_body(self) -> bytes:
        """The body bytes buffered so far (reading resumes if it was paused for them)."""
        body = self.body
        self.body = []
        self.buffered = 0
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return body[0] if len(body) == 1 else b"".join(body)

    # -- waiting --------------------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        """Until something arrives (or the connection ends); ``httpx2.ReadTimeout`` after
        ``timeout`` seconds of nothing."""
        waiter = self.loop.create_future()
        self._waiter = waiter
        if timeout is not None:
            self._wait_started = self.loop.time()
            if self._timer is None or self._wait_timeout != timeout:
                self._cancel_timer()
                self._wait_timeout = timeout
                self._timer = self.loop.call_at(self._wait_started + timeout, self._check_idle)
        else:
            self._wait_timeout = None
        try:
            await waiter
        finally:
            self._waiter = None

    def _check_idle(self) -> None:
        self._timer = None
        waiter = self._waiter
        timeout = self._wait_timeout
        if waiter is None or waiter.done() or timeout is None:
            return  # not waiting now: the next wait arms the timer again
        due = self._wait_started + timeout
        if self.loop.time() >= due:
            waiter.set_exception(httpx2.ReadTimeout("timed out"))
        else:
            self._timer = self.loop.call_at(due, self._check_idle)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- lifecycle ----------------------------------------------------------------------------

    def reusable(self) -> bool:
        """Whether the finished exchange leaves the connection fit for another request."""
        return (
            self.complete
            and not self.until_eof
            and not self.eof
            and self.error is None
            and not self.closed
            and self.keep_alive
        )

    def close(self) -> None:
        self.closed = True
        self._cancel_timer()
        if self.transport is not None:
            self.transport.close()


class _Body(httpx2.AsyncByteStream):
    """A response body read from its connection; closing it returns the connection to the
    pool when the exchange finished cleanly, and closes it otherwise."""

    def __init__(self, pool: FastTransport, conn: _Connection, timeout: float | None) -> None:
        self._pool = pool
        self._conn = conn
        self._timeout = timeout
        self._released = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.chunks(None)

    async def chunks(self, response: httpx2.Response | None) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive.

        With ``response`` (whose stream this body is) this is ``response.aiter_bytes()`` for a
        body with nothing to decode, in one generator instead of httpx2's four: the bytes
        are counted in ``num_bytes_downloaded``, an error carries the request, and the
        response is closed when the body ends (its connection back to the pool).
        """
        conn = self._conn
        try:
            while True:
                if conn.body:
                    chunk = conn.take_body()
                    if response is not None:
                        response._num_bytes_downloaded += len(chunk)
                    yield chunk
                    continue
                if conn.complete:
                    return
                if conn.error is not None and not isinstance(conn.error, OSError):
                    raise httpx2.RemoteProtocolError(f"invalid HTTP response: {conn.error}")
                if conn.eof:
                    if conn.until_eof:
                        conn.complete = True
                        return
                    raise httpx2.RemoteProtocolError(
                        "peer closed connection without sending complete message body"
                    )
                await conn.wait(self._timeout)
        except httpx2.RequestError as exc:
            if response is not None:
                exc.request = response.request
            raise
        finally:
            if response is not None:
                await response.aclose()

    @property
    def encoded(self) -> bool:
        """Whether the answer declares a ``Content-Encoding`` (its bytes need decoding)."""
        return self._conn.encoded

    @property
    def sets_cookies(self) -> bool:
        """Whether the answer carries ``Set-Cookie`` (or ``Set-Cookie2``) headers."""
        return self._conn.sets_cookies

    async def aclose(self) -> None:
        if not self._released:
            self._released = True
            self._pool._release(self._conn)


class FastTransport(httpx2.AsyncBaseTransport):
    """HTTP/1.1 to an origin over asyncio protocols and httptools (see the module docstring)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
    ) -> None:
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._closed = False

    def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            context = httpx2.create_ssl_context()
            context.set_alpn_protocols(["http/1.1"])  # as httpx2's own stack offers it
            self._ssl_context = context
        return self._ssl_context

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx2.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'."
            )
        port = url.port or (443 if scheme == "https" else 80)
        origin = (scheme, url.host, port)
        timeouts = request.extensions.get("timeout") or {}
        content = request.content if hasattr(request, "_content") else await request.aread()
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), url.raw_path)]
        for name, value in request.headers.raw:
            head.append(b"%s: %s\r\n" % (name, value))
        head.append(b"\r\n")
        message = b"".join(head) + content

        conn = self._idle_connection(origin)
        if conn is None:
            conn = await self._connect(origin, timeouts.get("connect"), request)
        transport = conn.transport
        if transport is None or transport.is_closing():
            conn.close()
            raise httpx2.WriteError("the connection is closed", request=request)
        conn._reset()
        conn.head_request = request.method == "HEAD"
        transport.write(message)
        read_timeout = timeouts.get("read")
        try:
            while not conn.headers_done:
                if conn.error is not None and not isinstance(conn.error, OSError):
                    raise httpx2.RemoteProtocolError(
                        f"invalid HTTP response: {conn.error}", request=request
                    )
                if conn.eof:
                    raise httpx2.RemoteProtocolError(
                        "Server disconnected without sending a response.", request=request
                    )
                await conn.wait(read_timeout)
        except BaseException:
            conn.close()
            raise
        return httpx2.Response(
            conn.status,
            headers=headers_of(conn.headers),
            stream=_Body(self, conn, read_timeout),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason},
        )

    def _idle_connection(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            fresh = now - conn.idle_since < self._keepalive_expiry
            if fresh and not conn.eof and not conn.closed and conn.error is None:
                return conn
            conn.close()
        return None

    async def _connect(
        self, origin: tuple[str, str, int], timeout: float | None, request: httpx2.Request
    ) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls: dict[str, Any] = {}
        if scheme == "https":
            tls = {"ssl": self._ssl(), "server_hostname": host}
        try:
            _, conn = await within(
                timeout,
                loop.create_connection(lambda: _Connection(loop, origin), host, port, **tls),
            )
        except asyncio.TimeoutError:
            raise httpx2.ConnectTimeout("timed out", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx2.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return conn

    def _release(self, conn: _Connection) -> None:
        if self._closed or not conn.reusable():
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.setdefault(conn.origin, []).append(conn)

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def use_fast_transport(client: httpx2.AsyncClient) -> bool:
    """Make :class:`FastTransport` the main transport of ``client``.

    Proxy mounts httpx2 derived from the environment keep their own transports. Returns False
    (and changes nothing) when the client's internals are not the expected ones, so an httpx2
    upgrade degrades to the default stack instead of failing.
    """
    if not isinstance(getattr(client, "_transport", None), httpx2.AsyncHTTPTransport):
        return False
    client._transport = FastTransport()
    return True
