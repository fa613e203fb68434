"""Re-formatting a rendered stream the way another spec-conformant server might write it.

The fake normally writes SSE exactly like the real backend (``event:`` + compact ``data:``
lines, LF, ``type`` first). Set ``fake.sse_style`` to a dict to re-write every turn's stream
with any of these variations (protocol §6.1 allows all of them):

=====================  ==========================================================================
``event_lines``        False: no ``event:`` lines (default True)
``data_space``         False: ``data:{…}`` without the space (default True)
``newline``            ``"\\r\\n"`` or ``"\\r"`` instead of ``"\\n"``
``separators``         JSON separators, e.g. ``(", ", ": ")`` (default compact)
``shuffle_keys``       True: key order shuffled at every level (``type`` no longer first)
``extra_fields``       dict merged into every event (``{"obfuscation": "…"}``)
``drop_fields``        top-level keys removed from every event (``["sequence_number"]``)
``multiline``          True: JSON pretty-printed over several ``data:`` lines
``comments``           True: a ``: keep-alive`` comment line before every event
``chunk_size``         int: bytes cut into pieces of this size, each flushed on its own
``drop_types``         event types left out (``["response.created"]``,
                       ``["response.output_item.done"]``)
``completed_output``   ``"full"``: ``response.completed`` carries every finished item in
                       ``response.output`` (as the public Responses API does)
``after_terminal``     bytes written after the terminal event (must be ignored)
``hold_open``          seconds the connection stays open after the terminal event
=====================  ==========================================================================

This module imports nothing from the client (``llm_codex.core``/``llm_codex.auth``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from typing import Any

from llm_codex.testing._http import Pause

__all__ = ["restyle"]

_TERMINAL = ("response.completed", "response.failed", "response.incomplete", "error")


def _shuffled(obj: Any, rng: random.Random) -> Any:
    if isinstance(obj, dict):
        keys = list(obj)
        rng.shuffle(keys)
        return {k: _shuffled(obj[k], rng) for k in keys}
    if isinstance(obj, list):
        return [_shuffled(v, rng) for v in obj]
    return obj


class _Styler:
    def __init__(self, style: dict[str, Any]) -> None:
        self.style = style
        self.rng = random.Random(style.get("seed", 0))  # noqa: S311 - test data only
        self.items: dict[int, dict[str, Any]] = {}
        self.newline = str(style.get("newline", "\n"))

    def frame(self, event: dict[str, Any]) -> bytes | None:
        st = self.style
        etype = event.get("type")
        if etype == "response.output_item.done" and isinstance(event.get("item"), dict):
            self.items[int(event.get("output_index", len(self.items)))] = event["item"]
        if etype in st.get("drop_types", ()):
            return None
        event = dict(event)
        if etype == "response.completed" and st.get("completed_output") == "full":
            response = dict(event.get("response") or {})
            response["output"] = [self.items[i] for i in sorted(self.items)]
            event["response"] = response
        for name in st.get("drop_fields", ()):
            if name != "type":
                event.pop(name, None)
        event.update(st.get("extra_fields", {}))
        if st.get("shuffle_keys"):
            event = _shuffled(event, self.rng)
        if st.get("multiline"):
            data_lines = json.dumps(event, indent=1, ensure_ascii=False).split("\n")
        else:
            separators = tuple(st.get("separators", (",", ":")))
            data_lines = [json.dumps(event, separators=separators, ensure_ascii=False)]
        lines: list[str] = []
        if st.get("comments"):
            lines.append(": keep-alive")
        if st.get("event_lines", True):
            lines.append(f"event: {etype}")
        prefix = "data: " if st.get("data_space", True) else "data:"
        lines.extend(prefix + line for line in data_lines)
        nl = self.newline
        return (nl.join(lines) + nl + nl).encode("utf-8", "backslashreplace")


def _frames(piece: bytes) -> Iterator[dict[str, Any] | bytes]:
    """The events of a rendered piece (raw bytes when a block is not one JSON event)."""
    for block in piece.split(b"\n\n"):
        if not block.strip():
            continue
        data = [
            line[5:].removeprefix(b" ") for line in block.split(b"\n") if line.startswith(b"data:")
        ]
        try:
            event = json.loads(b"\n".join(data))
        except ValueError:
            yield block + b"\n\n"
            continue
        yield event if isinstance(event, dict) else block + b"\n\n"


def restyle(pieces: Iterable[Any], style: dict[str, Any]) -> Iterator[Any]:
    """The stream ``pieces`` (bytes, pauses, ABORT) re-written in ``style``."""
    styler = _Styler(style)
    chunk = int(style.get("chunk_size") or 0)
    ended = False
    for piece in pieces:
        if not isinstance(piece, bytes):
            yield piece
            continue
        out: list[bytes] = []
        for event in _frames(piece):
            if isinstance(event, bytes):
                out.append(event)
                continue
            frame = styler.frame(event)
            if frame is not None:
                out.append(frame)
            if event.get("type") in _TERMINAL:
                ended = True
        data = b"".join(out)
        if chunk > 0:
            for i in range(0, len(data), chunk):
                yield data[i : i + chunk]
                yield Pause(0.0)
        elif data:
            yield data
    if ended:
        after = style.get("after_terminal")
        if after:
            yield Pause(0.0)
            yield after if isinstance(after, bytes) else str(after).encode()
        hold = float(style.get("hold_open") or 0)
        if hold > 0:
            yield Pause(hold)
