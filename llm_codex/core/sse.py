"""An incremental Server-Sent-Events decoder that works one network read at a time.

:meth:`SSEDecoder.feed` takes whatever text one read produced and returns the ``data`` payloads
of the events that read completed, in order; the incomplete tail waits for the next read. Only
``data`` matters to us (protocol §6.1: the ``event:`` line repeats the JSON ``type``), so ``event``,
``id``, ``retry`` and comment lines are dropped. An event's several ``data`` lines are joined
with ``\\n`` as the SSE standard says. At the end of the stream :meth:`SSEDecoder.flush` hands
over a last event that lacks its closing blank line (the reader skips it unless it is whole JSON).
Memory is bounded by the largest single event: nothing but the unfinished tail is kept, as the
list of reads it came in; the work is linear in the event's size however many reads carry it.

This is the only module that knows the SSE wire format, which the server writes with
:func:`encode_event`. A reader that wants many payloads at once without a call per event
asks :func:`locate_run` for the bounds of a run of alike events, which it then confirms.
"""

from __future__ import annotations

import codecs
import json
from typing import Any, NamedTuple

__all__ = [
    "Run",
    "SSEDecoder",
    "Utf8Decoder",
    "encode_event",
    "locate_run",
    "parse_events",
]


class Utf8Decoder:
    """Incremental UTF-8 decoding of network reads (a character may straddle two reads).

    A read that is complete UTF-8 on its own (nearly all of them) is decoded in one call; the
    incremental decoder takes over only around a split character or invalid bytes, which are
    replaced rather than raised.
    """

    __slots__ = ("_incremental", "_pending")

    def __init__(self) -> None:
        self._incremental = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = False

    def decode(self, data: bytes, final: bool = False) -> str:
        """Text for ``data``; an incomplete trailing character is kept for the next call."""
        if not self._pending:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                pass
        text = self._incremental.decode(data, final)
        self._pending = bool(self._incremental.getstate()[0])
        return text


class SSEDecoder:
    """Splits an event stream into the ``data`` payloads of its events, read by read."""

    __slots__ = ("_parts", "_pending", "_trailing_cr")

    def __init__(self) -> None:
        self._parts: list[str] = []  # the reads of the unfinished event, not yet joined
        self._pending = 0
        self._trailing_cr = False

    def feed(self, text: str) -> list[str]:
        """Payloads of the events completed by ``text`` (possibly none), in stream order."""
        return parse_events(self.feed_text(text))

    def feed_text(self, text: str) -> str:
        """The text of the events completed by ``text``: whole events, blank lines between.

        The result ends with the last complete event's final line break (or is empty); hand
        it to :func:`parse_events`, or to a reader that scans many events at once. Only the
        new text is searched for the end of an event and the unfinished tail is joined only
        once it is complete, so an event spread over many reads costs time linear in its size.
        """
        if self._trailing_cr or "\r" in text:
            text = self._normalise_newlines(text)
        if not text:
            return ""
        parts = self._parts
        end = text.rfind("\n\n")
        if end >= 0:
            done = text[: end + 1]
            rest = text[end + 2 :]
        elif parts and text[0] == "\n" and parts[-1][-1] == "\n":  # a blank line across reads
            done = ""
            rest = text[1:]
        else:
            parts.append(text)
            self._pending += len(text)
            return ""
        if parts:
            parts.append(done)
            done = "".join(parts)
            parts.clear()
        if rest:
            parts.append(rest)
        self._pending = len(rest)
        return done

    def flush(self) -> list[str]:
        """End of stream: the payload of a last event that lacks its closing blank line.

        The SSE standard discards such an event; we hand it over instead (be liberal: some
        servers close the connection right after the last ``data:`` line). A payload cut off
        mid-JSON is then simply not valid JSON, which the reader skips.
        """
        return parse_events(self.flush_text())

    def flush_text(self) -> str:
        """End of stream, for the bulk reader: like :meth:`flush`, as event text."""
        self._trailing_cr = False
        tail = "".join(self._parts)
        self._parts.clear()
        self._pending = 0
        if not tail.strip():
            return ""
        return tail.rstrip("\n") + "\n\n"

    @property
    def pending(self) -> int:
        """Characters buffered for the event in progress."""
        return self._pending

    def _normalise_newlines(self, text: str) -> str:
        # A read ending in CR ends its line at once (a CR-only server must not have its last
        # event held back until more bytes come); an LF opening the next read is then the
        # second half of that CRLF and is skipped, as the SSE parsing rules say.
        if self._trailing_cr:
            self._trailing_cr = False
            if text.startswith("\n"):
                text = text[1:]
        if "\r" in text:
            self._trailing_cr = text.endswith("\r")
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text


class Run(NamedTuple):
    """The bounds of a candidate run of alike events, from :func:`locate_run`.

    ``text[:start]`` and ``text[stop + 1:]`` are whole events; the run's first payload begins
    at ``first`` and its last payload ends at ``stop`` (a line break follows). ``joint`` is what
    separates two payloads when every event is written like the first one: a blank line, the
    first event's lines before its data line (an ``event:`` name, say), then ``data: ``.

    The SSE rule a reader relies on: when ``text[first:stop] == joint.join(payloads)`` and no
    payload holds a line break, the events from ``start`` to ``stop`` are exactly ``payloads``,
    in order, each the only data line of its event.
    """

    start: int
    first: int
    stop: int
    joint: str


def locate_run(text: str, prefix: str) -> Run | None:
    """Where the events of ``text`` whose payload starts with ``prefix`` would lie, if they
    all were written like the first one (see :class:`Run`), found without scanning the run.

    ``text`` is whole events, as :meth:`SSEDecoder.feed_text` returns them. None when no
    payload starts with ``prefix`` (at the start of a line), when the first such event has
    another data line before it, or when the last one has lines after its data line. Nothing
    between the first and the last payload is looked at: the reader confirms the run (for
    instance by rebuilding it and comparing).
    """
    line = "data: " + prefix
    first = text.find(line)
    if first < 0 or (first and text[first - 1] != "\n"):
        return None
    start = text.rfind("\n\n", 0, first)
    start = 0 if start < 0 else start + 2
    head = text[start:first]
    if head.startswith("data") or "\ndata" in head:
        return None
    stop = text.find("\n", text.rfind(line))
    if stop < 0 or (stop + 1 < len(text) and text[stop + 1] != "\n"):
        return None
    return Run(start, first + 6, stop, "\n\n" + head + "data: ")


def parse_events(text: str) -> list[str]:
    """The ``data`` payloads of ``text`` made of whole events (as from ``feed_text``)."""
    payloads: list[str] = []
    if not text:
        return payloads
    data: list[str] | None = None
    for line in text.split("\n"):
        if not line:
            if data is not None:
                payloads.append(data[0] if len(data) == 1 else "\n".join(data))
                data = None
        elif line.startswith("data"):
            if line.startswith("data: "):
                value = line[6:]
            elif line.startswith("data:"):
                value = line[5:]
            elif line == "data":
                value = ""
            else:  # a field such as "database:", not ours
                continue
            if data is None:
                data = [value]
            else:
                data.append(value)
    if data is not None:
        payloads.append(data[0] if len(data) == 1 else "\n".join(data))
    return payloads


#: ``json.dumps(data, separators=(",", ":"))`` without building an encoder per call (dumps
#: builds one just like it whenever an argument is not the default; ``encode`` keeps no state).
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


def encode_event(data: Any, *, event: str | None = None) -> bytes:
    """One SSE frame: an optional ``event:`` line, one ``data:`` line (compact JSON unless a
    string), a blank line."""
    payload = data if isinstance(data, str) else _compact_json(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()
