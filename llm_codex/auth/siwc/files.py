"""The official route's files (siwc.md §9): ``official.json`` and ``host-id.json``.

``official.json`` holds one registration (issued client id, subject, e-mail, whether plan usage
is allowed, when the one-time notice was shown) and its tokens, or ``tokens: null`` after a
logout or before the first sign-in completed. It also records the ``issuer`` and ``api_base``
it was obtained for: a token is only ever sent to the issuer and the API it was issued for.
``host-id.json`` keeps this host's ``ext_agent_host_id`` even when ``official.json`` is removed.

Both are written with :func:`llm_codex.auth.store.write_login` (temp file, fsync, ``os.replace``,
0600 in a 0700 folder). A file that cannot be used is reported in one sentence and never
modified or deleted.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llm_codex import config
from llm_codex.auth.store import SOURCE_OWN, _check_private_dir, _read_bytes, write_login
from llm_codex.auth.tokens import parse_rfc3339
from llm_codex.core.errors import CredentialFileError

__all__ = [
    "FILE_VERSION",
    "OfficialLogin",
    "ensure_host_id",
    "iso_now",
    "parse_earliest_refresh_at",
    "read_host_id",
    "read_official",
    "tokens_record",
    "write_official",
]

FILE_VERSION = 1
_SIGN_IN = "run `llm codex login --official`"


def iso_now(now: float | None = None) -> str:
    """RFC 3339 UTC, seconds precision."""
    moment = time.time() if now is None else now
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_json(path: Path, what: str) -> dict[str, Any] | None:
    _check_private_dir(path.parent, create=False)
    got = _read_bytes(path, source=SOURCE_OWN)
    if got is None:
        return None
    raw, mode = got
    if mode & 0o077:
        raise CredentialFileError(
            f"The {what} {path} is readable by other users (mode {mode:04o}); "
            f"run 'chmod 600 {path}'."
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CredentialFileError(
            f"The {what} {path} is not valid JSON; it was left as it is."
        ) from None
    if not isinstance(data, dict):
        raise CredentialFileError(f"The {what} {path} does not hold a JSON object.")
    return data


# --- the host id -------------------------------------------------------------------------------


def read_host_id(path: Path | None = None) -> str | None:
    """This host's ``ext_agent_host_id``, or ``None`` when none was made yet."""
    path = path or config.official_host_id_path()
    data = _read_json(path, "host id file")
    if data is None:
        return None
    value = data.get("ext_agent_host_id")
    if not isinstance(value, str) or not value.startswith(("urn:uuid:", "urn:ietf:", "did:key:")):
        raise CredentialFileError(f"The host id file {path} holds no usable ext_agent_host_id.")
    return value


def ensure_host_id(path: Path | None = None) -> str:
    """The host id, created once as ``urn:uuid:<random UUIDv4>`` (siwc.md §4.1) if missing."""
    path = path or config.official_host_id_path()
    existing = read_host_id(path)
    if existing is not None:
        return existing
    value = f"urn:uuid:{uuid.uuid4()}"
    write_login(path, {"ext_agent_host_id": value, "created_at": iso_now()}, source=SOURCE_OWN)
    return value


# --- official.json -----------------------------------------------------------------------------


def parse_earliest_refresh_at(value: Any) -> float | None:
    """``earliest_refresh_at`` as Unix seconds (siwc.md §8.3), or ``None`` for "no constraint".

    A number is Unix seconds (above 10¹² it is milliseconds); a string is RFC 3339 (or a number
    in a string); anything else means no constraint.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            parsed = parse_rfc3339(text)
            return parsed.timestamp() if parsed is not None else None
    if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        seconds = float(value)
        return seconds / 1000.0 if seconds > 1e12 else seconds
    return None


@dataclass(frozen=True)
class OfficialLogin:
    """``official.json`` as read (tokens never appear in its repr)."""

    path: Path
    data: dict[str, Any] = field(repr=False)

    def _str(self, key: str) -> str | None:
        value = self.data.get(key)
        return value if isinstance(value, str) and value else None

    @property
    def issuer(self) -> str | None:
        return self._str("issuer")

    @property
    def api_base(self) -> str | None:
        return self._str("api_base")

    @property
    def client_id(self) -> str | None:
        return self._str("client_id")

    @property
    def subject(self) -> str | None:
        return self._str("subject")

    @property
    def email(self) -> str | None:
        return self._str("email")

    @property
    def host_id(self) -> str | None:
        return self._str("ext_agent_host_id")

    @property
    def plan_usage(self) -> bool:
        return self.data.get("plan_usage") is True

    @property
    def notice_shown(self) -> bool:
        return bool(self.data.get("notice_shown_at"))

    @property
    def tokens(self) -> dict[str, Any] | None:
        tokens = self.data.get("tokens")
        return tokens if isinstance(tokens, dict) else None

    def _token(self, key: str) -> str | None:
        value = (self.tokens or {}).get(key)
        return value if isinstance(value, str) and value else None

    @property
    def access_token(self) -> str | None:
        return self._token("access_token")

    @property
    def refresh_token(self) -> str | None:
        return self._token("refresh_token")

    @property
    def id_token(self) -> str | None:
        return self._token("id_token")

    def _number(self, key: str) -> float | None:
        value = (self.tokens or {}).get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value)

    @property
    def expires_at(self) -> float | None:
        return self._number("expires_at")

    @property
    def earliest_refresh_at(self) -> float | None:
        return self._number("earliest_refresh_at")

    @property
    def needs_sign_in(self) -> bool:
        return (self.tokens or {}).get("needs_sign_in") is True

    @property
    def possibly_spent(self) -> bool:
        return (self.tokens or {}).get("possibly_spent") is True

    @property
    def scopes(self) -> list[str]:
        value = (self.tokens or {}).get("scopes")
        return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []

    def same_tokens(self, other: OfficialLogin) -> bool:
        """Whether both hold the same access and refresh token (nobody rotated in between)."""
        return (self.access_token, self.refresh_token) == (other.access_token, other.refresh_token)

    def with_changes(self, **changes: Any) -> dict[str, Any]:
        """A deep copy of the document with top-level ``changes`` applied."""
        data = json.loads(json.dumps(self.data))
        data.update(changes)
        return data

    def with_token_changes(self, **changes: Any) -> dict[str, Any]:
        """A deep copy of the document with ``changes`` applied inside ``tokens``."""
        data = json.loads(json.dumps(self.data))
        tokens = data.get("tokens") if isinstance(data.get("tokens"), dict) else {}
        tokens.update(changes)
        data["tokens"] = tokens
        return data


def read_official(path: Path | None = None) -> OfficialLogin | None:
    """``official.json``, validated; ``None`` when it does not exist.

    Raises :class:`CredentialFileError` for a file of another version or shape (left as is).
    """
    path = path or config.official_auth_path()
    data = _read_json(path, "ChatGPT plan sign-in file")
    if data is None:
        return None
    if data.get("version") != FILE_VERSION:
        raise CredentialFileError(
            f"The ChatGPT plan sign-in file {path} has a version llm-codex cannot read; "
            "it was left as it is."
        )
    tokens = data.get("tokens")
    if not isinstance(data.get("client_id"), str) or not (
        tokens is None or isinstance(tokens, dict)
    ):
        raise CredentialFileError(
            f"The ChatGPT plan sign-in file {path} is incomplete; it was left as it is "
            f"(move it away and {_SIGN_IN})."
        )
    return OfficialLogin(path=path, data=data)


def write_official(data: dict[str, Any], path: Path | None = None) -> OfficialLogin:
    """Atomically write ``official.json`` (0600, folder 0700) and return it as read back."""
    path = path or config.official_auth_path()
    data = dict(data)
    data["version"] = FILE_VERSION
    write_login(path, data, source=SOURCE_OWN)
    return OfficialLogin(path=path, data=json.loads(json.dumps(data)))


def tokens_record(
    answer: dict[str, Any], *, now: float, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``tokens`` object for a token-endpoint answer (siwc.md §9.4).

    ``expires_at`` = receipt time + ``expires_in``. On a refresh (``previous`` given) a missing
    ``scope`` or ``id_token`` keeps the previous value (§8.5).
    """
    previous = previous or {}
    scope = answer.get("scope")
    if isinstance(scope, str):
        scopes = sorted(set(scope.split()))
    else:
        scopes = list(previous.get("scopes") or [])
    id_token = answer.get("id_token")
    if not (isinstance(id_token, str) and id_token):
        id_token = previous.get("id_token")
    expires_in = float(answer["expires_in"])
    return {
        "id_token": id_token,
        "access_token": answer["access_token"],
        "refresh_token": answer.get("refresh_token") or None,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "expires_at": now + expires_in,
        "earliest_refresh_at": parse_earliest_refresh_at(answer.get("earliest_refresh_at")),
        "scopes": scopes,
        "saved_at": previous.get("saved_at") or iso_now(now),
        "last_refresh": iso_now(now),
        "needs_sign_in": False,
        "possibly_spent": False,
    }
