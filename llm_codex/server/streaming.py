"""The streaming hot path every endpoint shares: one upstream read in, one ASGI write out.

A streamed turn is hundreds of small upstream reads, so what the server does per read is what
it costs. Three pieces keep that small, and every streaming face (chat completions,
Responses, and the Anthropic and Ollama translators) is built from them:

- :class:`FrameTemplate`: a frame whose bytes are fixed except for a few slots, serialised
  once per stream; a text delta then costs one C-level JSON string escape and a join, not a
  dict, a ``json.dumps`` and an f-string per delta. The bytes are exactly those the slow path
  writes (same key order, same escaping), so a client cannot tell the two apart.
- :class:`StreamEncoder`: what the relay needs of a face's encoder (the bytes of the head,
  of one upstream read's events, of a failure, of the tail). :class:`FrameEncoder` is the
  usual base: a face implements the semantic layer (``start``/``feed``/``fail`` returning
  frame objects, ``frame`` to serialise one), plus ``fast`` for the events that dominate a
  stream. A face that builds its bytes itself (the Anthropic encoder) implements the
  protocol directly.
- :class:`EventStreamResponse`: an ASGI response that relays the core's batches
  (:meth:`~llm_codex.core.client.AsyncCodexClient.stream_batches`, one list of events per
  network read) with one ``http.response.body`` message per batch, the head frames with the
  first, the terminal frames in the last. No Starlette ``StreamingResponse``: no anyio task
  group per request, no per-chunk re-encoding. A client that hangs up cancels the relay at
  once (one watcher task per request), which closes the upstream stream. After the last
  byte is sent the upstream stream is read to its end (the core drains it briefly), so its
  connection goes back to the pool for the next turn. Optionally a ``ping`` frame is written
  whenever nothing was written for ``ping_interval`` seconds (long silent reasoning).

Guarantees kept by construction: the frames are well-formed SSE (or NDJSON for a face whose
``frame`` says so); a failure at any point ends the stream with the face's error frames,
never a traceback; ``finished`` tells the relay the terminal frames are out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from llm_codex.core import errors as core_errors
from llm_codex.core.sse import encode_event
from llm_codex.core.types import CodexResult, Completed, StreamEvent
from llm_codex.server.disconnect import disconnected

__all__ = [
    "DIRECT_SEND",
    "EventStreamResponse",
    "FrameEncoder",
    "FrameTemplate",
    "StreamEncoder",
    "collect_turn",
    "json_string",
]

#: A string as a JSON string literal, exactly as ``json.dumps`` writes it (C implementation).
json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]

_SLOT = "\x00slot{}\x00"

#: The scope key under which the app keeps the ``send`` it was given, before its own layers.
#: Every layer of the app (the error and exception middleware, the access log, CORS) looks
#: only at ``http.response.start`` and at the first body bytes (status, time to first byte)
#: and passes later body messages on unchanged, so a stream sends those directly: hundreds of
#: writes per turn, each through four wrappers that do nothing for it. A layer added to the
#: app that changes body messages must drop this key from the scope.
DIRECT_SEND = "llm_codex.direct_send"
_logger = logging.getLogger("llm_codex.server")


class FrameTemplate:
    """The bytes of one frame with holes: ``FrameTemplate(render)`` calls ``render(*slots)``
    once with placeholder strings and keeps the bytes around them; :meth:`fill` puts the
    JSON text of each value (see :meth:`text` and :meth:`number`) back in its hole.

    ``render`` must place each placeholder exactly once, as a JSON string value.
    """

    __slots__ = ("_parts",)

    def __init__(self, render: Callable[..., bytes], slots: int = 1) -> None:
        names = [_SLOT.format(n) for n in range(slots)]
        frame = render(*names)
        parts: list[bytes] = []
        for name in names:
            marker = json_string(name).encode()
            before, found, frame = frame.partition(marker)
            if not found:
                raise ValueError("the template does not hold every slot exactly once")
            parts.append(before)
        parts.append(frame)
        self._parts = tuple(parts)

    @staticmethod
    def text(value: str) -> bytes:
        """A slot value: ``value`` as a JSON string."""
        return json_string(value).encode()

    @staticmethod
    def number(value: int) -> bytes:
        """A slot value: an integer."""
        return b"%d" % value

    def partial(self, *values: bytes) -> FrameTemplate:
        """The template with its first holes filled by ``values`` (JSON text, in slot order):
        what stays the same for a whole stream (an id, a timestamp) is filled once."""
        parts = self._parts
        if len(values) >= len(parts) - 1:
            raise ValueError("a partial template keeps at least one slot")
        head = parts[0]
        for n, value in enumerate(values, 1):
            head += value + parts[n]
        template = FrameTemplate.__new__(FrameTemplate)
        template._parts = (head, *parts[len(values) + 1 :])
        return template

    def fill(self, *values: bytes) -> bytes:
        """The frame with its holes filled by ``values`` (JSON text, in slot order)."""
        parts = self._parts
        if len(values) == 1:
            return parts[0] + values[0] + parts[1]
        if len(values) == 2 and len(parts) == 3:  # a Responses text delta: number and text
            return b"".join((parts[0], values[0], parts[1], values[1], parts[2]))
        out = [parts[0]]
        for value, part in zip(values, parts[1:], strict=True):
            out.append(value)
            out.append(part)
        return b"".join(out)


class StreamEncoder(Protocol):
    """What :class:`EventStreamResponse` needs of an encoder."""

    #: True once the terminal frames were produced (the relay then ends the body).
    finished: bool

    def head_bytes(self) -> bytes: ...

    def encode(self, events: list[StreamEvent]) -> bytes: ...

    def failure_bytes(self, exc: BaseException) -> bytes: ...

    def tail(self) -> bytes: ...

    @property
    def result(self) -> Any: ...

    @property
    def usage(self) -> Any: ...


class FrameEncoder:
    """Core stream events -> the bytes of one face's stream. Subclasses implement:

    - ``start()``: the frame objects that open the stream;
    - ``feed(event)``: the frame objects one core event turns into (often none);
    - ``fail(exc)``: the frame objects that end a broken stream;
    - ``frame(obj)``: one frame object as bytes (SSE by default);
    - ``fast(event)`` (optional): the bytes of a hot event (a text delta) straight from a
      :class:`FrameTemplate`, or None to take the ``feed`` path;
    - ``tail()`` (optional): bytes after the terminal frames (``data: [DONE]``…).

    They set :attr:`finished` once their terminal frames were produced. :attr:`result` is the
    core's :class:`~llm_codex.core.types.CodexResult` once :class:`Completed` went through.
    """

    finished: bool = False
    result: Any = None

    def start(self) -> list[Any]:
        return []

    def feed(self, event: StreamEvent) -> list[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fail(self, exc: BaseException) -> list[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def frame(self, obj: Any) -> bytes:
        return encode_event(obj)

    def fast(self, event: StreamEvent) -> bytes | None:
        return None

    def tail(self) -> bytes:
        return b""

    # -- bytes --------------------------------------------------------------------------------

    def head_bytes(self) -> bytes:
        """The opening frames."""
        frame = self.frame
        return b"".join([frame(obj) for obj in self.start()])

    def encode(self, events: list[StreamEvent]) -> bytes:
        """The bytes of the frames the events of one upstream read turn into."""
        if len(events) == 1:
            fast = self.fast(events[0])
            if fast is not None:
                return fast
        out: list[bytes] = []
        frame = self.frame
        for event in events:
            fast = self.fast(event)
            if fast is not None:
                out.append(fast)
                continue
            if type(event) is Completed:
                self.result = event.result
            for obj in self.feed(event):
                out.append(frame(obj))
        return b"".join(out)

    def failure_bytes(self, exc: BaseException) -> bytes:
        """The frames that end a broken stream."""
        frame = self.frame
        return b"".join([frame(obj) for obj in self.fail(exc)])

    @property
    def usage(self) -> Any:
        """The turn's usage once known (for the access log)."""
        return self.result.usage if self.result is not None else None


_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class EventStreamResponse:
    """An ASGI response relaying core event batches through a :class:`FrameEncoder`.

    ``first`` is the batch already taken from ``batches`` (the handler waits for it so that
    failures before any output become a proper HTTP error status); ``on_finish`` runs once
    the last bytes are ready, before they are sent (a client acting on the end of the stream
    then finds what the turn left behind, such as a stored response); ``on_close`` runs once
    the relay is over, whatever happened (the access log's usage).
    """

    def __init__(
        self,
        encoder: StreamEncoder,
        first: list[StreamEvent] | None,
        batches: AsyncIterator[list[StreamEvent]],
        *,
        headers: dict[str, str] | None = None,
        media_type: bytes | None = None,
        on_close: Callable[[StreamEncoder], None] | None = None,
        on_finish: Callable[[StreamEncoder], None] | None = None,
        ping: bytes | None = None,
        ping_interval: float | None = None,
    ) -> None:
        self.encoder = encoder
        self.ping = ping
        self.ping_interval = ping_interval
        #: When the relay last wrote (event-loop time), for the pinger.
        self.last_write = 0.0
        self.first = first
        self.batches = batches
        raw = list(_SSE_HEADERS)
        if media_type is not None:
            raw[0] = (b"content-type", media_type)
        for name, value in (headers or {}).items():
            raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        self.raw_headers = raw
        self.on_close = on_close
        self.on_finish = on_finish

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        task = asyncio.current_task()
        state = {"ending": False, "hung_up": False}

        async def watch() -> None:
            await disconnected(receive)
            if not state["ending"] and task is not None:
                state["hung_up"] = True
                task.cancel()

        watcher = asyncio.ensure_future(watch())
        pinger = None
        if self.ping and self.ping_interval:
            pinger = self._pinging(send, state)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            last = await self._relay(send, scope.get(DIRECT_SEND) or send)
            if self.on_finish is not None:
                try:
                    self.on_finish(self.encoder)
                except Exception:  # the answer is ready: deliver it whatever happened here
                    _logger.exception("finishing a streamed turn failed")
            state["ending"] = True
            await send({"type": "http.response.body", "body": last, "more_body": False})
        except asyncio.CancelledError:
            if not state["hung_up"]:
                raise
            uncancel = getattr(task, "uncancel", None)
            if uncancel is not None:
                uncancel()
        finally:
            state["ending"] = True
            watcher.cancel()
            if pinger is not None:
                pinger.cancel()
            await self._close()

    def _pinging(self, send: Any, state: dict[str, bool]) -> asyncio.Task[None]:
        """A task writing ``ping`` after each silence of ``ping_interval`` seconds (the relay
        notes the time of each of its writes in ``last_write``)."""
        loop = asyncio.get_running_loop()
        interval = self.ping_interval or 0.0
        self.last_write = loop.time()

        async def pings() -> None:
            while True:
                await asyncio.sleep(max(0.0, self.last_write + interval - loop.time()))
                if state["ending"]:
                    return
                if loop.time() - self.last_write >= interval:
                    self.last_write = loop.time()
                    await send({"type": "http.response.body", "body": self.ping, "more_body": True})

        return loop.create_task(pings())

    async def _relay(self, send: Any, direct: Any) -> bytes:
        """Send every batch but the end; return the last bytes (terminal frames, tail).

        The first body bytes go through ``send`` (the app's layers note the time to first
        byte), the later ones through ``direct`` (see :data:`DIRECT_SEND`)."""
        encoder = self.encoder
        clock = asyncio.get_running_loop().time if self.ping and self.ping_interval else None
        body = encoder.head_bytes()
        try:
            if self.first:
                body += encoder.encode(self.first)
            if not encoder.finished:
                if body:  # the head and the first read leave at once (time to first byte)
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                    body = b""
                    send = direct
                async for batch in self.batches:
                    data = encoder.encode(batch)
                    if encoder.finished:
                        body = data
                        break
                    if data:
                        if clock is not None:
                            self.last_write = clock()
                        await send({"type": "http.response.body", "body": data, "more_body": True})
                        send = direct
                else:
                    raise core_errors.StreamClosedEarly(
                        "The backend's stream ended before the response was complete."
                    )
        except Exception as exc:  # every failure ends the stream with frames, never a traceback
            body += encoder.failure_bytes(exc)
        return body + encoder.tail()

    async def _close(self) -> None:
        """Let the upstream stream finish (connection reuse) or close it; then ``on_close``."""
        try:
            if self.encoder.finished and self.encoder.result is not None:
                async for _ in self.batches:  # nothing is left but the core's brief drain
                    pass
            await self.batches.aclose()  # type: ignore[attr-defined]
        except Exception:  # closing a broken stream must not hide the answer already sent
            _logger.debug("closing the backend stream failed", exc_info=True)
        finally:
            if self.on_close is not None:
                self.on_close(self.encoder)


async def collect_turn(
    first: list[StreamEvent],
    batches: AsyncIterator[list[StreamEvent]],
    *,
    feed: Callable[[StreamEvent], object] | None = None,
) -> tuple[CodexResult, str | None]:
    """Reads a whole turn, for a non-streamed answer (each event through ``feed`` if given).

    Returns ``(result, incomplete_reason)``: the core's result, or for a turn the backend
    truncated its partial result (complete: unfinished items rebuilt) and the reason. A stream
    that ends without a terminal event raises
    :class:`~llm_codex.core.errors.StreamClosedEarly`. The caller closes the stream.
    """
    result: CodexResult | None = None

    def take(batch: list[StreamEvent]) -> None:
        nonlocal result
        for event in batch:
            if feed is not None:
                feed(event)
            if type(event) is Completed:
                result = event.result

    try:
        take(first)
        async for batch in batches:
            take(batch)
    except core_errors.IncompleteResponse as exc:
        partial = exc.partial if isinstance(exc.partial, CodexResult) else None
        return partial or CodexResult(items=[], usage=None), exc.reason or "unknown"  # type: ignore[arg-type]
    if result is None:
        raise core_errors.StreamClosedEarly(
            "The backend's stream ended before the response was complete."
        )
    return result, None
