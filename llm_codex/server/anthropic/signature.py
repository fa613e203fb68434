"""Encrypted reasoning carried in a thinking block's ``signature``, tamper-evident.

Anthropic clients hand thinking blocks back verbatim on the next turn, signature included. The
server puts the backend's opaque ``encrypted_content`` there, sealed with an HMAC-SHA256 under a
key of this installation, so that a tool loop keeps its chain of thought::

    lcx1.<base64url(model + NUL + encrypted_content)>.<base64url(hmac[:16])>

:func:`open_signature` gives the ``encrypted_content`` back only when the seal verifies and it
was made for the same model; a signature from Anthropic's API, another server, another model
(the user switched models mid-conversation: whether the backend takes another model's reasoning
is not known, so it is not sent) or a damaged copy gives ``None``, and the translator then drops
that thinking block (reasoning is optional for the backend, a 400 is not).

The key (32 random bytes) lives in ``<llm user dir>/llm-codex/signing.key`` (0600, in the 0700
state folder), created on first use with ``O_EXCL`` so concurrent servers agree on one key; it
survives restarts, so conversations continue across them. When the file cannot be written, a key
for this process only is used (signatures then stop verifying after a restart: harmless).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import threading

from llm_codex import config

__all__ = ["PREFIX", "open_signature", "seal", "signing_key"]

#: Marks our signatures (and their format version).
PREFIX = "lcx1."
_KEY_FILE = "signing.key"
_KEY_BYTES = 32
_MAC_BYTES = 16

_log = logging.getLogger("llm_codex.server")
_lock = threading.Lock()
_keys: dict[str, bytes] = {}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _load_or_create(path: os.PathLike[str] | str) -> bytes:
    from llm_codex.auth.store import ensure_private_dir

    path = os.fspath(path)
    ensure_private_dir(config.state_dir())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, "rb") as handle:
            key = handle.read()
        if len(key) >= _KEY_BYTES:
            return key[:_KEY_BYTES]
        raise OSError(f"{path} is too short to be a signing key") from None
    key = secrets.token_bytes(_KEY_BYTES)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def signing_key() -> bytes:
    """This installation's signing key (memoised per state folder)."""
    path = str(config.state_dir() / _KEY_FILE)
    with _lock:
        key = _keys.get(path)
        if key is None:
            try:
                key = _load_or_create(path)
            except Exception as exc:  # never fail a request over it
                _log.warning("using a per-process signing key (%s): %s", path, exc)
                key = secrets.token_bytes(_KEY_BYTES)
            _keys[path] = key
        return key


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES]


def seal(encrypted_content: str, *, model: str, key: bytes | None = None) -> str:
    """The signature carrying ``encrypted_content`` made by ``model``."""
    payload = _b64(f"{model}\0{encrypted_content}".encode())
    return f"{PREFIX}{payload}.{_b64(_mac(key or signing_key(), payload))}"


def open_signature(signature: object, *, model: str, key: bytes | None = None) -> str | None:
    """The ``encrypted_content`` sealed in ``signature`` for ``model``, or ``None`` if it is not
    ours, not intact or from another model."""
    if not isinstance(signature, str) or not signature.startswith(PREFIX):
        return None
    payload, _, mac = signature[len(PREFIX) :].rpartition(".")
    if not payload or not mac:
        return None
    try:
        given = _unb64(mac)
        if not hmac.compare_digest(given, _mac(key or signing_key(), payload)):
            return None
        sealed_model, _, content = _unb64(payload).decode("utf-8").partition("\0")
    except (ValueError, binascii.Error, UnicodeError):
        return None
    return content if sealed_model == model and content else None
