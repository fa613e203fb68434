"""The official route's model list: ``chatgpt/<slug>`` models (siwc.md §10).

- :func:`load_plan_models` — what ``llm`` registers at start-up: the cache
  ``official-models.json`` (any age) merged with a built-in ``gpt-5.5`` entry that is always
  present. One small file read at most (two: the cache is ignored when it was fetched for
  another account, so ``official.json``'s ``client_id``/``subject`` are read too), memoised on
  the files' stamps; no network, no token, no refresh.
- :func:`refresh_plan_cache` — ``GET {api}/models?client_version=…`` through a client on the
  official route; keeps the ``visibility: "list"`` entries in server order and saves them with
  the ``subject`` and ``client_id`` they were fetched for. Used by ``llm codex models
  --refresh``, after ``login --official`` and lazily (at most daily) after a successful prompt.

Entries are parsed like the Codex catalog's (:class:`~llm_codex.core.catalog.ModelInfo`); only
``slug``, ``display_name`` and ``visibility`` are documented, the rest is used when present.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_codex import config
from llm_codex.core.catalog import BUILTIN_MODELS, ModelInfo, parse_models
from llm_codex.core.errors import CodexError

__all__ = [
    "PLAN_BUILTIN",
    "PlanCatalog",
    "clear_plan_memo",
    "load_plan_catalog",
    "load_plan_models",
    "plan_cache_is_stale",
    "refresh_plan_cache",
]

MAX_AGE = 24 * 3600.0


def _builtin() -> ModelInfo:
    """gpt-5.5 as the Codex built-in knows it, without what this route never sends."""
    base = next(m for m in BUILTIN_MODELS if m.slug == "gpt-5.5").raw
    keep = (
        "slug",
        "display_name",
        "description",
        "supported_reasoning_levels",
        "supports_reasoning_summaries",
        "input_modalities",
        "context_window",
    )
    raw = {k: base[k] for k in keep if k in base}
    raw["visibility"] = "list"
    raw["web_search_tool_type"] = "text"
    raw["supports_image_generation"] = False
    info = ModelInfo.from_json(raw)
    assert info is not None
    return info


#: Always offered, so ``llm -m chatgpt/gpt-5.5`` is known even before any sign-in.
PLAN_BUILTIN: ModelInfo = _builtin()


@dataclass(frozen=True)
class PlanCatalog:
    """The models offered and where they came from (``"cache"`` or ``"built-in"``)."""

    models: tuple[ModelInfo, ...]
    source: str = "built-in"
    fetched_at: float | None = None


_memo: dict[str, tuple[Any, PlanCatalog]] = {}


def clear_plan_memo() -> None:
    """Forget the memoised list (tests; a changed file is picked up without this)."""
    _memo.clear()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _listed(entries: Any) -> list[ModelInfo]:
    if not isinstance(entries, list):
        return []
    return [m for m in parse_models(entries) if m.raw.get("visibility") == "list"]


def _with_builtin(models: list[ModelInfo]) -> tuple[ModelInfo, ...]:
    if any(m.slug == PLAN_BUILTIN.slug for m in models):
        return tuple(models)
    return (*models, PLAN_BUILTIN)


def load_plan_catalog(
    *, path: Path | None = None, official_path: Path | None = None
) -> PlanCatalog:
    """The cached list (for the active registration) plus the built-in entry. No network."""
    path = path or config.official_models_path()
    official_path = official_path or config.official_auth_path()
    key = str(path)
    stamps = (_stamp(path), _stamp(official_path))
    hit = _memo.get(key)
    if hit is not None and hit[0] == stamps:
        return hit[1]
    catalog = PlanCatalog(models=(PLAN_BUILTIN,))
    data = _read(path) if stamps[0] is not None else None
    if data is not None:
        active = _read(official_path) if stamps[1] is not None else None
        same = active is not None and all(
            data.get(k) == active.get(k) for k in ("client_id", "subject")
        )
        models = _listed(data.get("models")) if same else []
        if models:
            fetched = data.get("fetched_at")
            catalog = PlanCatalog(
                models=_with_builtin(models),
                source="cache",
                fetched_at=float(fetched) if isinstance(fetched, (int, float)) else None,
            )
    _memo[key] = (stamps, catalog)
    return catalog


def load_plan_models(**kwargs: Any) -> list[ModelInfo]:
    """The ``chatgpt/`` models to register (see :func:`load_plan_catalog`)."""
    return list(load_plan_catalog(**kwargs).models)


def plan_cache_is_stale(*, now: float | None = None) -> bool:
    """Whether the cache is missing, of another account or older than a day."""
    catalog = load_plan_catalog()
    if catalog.source != "cache" or catalog.fetched_at is None:
        return True
    return (time.time() if now is None else now) - catalog.fetched_at > MAX_AGE


def refresh_plan_cache(client: Any, *, timeout: float = 15.0) -> tuple[list[str], list[str]]:
    """Fetch ``GET {api}/models`` with ``client`` (official route), save it, and return the
    ``(added, removed)`` slugs compared with what was offered before."""
    from llm_codex.auth.siwc.files import read_official
    from llm_codex.auth.store import write_login

    before = {m.slug for m in load_plan_models()}
    url = config.api_base_url() + "/models"
    data, _ = client.get_json(
        url, params={"client_version": config.client_version()}, timeout=timeout
    )
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise CodexError("The ChatGPT plan model list was not understood (no list of models).")
    login = read_official()
    payload = {
        "fetched_at": time.time(),
        "client_version": config.client_version(),
        "subject": login.subject if login else None,
        "client_id": login.client_id if login else None,
        "models": [dict(m.raw) for m in _listed(entries)],
    }
    write_login(config.official_models_path(), payload, source="llm-codex")
    after = {m.slug for m in load_plan_models()}
    return sorted(after - before), sorted(before - after)
