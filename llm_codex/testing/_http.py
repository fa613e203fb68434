"""A tiny threaded HTTP/1.1 server for the fake backend, built on the standard library.

Why not uvicorn: a fake is started and stopped once per test, so start-up and shut-down must be
instant and must not leak threads. This server binds ``127.0.0.1:0`` synchronously, accepts in
one thread woken through a socket pair on :meth:`HTTPServer.stop`, serves each connection in its
own thread (keep-alive supported), and on stop shuts every open connection down so blocked
handler threads return at once; then it joins them.

The application is a callable ``app(request) -> Reply``. A reply either has a complete ``body``
(sent with ``Content-Length``) or a ``stream``: an iterable of ``bytes`` pieces, :class:`Pause`
markers (wait, interruptibly) and the :data:`ABORT` marker (close the socket at once, without the
terminating chunk, as a dropped connection looks to a client). Streams are sent with
``Transfer-Encoding: chunked``; consecutive pieces are gathered into chunks of up to 64 KiB so a
20,000-delta stream costs a few dozen ``send`` calls.
"""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

__all__ = ["ABORT", "HTTPRequest", "HTTPServer", "Pause", "Reply"]

_CHUNK_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Pause:
    """In a stream: flush what was gathered, then wait ``seconds`` (cut short by stop())."""

    seconds: float


class _Abort:
    def __repr__(self) -> str:
        return "ABORT"


#: In a stream: flush, then close the connection abruptly (no terminating chunk).
ABORT = _Abort()


@dataclass
class HTTPRequest:
    """One parsed request. ``headers`` has lower-case names; ``query`` keeps the last value."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """What the application answers: status, headers, and a body or a stream."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: Iterable[bytes | Pause | _Abort] | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-codex"
    sys_version = ""
    server: _ServerState  # type: ignore[assignment]

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default stderr access log."""

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        try:
            self._dispatch()
        except (OSError, ValueError):
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        request = HTTPRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            reply = self.server.app(request)
        except Exception as exc:  # a bug in the fake: answer 500 rather than hang the client
            import traceback

            traceback.print_exc()
            msg = f"fake backend error: {exc!r}".encode()
            reply = Reply(500, [("Content-Type", "text/plain")], msg)
        if reply.stream is None:
            self._send_head(reply, length=len(reply.body))
            if self.command != "HEAD" and reply.body:
                self.wfile.write(reply.body)
            return
        self._send_head(reply, length=None)
        self._send_stream(reply.stream)

    def _send_head(self, reply: Reply, *, length: int | None) -> None:
        lines = [f"HTTP/1.1 {reply.status} {_reason(reply.status)}\r\n"]
        names = set()
        for name, value in reply.headers:
            names.add(name.lower())
            lines.append(f"{name}: {value}\r\n")
        if "date" not in names:
            lines.append(f"Date: {self.date_time_string()}\r\n")
        if length is None:
            lines.append("Transfer-Encoding: chunked\r\n")
        else:
            lines.append(f"Content-Length: {length}\r\n")
        if "connection" in names and any(
            n.lower() == "connection" and v.lower() == "close" for n, v in reply.headers
        ):
            self.close_connection = True
        lines.append("\r\n")
        self.wfile.write("".join(lines).encode("latin-1"))

    def _send_stream(self, stream: Iterable[bytes | Pause | _Abort]) -> None:
        pending: list[bytes] = []
        size = 0

        def flush() -> None:
            nonlocal size
            if size:
                data = b"".join(pending)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                pending.clear()
                size = 0

        for piece in stream:
            if isinstance(piece, bytes):
                if piece:
                    pending.append(piece)
                    size += len(piece)
                    if size >= _CHUNK_LIMIT:
                        flush()
            elif isinstance(piece, Pause):
                flush()
                if self.server.stopping.wait(piece.seconds):
                    self.close_connection = True
                    return
            elif piece is ABORT:
                flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
        flush()
        self.wfile.write(b"0\r\n\r\n")


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _ServerState:
    """What handlers see as ``self.server``."""

    def __init__(self, app: Callable[[HTTPRequest], Reply]) -> None:
        self.app = app
        self.stopping = threading.Event()


class HTTPServer:
    """Serve ``app`` on ``host`` (default 127.0.0.1) and a free port until :meth:`stop`."""

    def __init__(
        self, app: Callable[[HTTPRequest], Reply], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._state = _ServerState(app)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if port:
                self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((host, port))
            self._listener.listen(128)
        except OSError:
            self._listener.close()
            raise
        self._listener.setblocking(False)
        self.host, self.port = self._listener.getsockname()[:2]
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._threads: list[threading.Thread] = []  # every live connection thread, for stop()
        #: TCP connections accepted so far (tests of connection reuse read it).
        self.accepted = 0
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"fake-codex-accept-{self.port}", daemon=True
        )
        self._thread.start()

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._state.stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        conn, addr = self._listener.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        return
                    conn.setblocking(True)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    thread = threading.Thread(
                        target=self._serve_connection,
                        args=(conn, addr),
                        name=f"fake-codex-conn-{self.port}",
                        daemon=True,
                    )
                    with self._lock:
                        if self._state.stopping.is_set():
                            conn.close()
                            return
                        self._connections[conn] = thread
                        self.accepted += 1
                        self._threads = [t for t in self._threads if t.is_alive()]
                        self._threads.append(thread)
                    thread.start()

    def _serve_connection(self, conn: socket.socket, addr: tuple) -> None:
        try:
            _Handler(conn, addr, self._state)  # type: ignore[arg-type]
        except OSError:
            pass
        finally:
            with self._lock:
                self._connections.pop(conn, None)
            try:
                conn.close()
            except OSError:
                pass

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop accepting, cut every open connection, and join all server threads."""
        if self._state.stopping.is_set():
            return
        self._state.stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(timeout)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:
            open_connections = list(self._connections)
            threads = list(self._threads)
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join(timeout)
