"""Comparing what the sync and async twins did: a picture of events, results and requests
without the values the fake mints anew on every run."""

from __future__ import annotations

import dataclasses
from typing import Any

# Values the fake mints anew on every run (ids, encrypted reasoning, times); everything else
# must be identical.
_MINTED = frozenset(
    {
        "id",
        "call_id",
        "item_id",
        "response_id",
        "request_id",
        "encrypted_content",
        "prompt_cache_key",
        "session_id",
    }
)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key in _MINTED and inner is not None:
                out[key] = "<minted>"
            elif key == "rate_limits":  # a snapshot of the clock: only whether it is there
                out[key] = inner is not None
            else:
                out[key] = _scrub(inner)
        return out
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """A JSON-able picture of an event, result or error, without the minted values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {"kind": type(value).__name__, **dataclasses.asdict(value)}
    return _scrub(value)
