"""ID-token verification at sign-in (siwc.md §7), with PyJWT.

PyJWT (with its ``cryptography`` backend) is imported here only, and this module only by the
login: ``llm`` start-up and prompts never load it. Checks, all required: a compact JWS with
header ``alg`` ``RS256`` (never ``none``/``HS*``); the key found by ``kid`` in the JWKS from
discovery (fetched again once when the ``kid`` is unknown); the RSASSA-PKCS1-v1_5 SHA-256
signature; ``iss`` = the issuer; ``aud`` = the issued client id (in a list: contained, and then
``azp`` must be the id when there are several; ``azp`` when present must be the id); ``exp`` with
5 s tolerance; ``iat`` and a non-empty ``sub`` present; ``nonce`` = this attempt's nonce.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from llm_codex.core.errors import LoginFailed

__all__ = ["IDENTITY_UNVERIFIED", "unverified_subject", "verify_id_token"]

IDENTITY_UNVERIFIED = (
    "The ChatGPT identity could not be verified; nothing was saved. "
    "Run `llm codex login --official` again."
)
JWKS_UNAVAILABLE = (
    "The ChatGPT identity could not be checked because the sign-in keys are temporarily "
    "unavailable; nothing was saved. Run `llm codex login --official` again later."
)
LEEWAY = 5


def _fetch_jwks(url: str) -> list[dict[str, Any]]:
    import httpx2

    from llm_codex.auth.siwc.issuer import client

    try:
        with client(timeout=15.0) as http:
            response = http.get(url)
    except httpx2.HTTPError:
        raise LoginFailed(JWKS_UNAVAILABLE) from None
    if response.status_code != 200:
        raise LoginFailed(JWKS_UNAVAILABLE)
    try:
        keys = response.json().get("keys")
    except (ValueError, AttributeError):
        raise LoginFailed(JWKS_UNAVAILABLE) from None
    return [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []


def _key_for(kid: Any, keys: list[dict[str, Any]]) -> dict[str, Any] | None:
    for key in keys:
        if key.get("kid") == kid and key.get("kty") == "RSA":
            return key
    return None


def verify_id_token(
    token: str, *, jwks_uri: str, issuer: str, client_id: str, nonce: str
) -> dict[str, Any]:
    """The verified claims of ``token``; :class:`LoginFailed` with one sentence otherwise."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise LoginFailed(IDENTITY_UNVERIFIED) from None
    if header.get("alg") != "RS256":
        raise LoginFailed(IDENTITY_UNVERIFIED)
    kid = header.get("kid")
    key = _key_for(kid, _fetch_jwks(jwks_uri))
    if key is None:
        key = _key_for(kid, _fetch_jwks(jwks_uri))
    if key is None:
        raise LoginFailed(IDENTITY_UNVERIFIED)
    try:
        public = jwt.PyJWK(key, algorithm="RS256").key
        claims = jwt.decode(
            token,
            public,
            algorithms=["RS256"],
            audience=client_id,
            issuer=issuer,
            leeway=LEEWAY,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        raise LoginFailed(IDENTITY_UNVERIFIED) from None
    aud = claims.get("aud")
    azp = claims.get("azp")
    if isinstance(aud, list) and len(aud) > 1 and azp != client_id:
        raise LoginFailed(IDENTITY_UNVERIFIED)
    if azp is not None and azp != client_id:
        raise LoginFailed(IDENTITY_UNVERIFIED)
    if claims.get("nonce") != nonce:
        raise LoginFailed(IDENTITY_UNVERIFIED)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise LoginFailed(IDENTITY_UNVERIFIED)
    return claims


def unverified_subject(token: Any) -> str | None:
    """The ``sub`` of a refreshed ID token, read without a signature check (§8.5, §16.13)."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) and sub else None
