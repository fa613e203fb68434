"""The fake issuer's tokens: JWT-shaped access and id tokens, single-use refresh tokens.

Tokens look like the real ones (protocol §A4): three base64url segments, claims
``exp``/``iat``/``iss``/``aud`` and the ``https://api.openai.com/auth`` object carrying
``chatgpt_account_id``, ``chatgpt_plan_type`` and ``chatgpt_user_id``; the id token also has
``email``. The signature is an HMAC over the first two segments with a per-fake secret, so a
token from another fake (or a hand-made one) is never accepted: acceptance is decided by the
registry of tokens this authority issued, never by decoding alone.

Refresh tokens rotate (protocol §A5): each works once; a spent one answers ``refresh_token_reused``,
a revoked one ``refresh_token_invalidated``, an expired one ``refresh_token_expired``. Tokens
issued together form a *family*; revoking any member revokes the family, and access tokens of a
revoked family answer 401 ``token_invalidated``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AUTH_CLAIM",
    "PROFILE_CLAIM",
    "AccessCheck",
    "Identity",
    "TokenAuthority",
    "b64url",
    "decode_claims",
    "pkce_challenge",
]

AUTH_CLAIM = "https://api.openai.com/auth"
PROFILE_CLAIM = "https://api.openai.com/profile"


def b64url(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT-shaped token (no verification)."""
    return json.loads(_b64url_decode(token.split(".")[1]))


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class Identity:
    """Who a token speaks for."""

    account_id: str = "acct-test"
    email: str = "user@example.com"
    plan_type: str = "plus"
    user_id: str = "user-test"


@dataclass
class _Family:
    identity: Identity
    revoked: bool = False


@dataclass
class _Access:
    family: _Family
    expires_at: float
    account_id: str


@dataclass
class _Refresh:
    family: _Family
    expires_at: float | None
    used: bool = False


@dataclass
class _Code:
    identity: Identity
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str
    scope: str
    used: bool = False


@dataclass(frozen=True)
class AccessCheck:
    """The verdict on a bearer token: ``ok``, or an HTTP status and JSON error body."""

    ok: bool
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    account_id: str | None = None


_UNAUTHORIZED = {"detail": "Unauthorized"}


def _openai_error(message: str, code: str, *, type_: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class TokenAuthority:
    """Issues, checks, rotates and revokes tokens. Thread-safe."""

    def __init__(self, *, issuer: str, client_id: str) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._codes: dict[str, _Code] = {}

    # --- issuing ---------------------------------------------------------------------------

    def _jwt(self, claims: dict[str, Any]) -> str:
        header = b64url(json.dumps({"alg": "RS256", "kid": "fake-codex", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        signature = b64url(hmac.new(self._secret, signing_input, hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    def issue(
        self,
        identity: Identity,
        *,
        access_ttl: float,
        refresh_ttl: float | None = None,
        with_refresh: bool = True,
        family: _Family | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """Mint an id token, an access token and (optionally) a refresh token for ``identity``."""
        now = time.time() if now is None else now
        iat = int(now)
        exp = int(now + access_ttl)
        family = family or _Family(identity)
        auth = {
            "chatgpt_account_id": identity.account_id,
            "chatgpt_plan_type": identity.plan_type,
            "chatgpt_user_id": identity.user_id,
            "user_id": identity.user_id,
        }
        access_token = self._jwt(
            {
                "aud": ["https://api.openai.com/v1"],
                "client_id": self.client_id,
                "exp": exp,
                "iat": iat,
                "iss": self.issuer,
                "jti": str(uuid.uuid4()),
                "scp": ["openid", "profile", "email", "offline_access"],
                "sub": f"auth0|{identity.user_id}",
                AUTH_CLAIM: auth,
                PROFILE_CLAIM: {"email": identity.email, "email_verified": True},
            }
        )
        id_token = self._jwt(
            {
                "aud": [self.client_id],
                "auth_time": iat,
                "email": identity.email,
                "email_verified": True,
                "exp": iat + 3600,
                "iat": iat,
                "iss": self.issuer,
                "jti": str(uuid.uuid4()),
                "sub": f"auth0|{identity.user_id}",
                AUTH_CLAIM: {**auth, "organizations": []},
            }
        )
        tokens: dict[str, Any] = {"id_token": id_token, "access_token": access_token}
        with self._lock:
            self._access[access_token] = _Access(family, exp, identity.account_id)
            if with_refresh:
                refresh_token = "rt_" + secrets.token_urlsafe(48)
                expires = None if refresh_ttl is None else now + refresh_ttl
                self._refresh[refresh_token] = _Refresh(family, expires)
                tokens["refresh_token"] = refresh_token
        tokens["account_id"] = identity.account_id
        tokens["expires_in"] = int(access_ttl)
        return tokens

    # --- checking --------------------------------------------------------------------------

    def check_access(self, authorization: str | None, *, now: float | None = None) -> AccessCheck:
        """Judge an ``Authorization`` header value the way the backend does (protocol §7)."""
        now = time.time() if now is None else now
        if not authorization or not authorization.lower().startswith("bearer "):
            return AccessCheck(False, 401, _UNAUTHORIZED)
        token = authorization[7:].strip()
        with self._lock:
            record = self._access.get(token)
        if record is None:
            return AccessCheck(False, 401, _UNAUTHORIZED)
        if record.family.revoked:
            body = _openai_error(
                "Your authentication token has been invalidated. Please try signing in again.",
                "token_invalidated",
            )
            return AccessCheck(False, 401, {**body, "status": 401})
        if record.expires_at <= now:
            body = _openai_error(
                "Provided authentication token is expired. Please try signing in again.",
                "token_expired",
            )
            return AccessCheck(False, 401, {**body, "status": 401})
        return AccessCheck(True, account_id=record.account_id)

    def expire_access(self, access_token: str | None = None) -> None:
        """Make an issued access token (or every one so far) count as expired from now on."""
        with self._lock:
            targets = [self._access[access_token]] if access_token else self._access.values()
            for record in targets:
                record.expires_at = 0

    def invalidate_access(self, access_token: str) -> None:
        """Server-side invalidation: the token's family is revoked (401 token_invalidated)."""
        with self._lock:
            self._access[access_token].family.revoked = True

    def expire_refresh(self, refresh_token: str | None = None) -> None:
        """Make one refresh token (or every one issued so far) expired."""
        with self._lock:
            targets = [self._refresh[refresh_token]] if refresh_token else self._refresh.values()
            for record in targets:
                record.expires_at = 0

    # --- refresh and revoke ------------------------------------------------------------------

    def refresh(
        self, refresh_token: str, *, access_ttl: float, refresh_ttl: float | None
    ) -> tuple[int, dict[str, Any]]:
        """Redeem a refresh token once: ``(200, tokens)`` or ``(401, error body)`` (§A5)."""
        now = time.time()
        with self._lock:
            record = self._refresh.get(refresh_token)
            if record is None:
                return 401, _openai_error(
                    "Your refresh token is invalid. Please try signing in again.",
                    "refresh_token_invalidated",
                )
            if record.family.revoked:
                return 401, _openai_error(
                    "Your refresh token has been invalidated. Please try signing in again.",
                    "refresh_token_invalidated",
                )
            if record.used:
                return 401, _openai_error(
                    "Your refresh token has already been used to generate a new access token. "
                    "Please try signing in again.",
                    "refresh_token_reused",
                )
            if record.expires_at is not None and record.expires_at <= now:
                return 401, _openai_error(
                    "Your refresh token has expired. Please try signing in again.",
                    "refresh_token_expired",
                )
            record.used = True
            family = record.family
        tokens = self.issue(
            family.identity,
            access_ttl=access_ttl,
            refresh_ttl=refresh_ttl,
            family=family,
            now=now,
        )
        tokens.pop("account_id", None)
        return 200, tokens

    def revoke(self, token: str) -> bool:
        """Revoke the family of a refresh or access token; ``False`` if the token is unknown."""
        with self._lock:
            record = self._refresh.get(token) or self._access.get(token)
            if record is None:
                return False
            record.family.revoked = True
            return True

    def refresh_state(self, refresh_token: str) -> str:
        """``"unknown"``, ``"fresh"``, ``"used"``, ``"revoked"`` or ``"expired"`` (for asserts)."""
        with self._lock:
            record = self._refresh.get(refresh_token)
            if record is None:
                return "unknown"
            if record.family.revoked:
                return "revoked"
            if record.used:
                return "used"
            if record.expires_at is not None and record.expires_at <= time.time():
                return "expired"
            return "fresh"

    # --- authorization codes -----------------------------------------------------------------

    def create_code(
        self,
        identity: Identity,
        *,
        redirect_uri: str,
        code_challenge: str,
        code_challenge_method: str = "S256",
        scope: str = "openid profile email offline_access",
    ) -> str:
        """An authorization code bound to a redirect URI and a PKCE challenge."""
        code = "ac_" + secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = _Code(
                identity, redirect_uri, code_challenge, code_challenge_method, scope
            )
        return code

    def exchange_code(
        self,
        code: str,
        *,
        redirect_uri: str | None,
        code_verifier: str | None,
        access_ttl: float,
        refresh_ttl: float | None,
    ) -> tuple[int, dict[str, Any]]:
        """Redeem an authorization code once, checking redirect URI and PKCE S256."""
        with self._lock:
            record = self._codes.get(code)
            if record is None or record.used:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Invalid or already used authorization code.",
                }
            if redirect_uri != record.redirect_uri:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "redirect_uri does not match the authorization request.",
                }
            if not code_verifier or pkce_challenge(code_verifier) != record.code_challenge:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "PKCE verification failed (code_verifier).",
                }
            record.used = True
        with_refresh = "offline_access" in record.scope.split()
        tokens = self.issue(
            record.identity,
            access_ttl=access_ttl,
            refresh_ttl=refresh_ttl,
            with_refresh=with_refresh,
        )
        tokens.pop("account_id", None)
        tokens["token_type"] = "Bearer"
        tokens["scope"] = record.scope
        return 200, tokens
