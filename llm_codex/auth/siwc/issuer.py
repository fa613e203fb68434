"""Talking to the issuer for the official route: discovery, the token endpoint, revocation.

- :func:`discover` fetches ``{issuer}/.well-known/openid-configuration`` (15 s) and checks it
  (siwc.md §3): a JSON object whose ``issuer`` is ours exactly, and ``jwks_uri`` /
  ``revocation_endpoint`` on the issuer's own origin;
- :func:`post_token` posts one form to the fixed token path ``{issuer}/api/accounts/oauth/token``
  (never a JSON body, never a secret or an ``Authorization`` header) and sorts the outcome;
- :func:`revoke` posts the refresh token to the discovered revocation endpoint, with up to three
  attempts on network errors and 5xx (§8.7).

Every request carries our ``User-Agent`` (no ``originator`` on this route) and follows no
redirect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from llm_codex import config
from llm_codex.auth.http import error_code, json_or_none, provably_unsent
from llm_codex.core.errors import LoginFailed
from llm_codex.core.identity import user_agent

__all__ = [
    "AUTHORIZE_PATH",
    "DYNAMIC_CLIENT_ID",
    "RESOURCE",
    "SCOPES",
    "TOKEN_PATH",
    "Discovery",
    "TokenOutcome",
    "discover",
    "post_token",
    "revoke",
]

AUTHORIZE_PATH = "/api/accounts/authorize"
TOKEN_PATH = "/api/accounts/oauth/token"
#: The client id of the first authorize request, which *is* the registration (§4.2).
DYNAMIC_CLIENT_ID = "dynamic_agent_client"
#: The access token's audience: a constant, whatever ``LLM_CODEX_API_URL`` says (§3).
RESOURCE = "https://api.openai.com/v1"
SCOPES = "openid profile email offline_access resource.invoke chatgpt.tokens.use.direct"
PLAN_SCOPE = "chatgpt.tokens.use.direct"
DISCOVERY_TIMEOUT = 15.0
TOKEN_TIMEOUT = 30.0
REVOKE_DELAYS = (0.5, 1.0)
UNVERIFIED = "Could not verify the ChatGPT sign-in configuration; nothing was sent."


def issuer() -> str:
    """``LLM_CODEX_AUTH_URL`` without a trailing slash."""
    return config.auth_base_url()


def client(*, timeout: float) -> Any:
    """A short-lived HTTP client with our identity and no redirects."""
    import httpx2

    return httpx2.Client(
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
        headers={"User-Agent": user_agent(), "Accept": "application/json"},
        follow_redirects=False,
    )


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def insecure(url: str) -> bool:
    """Whether ``url`` would carry a bearer token in clear text: not https and not loopback."""
    parts = urlsplit(url)
    return parts.scheme != "https" and (parts.hostname or "") not in _LOOPBACK


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


@dataclass(frozen=True)
class Discovery:
    """The checked parts of the discovery document."""

    issuer: str
    jwks_uri: str
    revocation_endpoint: str | None


def discover() -> Discovery:
    """Fetch and check the discovery document; :class:`LoginFailed` (one sentence) otherwise."""
    import httpx2

    base = issuer()
    for name, url in (("LLM_CODEX_AUTH_URL", base), ("LLM_CODEX_API_URL", config.api_base_url())):
        if insecure(url):
            raise LoginFailed(
                f"{name} must be an https URL (or a loopback address for tests); "
                "tokens are never sent in clear text."
            )
    try:
        with client(timeout=DISCOVERY_TIMEOUT) as http:
            response = http.get(base + "/.well-known/openid-configuration")
    except httpx2.HTTPError as exc:
        raise LoginFailed(
            f"The ChatGPT sign-in server at {base} could not be reached "
            f"({exc.__class__.__name__}); check your connection and try again."
        ) from None
    data = json_or_none(response) if response.status_code == 200 else None
    if not isinstance(data, dict) or data.get("issuer") != base:
        raise LoginFailed(UNVERIFIED)
    jwks = data.get("jwks_uri")
    revocation = data.get("revocation_endpoint")
    if not isinstance(jwks, str) or _origin(jwks) != _origin(base):
        raise LoginFailed(UNVERIFIED)
    if revocation is not None and (
        not isinstance(revocation, str) or _origin(revocation) != _origin(base)
    ):
        raise LoginFailed(UNVERIFIED)
    return Discovery(issuer=base, jwks_uri=jwks, revocation_endpoint=revocation)


@dataclass
class TokenOutcome:
    """What one token-endpoint POST came to.

    ``kind``: ``"ok"`` (``answer`` is the JSON object), ``"refused"`` (HTTP 4xx; ``code``),
    ``"unsent"`` (provably never reached the server), ``"transient"`` (5xx) or ``"unknown"``
    (sent, but no readable answer: a single-use token may be spent).
    """

    kind: str
    answer: dict[str, Any] | None = None
    code: str | None = None
    status: int | None = None
    detail: str | None = None


def post_token(form: dict[str, str], *, timeout: float = TOKEN_TIMEOUT) -> TokenOutcome:
    """POST ``form`` to the token endpoint once (a provably unsent attempt is repeated once)."""
    import httpx2

    url = issuer() + TOKEN_PATH
    for attempt in (1, 2):
        try:
            with client(timeout=timeout) as http:
                response = http.post(url, data=form)
        except httpx2.HTTPError as exc:
            if provably_unsent(exc):
                if attempt == 1:
                    time.sleep(0.25)
                    continue
                return TokenOutcome("unsent", detail=exc.__class__.__name__)
            return TokenOutcome("unknown", detail=exc.__class__.__name__)
        break
    status = response.status_code
    data = json_or_none(response)
    if status == 200:
        if isinstance(data, dict):
            return TokenOutcome("ok", answer=data, status=status)
        return TokenOutcome("unknown", status=status, detail="unreadable answer")
    if status >= 500:
        return TokenOutcome("transient", status=status, code=error_code(data))
    return TokenOutcome("refused", status=status, code=error_code(data))


def revoke(endpoint: str, *, refresh_token: str, client_id: str, sleep: Any = time.sleep) -> bool:
    """Revoke a refresh token (form POST); ``True`` only for an HTTP 200. Never raises."""
    import httpx2

    form = {"token": refresh_token, "token_type_hint": "refresh_token", "client_id": client_id}
    for attempt in range(3):
        try:
            with client(timeout=10.0) as http:
                response = http.post(endpoint, data=form)
        except httpx2.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            return True
        if response is not None and response.status_code < 500:
            return False
        if attempt < len(REVOKE_DELAYS):
            sleep(REVOKE_DELAYS[attempt])
    return False
