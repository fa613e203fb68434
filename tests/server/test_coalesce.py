"""The writes of one turn of the event loop leave a connection as one write."""

from __future__ import annotations

import asyncio

from llm_codex.server.coalesce import CoalescingTransport, coalescing


class _Recorder:
    """A transport that records each real write and the close."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.extra = {"peername": ("127.0.0.1", 9)}

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name, default=None):
        return self.extra.get(name, default)

    def abort(self) -> None:
        self.closed = True


def test_the_writes_of_one_turn_leave_together_in_order():
    async def run() -> _Recorder:
        real = _Recorder()
        transport = CoalescingTransport(real, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"first")
        assert real.writes == [] and transport.get_write_buffer_size() == 24
        await asyncio.sleep(0)
        transport.write(b"second")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return real

    real = asyncio.run(run())
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nfirst", b"second"]


def test_closing_writes_what_is_held_first_and_abort_drops_it():
    async def run() -> tuple[_Recorder, _Recorder]:
        loop = asyncio.get_running_loop()
        closed, aborted = _Recorder(), _Recorder()
        for real in (closed, aborted):
            transport = CoalescingTransport(real, loop)
            transport.write(b"last bytes")
            if real is closed:
                transport.close()
            else:
                transport.abort()
            assert transport.is_closing()
            assert transport.get_extra_info("peername") == ("127.0.0.1", 9)
        await asyncio.sleep(0)
        return closed, aborted

    closed, aborted = asyncio.run(run())
    assert closed.writes == [b"last bytes"] and closed.closed
    assert aborted.writes == [] and aborted.closed


def test_the_protocol_gives_uvicorn_the_coalescing_transport():
    class Base(asyncio.Protocol):
        def connection_made(self, transport) -> None:
            self.transport = transport

    async def run() -> object:
        protocol = coalescing(Base)()
        protocol.connection_made(_Recorder())
        return protocol.transport

    assert isinstance(asyncio.run(run()), CoalescingTransport)
