"""Reading JWT claims and deciding when an access token needs refreshing.

Signatures are never checked here: the server checks them. Claims are only read for display
(email, plan), for the ``ChatGPT-Account-ID`` header and for the access token's ``exp``.

Every parsing failure raises :class:`~llm_codex.core.errors.CredentialFileError` with one
sentence; callers that parse a fresh login response re-raise it as ``LoginFailed``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from llm_codex.core.errors import CredentialFileError

__all__ = [
    "FALLBACK_MAX_AGE",
    "REFRESH_WINDOW",
    "IdClaims",
    "access_token_account",
    "access_token_expiry",
    "access_token_plan",
    "format_rfc3339",
    "jwt_claims",
    "needs_refresh",
    "parse_rfc3339",
    "read_id_claims",
]

#: Refresh when the access token expires within this many seconds (protocol §A6.1).
REFRESH_WINDOW = 5 * 60
#: Without a readable ``exp``, refresh when ``last_refresh`` is older than this (protocol §A6.1).
FALLBACK_MAX_AGE = 8 * 24 * 3600

_AUTH_CLAIM = "https://api.openai.com/auth"
_PROFILE_CLAIM = "https://api.openai.com/profile"


def jwt_claims(token: object, *, what: str = "token") -> dict[str, Any]:
    """The decoded payload (second segment) of a three-part JWT, as a dict.

    Raises :class:`CredentialFileError` naming ``what`` when the value is not a JWT or its
    payload is not a JSON object. The decoding of the last few tokens is remembered (a server
    checks the same token on every request), so the result's nested values are shared: read
    them, don't change them.
    """
    claims = _decoded(token) if isinstance(token, str) and token.count(".") == 2 else False
    if claims is False:
        raise CredentialFileError(f"The {what} is not a JWT (three dot-separated parts).")
    if claims is None:
        raise CredentialFileError(f"The {what} has no readable claims.")
    return dict(claims)


@functools.lru_cache(maxsize=32)
def _decoded(token: str) -> dict[str, Any] | None:
    """The claims of a three-part token, ``None`` when its payload is not a JSON object."""
    payload = token.split(".")[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class IdClaims:
    """What we read from an id token: account id, email, plan, user id (any may be ``None``)."""

    account_id: str | None = None
    email: str | None = None
    plan_type: str | None = None
    user_id: str | None = None


def read_id_claims(id_token: object) -> IdClaims:
    """Read the account id, email, plan and user id from an id token (protocol §A4)."""
    claims = jwt_claims(id_token, what="id token")
    auth = claims.get(_AUTH_CLAIM)
    auth = auth if isinstance(auth, dict) else {}
    profile = claims.get(_PROFILE_CLAIM)
    profile = profile if isinstance(profile, dict) else {}
    plan = _str_or_none(auth.get("chatgpt_plan_type"))
    if plan == "hc":
        plan = "enterprise"
    return IdClaims(
        account_id=_str_or_none(auth.get("chatgpt_account_id")),
        email=_str_or_none(claims.get("email")) or _str_or_none(profile.get("email")),
        plan_type=plan,
        user_id=_str_or_none(auth.get("chatgpt_user_id")) or _str_or_none(auth.get("user_id")),
    )


def access_token_expiry(access_token: object) -> float | None:
    """The access token's ``exp`` (Unix seconds), or ``None`` when it cannot be read.

    Never raises: an access token that is not a JWT simply has no readable expiry.
    """
    return _expiry_of(access_token) if isinstance(access_token, str) else None


@functools.lru_cache(maxsize=32)
def _expiry_of(access_token: str) -> float | None:
    """:func:`access_token_expiry` of a string, remembered (every request checks it)."""
    try:
        claims = jwt_claims(access_token, what="access token")
    except CredentialFileError:
        return None
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    if exp != exp or exp in (float("inf"), float("-inf")):  # NaN / infinity
        return None
    return float(exp)


def access_token_account(access_token: object) -> str | None:
    """The ``chatgpt_account_id`` claim of an access token, if it has one.

    A fallback for logins whose id token and ``tokens.account_id`` both lack the account id.
    """
    try:
        claims = jwt_claims(access_token, what="access token")
    except CredentialFileError:
        return None
    auth = claims.get(_AUTH_CLAIM)
    return _str_or_none(auth.get("chatgpt_account_id")) if isinstance(auth, dict) else None


def access_token_plan(access_token: object) -> str | None:
    """The plan claim of an access token, if it has one (the CLI reads the plan from here)."""
    try:
        claims = jwt_claims(access_token, what="access token")
    except CredentialFileError:
        return None
    auth = claims.get(_AUTH_CLAIM)
    return _str_or_none(auth.get("chatgpt_plan_type")) if isinstance(auth, dict) else None


def needs_refresh(
    access_token: object, last_refresh: datetime | None, *, now: float | None = None
) -> bool:
    """Whether a proactive refresh is due (protocol §A6.1).

    Due when ``exp - now <= 5 min``; only when ``exp`` cannot be read, when ``last_refresh`` is
    older than 8 days (or unknown). Never on wall-clock age when ``exp`` is readable.
    """
    now = time.time() if now is None else now
    exp = access_token_expiry(access_token)
    if exp is not None:
        return exp - now <= REFRESH_WINDOW
    if last_refresh is None:
        return True
    return now - last_refresh.timestamp() > FALLBACK_MAX_AGE


def parse_rfc3339(value: object) -> datetime | None:
    """Parse an RFC 3339 timestamp such as ``2026-06-01T12:34:56.789Z``; ``None`` if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.10's fromisoformat accepts only 0, 3 or 6 fractional digits.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        digits = (digits + "000000")[:6]
        text = f"{head}.{digits}{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        parsed.timestamp()
    except (OverflowError, ValueError, OSError):
        return None
    return parsed


def format_rfc3339(when: float | None = None) -> str:
    """``2026-06-01T12:34:56.789123Z`` for ``when`` (default now), as the Codex CLI writes it."""
    moment = datetime.fromtimestamp(time.time() if when is None else when, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
