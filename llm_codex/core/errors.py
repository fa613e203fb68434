"""One exception hierarchy for everything the core can meet.

Every error carries a single clear sentence in ``str(error)`` that a face can show as is (the
plugin wraps it in ``llm.ModelError``, the server in OpenAI-shaped JSON). Errors that came from an
HTTP response keep ``status``, ``request_id`` and ``cf_ray`` for support output. No error message
ever contains a token.

::

    CodexError
    ├── ConfigurationError          bad option or bad local input, caught before any request
    ├── AuthError
    │   ├── NotSignedIn             no credentials anywhere
    │   ├── CredentialFileError     a credential file we cannot use as it is (left untouched)
    │   ├── AuthenticationRequired  sign in again (second 401, permanent refresh failure)
    │   ├── RefreshFailed           transient refresh failure (network, 5xx); credentials kept
    │   ├── RefreshInProgress       another process holds the refresh lock too long
    │   ├── ForeignLogin            a stored login belongs to another issuer or backend
    │   └── LoginFailed             a login flow did not complete
    ├── APIError                    an HTTP error answer from the backend
    │   ├── BadRequest              400 / 422: ``detail`` or ``error.message`` passed through
    │   │   └── ModelNotSupported   model unknown or not allowed for ChatGPT accounts
    │   ├── NotFound                404
    │   ├── UsageLimitReached       429 usage_limit_reached (plan, resets_at); never retried
    │   ├── QuotaExceeded           usage_not_included / insufficient_quota
    │   ├── RateLimited             other 429
    │   ├── CloudflareBlocked       403 challenge page, blocked before reaching OpenAI
    │   ├── Forbidden               other 403
    │   ├── ServerOverloaded        503 server_is_overloaded / slow_down
    │   ├── ServerError             other 5xx
    │   ├── NotAnEventStream        a 200 that is a web page or otherwise not SSE
    │   └── PlanUsageError          an official-route (SIWC) answer, siwc.md §14; never retried
    │       └── PlanUsageLimitReached  the plan's or the app's usage limit; no reset time exists
    ├── ResponseFailed              ``response.failed`` inside a 200 stream
    │   └── ContextWindowExceeded   context_length_exceeded
    ├── IncompleteResponse          ``response.incomplete`` (partial result attached)
    ├── StreamError                 ``error`` event, EOF before the terminal event, idle timeout
    │   ├── StreamClosedEarly
    │   └── IdleTimeout
    └── ConnectionFailed            network failure after the retries were spent
"""

from __future__ import annotations

from typing import Any

from llm_codex.core.timefmt import describe_reset

__all__ = [
    "APIError",
    "AuthError",
    "AuthenticationRequired",
    "BadRequest",
    "CloudflareBlocked",
    "CodexError",
    "ConfigurationError",
    "ConnectionFailed",
    "ContextWindowExceeded",
    "CredentialFileError",
    "Forbidden",
    "ForeignLogin",
    "IdleTimeout",
    "IncompleteResponse",
    "LoginFailed",
    "ModelNotSupported",
    "NotAnEventStream",
    "NotFound",
    "NotSignedIn",
    "PlanUsageError",
    "PlanUsageLimitReached",
    "QuotaExceeded",
    "RateLimited",
    "RefreshFailed",
    "RefreshInProgress",
    "ResponseFailed",
    "ServerError",
    "ServerOverloaded",
    "StreamClosedEarly",
    "StreamError",
    "UsageLimitReached",
]

SIGN_IN_HINT = "run 'llm codex login'"


class CodexError(Exception):
    """Base of every llm-codex error. ``str(error)`` is one sentence fit to show a user."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        cf_ray: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.cf_ray = cf_ray


class ConfigurationError(CodexError):
    """A bad option or local input, refused before anything was sent."""


class AuthError(CodexError):
    """Something about credentials or signing in."""


class NotSignedIn(AuthError):
    """No credentials were found: neither our own login nor a Codex CLI login."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message or f"Not signed in to ChatGPT: {SIGN_IN_HINT} (or sign in with the Codex CLI)."
        )


class CredentialFileError(AuthError):
    """A credential file exists but cannot be used as it is; it is left exactly as it was."""


class AuthenticationRequired(AuthError):
    """The login can no longer be used (revoked, expired, spent): the user must sign in again."""


class RefreshFailed(AuthError):
    """A token refresh failed for a transient reason; the stored credentials were kept."""


class RefreshInProgress(AuthError):
    """Another process held the refresh lock for longer than we are willing to wait."""


class ForeignLogin(AuthError):
    """A stored login was obtained from another issuer (or for another backend) than the one
    configured now: it is not used, refreshed, revoked or modified here."""


class LoginFailed(AuthError):
    """A login flow did not complete."""


class APIError(CodexError):
    """An HTTP error answer from the backend. ``detail``/``code`` come from its body."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        body: Any = None,
        request_id: str | None = None,
        cf_ray: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id, cf_ray=cf_ray)
        self.code = code
        self.detail = detail
        self.body = body
        self.retry_after = retry_after
        #: The rate-limit snapshot parsed from the answer's ``x-codex-*`` headers, when any.
        self.rate_limits: Any = None


class BadRequest(APIError):
    """400/422: the backend refused the request; its ``detail`` is passed through."""


class ModelNotSupported(BadRequest):
    """The model is unknown, or not available when using Codex with a ChatGPT account."""


class NotFound(APIError):
    """404 from the backend."""


class UsageLimitReached(APIError):
    """The plan's usage limit is reached. Never retried. Carries the plan and the reset time."""

    def __init__(
        self,
        message: str | None = None,
        *,
        plan_type: str | None = None,
        resets_at: float | None = None,
        now: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.plan_type = plan_type
        self.resets_at = resets_at
        super().__init__(
            message or self.describe(plan_type, resets_at, now=now),
            code=kwargs.pop("code", "usage_limit_reached"),
            **kwargs,
        )

    @staticmethod
    def describe(
        plan_type: str | None, resets_at: float | None, *, now: float | None = None
    ) -> str:
        """``Usage limit reached on your ChatGPT plus plan; resets at 15:42, in 1 h 06 min.``"""
        plan = f" on your ChatGPT {plan_type} plan" if plan_type else " on your ChatGPT plan"
        if resets_at:
            return f"Usage limit reached{plan}; it {describe_reset(resets_at, now=now)}."
        return f"Usage limit reached{plan}; try again later."


class QuotaExceeded(APIError):
    """The plan does not include Codex usage, or has no quota left."""


class RateLimited(APIError):
    """A 429 that is not the plan's usage limit."""


class CloudflareBlocked(APIError):
    """Cloudflare answered with a challenge page: the request never reached OpenAI."""

    DEFAULT_MESSAGE = (
        "The request was blocked by Cloudflare before it reached OpenAI (a challenge page, "
        "HTTP 403); this happens from VPNs, cloud or datacenter networks and shared IP addresses, "
        "so try again from your usual network in a minute."
    )

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(
            message or self.DEFAULT_MESSAGE, status=kwargs.pop("status", 403), **kwargs
        )


class Forbidden(APIError):
    """A 403 that is not a Cloudflare challenge."""


class ServerOverloaded(APIError):
    """503 ``server_is_overloaded`` / ``slow_down``: not retried; try again later."""


class ServerError(APIError):
    """A 5xx answer (retried before the first event; this is raised when retries are spent)."""


class NotAnEventStream(APIError):
    """A 2xx answer to ``POST /responses`` that is not an event stream (e.g. a web page)."""


class ResponseFailed(CodexError):
    """The backend ended a 200 stream with ``response.failed``."""

    def __init__(self, message: str, *, code: str | None = None, partial: Any = None, **kw: Any):
        super().__init__(message, **kw)
        self.code = code
        self.partial = partial


class ContextWindowExceeded(ResponseFailed):
    """The conversation is longer than the model's context window."""


class IncompleteResponse(CodexError):
    """The backend ended the stream with ``response.incomplete``; ``partial`` holds what arrived."""

    def __init__(self, message: str, *, reason: str | None = None, partial: Any = None, **kw: Any):
        super().__init__(message, **kw)
        self.reason = reason
        self.partial = partial


class StreamError(CodexError):
    """The stream broke: an ``error`` event, EOF before the terminal event, or an idle timeout."""

    def __init__(self, message: str, *, partial: Any = None, **kw: Any):
        super().__init__(message, **kw)
        self.partial = partial


class StreamClosedEarly(StreamError):
    """The connection closed before ``response.completed`` arrived."""


class IdleTimeout(StreamError):
    """No event arrived for longer than the idle timeout."""


class ConnectionFailed(CodexError):
    """The backend could not be reached (after the retries were spent)."""


class PlanUsageError(APIError):
    """An answer of the official "Sign in with ChatGPT" route (siwc.md §14).

    ``code`` is the documented code (``subscription_sharing_*``, ``chatpass_*``) when there was
    one, ``param`` the request field it names. Never retried automatically, and never a reason
    to switch to the Codex route or to another account (the Terms forbid it).
    """

    def __init__(self, message: str, *, param: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.param = param


class PlanUsageLimitReached(PlanUsageError):
    """The plan's (or llm-codex's own per-app) usage limit; the docs give no reset time."""
