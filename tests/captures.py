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


def lite_capture(name: str) -> dict[str, Any]:
    """One run of Codex CLI 0.169.0 on a Responses Lite model (a verbatim copy of the spec's
    ``captures/lite/<name>.json``): ``argv``, ``exit_code`` and every request."""
    return json.loads((DATA / "lite" / f"{name}.json").read_text(encoding="utf-8"))


def lite_turn_request(name: str) -> dict[str, Any]:
    """The ``POST /responses`` request of the lite capture ``name`` (headers and body)."""
    return next(r for r in lite_capture(name)["requests"] if r["path"].endswith("/responses"))


def nonlite_golden() -> dict[str, Any]:
    """Bodies and headers of representative non-lite requests as the client built them before
    the Responses Lite form existed (``tests/core/nonlite_cases.py``)."""
    return json.loads((DATA / "nonlite-golden.json").read_text(encoding="utf-8"))
