"""One socket write per turn of the event loop, for each connection.

uvicorn writes each ASGI message to the socket at once: a response's status line and
headers in one write, its first body bytes in the next, although both are ready in the same
turn of the event loop (a stream sends its first frames right after its headers). Each write
is a system call and, on loopback, the kernel's whole delivery to the client.
:func:`coalescing` wraps uvicorn's protocol class so that the writes made during one turn
of the loop leave together, in one write, at the end of that turn: the same bytes in the
same order, moments later, in fewer system calls.

The connection's other transport calls pass through unchanged; closing it first writes what
is held, so nothing is lost or reordered.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["CoalescingTransport", "coalescing"]


class CoalescingTransport:
    """A transport holding the writes of one turn of the loop, to write them as one."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        """Hold ``data``; the first write of a turn schedules the turn's one real write."""
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)

    def flush(self) -> None:
        """Write what is held now (nothing, once the connection is closing)."""
        held = self._held
        if held:
            self._held = []
            if not self._transport.is_closing():
                self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        """Write what is held, then close the connection (it sends what it has first)."""
        self.flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:
        # any other transport call (abort, set_protocol…) acts on the real transport;
        # abort drops what is held, as it drops the transport's own buffer
        return getattr(self._transport, name)


def coalescing(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """A subclass of uvicorn's HTTP protocol class ``base`` whose connections write through
    a :class:`CoalescingTransport`."""

    class CoalescingProtocol(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(CoalescingTransport(transport, asyncio.get_running_loop()))

    CoalescingProtocol.__name__ = f"Coalescing{base.__name__}"
    return CoalescingProtocol
