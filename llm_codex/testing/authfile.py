"""Write credential files in the Codex CLI ``auth.json`` shape (protocol §A3), for tests.

The same shape serves our own store (``config.own_auth_path()``) and the Codex CLI's
``$CODEX_HOME/auth.json``. The directory is created 0700 and the file written 0600 atomically
(temp file opened with ``O_CREAT|O_EXCL``, then ``os.replace``).
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["auth_json", "write_auth_file"]


def _rfc3339_now() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def auth_json(tokens: dict[str, Any], *, last_refresh: str | None = None) -> dict[str, Any]:
    """The file content for ``tokens`` (as returned by ``FakeCodexBackend.issue_tokens``)."""
    return {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": tokens["id_token"],
            "access_token": tokens["access_token"],
            "refresh_token": tokens.get("refresh_token"),
            "account_id": tokens.get("account_id"),
        },
        "last_refresh": last_refresh or _rfc3339_now(),
    }


def write_auth_file(
    path: str | os.PathLike[str],
    tokens: dict[str, Any],
    *,
    last_refresh: str | None = None,
    private_dir: bool = True,
) -> Path:
    """Write ``tokens`` to ``path`` as pretty-printed JSON, file mode 0600; return the path.

    A missing directory is created 0700; with ``private_dir`` an existing one is made 0700 too
    (what our own store requires). Pass ``private_dir=False`` for a directory the caller owns,
    such as a Codex home given on the command line.
    """
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if private_dir:
        os.chmod(path.parent, 0o700)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(auth_json(tokens, last_refresh=last_refresh), fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
