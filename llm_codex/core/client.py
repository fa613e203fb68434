"""The Codex backend client: ``POST /responses`` as a stream of typed events, and GET helpers.

:class:`CodexClient` and :class:`AsyncCodexClient` are twins that share every decision
(:mod:`~llm_codex.core.request` builds the request, :mod:`~llm_codex.core.sse` and
:mod:`~llm_codex.core.events` read the stream, :mod:`~llm_codex.core.failures` maps errors,
:mod:`~llm_codex.core.retry` decides retries); only the I/O differs.

Behaviour (protocol §2, §6, §8):

- one pooled ``httpx2.Client`` per process (an ``httpx2.AsyncClient`` per event loop), created
  on first use; a client passed as ``http=`` is used instead;
- connection failures, timeouts and 5xx answers before the first event are retried, at most
  ``max_attempts`` sends in all, waiting ``200 ms · 2^(n−1)`` ± 10 % or the ``Retry-After``;
  503 "overloaded", 4xx and usage limits never are; nothing is retried once an event reached
  the caller (a broken stream then raises with the ``partial`` result attached);
- a 401 makes the credential provider re-read or refresh the login once, then the request is
  resent once; a second 401 raises :class:`~llm_codex.core.errors.AuthenticationRequired`;
- the idle timeout counts events, not bytes: no complete SSE event for ``idle_timeout``
  seconds (default 300, or ``LLM_CODEX_IDLE_TIMEOUT``) ends the attempt with
  :class:`~llm_codex.core.errors.IdleTimeout`, keep-alive comments or not;
- an error body (and a GET's body) is read for at most 10 s and 64 KiB (8 MiB for a GET's
  JSON) through :mod:`~llm_codex.core.deadline`; a 404 names its URL; a 2xx that is a web page
  or otherwise not an event stream raises :class:`~llm_codex.core.errors.NotAnEventStream`
  naming the URL;
- reading stops at ``response.completed``; the result carries the response id, usage, the
  request id and the rate-limit snapshot parsed from the response headers (unless the client
  was made with ``rate_limits=False``, as a relay that never reads it is).
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import aclosing
from typing import Any

import httpx2

from llm_codex.core import retry
from llm_codex.core.deadline import (
    ERROR_BODY_LIMIT,
    ERROR_BODY_SECONDS,
    EventIdleClock,
    aread_capped,
    completes_event,
    read_capped,
    within,
)
from llm_codex.core.errors import CodexError
from llm_codex.core.events import StreamAssembler
from llm_codex.core.exchange import StreamExchange
from llm_codex.core.failures import (
    idle_error,
    name_url,
    not_an_event_stream,
    not_json,
    refuse_web_page,
    request_ids,
    transport_error,
)
from llm_codex.core.ratelimits import parse_headers
from llm_codex.core.retry import Attempts
from llm_codex.core.route import CODEX_ROUTE, Route
from llm_codex.core.sse import SSEDecoder, Utf8Decoder
from llm_codex.core.transport import use_fast_transport
from llm_codex.core.types import (
    CodexRequest,
    CodexResult,
    Completed,
    CredentialProvider,
    Credentials,
    StreamEvent,
)

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "AsyncCodexClient",
    "CodexClient",
    "shared_async_client",
    "shared_client",
]

#: Seconds without a byte from the backend before a stream is given up (the CLI's 300 s).
DEFAULT_IDLE_TIMEOUT = 300.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_GET_TIMEOUT = 5.0

# -- pooled HTTP clients ------------------------------------------------------------------------

_lock = threading.Lock()
_sync_client: httpx2.Client | None = None
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx2.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _prepare(client: httpx2.Client | httpx2.AsyncClient) -> None:
    # Send what the Codex CLI sends: no Accept-Encoding (the backend streams plain SSE).
    client.headers.pop("accept-encoding", None)


def shared_client() -> httpx2.Client:
    """The process-wide pooled client (created on first use, thread-safe)."""
    global _sync_client
    client = _sync_client
    if client is not None and not client.is_closed:
        return client
    with _lock:
        if _sync_client is None or _sync_client.is_closed:
            _sync_client = httpx2.Client(follow_redirects=False)
            _prepare(_sync_client)
        return _sync_client


def shared_async_client() -> httpx2.AsyncClient:
    """The pooled async client of the running event loop (one per loop).

    Its requests go through :mod:`~llm_codex.core.transport` (asyncio protocols and the C
    parser httptools) rather than anyio and h11: the same HTTP, a fraction of the CPU per
    network read.
    """
    loop = asyncio.get_running_loop()
    with _lock:
        client = _async_clients.get(loop)
        if client is None or client.is_closed:
            client = httpx2.AsyncClient(follow_redirects=False)
            _prepare(client)
            use_fast_transport(client)
            _async_clients[loop] = client
        return client


# -- small shared helpers -----------------------------------------------------------------------

#: How long the rest of a finished stream is awaited so that its connection can be reused.
DRAIN_SECONDS = 0.25


async def _drain_briefly(chunks: AsyncIterator[bytes]) -> None:
    """Read what is left of a stream after ``response.completed``, for at most DRAIN_SECONDS.

    Everything the caller needs has been yielded already. A backend that ends the body right
    after the terminal event (the usual case) hands its connection back to the pool, which
    saves a new connection and TLS handshake on the server's next turn; one that keeps the
    body open longer has its connection closed, as if we had stopped reading at once.
    """

    async def rest() -> None:
        async for _ in chunks:
            pass

    try:
        await within(DRAIN_SECONDS, rest())
    except (asyncio.TimeoutError, httpx2.HTTPError):
        pass


def _env_idle_timeout() -> float:
    value = os.environ.get("LLM_CODEX_IDLE_TIMEOUT", "").strip()
    try:
        seconds = float(value) if value else DEFAULT_IDLE_TIMEOUT
    except ValueError:
        return DEFAULT_IDLE_TIMEOUT
    return seconds if seconds > 0 else DEFAULT_IDLE_TIMEOUT


def _stamp(err: CodexError, request_id: str | None, cf_ray: str | None) -> CodexError:
    if err.request_id is None:
        err.request_id = request_id
    if err.cf_ray is None:
        err.cf_ray = cf_ray
    partial = getattr(err, "partial", None)
    if isinstance(partial, CodexResult) and partial.request_id is None:
        partial.request_id = request_id
    return err


def _start_assembler(
    req: CodexRequest,
    headers: Mapping[str, str],
    *,
    request_id: str | None,
    rate_limits: bool = True,
) -> StreamAssembler:
    asm = StreamAssembler(model=headers.get("openai-model") or req.model, request_id=request_id)
    if rate_limits:
        asm.result.rate_limits = parse_headers(headers)
    return asm


#: The most a JSON resource (the catalog, the usage) may weigh; more is not JSON we want.
GET_BODY_LIMIT = 8 << 20


def _json_body(raw: bytes, status: int, headers: Mapping[str, str]) -> Any:
    import json

    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise not_json(status, headers) from None


class _BodyHead:
    """The first bytes of a 2xx body while no event has arrived, to tell what it was."""

    __slots__ = ("data", "seen_event")
    LIMIT = 8192

    def __init__(self) -> None:
        self.data = b""
        self.seen_event = False

    def keep(self, chunk: bytes) -> None:
        if not self.seen_event and len(self.data) < self.LIMIT:
            self.data += chunk[: self.LIMIT - len(self.data)]

    def refuse_non_stream(self, headers: Mapping[str, str], url: str) -> None:
        """At EOF without a single event: name what the body was instead of "dropped"."""
        err = not_an_event_stream(url, headers, self.data)
        if err is not None:
            raise err


class _TurnReader:
    """The body of one 2xx ``/responses`` answer, read by both twins: network reads in, typed
    events out.

    :meth:`feed` takes one network read and returns the events it completed (the idle clock
    counts events, not bytes, so keep-alive comments cannot hold a turn open);
    :meth:`tail` handles end of body (a last event without its blank line still counts; a body
    with no event at all is named for what it was); :meth:`check_end` raises the turn's
    failure, if any.
    """

    __slots__ = (
        "_assemble",
        "_decode",
        "_head",
        "_idle",
        "_idle_timeout",
        "_split",
        "asm",
        "decoder",
    )

    def __init__(
        self,
        req: CodexRequest,
        headers: Mapping[str, str],
        *,
        request_id: str | None,
        idle_timeout: float | None,
        rate_limits: bool = True,
    ) -> None:
        self.asm = _start_assembler(req, headers, request_id=request_id, rate_limits=rate_limits)
        self.decoder = SSEDecoder()
        self._decode = Utf8Decoder().decode
        self._split = self.decoder.feed_text
        self._assemble = self.asm.feed_text
        self._idle = EventIdleClock(idle_timeout)
        self._idle_timeout = idle_timeout
        self._head = _BodyHead()

    @property
    def done(self) -> bool:
        """Whether the turn's terminal event has arrived (reading may stop)."""
        return self.asm.done

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """The events one network read completes; raises the idle error when no event has
        arrived for longer than the idle timeout."""
        text = self._split(self._decode(chunk))
        if text and completes_event(text):
            self._idle.event()
            self._head.seen_event = True
        else:
            self._head.keep(chunk)
            if self._idle.expired():
                raise idle_error(self._idle_timeout, self.asm)
        return self._assemble(text)

    def tail(self, headers: Mapping[str, str], url: str) -> list[StreamEvent]:
        """At end of body: the events of a last unterminated event, if any; a body that held
        no event at all raises the error naming what it was instead."""
        if self.asm.done:
            return []
        events = self.asm.feed_tail(self.decoder.flush_text())
        if not events and not self._head.seen_event:
            self._head.refuse_non_stream(headers, url)
        return events

    def check_end(self) -> None:
        """Raise the turn's failure: a failed/incomplete response, or a body that ended early."""
        if self.asm.error is not None:
            raise self.asm.error
        if not self.asm.done:
            raise self.asm.eof_error()


class _ClientBase:
    def __init__(
        self,
        *,
        credentials: CredentialProvider,
        base_url: str | None = None,
        max_attempts: int = 3,
        idle_timeout: float | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        route: Route | None = None,
        rate_limits: bool = True,
    ) -> None:
        self.credentials = credentials
        #: Whether results carry the rate-limit snapshot of their response headers (a relay
        #: that never reads it skips the parse).
        self.rate_limits = rate_limits
        #: What differs between backends (body, headers, errors); the Codex route by default.
        self.route: Route = route if route is not None else CODEX_ROUTE
        self._base_url = base_url.rstrip("/") if base_url else None
        self.max_attempts = max(1, int(max_attempts))
        self._idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self._timeouts: tuple[tuple[float, float], httpx2.Timeout] | None = None

    @property
    def base_url(self) -> str:
        """The base URL (the route's, read at call time, unless one was given)."""
        return self._base_url or self.route.base_url()

    @property
    def idle_timeout(self) -> float:
        """Seconds without data before a stream is abandoned."""
        return self._idle_timeout if self._idle_timeout is not None else _env_idle_timeout()

    def _url(self, url: str) -> str:
        if url.startswith(("http://", "https://")):
            return url
        return self.base_url + "/" + url.lstrip("/")

    def _reader(
        self, req: CodexRequest, headers: Mapping[str, str], url: str, request_id: str | None
    ) -> _TurnReader:
        """The reader of a 2xx answer's stream (a web page is refused first);
        ``request_id`` is the answer's, from :func:`request_ids`."""
        refuse_web_page(headers, url)
        return _TurnReader(
            req,
            headers,
            request_id=request_id,
            idle_timeout=self.idle_timeout,
            rate_limits=self.rate_limits,
        )

    def _stream_timeout(self) -> httpx2.Timeout:
        """A turn's timeouts (the same object while the settings stay the same)."""
        key = (self.idle_timeout, self.connect_timeout)
        known = self._timeouts
        if known is None or known[0] != key:
            known = self._timeouts = (key, httpx2.Timeout(key[0], connect=key[1]))
        return known[1]


# -- sync ---------------------------------------------------------------------------------------


class CodexClient(_ClientBase):
    """Blocking client. ``stream(req)`` yields events and ends with :class:`Completed`."""

    def __init__(
        self,
        *,
        credentials: CredentialProvider,
        base_url: str | None = None,
        max_attempts: int = 3,
        idle_timeout: float | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        http: httpx2.Client | None = None,
        sleep: Callable[[float], Any] | None = None,
        route: Route | None = None,
        rate_limits: bool = True,
    ) -> None:
        super().__init__(
            credentials=credentials,
            base_url=base_url,
            max_attempts=max_attempts,
            idle_timeout=idle_timeout,
            connect_timeout=connect_timeout,
            route=route,
            rate_limits=rate_limits,
        )
        self._http = http
        self._sleep = sleep

    @property
    def http(self) -> httpx2.Client:
        """The HTTP client in use (the shared pooled one unless one was given)."""
        return self._http if self._http is not None else shared_client()

    def _pause(self, seconds: float) -> None:
        (self._sleep if self._sleep is not None else retry.sleep)(seconds)

    def stream(self, req: CodexRequest) -> Iterator[StreamEvent]:
        """Run one turn; yield its events as they arrive, :class:`Completed` last.

        Raises :mod:`~llm_codex.core.errors` exceptions only.
        """
        content, session_id = self.route.encode(req)
        url = self.base_url + "/responses"
        timeout = self._stream_timeout()
        http = self.http
        creds = self.credentials.current()
        attempts = Attempts(self.max_attempts)
        while True:
            attempts.begin()
            headers = self.route.headers(
                creds,
                session_id=session_id,
                turn_state=attempts.turn_state,
                responses_lite=req.responses_lite,
            )
            asm: StreamAssembler | None = None
            request_id = cf_ray = None
            try:
                with http.stream(
                    "POST", url, content=content, headers=headers, timeout=timeout
                ) as resp:
                    attempts.note_headers(resp.headers)
                    request_id, cf_ray = request_ids(resp.headers)
                    status = resp.status_code
                    if not 200 <= status < 300 or self.route.error_answer(resp.headers):
                        raw = read_capped(resp, seconds=ERROR_BODY_SECONDS)
                        if attempts.use_refresh(status):
                            creds = self.credentials.after_unauthorized(creds)
                            continue
                        raise name_url(self.route.http_error(status, resp.headers, raw), url)
                    reader = self._reader(req, resp.headers, url, request_id)
                    asm = reader.asm
                    feed = reader.feed
                    for chunk in resp.iter_bytes():
                        events = feed(chunk)
                        if events:
                            attempts.yielded = True
                            yield from events
                        if asm.done:
                            break
                    events = reader.tail(resp.headers, url)
                    if events:
                        attempts.yielded = True
                        yield from events
                    reader.check_end()
                    return
            except httpx2.HTTPError as exc:
                err = transport_error(exc, url=url, idle_timeout=self.idle_timeout, asm=asm)
            except CodexError as exc:
                err = exc
            _stamp(err, request_id, cf_ray)
            delay = attempts.delay_after(err) if self.route.may_retry(err) else None
            if delay is None:
                raise self.route.final_error(err)
            self._pause(delay)

    def complete(self, req: CodexRequest) -> CodexResult:
        """Run one turn to the end and return its result."""
        for event in self.stream(req):
            if isinstance(event, Completed):
                return event.result
        raise AssertionError("stream ended without Completed")  # pragma: no cover

    def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_GET_TIMEOUT,
    ) -> tuple[Any, httpx2.Headers]:
        """Authenticated ``GET`` of a JSON resource; returns ``(data, response headers)``.

        ``url`` is absolute or relative to the backend base URL. Same 401 rule, error mapping
        and retries as :meth:`stream`.
        """
        url = self._url(url)
        http = self.http
        creds = self.credentials.current()
        attempts = Attempts(self.max_attempts)
        while True:
            attempts.begin()
            request_id = cf_ray = None
            try:
                with http.stream(
                    "GET",
                    url,
                    params=params,
                    headers=self.route.get_headers(creds),
                    timeout=timeout,
                ) as resp:
                    request_id, cf_ray = request_ids(resp.headers)
                    status = resp.status_code
                    ok = 200 <= status < 300
                    raw = read_capped(
                        resp,
                        limit=GET_BODY_LIMIT if ok else ERROR_BODY_LIMIT,
                        seconds=ERROR_BODY_SECONDS,
                    )
                if not ok:
                    if attempts.use_refresh(status):
                        creds = self.credentials.after_unauthorized(creds)
                        continue
                    raise name_url(self.route.http_error(status, resp.headers, raw), url)
                return _json_body(raw, status, resp.headers), resp.headers
            except httpx2.HTTPError as exc:
                err = transport_error(exc, url=url, idle_timeout=timeout, asm=None)
            except CodexError as exc:
                err = exc
            _stamp(err, request_id, cf_ray)
            delay = attempts.delay_after(err) if self.route.may_retry(err) else None
            if delay is None:
                raise self.route.final_error(err)
            self._pause(delay)


# -- async --------------------------------------------------------------------------------------


class AsyncCodexClient(_ClientBase):
    """The async twin of :class:`CodexClient` (same behaviour, awaitable I/O)."""

    def __init__(
        self,
        *,
        credentials: CredentialProvider,
        base_url: str | None = None,
        max_attempts: int = 3,
        idle_timeout: float | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        http: httpx2.AsyncClient | None = None,
        sleep: Callable[[float], Any] | None = None,
        route: Route | None = None,
        rate_limits: bool = True,
    ) -> None:
        super().__init__(
            credentials=credentials,
            base_url=base_url,
            max_attempts=max_attempts,
            idle_timeout=idle_timeout,
            connect_timeout=connect_timeout,
            route=route,
            rate_limits=rate_limits,
        )
        self._http = http
        self._sleep = sleep

    @property
    def http(self) -> httpx2.AsyncClient:
        """The HTTP client in use (the running loop's pooled one unless one was given)."""
        return self._http if self._http is not None else shared_async_client()

    async def _pause(self, seconds: float) -> None:
        result = (self._sleep if self._sleep is not None else retry.asleep)(seconds)
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            await result

    async def _refresh(self, creds: Credentials) -> Credentials:
        return await self.credentials.aafter_unauthorized(creds)

    async def stream(self, req: CodexRequest) -> AsyncIterator[StreamEvent]:
        """Run one turn; yield its events as they arrive, :class:`Completed` last."""
        async with aclosing(self.stream_batches(req)) as batches:
            async for events in batches:
                for event in events:
                    yield event

    async def stream_batches(self, req: CodexRequest) -> AsyncIterator[list[StreamEvent]]:
        """:meth:`stream`, one non-empty list of events per network read that produced any.

        For relays (the server): what one read brought can leave in one write.
        """
        content, session_id = self.route.encode(req)
        url = self.base_url + "/responses"
        timeout = self._stream_timeout()
        http = self.http
        creds = await self.credentials.acurrent()
        attempts = Attempts(self.max_attempts)
        while True:
            attempts.begin()
            headers = self.route.headers(
                creds,
                session_id=session_id,
                turn_state=attempts.turn_state,
                responses_lite=req.responses_lite,
            )
            asm: StreamAssembler | None = None
            request_id = cf_ray = None
            try:
                exchange = StreamExchange(
                    http, "POST", url, content=content, headers=headers, timeout=timeout
                )
                async with exchange as resp:
                    attempts.note_headers(resp.headers)
                    request_id, cf_ray = request_ids(resp.headers)
                    status = resp.status_code
                    if not 200 <= status < 300 or self.route.error_answer(resp.headers):
                        raw = await aread_capped(resp, seconds=ERROR_BODY_SECONDS)
                        if attempts.use_refresh(status):
                            creds = await self._refresh(creds)
                            continue
                        raise name_url(self.route.http_error(status, resp.headers, raw), url)
                    reader = self._reader(req, resp.headers, url, request_id)
                    asm = reader.asm
                    feed = reader.feed
                    chunks = exchange.chunks()
                    async for chunk in chunks:
                        events = feed(chunk)
                        if events:
                            attempts.yielded = True
                            yield events
                        if asm.done:
                            break
                    events = reader.tail(resp.headers, url)
                    if events:
                        attempts.yielded = True
                        yield events
                    reader.check_end()
                    await _drain_briefly(chunks)
                    return
            except httpx2.HTTPError as exc:
                err = transport_error(exc, url=url, idle_timeout=self.idle_timeout, asm=asm)
            except CodexError as exc:
                err = exc
            _stamp(err, request_id, cf_ray)
            delay = attempts.delay_after(err) if self.route.may_retry(err) else None
            if delay is None:
                raise self.route.final_error(err)
            await self._pause(delay)

    async def aclose(self) -> None:
        """Close the running loop's pooled connections (e.g. on server shutdown).

        A client passed as ``http=`` belongs to the caller and is left open; the next request
        through the pool opens a fresh one.
        """
        if self._http is not None:
            return
        loop = asyncio.get_running_loop()
        with _lock:
            client = _async_clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def complete(self, req: CodexRequest) -> CodexResult:
        """Run one turn to the end and return its result."""
        async for event in self.stream(req):
            if isinstance(event, Completed):
                return event.result
        raise AssertionError("stream ended without Completed")  # pragma: no cover

    async def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_GET_TIMEOUT,
    ) -> tuple[Any, httpx2.Headers]:
        """Authenticated ``GET`` of a JSON resource; returns ``(data, response headers)``."""
        url = self._url(url)
        http = self.http
        creds = await self.credentials.acurrent()
        attempts = Attempts(self.max_attempts)
        while True:
            attempts.begin()
            request_id = cf_ray = None
            try:
                async with http.stream(
                    "GET",
                    url,
                    params=params,
                    headers=self.route.get_headers(creds),
                    timeout=timeout,
                ) as resp:
                    request_id, cf_ray = request_ids(resp.headers)
                    status = resp.status_code
                    ok = 200 <= status < 300
                    raw = await aread_capped(
                        resp,
                        limit=GET_BODY_LIMIT if ok else ERROR_BODY_LIMIT,
                        seconds=ERROR_BODY_SECONDS,
                    )
                if not ok:
                    if attempts.use_refresh(status):
                        creds = await self._refresh(creds)
                        continue
                    raise name_url(self.route.http_error(status, resp.headers, raw), url)
                return _json_body(raw, status, resp.headers), resp.headers
            except httpx2.HTTPError as exc:
                err = transport_error(exc, url=url, idle_timeout=timeout, asm=None)
            except CodexError as exc:
                err = exc
            _stamp(err, request_id, cf_ray)
            delay = attempts.delay_after(err) if self.route.may_retry(err) else None
            if delay is None:
                raise self.route.final_error(err)
            await self._pause(delay)
