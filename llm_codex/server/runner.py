"""Running the app with uvicorn: in the foreground (``llm codex serve``) or in a thread (tests,
benchmarks, embedding).

Both bind the socket before reporting the URL, so port 0 works and the printed URL is real.
Shutdown is graceful: open streams get ``graceful_timeout`` seconds to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from llm_codex.server.app import create_app
from llm_codex.server.coalesce import coalescing
from llm_codex.server.deadlines import ConnectionDeadlines
from llm_codex.server.settings import ServerSettings

__all__ = [
    "BindError",
    "ServerThread",
    "base_url",
    "bind_socket",
    "configure_access_log",
    "describe_stack",
    "http_stack",
    "make_server",
    "settle_collector",
]


def http_stack() -> tuple[str, str]:
    """``(loop, http)`` for uvicorn: uvloop and httptools when installed, else the pure-Python
    asyncio loop and h11 (same behaviour, more CPU per request and per streamed chunk)."""
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    return loop, http


def describe_stack(stack: tuple[str, str]) -> str:
    """One line for the start-up message, e.g. ``HTTP stack: uvloop + httptools``."""
    loop, http = stack
    fast = loop == "uvloop" and http == "httptools"
    return f"HTTP stack: {loop} + {http}" + ("" if fast else " (pure-Python fallback)")


def base_url(host: str, port: int) -> str:
    """``http://host:port`` with IPv6 addresses bracketed."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


class BindError(OSError):
    """The server cannot listen where it was asked to; ``str()`` is one sentence saying why."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (not yet listening), or :class:`BindError` with the true
    reason: a name that does not resolve, a port in use, a privileged port, an address that is
    not this machine's."""
    where = base_url(host, port).removeprefix("http://")
    name = host.strip("[]")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise BindError(
            f"Cannot listen on {where}: the host name {host!r} does not resolve "
            f"({getattr(exc, 'strerror', None) or exc})."
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = {
            errno.EADDRINUSE: f"port {port} is already in use (try another --port, or 0)",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
            errno.EADDRNOTAVAIL: f"{name} is not an address of this machine",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        raise BindError(f"Cannot listen on {where}: {reason}.") from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """A uvicorn server that calls ``on_started(port)`` once its socket is bound, and shuts
    down in two steps: the first Ctrl+C lets open answers finish (``on_waiting(n)`` says how
    many), the second ends them at once by closing their connections; either way each answer
    ends through its normal path (upstream request closed, no traceback)."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_started: Callable[[int], None] | None,
        *,
        graceful_timeout: float,
        on_waiting: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._on_waiting = on_waiting
        self._graceful_timeout = graceful_timeout
        self.port: int | None = None

    async def shutdown(self, sockets: Any = None) -> None:
        open_answers = len(self.server_state.tasks)
        if open_answers and self._on_waiting is not None:
            self._on_waiting(open_answers)
        ender = asyncio.ensure_future(self._end_answers_when_due())
        try:
            await super().shutdown(sockets=sockets)
            if self.force_exit:  # uvicorn stops waiting at once: let the answers end cleanly
                await ender
                for _ in range(100):
                    if not self.server_state.tasks:
                        break
                    await asyncio.sleep(0.02)
                # uvicorn skips the app's shutdown then, which leaves its lifespan task to be
                # cancelled with a traceback; ours only closes the backend client: run it
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.lifespan.shutdown(), 2)
        finally:
            ender.cancel()

    async def _end_answers_when_due(self) -> None:
        """After the graceful timeout or a second Ctrl+C, close every open connection: each
        answer then sees its client gone and ends as it would for a client that hung up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._graceful_timeout
        while not self.force_exit and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        for server in self.servers:
            for sock in server.sockets:
                self.port = sock.getsockname()[1]
                break
        if self._on_started is not None and self.port is not None:
            self._on_started(self.port)


def _protocol_class(name: str) -> type:
    from uvicorn.config import HTTP_PROTOCOLS
    from uvicorn.importer import import_from_string

    return import_from_string(HTTP_PROTOCOLS[name])


def make_server(
    settings: ServerSettings,
    *,
    graceful_timeout: float = 30.0,
    on_started: Callable[[int], None] | None = None,
    on_waiting: Callable[[int], None] | None = None,
    app: Any = None,
    log_level: str = "warning",
    stack: tuple[str, str] | None = None,
) -> _Server:
    """A uvicorn server for ``settings`` (uvicorn's own access log off: we log our own), on
    ``stack`` (``(loop, http)``, default :func:`http_stack`), with the connection deadlines of
    :mod:`.deadlines`, ``settings.keep_alive_timeout``, and the writes of each turn of the
    loop joined (:mod:`.coalesce`)."""
    loop, http = stack or http_stack()
    deadlines = ConnectionDeadlines(header_timeout=settings.header_timeout)
    config = uvicorn.Config(
        deadlines.app(app if app is not None else create_app(settings)),
        host=settings.host.strip("[]"),
        port=settings.port,
        log_level=log_level,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        # the open answers are ended by _Server at graceful_timeout; uvicorn's own timeout
        # (which cancels them, logging tracebacks) is only the backstop
        timeout_graceful_shutdown=graceful_timeout + 5,
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]
        lifespan="on",
        loop=loop,
        http=deadlines.protocol(coalescing(_protocol_class(http))),
    )
    return _Server(config, on_started, graceful_timeout=graceful_timeout, on_waiting=on_waiting)


#: The garbage collector's first threshold while serving (Python's default is 700).
SERVING_GC_THRESHOLD = 7000


def settle_collector() -> None:
    """Tune the garbage collector for a long-running server, once it has started.

    Everything alive after start-up (the imported modules of llm, starlette, uvicorn…) lives
    as long as the process: :func:`gc.freeze` takes it out of the collector's walks. A turn
    allocates thousands of short-lived objects, nearly all freed by reference counting;
    a higher first threshold makes the collector run less often for them.
    """
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(SERVING_GC_THRESHOLD, second, third)


class _ClockFormatter(logging.Formatter):
    """A ``logging.Formatter`` that renders each second's time once: a busy server writes
    many lines a second, and ``formatTime`` (``localtime`` + ``strftime``) was a good part of
    each line's cost. The text depends only on the whole second, so it is the same."""

    def __init__(self, fmt: str, datefmt: str) -> None:
        super().__init__(fmt, datefmt)
        self._last: tuple[int, str | None, str] = (-1, None, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is None:  # logging's default format shows milliseconds
            return super().formatTime(record, datefmt)
        second = int(record.created)
        last_second, last_datefmt, text = self._last
        if second != last_second or datefmt != last_datefmt:
            text = super().formatTime(record, datefmt)
            self._last = (second, datefmt, text)
        return text


def configure_access_log(stream: Any = None) -> None:
    """Send the access log (one line per request) to stderr, once."""
    logger = logging.getLogger("llm_codex.server.access")
    if not any(getattr(h, "_llm_codex", False) for h in logger.handlers):
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(_ClockFormatter("%(asctime)s %(message)s", "%H:%M:%S"))
        handler._llm_codex = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class ServerThread:
    """The server on a real socket in a background thread (port 0 picks a free port).

    ::

        with ServerThread(ServerSettings(port=0)) as server:
            openai.OpenAI(base_url=server.url + "/v1", api_key="x")
    """

    def __init__(
        self,
        settings: ServerSettings | None = None,
        *,
        app: Any = None,
        stack: tuple[str, str] | None = None,
        **app_kwargs: Any,
    ) -> None:
        self.settings = settings or ServerSettings(port=0)
        if app is None:
            app = create_app(self.settings, **app_kwargs)
        self.app = app
        self._started = threading.Event()
        self.server = make_server(
            self.settings,
            app=app,
            graceful_timeout=5.0,
            on_started=lambda _: self._started.set(),
            stack=stack,
        )
        self._thread = threading.Thread(target=self.server.run, name="llm-codex-serve", daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no ``/v1``)."""
        return base_url(self.settings.host, self.server.port or 0)

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._started.wait(10):
            self.stop()
            raise RuntimeError("the llm-codex server did not start within 10 s")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
