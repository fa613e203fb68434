"""The async client's network layer: httpx2 over plain asyncio protocols.

httpx2's async stack reads through anyio by default, and every read pays for it: a cancel
scope and a timer armed and disarmed for the read timeout, the async library looked up, and
the socket registered with and removed from epoll around each ``recv``. A streamed turn is
hundreds of small reads, so that is most of what a streaming relay spends. This module gives
httpx2 (through httpcore2's ``network_backend`` seam) a backend built on an
:class:`asyncio.Protocol` instead:

- the event loop pushes bytes into a buffer as they arrive (``data_received``); a read takes
  what is buffered, or waits on one future; the socket stays registered for the connection's
  life;
- the read timeout is one lazy timer per connection: a read that has to wait notes when it
  started, and the timer, when it fires, either fails that read (nothing arrived for the whole
  timeout) or re-arms itself for the rest. Reads in a steady stream touch no timer at all;
- writes made back to back (httpcore writes a request's headers and its body separately) go
  out as one ``transport.write``, flushed before the next read or on the next loop turn, so
  a small request leaves in one packet;
- TLS through ``loop.start_tls``; errors are httpcore2's (``ReadTimeout``, ``ReadError``,
  ``ConnectError``…), which httpx2 maps to its own exceptions as usual.

Pools, proxies (from the environment too), redirects and HTTP semantics stay httpx2's:
:func:`use_protocol_backend` only swaps the network backend of a client's connection pools.
Works the same under uvloop and the standard loop.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2

__all__ = ["ProtocolBackend", "ProtocolStream", "use_protocol_backend"]


class _Connection(asyncio.Protocol):
    """Buffers what the loop receives for one connection and wakes the reader waiting on it."""

    __slots__ = (
        "_drain",
        "_waiter",
        "buffer",
        "eof",
        "error",
        "loop",
        "paused",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer: list[bytes] = []
        self.eof = False
        self.error: BaseException | None = None
        self.paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer.append(data)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None and self.error is None:
            self.error = exc
        self._wake()
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        drain = self._drain
        self._drain = None
        if drain is not None and not drain.done():
            drain.set_result(None)

    # -- for the stream -----------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def wait_readable(self) -> asyncio.Future[None]:
        waiter = self.loop.create_future()
        self._waiter = waiter
        return waiter

    def wait_drained(self) -> asyncio.Future[None]:
        if self._drain is None or self._drain.done():
            self._drain = self.loop.create_future()
        return self._drain


class ProtocolStream(httpcore2.AsyncNetworkStream):
    """One connection as httpcore2 sees it: ``read``/``write``/``aclose``/``start_tls``."""

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self._loop = conn.loop
        self._out: list[bytes] = []
        self._flush_scheduled = False
        # The lazy read-timeout timer (see the module docstring).
        self._timer: asyncio.TimerHandle | None = None
        self._wait_started = 0.0
        self._wait_timeout: float | None = None
        self._waiting: asyncio.Future[None] | None = None

    # -- reading ------------------------------------------------------------------------------

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        conn = self._conn
        if self._out:
            self._flush()
        while not conn.buffer:
            if conn.error is not None:
                raise httpcore2.ReadError(str(conn.error) or type(conn.error).__name__)
            if conn.eof:
                return b""
            waiter = conn.wait_readable()
            if timeout is not None:
                self._arm(waiter, timeout)
            try:
                await waiter
            finally:
                self._waiting = None
        buffer = conn.buffer
        data = buffer[0] if len(buffer) == 1 else b"".join(buffer)
        if len(data) > max_bytes:
            conn.buffer = [data[max_bytes:]]
            return data[:max_bytes]
        conn.buffer = []
        return data

    def _arm(self, waiter: asyncio.Future[None], timeout: float) -> None:
        self._waiting = waiter
        self._wait_started = self._loop.time()
        if self._timer is None or self._wait_timeout != timeout:
            if self._timer is not None:
                self._timer.cancel()
            self._wait_timeout = timeout
            self._timer = self._loop.call_at(self._wait_started + timeout, self._check_idle)

    def _check_idle(self) -> None:
        self._timer = None
        waiter = self._waiting
        timeout = self._wait_timeout
        if waiter is None or waiter.done() or timeout is None:
            return  # not waiting now: the next wait arms the timer again
        due = self._wait_started + timeout
        if self._loop.time() >= due:
            waiter.set_exception(httpcore2.ReadTimeout("timed out"))
        else:
            self._timer = self._loop.call_at(due, self._check_idle)

    # -- writing ------------------------------------------------------------------------------

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        conn = self._conn
        if conn.error is not None or conn.transport is None or conn.transport.is_closing():
            raise httpcore2.WriteError("the connection is closed")
        self._out.append(bytes(buffer))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        if conn.paused:
            self._flush()
            try:
                await asyncio.wait_for(asyncio.shield(conn.wait_drained()), timeout)
            except asyncio.TimeoutError:
                raise httpcore2.WriteTimeout("timed out") from None
            if conn.error is not None:
                raise httpcore2.WriteError(str(conn.error))

    def _flush(self) -> None:
        self._flush_scheduled = False
        out = self._out
        if not out:
            return
        self._out = []
        transport = self._conn.transport
        if transport is not None and not transport.is_closing():
            transport.write(out[0] if len(out) == 1 else b"".join(out))

    # -- the rest -----------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._out = []
        transport = self._conn.transport
        if transport is not None:
            transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        self._flush()
        conn = self._conn
        try:
            transport = await asyncio.wait_for(
                self._loop.start_tls(
                    conn.transport,  # type: ignore[arg-type]
                    conn,
                    ssl_context,
                    server_hostname=server_hostname,
                ),
                timeout,
            )
        except asyncio.TimeoutError:
            await self.aclose()
            raise httpcore2.ConnectTimeout("TLS handshake timed out") from None
        except (OSError, ssl.SSLError) as exc:
            await self.aclose()
            raise httpcore2.ConnectError(str(exc) or type(exc).__name__) from exc
        conn.transport = transport  # type: ignore[assignment]
        return ProtocolStream(conn)

    def get_extra_info(self, info: str) -> Any:
        transport = self._conn.transport
        if info == "is_readable":
            conn = self._conn
            return bool(conn.buffer) or conn.eof or transport is None or transport.is_closing()
        if transport is None:
            return None
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        return None


class ProtocolBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's network backend over asyncio protocols (asyncio and uvloop loops)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        conn = await self._connect(
            loop.create_connection(lambda: _Connection(loop), host, port, local_addr=local),
            timeout,
        )
        sock = conn.transport.get_extra_info("socket") if conn.transport else None
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for option in socket_options or ():
                    sock.setsockopt(*option)
            except OSError:
                pass
        return ProtocolStream(conn)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        conn = await self._connect(
            loop.create_unix_connection(lambda: _Connection(loop), path), timeout
        )
        return ProtocolStream(conn)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    @staticmethod
    async def _connect(opening: Any, timeout: float | None) -> _Connection:
        try:
            _, conn = await asyncio.wait_for(opening, timeout)
        except asyncio.TimeoutError:
            raise httpcore2.ConnectTimeout("timed out") from None
        except OSError as exc:
            raise httpcore2.ConnectError(str(exc) or type(exc).__name__) from exc
        return conn


def use_protocol_backend(client: Any) -> bool:
    """Put :class:`ProtocolBackend` under every connection pool of an ``httpx2.AsyncClient``.

    Covers the main transport and the proxy mounts httpx2 made from the environment. Returns
    False (and changes nothing) when the client's internals are not the expected ones, so an
    httpx2 upgrade degrades to the default backend instead of failing.
    """
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    pools = [getattr(t, "_pool", None) for t in transports if t is not None]
    if not pools or not all(hasattr(p, "_network_backend") for p in pools):
        return False
    backend = ProtocolBackend()
    for pool in pools:
        pool._network_backend = backend
    return True
