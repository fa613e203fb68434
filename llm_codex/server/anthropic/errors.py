"""The shared error mapping (:func:`llm_codex.server.errors.error_info`) in Anthropic's envelope.

``{"type": "error", "error": {"type": "<anthropic type>", "message": "..."}}``, with the status
and headers the shared mapping chose. Two adjustments for Claude Code:

- a context window overflow (400) starts with ``prompt is too long:``, the words Claude Code
  looks for before compacting the conversation;
- a usage limit (429, ``Retry-After`` up to the reset) carries ``x-should-retry: false`` so the
  Anthropic SDKs do not retry for hours; the message names the reset time.
"""

from __future__ import annotations

from typing import Any

from llm_codex.server.errors import ErrorInfo, error_info

__all__ = ["anthropic_error", "error_type"]

_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
_TOO_LONG = "prompt is too long: "


def error_type(status: int) -> str:
    """Anthropic's error ``type`` for an HTTP status."""
    return _BY_STATUS.get(status, "api_error" if status >= 500 else "invalid_request_error")


def anthropic_error(exc_or_info: BaseException | ErrorInfo) -> tuple[int, dict[str, Any], dict]:
    """``(status, body, headers)`` for an exception (or an already mapped :class:`ErrorInfo`)."""
    info = exc_or_info if isinstance(exc_or_info, ErrorInfo) else error_info(exc_or_info)
    message = info.message
    headers = dict(info.headers)
    if info.code == "context_length_exceeded" and not message.startswith(_TOO_LONG):
        message = _TOO_LONG + message
    if info.code == "usage_limit_reached":
        headers["x-should-retry"] = "false"
    body = {"type": "error", "error": {"type": error_type(info.status), "message": message}}
    return info.status, body, headers
