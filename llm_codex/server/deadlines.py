"""Deadlines for client connections, so slow or idle clients cannot hold the server.

uvicorn closes a connection idle *after* a response (``timeout_keep_alive``), but waits for
ever for the headers of a request: 64 connections sending one header byte now and then
(slowloris) all stayed open. :class:`ConnectionDeadlines` adds the missing deadline without
depending on which HTTP implementation uvicorn runs (h11, httptools…):

- :meth:`~ConnectionDeadlines.protocol` wraps uvicorn's protocol class: when a connection
  opens, or bytes arrive while no request is being answered on it, the headers of a request
  must be complete within ``header_timeout`` seconds; otherwise the client gets ``408`` and the
  connection is closed. The deadline does not move when more bytes arrive.
- :meth:`~ConnectionDeadlines.app` wraps the ASGI app to tell the protocol when a request has
  started (its headers are complete) and when its answer has ended.

The request *body* has its own overall deadline, in :func:`llm_codex.server.turns.read_json`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ConnectionDeadlines"]

_TIMEOUT_TEXT = b"The request headers did not arrive in time.\n"
_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_TIMEOUT_TEXT), _TIMEOUT_TEXT)
)


class ConnectionDeadlines:
    """The header deadline of every connection of one server."""

    def __init__(self, *, header_timeout: float) -> None:
        self.header_timeout = header_timeout
        #: peer address -> [requests started, requests being answered]
        self._connections: dict[Any, list[int]] = {}

    # -- the ASGI side --------------------------------------------------------------------------
    def app(self, app: ASGIApp) -> ASGIApp:
        """``app``, telling this object when each request starts and ends."""

        async def tracked(scope: Scope, receive: Receive, send: Send) -> None:
            state = self._connections.get(_peer_of(scope)) if scope["type"] == "http" else None
            if state is None:
                await app(scope, receive, send)
                return
            state[0] += 1
            state[1] += 1
            try:
                await app(scope, receive, send)
            finally:
                state[1] -= 1

        return tracked

    # -- the protocol side ----------------------------------------------------------------------
    def protocol(self, base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
        """A subclass of uvicorn's HTTP protocol class ``base`` with the header deadline."""
        deadlines = self

        class DeadlineProtocol(base):  # type: ignore[misc, valid-type]
            _llm_codex_timer: asyncio.TimerHandle | None = None
            _llm_codex_peer: Any = None

            def connection_made(self, transport: Any) -> None:
                self._llm_codex_peer = _peer(transport.get_extra_info("peername"))
                self._llm_codex_transport = transport
                deadlines._connections[self._llm_codex_peer] = [0, 0]
                super().connection_made(transport)
                self._llm_codex_arm()

            def data_received(self, data: bytes) -> None:
                if self._llm_codex_timer is None and self._llm_codex_state()[1] == 0:
                    self._llm_codex_arm()
                super().data_received(data)

            def connection_lost(self, exc: Exception | None) -> None:
                self._llm_codex_disarm()
                deadlines._connections.pop(self._llm_codex_peer, None)
                super().connection_lost(exc)

            def _llm_codex_state(self) -> list[int]:
                return deadlines._connections.get(self._llm_codex_peer) or [0, 0]

            def _llm_codex_arm(self) -> None:
                started = self._llm_codex_state()[0]
                loop = asyncio.get_running_loop()
                self._llm_codex_timer = loop.call_later(
                    deadlines.header_timeout, self._llm_codex_expire, started
                )

            def _llm_codex_disarm(self) -> None:
                if self._llm_codex_timer is not None:
                    self._llm_codex_timer.cancel()
                    self._llm_codex_timer = None

            def _llm_codex_expire(self, started: int) -> None:
                self._llm_codex_timer = None
                state = self._llm_codex_state()
                if state[1] or state[0] != started:  # a request arrived in time
                    return
                cycle = getattr(self, "cycle", None)  # uvicorn's own view, where it has one
                if cycle is not None and not getattr(cycle, "response_complete", True):
                    return
                transport = self._llm_codex_transport
                if not transport.is_closing():
                    transport.write(_TIMEOUT_ANSWER)
                    transport.close()

        DeadlineProtocol.__name__ = f"Deadline{base.__name__}"
        return DeadlineProtocol


def _peer(address: Any) -> Any:
    """A hashable key for a peer address (``(host, port)``; IPv6 adds two more fields)."""
    if isinstance(address, (list, tuple)):
        return tuple(address[:2])
    return address


def _peer_of(scope: Scope) -> Any:
    client = scope.get("client")
    return _peer(client) if client else None
