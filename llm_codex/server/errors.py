"""Core errors and local refusals -> OpenAI-shaped error JSON with the right HTTP status.

Every error the server answers has the body OpenAI clients expect::

    {"error": {"message": "...", "type": "...", "code": "...", "param": null}}

``message`` is the core error's one sentence (never a token, never a traceback). Errors that
happen after a stream started are sent in the stream instead (see :mod:`.responses` and
:mod:`.chat`), built from the same :class:`ErrorInfo`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse

from llm_codex.core import errors as core

__all__ = ["ErrorInfo", "RequestRefused", "error_info", "error_response"]


class RequestRefused(core.ConfigurationError):
    """A request this server refuses before anything is sent to the backend.

    ``status`` is the HTTP status to answer with (400 unless said otherwise), ``code`` and
    ``param`` fill the OpenAI error object.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str | None = "invalid_request",
        param: str | None = None,
        error_type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.code = code
        self.param = param
        self.error_type = error_type
        self.headers = headers or {}


@dataclass
class ErrorInfo:
    """What to answer for one error: HTTP status, OpenAI error fields and extra headers."""

    status: int
    message: str
    type: str
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The OpenAI error body ``{"error": {...}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": self.param,
            }
        }


def error_response(info: ErrorInfo, extra_headers: dict[str, str] | None = None) -> JSONResponse:
    """The HTTP answer for ``info`` (``extra_headers`` added to its own)."""
    headers = {**info.headers, **(extra_headers or {})}
    return JSONResponse(info.body(), status_code=info.status, headers=headers)


def _retry_after(seconds: float | None) -> dict[str, str]:
    if seconds is None or seconds <= 0:
        return {}
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _support_suffix(exc: core.CodexError) -> str:
    """`` (request id: …, cf-ray: …)`` when the backend gave us those, for support reports."""
    bits = []
    if exc.request_id:
        bits.append(f"request id: {exc.request_id}")
    if exc.cf_ray:
        bits.append(f"cf-ray: {exc.cf_ray}")
    return f" ({', '.join(bits)})" if bits else ""


def error_info(exc: BaseException, *, now: float | None = None) -> ErrorInfo:
    """Map any exception to the answer a client gets. Unknown exceptions become a bare 500."""
    if isinstance(exc, RequestRefused):
        return ErrorInfo(
            exc.status or 400, exc.message, exc.error_type, exc.code, exc.param, dict(exc.headers)
        )
    if not isinstance(exc, core.CodexError):
        return ErrorInfo(
            500,
            f"Internal error in the llm-codex server ({type(exc).__name__}); see its log.",
            "server_error",
            "internal_error",
        )
    message = exc.message
    if isinstance(exc, core.ConfigurationError):
        return ErrorInfo(400, message, "invalid_request_error", "invalid_request")
    # --- authentication ---------------------------------------------------------------------
    if isinstance(exc, core.NotSignedIn):
        return ErrorInfo(401, message, "authentication_error", "not_signed_in")
    if isinstance(exc, core.AuthenticationRequired):
        return ErrorInfo(401, message, "authentication_error", "authentication_required")
    if isinstance(exc, core.CredentialFileError):
        return ErrorInfo(401, message, "authentication_error", "credential_file_error")
    if isinstance(exc, core.RefreshInProgress):
        return ErrorInfo(503, message, "server_error", "refresh_in_progress", None, _retry(5))
    if isinstance(exc, core.RefreshFailed):
        return ErrorInfo(502, message, "server_error", "refresh_failed")
    if isinstance(exc, core.AuthError):
        return ErrorInfo(401, message, "authentication_error", "authentication_error")
    # --- HTTP answers from the backend ------------------------------------------------------
    suffix = _support_suffix(exc)
    if isinstance(exc, core.UsageLimitReached):
        now = time.time() if now is None else now
        wait = (exc.resets_at - now) if exc.resets_at else exc.retry_after
        return ErrorInfo(
            429, message, "rate_limit_error", "usage_limit_reached", None, _retry_after(wait)
        )
    if isinstance(exc, core.QuotaExceeded):
        return ErrorInfo(429, message + suffix, "insufficient_quota", exc.code or "quota_exceeded")
    if isinstance(exc, core.RateLimited):
        return ErrorInfo(
            429,
            message + suffix,
            "rate_limit_error",
            exc.code or "rate_limited",
            None,
            _retry_after(exc.retry_after),
        )
    if isinstance(exc, core.CloudflareBlocked):
        return ErrorInfo(502, message + suffix, "upstream_error", "cloudflare_blocked")
    if isinstance(exc, core.ModelNotSupported):
        return ErrorInfo(404, message, "invalid_request_error", "model_not_found", "model")
    if isinstance(exc, core.BadRequest):
        return ErrorInfo(400, message + suffix, "invalid_request_error", exc.code or None)
    if isinstance(exc, core.NotFound):
        return ErrorInfo(404, message + suffix, "invalid_request_error", exc.code or "not_found")
    if isinstance(exc, core.Forbidden):
        return ErrorInfo(403, message + suffix, "permission_error", exc.code or "forbidden")
    if isinstance(exc, core.ServerOverloaded):
        return ErrorInfo(
            503,
            message + suffix,
            "server_error",
            exc.code or "server_overloaded",
            None,
            _retry_after(exc.retry_after),
        )
    if isinstance(exc, core.APIError):  # ServerError and anything else from upstream
        return ErrorInfo(502, message + suffix, "upstream_error", exc.code or "upstream_error")
    # --- inside a 200 stream ----------------------------------------------------------------
    if isinstance(exc, core.ContextWindowExceeded):
        return ErrorInfo(
            400, message, "invalid_request_error", "context_length_exceeded", "messages"
        )
    if isinstance(exc, core.ResponseFailed):
        return ErrorInfo(502, message + suffix, "upstream_error", exc.code or "response_failed")
    if isinstance(exc, core.IncompleteResponse):
        return ErrorInfo(502, message, "upstream_error", "response_incomplete")
    if isinstance(exc, core.IdleTimeout):
        return ErrorInfo(504, message + suffix, "upstream_error", "upstream_timeout")
    if isinstance(exc, core.StreamError):
        return ErrorInfo(502, message + suffix, "upstream_error", "stream_error")
    if isinstance(exc, core.ConnectionFailed):
        return ErrorInfo(502, message, "upstream_error", "upstream_unreachable")
    return ErrorInfo(500, message, "server_error", "internal_error")


def _retry(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds)}
