"""The fake "Sign in with ChatGPT" issuer (siwc.md §3–§8), as the docs describe it.

Independent of the client (it imports nothing from ``core``/``auth``). Served by
:class:`~llm_codex.testing.siwc_fake.FakeSiwc`; the issuer state lives here:

- discovery (``/.well-known/openid-configuration``) and the JWKS with a real RSA key;
- ``GET /api/accounts/authorize`` checks every parameter (PKCE S256, ``state``, ``nonce``,
  ``resource``, the plan scopes, the loopback ``redirect_uri``, ``ext_agent_host_id``, and
  ``agent_name_hint`` exactly when registering) and, as a user who consents at once, redirects to
  the callback with a code — and, on registration, the issued client id (``oaiapp_…``, one per
  user, shared by that user's hosts). ``consent`` can make the user decline, withhold the plan
  scope, or make registration fail;
- ``POST /api/accounts/oauth/token`` (form only; no secret, no ``Authorization``, no ``scope``):
  code exchange with PKCE and ``resource`` checks; refresh with single-use rotating tokens,
  ``earliest_refresh_at`` enforced the way a live probe reports it (an early refresh answers
  ``invalid_grant`` **and spends the token**), and the documented errors;
- ``POST /api/accounts/oauth/revoke``: an empty 200, also for an unknown token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from llm_codex.testing.siwc_keys import b64url, signing_key

__all__ = ["DYNAMIC_CLIENT", "PLAN_SCOPE", "RESOURCE", "SCOPES", "SiwcIssuer", "SiwcUser"]

DYNAMIC_CLIENT = "dynamic_agent_client"
RESOURCE = "https://api.openai.com/v1"
PLAN_SCOPE = "chatgpt.tokens.use.direct"
SCOPES = ("openid", "profile", "email", "offline_access", "resource.invoke", PLAN_SCOPE)
_REDIRECT = re.compile(r"^http://127\.0\.0\.1:(\d{1,5})/auth/callback$")
_HOST_ID = re.compile(
    r"^(urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    r"|urn:ietf:params:oauth:jwk-thumbprint:[a-z0-9-]+:[A-Za-z0-9_-]+|did:key:\S+)$"
)


@dataclass
class SiwcUser:
    """Who signs in at the fake's authorize page."""

    sub: str = "user-siwc-1"
    email: str = "plan-user@example.com"


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    scopes: tuple[str, ...]
    sub: str
    email: str


@dataclass
class _Grant:
    """One refresh token's session: who, which client, what scopes, when it may be used."""

    sub: str
    email: str
    client_id: str
    scopes: tuple[str, ...]
    earliest: float
    spent: bool = False


@dataclass
class AccessInfo:
    """What an access token stands for."""

    sub: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class SiwcIssuer:
    """Issuer state; ``url`` is set when the server starts."""

    url: str = ""
    user: SiwcUser = field(default_factory=SiwcUser)
    #: "allow" | "deny" (access_denied) | "no_plan" (plan scope withheld) | "no_client_id"
    consent: str = "allow"
    access_ttl: float = 3600.0
    #: Seconds after issue before a refresh is allowed; None = ttl - 360 (six minutes before exp).
    refresh_delay: float | None = None
    send_earliest_refresh_at: bool = True
    #: "good", "bad_signature", "wrong_nonce", "wrong_aud", "alg_none", "expired", "unknown_kid"
    id_token_mode: str = "good"
    #: Forced answer of the next token request: (status, error code), consumed once.
    token_failure: tuple[int, str] | None = None
    refresh_delay_seconds: float = 0.0
    #: A client id to put on every callback (a misbehaving issuer), or None.
    callback_client_id: str | None = None
    kid: str = "siwc-test-key-1"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.clients: dict[str, str] = {}  # issued client id -> sub
        self._client_of_user: dict[str, str] = {}
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}
        self._access: dict[str, AccessInfo] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.refresh_count = 0
        self.revoked: list[str] = []

    # --- discovery and keys --------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        u = self.url
        return {
            "issuer": u,
            "authorization_endpoint": u + "/api/accounts/authorize",
            "token_endpoint": u + "/api/accounts/oauth/token",
            "jwks_uri": u + "/.well-known/jwks.json",
            "revocation_endpoint": u + "/api/accounts/oauth/revoke",
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [signing_key(self.kid).jwk()]}

    # --- authorize -----------------------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, str | dict[str, Any]]:
        """``(302, location)`` or ``(400, error body)`` for an authorize request."""
        with self._lock:
            self.authorize_requests.append(dict(query))
        problem = self._authorize_problem(query)
        if problem:
            return 400, {"error": "invalid_request", "error_description": problem}
        redirect = query["redirect_uri"]
        back: dict[str, str] = {"state": query["state"]}
        if self.consent == "deny":
            back["error"] = "access_denied"
            return 302, redirect + "?" + urlencode(back)
        client_id = query["client_id"]
        if client_id == DYNAMIC_CLIENT:
            with self._lock:
                client_id = self._client_of_user.get(self.user.sub) or (
                    "oaiapp_" + secrets.token_hex(10)
                )
                self._client_of_user[self.user.sub] = client_id
                self.clients[client_id] = self.user.sub
            if self.consent != "no_client_id":
                back["client_id"] = client_id
        if self.callback_client_id is not None:
            back["client_id"] = self.callback_client_id
        granted = SCOPES if self.consent != "no_plan" else SCOPES[:-1]
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                client_id=client_id,
                redirect_uri=redirect,
                challenge=query["code_challenge"],
                nonce=query["nonce"],
                scopes=granted,
                sub=self.user.sub,
                email=self.user.email,
            )
        back["code"] = code
        back["scope"] = " ".join(granted)
        return 302, redirect + "?" + urlencode(back)

    def _authorize_problem(self, q: dict[str, str]) -> str | None:
        if q.get("response_type") != "code":
            return "response_type must be code"
        client_id = q.get("client_id", "")
        if client_id == DYNAMIC_CLIENT:
            if q.get("agent_name_hint") != "llm-codex":
                return "agent_name_hint is required when registering"
        elif client_id in self.clients:
            if "agent_name_hint" in q:
                return "agent_name_hint is only for registration"
        else:
            return "unknown client_id"
        if not _HOST_ID.match(q.get("ext_agent_host_id", "")):
            return "ext_agent_host_id is required"
        if not _REDIRECT.match(q.get("redirect_uri", "")):
            return "redirect_uri must be http://127.0.0.1:<port>/auth/callback"
        if set(q.get("scope", "").split()) != set(SCOPES):
            return "scope must be the complete plan scope set"
        if q.get("resource") != RESOURCE:
            return "resource must be https://api.openai.com/v1"
        for name in ("state", "nonce"):
            if len(q.get(name, "")) < 22:
                return f"{name} must carry at least 128 bits"
        if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43:
            return "PKCE S256 is required"
        if "force_reconsent" in q:
            return "force_reconsent is not enabled for this integration"
        return None

    # --- tokens --------------------------------------------------------------------------------

    def _id_token(self, *, sub: str, email: str, client_id: str, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": client_id,
            "sub": sub,
            "email": email,
            "iat": now,
            "exp": now + 3600,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        mode = self.id_token_mode
        header: dict[str, Any] = {}
        kid = self.kid
        if mode == "wrong_nonce":
            claims["nonce"] = "not-the-nonce"
        elif mode == "wrong_aud":
            claims["aud"] = "oaiapp_someone_else"
        elif mode == "expired":
            claims["exp"] = now - 600
        elif mode == "unknown_kid":
            header["kid"] = "rotated-away"
        elif mode == "bad_signature":
            kid = "siwc-attacker-key"
            header["kid"] = self.kid  # claims to be ours, signed by another key
        if mode == "alg_none":
            head = b64url(b'{"alg":"none","typ":"JWT"}')
            import json

            body = b64url(json.dumps(claims).encode())
            return f"{head}.{body}."
        return signing_key(kid).sign(claims, header=header)

    def _answer(
        self, *, sub: str, email: str, client_id: str, scopes: tuple[str, ...], nonce: str | None
    ) -> dict[str, Any]:
        now = time.time()
        access = "siwc_at_" + secrets.token_urlsafe(24)
        refresh = "siwc_rt_" + secrets.token_urlsafe(24)
        delay = self.refresh_delay
        if delay is None:
            delay = max(self.access_ttl - 360.0, 0.0)
        earliest = now + delay
        with self._lock:
            self._access[access] = AccessInfo(sub, client_id, scopes, now + self.access_ttl)
            self._grants[refresh] = _Grant(sub, email, client_id, scopes, earliest)
        answer: dict[str, Any] = {
            "access_token": access,
            "refresh_token": refresh,
            "id_token": self._id_token(sub=sub, email=email, client_id=client_id, nonce=nonce),
            "token_type": "Bearer",
            "expires_in": int(self.access_ttl),
            "scope": " ".join(scopes),
        }
        if self.send_earliest_refresh_at:
            answer["earliest_refresh_at"] = int(earliest)
        return answer

    def token(
        self, form: dict[str, str], *, content_type: str, authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        """``(status, body)`` for a token request."""
        with self._lock:
            self.token_requests.append(dict(form))
            forced, self.token_failure = self.token_failure, None
        if "application/x-www-form-urlencoded" not in content_type:
            return 400, {"error": "invalid_request", "error_description": "form body required"}
        if authorization or "client_secret" in form:
            return 400, {"error": "invalid_request", "error_description": "public client"}
        if "scope" in form:
            return 400, {"error": "invalid_request", "error_description": "omit scope"}
        if forced is not None:
            status, code = forced
            return status, {"error": code, "error_description": f"forced {code}"}
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            return 401, {"error": "invalid_client", "error_description": "unknown client"}
        if form.get("resource") != RESOURCE:
            return 400, {"error": "invalid_target", "error_description": "resource required"}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._exchange(form, client_id)
        if grant == "refresh_token":
            if self.refresh_delay_seconds:
                time.sleep(self.refresh_delay_seconds)
            return self._refresh(form, client_id)
        return 400, {"error": "unsupported_grant_type"}

    def _exchange(self, form: dict[str, str], client_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            code = self._codes.pop(form.get("code", ""), None)
        if code is None or code.client_id != client_id:
            return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
        if form.get("redirect_uri") != code.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != code.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE check failed"}
        return 200, self._answer(
            sub=code.sub,
            email=code.email,
            client_id=client_id,
            scopes=code.scopes,
            nonce=code.nonce,
        )

    def _refresh(self, form: dict[str, str], client_id: str) -> tuple[int, dict[str, Any]]:
        token = form.get("refresh_token", "")
        with self._lock:
            grant = self._grants.get(token)
            if grant is None or grant.client_id != client_id:
                return 400, {"error": "invalid_grant", "error_description": "unknown token"}
            if grant.spent:
                return 400, {"error": "refresh_token_reused"}
            grant.spent = True  # single use, also when refused as too early
            self.refresh_count += 1
            early = time.time() < grant.earliest
        if early:
            return 400, {"error": "invalid_grant", "error_description": "refreshed too early"}
        return 200, self._answer(
            sub=grant.sub, email=grant.email, client_id=client_id, scopes=grant.scopes, nonce=None
        )

    def revoke(self, form: dict[str, str]) -> None:
        token = form.get("token", "")
        with self._lock:
            self.revoked.append(token)
            grant = self._grants.get(token)
            if grant is not None:
                grant.spent = True

    # --- for the API and for fixtures ----------------------------------------------------------

    def access(self, token: str) -> AccessInfo | None:
        with self._lock:
            return self._access.get(token)

    def expire_access_tokens(self) -> None:
        """Make every issued access token expired (the API then answers 401)."""
        with self._lock:
            for info in self._access.values():
                info.expires_at = 0.0

    def register(self, user: SiwcUser | None = None) -> str:
        """An issued client id for ``user`` (as a finished registration would leave it)."""
        user = user or self.user
        with self._lock:
            client_id = self._client_of_user.get(user.sub) or "oaiapp_" + secrets.token_hex(10)
            self._client_of_user[user.sub] = client_id
            self.clients[client_id] = user.sub
        return client_id

    def issue(
        self, *, plan: bool = True, user: SiwcUser | None = None, nonce: str | None = None
    ) -> dict[str, Any]:
        """A token answer as a completed sign-in would get it, plus ``client_id``/``sub``."""
        user = user or self.user
        client_id = self.register(user)
        scopes = SCOPES if plan else SCOPES[:-1]
        answer = self._answer(
            sub=user.sub, email=user.email, client_id=client_id, scopes=scopes, nonce=nonce
        )
        return {**answer, "client_id": client_id, "sub": user.sub, "email": user.email}
