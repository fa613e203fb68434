"""Small helpers shared by the fake's modules: JSON replies, body parsing, a tiny PNG."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any
from urllib.parse import parse_qsl

from llm_codex.testing._http import Reply

__all__ = ["json_reply", "parse_body", "tiny_png"]


def json_reply(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
    """A JSON answer."""
    body = json.dumps(obj).encode()
    return Reply(status, [("Content-Type", "application/json"), *(headers or [])], body)


def parse_body(headers: dict[str, str], raw: bytes) -> dict[str, Any] | str | None:
    """A request body as the fake records it: form → dict, JSON → value, else text or None."""
    if not raw:
        return None
    ctype = headers.get("content-type", "").lower()
    text = raw.decode("utf-8", "replace")
    if "application/x-www-form-urlencoded" in ctype:
        return dict(parse_qsl(text, keep_blank_values=True))
    if "json" in ctype or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def tiny_png(width: int = 1, height: int = 1) -> bytes:
    """A valid PNG image (grey pixels), for image generation results and image inputs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
