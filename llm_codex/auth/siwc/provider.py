"""The credential provider of ``chatgpt/`` models, and the official login's status.

:class:`OfficialAuth` implements :class:`llm_codex.core.types.CredentialProvider` over
``official.json``. When to refresh (siwc.md §8.4, margin 300 s):

- not within the margin of expiry: use the access token;
- within it and ``now ≥ earliest_refresh_at``: refresh first (a transient failure while the
  token is still valid is silent);
- within it, ``now < earliest_refresh_at`` and still valid: use it — an early refresh spends the
  refresh token, so it is **never** sent;
- expired and ``now < earliest_refresh_at``: one sentence naming when it can be renewed.

A refresh (:func:`refresh_official`) runs under the same discipline as the Codex route's: one
in-process lock per file and the cross-process ``official.json.lock`` held through re-read →
POST → atomic write; a rotation found under the lock is adopted; ``earliest_refresh_at`` is
checked again against the *stored* value; an unknown outcome marks the file ``possibly_spent``
(the token is never resent); a permanent refusal marks ``needs_sign_in`` and clears the refresh
token; files are never deleted. The token is bound to the issuer and API base it was issued for:
if either setting changed, it is not sent anywhere.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from llm_codex import config
from llm_codex.auth.manager import AsyncTwins
from llm_codex.auth.refresh import path_lock
from llm_codex.auth.siwc.files import (
    OfficialLogin,
    iso_now,
    read_official,
    tokens_record,
    write_official,
)
from llm_codex.auth.store import check_writable, store_lock
from llm_codex.core.errors import (
    AuthenticationRequired,
    AuthError,
    CredentialFileError,
    NotSignedIn,
    RefreshFailed,
    RefreshInProgress,
)
from llm_codex.core.types import Credentials

__all__ = [
    "ENDED",
    "NOT_SIGNED_IN",
    "PLAN_DISABLED",
    "OfficialAuth",
    "official_status",
    "refresh_official",
]

MARGIN = 300.0
LOCK_TIMEOUT = 60.0
_SIGN_IN = "run `llm codex login --official`"
NOT_SIGNED_IN = f"Not signed in for ChatGPT plan usage; {_SIGN_IN}."
PLAN_DISABLED = (
    "Signed in, but ChatGPT plan usage was not enabled. Run `llm codex login --official` again "
    "and allow it to use chatgpt/ models."
)
ENDED = f"Your ChatGPT plan sign-in has ended; {_SIGN_IN}."
SPENT = (
    "The last renewal of your ChatGPT plan sign-in did not complete, so it cannot be renewed "
    f"safely; {_SIGN_IN}."
)
NOT_ACCEPTED = f"Your ChatGPT plan sign-in was not accepted; {_SIGN_IN}."
_PERMANENT = frozenset(
    {
        "invalid_grant",
        "invalid_refresh_token",
        "token_expired",
        "refresh_token_expired",
        "refresh_token_invalidated",
        "refresh_token_reused",
    }
)


def _clock(when: float) -> str:
    return datetime.fromtimestamp(when).strftime("%H:%M")


def _due(login: OfficialLogin, now: float) -> bool:
    expires = login.expires_at
    return expires is None or expires - now <= MARGIN


def _allowed(login: OfficialLogin, now: float) -> bool:
    earliest = login.earliest_refresh_at
    return earliest is None or now >= earliest


def _expired(login: OfficialLogin, now: float) -> bool:
    expires = login.expires_at
    return expires is None or now >= expires


def _not_yet(login: OfficialLogin) -> AuthError:
    when = login.earliest_refresh_at or time.time()
    return AuthenticationRequired(
        f"Your ChatGPT plan sign-in can be renewed at {_clock(when)}; try again then."
    )


def _check_binding(login: OfficialLogin) -> None:
    """Refuse to send a token to an issuer or API other than the ones it was issued for."""
    if login.issuer and login.issuer != config.auth_base_url():
        raise AuthenticationRequired(
            f"Your ChatGPT plan sign-in was made with {login.issuer}, not "
            f"{config.auth_base_url()} (LLM_CODEX_AUTH_URL); {_SIGN_IN} to use this one."
        )
    if login.api_base and login.api_base != config.api_base_url():
        raise AuthenticationRequired(
            f"Your ChatGPT plan sign-in is for {login.api_base}, not {config.api_base_url()} "
            f"(LLM_CODEX_API_URL); {_SIGN_IN} to use this one."
        )


def _credentials(login: OfficialLogin) -> Credentials:
    return Credentials(access_token=login.access_token or "")


def _write(path: Path, data: dict[str, Any]) -> OfficialLogin:
    return write_official(data, path)


def _mark(login: OfficialLogin, **changes: Any) -> None:
    try:
        _write(login.path, login.with_token_changes(**changes))
    except CredentialFileError:
        pass


def refresh_official(
    seen: OfficialLogin, *, proactive: bool, lock_timeout: float = LOCK_TIMEOUT
) -> OfficialLogin:
    """Refresh the login ``seen`` was read from, or adopt what another process did (§8.6)."""
    from llm_codex.auth.siwc.idtoken import unverified_subject
    from llm_codex.auth.siwc.issuer import RESOURCE, post_token

    path = seen.path
    try:
        with path_lock(path), store_lock(path, timeout=lock_timeout):
            stored = read_official(path)
            if stored is None or stored.tokens is None:
                raise NotSignedIn(NOT_SIGNED_IN)
            if not stored.same_tokens(seen):
                return stored  # another process rotated meanwhile: adopt
            now = time.time()
            if proactive and not _due(stored, now):
                return stored
            if stored.needs_sign_in or not stored.refresh_token:
                raise AuthenticationRequired(ENDED)
            if stored.possibly_spent:
                raise AuthenticationRequired(SPENT)
            if not _allowed(stored, now):
                raise _not_yet(stored)
            _check_binding(stored)
            check_writable(path)
            outcome = post_token(
                {
                    "grant_type": "refresh_token",
                    "client_id": stored.client_id or "",
                    "refresh_token": stored.refresh_token,
                    "resource": RESOURCE,
                }
            )
            if outcome.kind == "ok":
                answer = outcome.answer or {}
                if not isinstance(answer.get("access_token"), str) or not answer["access_token"]:
                    _mark(stored, possibly_spent=True)
                    raise RefreshFailed(SPENT)
                try:
                    float(answer.get("expires_in"))  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    answer = {**answer, "expires_in": 3600}
                sub = unverified_subject(answer.get("id_token"))
                if sub is not None and stored.subject and sub != stored.subject:
                    _mark(stored, needs_sign_in=True, refresh_token=None)
                    raise AuthenticationRequired(
                        f"The renewed ChatGPT sign-in belongs to a different account; {_SIGN_IN}."
                    )
                record = tokens_record(answer, now=time.time(), previous=stored.tokens)
                if not record["refresh_token"]:  # the old one is spent, and we got no new one
                    record["possibly_spent"] = True
                try:
                    return _write(path, stored.with_changes(tokens=record))
                except CredentialFileError as exc:
                    raise CredentialFileError(
                        f"{exc.message[:-1]}, so the renewed ChatGPT plan sign-in was lost; "
                        f"{_SIGN_IN}."
                    ) from None
            if outcome.kind == "unknown":
                _mark(stored, possibly_spent=True)
                raise RefreshFailed(
                    "The renewal of your ChatGPT plan sign-in did not complete "
                    f"({outcome.detail}); the sign-in is kept until its access token expires."
                )
            if outcome.kind in ("unsent", "transient"):
                raise RefreshFailed("Could not renew the ChatGPT sign-in (network).")
            if outcome.code == "invalid_client":
                raise AuthenticationRequired(
                    "ChatGPT rejected llm-codex's registration (invalid_client)."
                )
            again = read_official(path)
            if again is not None and again.tokens is not None and not again.same_tokens(stored):
                return again
            if outcome.code in _PERMANENT or outcome.status in (400, 401):
                _mark(stored, needs_sign_in=True, refresh_token=None)
                raise AuthenticationRequired(ENDED)
            raise RefreshFailed("Could not renew the ChatGPT sign-in (network).")
    except RefreshInProgress:
        raise RefreshInProgress(
            "Another process is renewing the ChatGPT sign-in; try again in a moment."
        ) from None


class OfficialAuth(AsyncTwins):
    """The :class:`~llm_codex.core.types.CredentialProvider` of the official route."""

    def __init__(self, *, path: Path | None = None, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self._path = path
        self.lock_timeout = lock_timeout
        self._inflight: dict[tuple[int, str], Any] = {}

    def path(self) -> Path:
        return self._path or config.official_auth_path()

    def load(self) -> OfficialLogin:
        """The signed-in login, usable for plan usage; one sentence otherwise (§13.7)."""
        login = read_official(self.path())
        if login is None or login.tokens is None or not login.access_token:
            raise NotSignedIn(NOT_SIGNED_IN)
        if not login.plan_usage:
            raise AuthenticationRequired(PLAN_DISABLED)
        if login.needs_sign_in:
            raise AuthenticationRequired(ENDED)
        _check_binding(login)
        return login

    def _as_credentials(self, login: OfficialLogin) -> Credentials:
        return _credentials(login)

    def _ready(self, login: OfficialLogin, now: float | None = None) -> Credentials | None:
        now = time.time() if now is None else now
        if login.possibly_spent:
            if _expired(login, now):
                raise AuthenticationRequired(SPENT)
            return _credentials(login)
        if not _due(login, now):
            return _credentials(login)
        if not _allowed(login, now):
            if _expired(login, now):
                raise _not_yet(login)
            return _credentials(login)  # never refresh early: the token is still valid
        return None

    def _proactive(self, login: OfficialLogin) -> Credentials:
        try:
            fresh = refresh_official(login, proactive=True, lock_timeout=self.lock_timeout)
        except (RefreshFailed, RefreshInProgress):
            if not _expired(login, time.time()):
                return _credentials(login)
            raise
        return _credentials(fresh)

    def current(self) -> Credentials:
        """Usable credentials, renewed first when due and allowed."""
        login = self.load()
        ready = self._ready(login, time.time())
        return ready if ready is not None else self._proactive(login)

    def _after_401(self, login: OfficialLogin, rejected: Credentials) -> Credentials:
        if login.access_token != rejected.access_token:
            return _credentials(login)
        if login.possibly_spent or not _allowed(login, time.time()):
            raise AuthenticationRequired(NOT_ACCEPTED)
        fresh = refresh_official(login, proactive=False, lock_timeout=self.lock_timeout)
        if fresh.access_token == rejected.access_token:
            raise AuthenticationRequired(NOT_ACCEPTED)
        return _credentials(fresh)

    def after_unauthorized(self, rejected: Credentials) -> Credentials:
        """After a 401: a newer stored token, else one refresh if allowed (§8.4)."""
        return self._after_401(self.load(), rejected)


def official_status(path: Path | None = None) -> dict[str, Any]:
    """The official login as JSON-ready values, from the file only (no network, no refresh).

    Tokens are never included. ``signed_in`` is false without tokens.
    """
    from llm_codex.core.plan_route import MANAGE_USAGE_URL

    login = read_official(path)
    if login is None:
        return {"signed_in": False, "registered": False}
    now = time.time()

    def when(value: float | None) -> str | None:
        return iso_now(value) if value is not None else None

    tokens = login.tokens
    return {
        "signed_in": tokens is not None,
        "registered": True,
        "path": str(login.path),
        "issuer": login.issuer,
        "api_base": login.api_base,
        "email": login.email,
        "plan_usage": login.plan_usage,
        "client_id": login.client_id,
        "host_id": login.host_id,
        "expires_at": when(login.expires_at),
        "expired": tokens is not None and _expired(login, now),
        "earliest_refresh_at": when(login.earliest_refresh_at),
        "last_refresh": (tokens or {}).get("last_refresh"),
        "needs_sign_in": login.needs_sign_in,
        "possibly_spent": login.possibly_spent,
        "manage_usage": MANAGE_USAGE_URL,
    }
