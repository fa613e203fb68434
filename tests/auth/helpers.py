"""Helpers shared by the auth tests: hand-made JWTs and credential files."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from llm_codex.testing.authfile import auth_json

AUTH_CLAIM = "https://api.openai.com/auth"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: Any) -> str:
    """An unsigned JWT-shaped token whose payload is ``claims`` (any JSON value)."""
    header = b64(json.dumps({"alg": "none"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}.sig"


def id_token(
    *, account_id: str | None = "acct-1", email: str = "a@example.com", plan: str = "plus"
) -> str:
    auth: dict[str, Any] = {"chatgpt_plan_type": plan}
    if account_id:
        auth["chatgpt_account_id"] = account_id
    return make_jwt({"email": email, AUTH_CLAIM: auth})


def auth_document(tokens: dict[str, Any], *, last_refresh: str = "2026-01-01T00:00:00.000Z"):
    """A credential document in the Codex CLI's ``auth.json`` shape (the fake's own writer)."""
    return auth_json(tokens, last_refresh=last_refresh)


def write_json(path: Path, data: Any, *, mode: int = 0o600, dir_mode: int = 0o700) -> Path:
    """Write ``data`` as pretty JSON with exactly ``mode`` (the folder gets ``dir_mode``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, dir_mode)
    text = data if isinstance(data, str) else json.dumps(data, indent=2)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def snapshot(path: Path) -> tuple[bytes, int, int]:
    """Bytes, mtime_ns and mode of a file, to prove it was not touched."""
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, info.st_mode
