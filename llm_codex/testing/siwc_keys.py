"""RSA signing keys and RS256 JWTs for the fake "Sign in with ChatGPT" issuer.

Written with the ``cryptography`` primitives directly (not a JOSE library), so the client's
verification is checked against an independent signer. Key generation is slow-ish (tens of ms),
so one key pair per kid is made once per process and shared.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

__all__ = ["SigningKey", "b64url", "signing_key"]


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


class SigningKey:
    """One RSA-2048 key: signs RS256 JWTs and publishes its public JWK."""

    def __init__(self, kid: str) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK (``kty``, ``kid``, ``use``, ``alg``, ``n``, ``e``)."""
        numbers = self._private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": b64url(_int_bytes(numbers.n)),
            "e": b64url(_int_bytes(numbers.e)),
        }

    def sign(self, claims: dict[str, Any], *, header: dict[str, Any] | None = None) -> str:
        """A compact RS256 JWS of ``claims`` (``header`` entries override the defaults)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        head = {"alg": "RS256", "typ": "JWT", "kid": self.kid, **(header or {})}
        signing_input = (
            b64url(json.dumps(head, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)


@functools.cache
def signing_key(kid: str) -> SigningKey:
    """The process-wide key for ``kid`` (made on first use)."""
    return SigningKey(kid)
