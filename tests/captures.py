"""The real captures the tests compare against, one copy each under ``tests/data/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


def codex_cli_exec() -> list[dict[str, Any]]:
    """The requests Codex CLI 0.169.0 sent for one ``codex exec`` (a verbatim copy of the spec's
    ``captures/codex-cli-0.169.0-exec.json``, secrets already replaced)."""
    return json.loads((DATA / "codex-cli-0.169.0-exec.json").read_text(encoding="utf-8"))
