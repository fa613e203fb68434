"""An incremental Server-Sent-Events decoder that works one network read at a time.

:meth:`SSEDecoder.feed` takes whatever text one read produced and returns the ``data`` payloads
of the events that read completed, in order; the incomplete tail waits for the next read. Only
``data`` matters to us (spec §6.1: the ``event:`` line repeats the JSON ``type``), so ``event``,
``id``, ``retry`` and comment lines are dropped. An event's several ``data`` lines are joined
with ``\\n`` as the SSE standard says; an event cut off by the end of the stream is discarded.
Memory is bounded by the largest single event: nothing but the unfinished tail is kept.
"""

from __future__ import annotations

import codecs

__all__ = ["SSEDecoder", "Utf8Decoder", "parse_events"]


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

    __slots__ = ("_buffer", "_trailing_cr")

    def __init__(self) -> None:
        self._buffer = ""
        self._trailing_cr = False

    def feed(self, text: str) -> list[str]:
        """Payloads of the events completed by ``text`` (possibly none), in stream order."""
        return parse_events(self.feed_text(text))

    def feed_text(self, text: str) -> str:
        """The text of the events completed by ``text``: whole events, blank lines between.

        The result ends with the last complete event's final line break (or is empty); hand
        it to :func:`parse_events`, or to a reader that scans many events at once.
        """
        if self._trailing_cr or "\r" in text:
            text = self._normalise_newlines(text)
        pending = len(self._buffer)
        buffer = self._buffer + text if pending else text
        # Only the new text (and the line break just before it) can hold a new boundary.
        end = buffer.rfind("\n\n", pending - 1 if pending else 0)
        if end < 0:
            self._buffer = buffer
            return ""
        self._buffer = buffer[end + 2 :]
        return buffer[: end + 1]

    def flush(self) -> list[str]:
        """End of stream: payloads of the events a held-back final ``\\r`` completes.

        An event cut off without its blank line is discarded (SSE standard).
        """
        return parse_events(self.flush_text())

    def flush_text(self) -> str:
        """End of stream, for the bulk reader: like :meth:`flush`, as event text."""
        text = ""
        if self._trailing_cr:
            self._trailing_cr = False
            text = self.feed_text("\n")
        self._buffer = ""
        return text

    @property
    def pending(self) -> int:
        """Characters buffered for the event in progress."""
        return len(self._buffer)

    def _normalise_newlines(self, text: str) -> str:
        if self._trailing_cr:
            text = "\r" + text
            self._trailing_cr = False
        if text.endswith("\r"):
            self._trailing_cr = True
            text = text[:-1]
        return text.replace("\r\n", "\n").replace("\r", "\n")


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
