"""The model catalog: which Codex models exist and what each one accepts.

Three sources, in this order of trust:

1. the backend's ``GET /models?client_version=X.Y.Z`` answer (protocol §10), fetched only on request
   (:func:`fetch_models`, :func:`refresh_cache`, ``llm codex models --refresh``);
2. the cache file :func:`llm_codex.config.models_cache_path` written by :func:`save_cache`, used at
   any age by :func:`load_models`;
3. a small built-in list (:data:`BUILTIN_MODELS`) used when there is no usable cache.

A cache **replaces** the built-in list (the backend knows the user's plan better than we do), but
models that are known to be callable while hidden from the listing (:data:`HIDDEN_CALLABLE`, e.g.
``gpt-5.3-codex-spark``) are always kept: from the backend's answer when it mentions them, else
from the built-in entry.

:func:`load_models` never touches the network or the credentials: it reads one small JSON file and
memoises the result per process, keyed on the file's path and modification stamp, so ``llm``
start-up (which may register models several times) pays for one read at most.

Parsing is lenient (protocol §6.3: strict schemas broke other clients): unknown fields are kept in
:attr:`ModelInfo.raw`, odd values fall back to defaults, and an entry without a ``slug`` is
skipped. Models that need the "Responses Lite" request form carry
:attr:`ModelInfo.use_responses_lite`; every face then builds that form (:mod:`llm_codex.core.lite`)
and offers them no hosted tools. Reasoning levels always come from the entry (``max`` and
``ultra`` included), never from a fixed list.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from llm_codex import config
from llm_codex.core.errors import CodexError

__all__ = [
    "BUILTIN_MODELS",
    "DEFAULT_MAX_AGE",
    "HIDDEN_CALLABLE",
    "MODEL_PREFIX",
    "Catalog",
    "ModelInfo",
    "cache_is_stale",
    "clear_memo",
    "fetch_catalog",
    "fetch_models",
    "find_model",
    "load_catalog",
    "load_models",
    "refresh_cache",
    "save_cache",
]

#: Every model id in ``llm`` is ``openai-codex/<slug>`` (no aliases: ``codex/...`` belongs to
#: another plugin); the server accepts the same ids besides bare slugs.
MODEL_PREFIX = "openai-codex/"

#: How old a cache may be before :func:`cache_is_stale` says so (the CLI uses 300 s; we fetch
#: only on demand, so a day is plenty).
DEFAULT_MAX_AGE = 24 * 3600

#: Input modalities assumed when the entry does not say (protocol §10.3 default).
_DEFAULT_MODALITIES = ("text", "image")


class _JSONGetter(Protocol):
    def get_json(
        self, url: str, *, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, Mapping[str, str]]: ...


# --- parsing helpers ---------------------------------------------------------------------------


def _as_bool(value: Any, default: bool = False) -> bool:
    """``True``/``False``, ``"true"``/``"false"``, ``1``/``0``; anything else gives ``default``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    return default


def _as_str(value: Any) -> str | None:
    """A non-empty string, else ``None``."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def _as_int(value: Any) -> int | None:
    """A non-negative integer from an int, an integral float or a digit string, else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _ids(value: Any, key: str) -> tuple[str, ...]:
    """Strings from a list of strings or of objects carrying ``key`` (order kept, no duplicates)."""
    if not isinstance(value, list):
        return ()
    out: list[str] = []
    for entry in value:
        ident = entry.get(key) if isinstance(entry, dict) else entry
        ident = _as_str(ident)
        if ident is not None and ident not in out:
            out.append(ident)
    return tuple(out)


# --- the model record --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """One catalog entry, with the capabilities the faces need (protocol §10.3).

    ``reasoning_levels`` are the allowed ``reasoning.effort`` values (empty: the model takes no
    reasoning options). ``service_tiers`` are tier ids such as ``"priority"`` (shown as "Fast").
    ``raw`` is the entry exactly as received (every field, known or not); it is what the cache
    stores.
    """

    slug: str
    display_name: str
    description: str = ""
    visibility: str = "list"
    priority: int | None = None
    reasoning_levels: tuple[str, ...] = ()
    default_reasoning_level: str | None = None
    supports_reasoning_summaries: bool = False
    default_reasoning_summary: str | None = None
    supports_verbosity: bool = False
    default_verbosity: str | None = None
    supports_parallel_tool_calls: bool = False
    input_modalities: tuple[str, ...] = _DEFAULT_MODALITIES
    supports_image_detail_original: bool = False
    context_window: int | None = None
    max_context_window: int | None = None
    service_tiers: tuple[str, ...] = ()
    web_search_tool_type: str | None = None
    supports_search_tool: bool = False
    supports_image_generation: bool = False
    use_responses_lite: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    # -- derived capabilities --

    @property
    def supports_images(self) -> bool:
        """Whether ``input_image`` parts may be sent."""
        return "image" in self.input_modalities

    @property
    def supports_fast(self) -> bool:
        """Whether the "Fast" tier (``service_tier: "priority"``) may be requested."""
        return "priority" in self.service_tiers

    @property
    def supports_web_search(self) -> bool:
        """Whether the hosted ``web_search`` tool is offered for this model (never on a
        Responses Lite model: the lane takes only function tools)."""
        if self.use_responses_lite:
            return False
        return self.web_search_tool_type is not None or self.supports_search_tool

    @property
    def supports_reasoning(self) -> bool:
        """Whether ``reasoning.effort`` may be sent."""
        return bool(self.reasoning_levels)

    @property
    def hidden(self) -> bool:
        """Callable but not shown in the backend's listing (e.g. ``gpt-5.3-codex-spark``)."""
        return self.visibility != "list"

    # -- conversions --

    @classmethod
    def from_json(cls, data: Any) -> ModelInfo | None:
        """Parse one ``ModelInfo`` object leniently; ``None`` when it has no usable ``slug``.

        Never raises on odd input: wrong types fall back to the field's default.
        """
        if not isinstance(data, dict):
            return None
        slug = _as_str(data.get("slug"))
        if slug is None or slug != slug.strip():
            return None

        levels = _ids(data.get("supported_reasoning_levels"), "effort")
        default_level = _as_str(data.get("default_reasoning_level"))
        if default_level is not None and levels and default_level not in levels:
            default_level = None

        modalities = data.get("input_modalities")
        input_modalities = (
            _ids(modalities, "type") if isinstance(modalities, list) else _DEFAULT_MODALITIES
        )

        tiers = list(_ids(data.get("service_tiers"), "id"))
        # Older entries only say "additional_speed_tiers": ["fast"]; "fast" is the priority tier.
        if "fast" in _ids(data.get("additional_speed_tiers"), "id") and "priority" not in tiers:
            tiers.append("priority")

        visibility = _as_str(data.get("visibility")) or "list"
        search_type = _as_str(data.get("web_search_tool_type"))

        lite = _as_bool(data.get("use_responses_lite"))
        image_gen = data.get("supports_image_generation")
        if lite:
            supports_image_generation = False  # the lite lane refuses hosted tools
        elif image_gen is None:
            # No catalog field exists for it; the hosted tool is reported to work on image-capable
            # models (protocol §5: "supported but not guaranteed").
            supports_image_generation = "image" in input_modalities
        else:
            supports_image_generation = _as_bool(image_gen)

        max_context_window = _as_int(data.get("max_context_window"))
        context_window = _as_int(data.get("context_window"))
        if context_window is None:
            context_window = max_context_window

        return cls(
            slug=slug,
            display_name=_as_str(data.get("display_name")) or slug,
            description=_as_str(data.get("description")) or "",
            visibility=visibility,
            priority=_as_int(data.get("priority")),
            reasoning_levels=levels,
            default_reasoning_level=default_level,
            supports_reasoning_summaries=_as_bool(data.get("supports_reasoning_summaries")),
            default_reasoning_summary=_as_str(data.get("default_reasoning_summary")),
            supports_verbosity=_as_bool(data.get("support_verbosity"))
            or _as_bool(data.get("supports_verbosity")),
            default_verbosity=_as_str(data.get("default_verbosity")),
            supports_parallel_tool_calls=_as_bool(data.get("supports_parallel_tool_calls")),
            input_modalities=input_modalities,
            supports_image_detail_original=_as_bool(data.get("supports_image_detail_original")),
            context_window=context_window,
            max_context_window=max_context_window,
            service_tiers=tuple(tiers),
            web_search_tool_type=search_type,
            supports_search_tool=_as_bool(data.get("supports_search_tool")),
            supports_image_generation=supports_image_generation,
            use_responses_lite=lite,
            raw=dict(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """The parsed capabilities as JSON-ready values (without ``raw``), for ``--json`` output."""
        return {
            "slug": self.slug,
            "display_name": self.display_name,
            "description": self.description,
            "visibility": self.visibility,
            "hidden": self.hidden,
            "reasoning_levels": list(self.reasoning_levels),
            "default_reasoning_level": self.default_reasoning_level,
            "supports_reasoning_summaries": self.supports_reasoning_summaries,
            "default_reasoning_summary": self.default_reasoning_summary,
            "supports_verbosity": self.supports_verbosity,
            "default_verbosity": self.default_verbosity,
            "supports_parallel_tool_calls": self.supports_parallel_tool_calls,
            "input_modalities": list(self.input_modalities),
            "supports_images": self.supports_images,
            "supports_image_detail_original": self.supports_image_detail_original,
            "context_window": self.context_window,
            "max_context_window": self.max_context_window,
            "service_tiers": list(self.service_tiers),
            "supports_fast": self.supports_fast,
            "web_search_tool_type": self.web_search_tool_type,
            "supports_search_tool": self.supports_search_tool,
            "supports_web_search": self.supports_web_search,
            "supports_image_generation": self.supports_image_generation,
            "use_responses_lite": self.use_responses_lite,
        }


def parse_models(entries: Iterable[Any]) -> list[ModelInfo]:
    """Parse a list of ``ModelInfo`` objects, skipping unusable entries and repeated slugs."""
    out: list[ModelInfo] = []
    seen: set[str] = set()
    for entry in entries:
        info = ModelInfo.from_json(entry)
        if info is not None and info.slug not in seen:
            seen.add(info.slug)
            out.append(info)
    return out


# --- built-in fallback -------------------------------------------------------------------------

_LEVEL_TEXT = {
    "low": "Fast responses with lighter reasoning",
    "medium": "Balances speed and reasoning depth",
    "high": "Greater reasoning depth for complex problems",
    "xhigh": "Extra high reasoning depth for complex problems",
    "max": "Maximum reasoning depth",
    "ultra": "Beyond maximum reasoning depth, for the hardest problems",
}
_FAST_TIER = [{"id": "priority", "name": "Fast", "description": "1.5x speed, increased usage"}]


def _levels(*efforts: str) -> list[dict[str, str]]:
    return [{"effort": e, "description": _LEVEL_TEXT[e]} for e in efforts]


#: Raw entries in the backend's shape, mirroring the catalog Codex CLI 0.169.0 ships
#: (``responses-lite.md`` §1): gpt-5.5 follows the Codex CLI's bundled catalog; the lite models
#: take their slug, name, client-version gate, levels, default level and windows from the
#: 0.169.0 catalog, and gpt-5.5's values where that summary is silent (summaries, verbosity,
#: images, the Fast tier). Spark stays as the known hidden-but-callable model.
_GPT_5_5: dict[str, Any] = {
    "slug": "gpt-5.5",
    "display_name": "GPT-5.5",
    "description": "Frontier model for complex coding, research and real-world work.",
    "visibility": "list",
    "supported_in_api": True,
    "priority": 0,
    "minimal_client_version": "0.124.0",
    "default_reasoning_level": "medium",
    "supported_reasoning_levels": _levels("low", "medium", "high", "xhigh"),
    "supports_reasoning_summaries": True,
    "default_reasoning_summary": "none",
    "support_verbosity": True,
    "default_verbosity": "low",
    "supports_parallel_tool_calls": True,
    "supports_image_detail_original": True,
    "context_window": 272000,
    "max_context_window": 272000,
    "input_modalities": ["text", "image"],
    "service_tiers": _FAST_TIER,
    "additional_speed_tiers": ["fast"],
    "web_search_tool_type": "text_and_image",
    "use_responses_lite": False,
}

_ULTRA = ("low", "medium", "high", "xhigh", "max", "ultra")
_MAX = _ULTRA[:-1]

#: (slug, display name, minimal client version, levels, default level, context window), in the
#: 0.169.0 catalog's order, after gpt-5.5 (priority 0 in the spec §10.3 example); every one has
#: ``max_context_window`` 872,000.
_LITE_MODELS = (
    ("gpt-6-astra", "GPT-6-Astra", "0.153.0", _ULTRA, "low", 272000),
    ("gpt-6.1-sol", "GPT-6.1-Sol", "0.153.0", _ULTRA, "low", 272000),
    ("gpt-6.1-terra", "GPT-6.1 Terra", "0.153.0", _ULTRA, "low", 500000),
    ("gpt-6-sol", "GPT-6-Sol", "0.155.0", _ULTRA, "medium", 272000),
    ("gpt-6-luna", "GPT-6-Luna", "0.155.0", _MAX, "medium", 272000),
    ("gpt-5.6-sol", "GPT-5.6-Sol", "0.144.0", _ULTRA, "low", 272000),
    ("gpt-5.6-terra", "GPT-5.6-Terra", "0.144.0", _ULTRA, "medium", 272000),
    ("gpt-5.6-luna", "GPT-5.6-Luna", "0.144.0", _MAX, "medium", 272000),
)


def _lite_entry(
    priority: int,
    slug: str,
    name: str,
    minimal: str,
    levels: tuple[str, ...],
    default: str,
    window: int,
) -> dict[str, Any]:
    return {k: v for k, v in _GPT_5_5.items() if k != "description"} | {
        "slug": slug,
        "display_name": name,
        "priority": priority,
        "minimal_client_version": minimal,
        "default_reasoning_level": default,
        "supported_reasoning_levels": _levels(*levels),
        "supports_image_detail_original": False,
        "context_window": window,
        "max_context_window": 872000,
        "supports_search_tool": True,
        "use_responses_lite": True,
    }


_OLDER = len(_LITE_MODELS) + 1  # priorities after the 0.169.0 catalog's models

_BUILTIN_RAW: list[dict[str, Any]] = [
    _GPT_5_5,
    *(_lite_entry(n, *row) for n, row in enumerate(_LITE_MODELS, start=1)),
    # Older models the 0.169.0 catalog no longer lists, kept until a fetched catalog replaces
    # the built-in list (the Anthropic face's default haiku alias is gpt-5.4-mini).
    # gpt-5.4: gpt-5.5's capabilities, without its client-version gate.
    {k: v for k, v in _GPT_5_5.items() if k != "minimal_client_version"}
    | {
        "slug": "gpt-5.4",
        "display_name": "GPT-5.4",
        "description": "Strong model for everyday coding and knowledge work.",
        "priority": _OLDER,
    },
    {
        "slug": "gpt-5.4-mini",
        "display_name": "GPT-5.4 mini",
        "description": "Smaller, faster and cheaper on usage.",
        "visibility": "list",
        "supported_in_api": True,
        "priority": _OLDER + 1,
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": _levels("low", "medium", "high"),
        "supports_reasoning_summaries": True,
        "default_reasoning_summary": "none",
        "support_verbosity": True,
        "default_verbosity": "medium",
        "supports_parallel_tool_calls": True,
        "supports_image_detail_original": False,
        "context_window": 272000,
        "max_context_window": 272000,
        "input_modalities": ["text", "image"],
        "web_search_tool_type": "text",
    },
    {
        "slug": "gpt-5.3-codex-spark",
        "display_name": "GPT-5.3-Codex-Spark",
        "description": "Very fast text-only coding model (hidden from the listing, callable).",
        "visibility": "hide",
        "supported_in_api": False,
        "priority": _OLDER + 2,
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": _levels("low", "medium", "high"),
        "supports_reasoning_summaries": True,
        "default_reasoning_summary": "none",
        "support_verbosity": False,
        "supports_parallel_tool_calls": True,
        "supports_image_detail_original": False,
        "context_window": 128000,
        "max_context_window": 128000,
        "input_modalities": ["text"],
    },
]

#: The built-in fallback catalog.
BUILTIN_MODELS: tuple[ModelInfo, ...] = tuple(parse_models(_BUILTIN_RAW))

#: Slugs that are callable although the backend hides them from the listing.
HIDDEN_CALLABLE: frozenset[str] = frozenset({"gpt-5.3-codex-spark"})


def _keep(info: ModelInfo) -> bool:
    """The listing rule: ``visibility == "list"``, plus the known hidden-but-callable slugs."""
    return info.visibility == "list" or info.slug in HIDDEN_CALLABLE


def _by_priority(models: Iterable[ModelInfo]) -> list[ModelInfo]:
    """Sorted by the catalog's ``priority`` (lowest first, entries without one last; stable)."""
    return sorted(models, key=lambda m: (m.priority is None, m.priority or 0))


def _with_hidden_callable(models: list[ModelInfo]) -> list[ModelInfo]:
    """Append built-in entries for hidden callable slugs the list does not mention."""
    present = {m.slug for m in models}
    extra = [m for m in BUILTIN_MODELS if m.slug in HIDDEN_CALLABLE and m.slug not in present]
    return [*models, *extra]


# --- the catalog as loaded ---------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """A model list and where it came from (``source`` is ``"cache"`` or ``"built-in"``)."""

    models: tuple[ModelInfo, ...]
    source: str = "built-in"
    fetched_at: float | None = None
    etag: str | None = None
    client_version: str | None = None
    path: Path | None = None

    def find(self, slug: str) -> ModelInfo | None:
        """The entry for ``slug`` (exact match), or ``None``."""
        for info in self.models:
            if info.slug == slug:
                return info
        return None


_BUILTIN_CATALOG = Catalog(models=BUILTIN_MODELS, source="built-in")

#: path -> (file stamp, catalog). The stamp is (mtime_ns, size, inode).
_memo: dict[str, tuple[tuple[int, int, int], Catalog]] = {}


def clear_memo() -> None:
    """Forget every memoised catalog (tests; a new cache file is picked up without this)."""
    _memo.clear()


def _parse_time(value: Any) -> float | None:
    """Unix seconds from a number or an RFC 3339 string; ``None`` when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    return None


def _read_cache(path: Path) -> Catalog | None:
    """The cache file as a catalog; ``None`` when missing, unreadable or without any model."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        return None
    if not config.is_current_backend(data.get("backend")):
        return None  # another backend's models (e.g. the fake's, after an offline trial)
    models = _by_priority(m for m in parse_models(data["models"]) if _keep(m))
    if not models:
        return None
    etag = data.get("etag")
    version = data.get("client_version")
    return Catalog(
        models=tuple(_with_hidden_callable(models)),
        source="cache",
        fetched_at=_parse_time(data.get("fetched_at")),
        etag=etag if isinstance(etag, str) else None,
        client_version=version if isinstance(version, str) else None,
        path=path,
    )


def load_catalog(*, path: Path | None = None) -> Catalog:
    """The cached catalog (any age) or else the built-in one. No network, no credentials.

    Memoised per process on the file's path and stamp: an unchanged file is read once.
    """
    path = path or config.models_cache_path()
    key = f"{path}|{config.backend_base_url()}"
    try:
        st = path.stat()
    except OSError:
        _memo.pop(key, None)
        return _BUILTIN_CATALOG
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    hit = _memo.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    catalog = _read_cache(path) or _BUILTIN_CATALOG
    _memo[key] = (stamp, catalog)
    return catalog


def load_models(*, path: Path | None = None) -> list[ModelInfo]:
    """The models to offer, by catalog priority: the cache file of any age, else the built-in
    list (see the module doc). No network, no credentials."""
    return list(load_catalog(path=path).models)


def find_model(slug: str, *, path: Path | None = None) -> ModelInfo | None:
    """The catalog entry for ``slug`` (cache or built-in), or ``None`` when unknown."""
    found = load_catalog(path=path).find(slug)
    if found is None and slug in HIDDEN_CALLABLE:
        found = _BUILTIN_CATALOG.find(slug)
    return found


def cache_is_stale(
    max_age: float = DEFAULT_MAX_AGE, *, now: float | None = None, path: Path | None = None
) -> bool:
    """Whether a refresh is due: no usable cache, older than ``max_age`` seconds, of unknown
    age, or fetched for a different ``client_version`` than the one configured now."""
    catalog = load_catalog(path=path)
    if catalog.source != "cache" or catalog.fetched_at is None:
        return True
    if catalog.client_version is not None and catalog.client_version != config.client_version():
        return True
    now = time.time() if now is None else now
    return now - catalog.fetched_at > max_age


# --- fetching and saving -----------------------------------------------------------------------


def fetch_catalog(client: _JSONGetter, *, client_version: str | None = None) -> Catalog:
    """``GET <base>/models?client_version=...`` through ``client.get_json`` (authenticated).

    Keeps ``visibility == "list"`` entries plus :data:`HIDDEN_CALLABLE` ones. Raises
    :class:`~llm_codex.core.errors.CodexError` (from the client, or when the answer has no
    ``models`` list).
    """
    version = client_version or config.client_version()
    url = config.backend_base_url() + "/models"
    data, headers = client.get_json(url, params={"client_version": version})
    entries = data.get("models") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise CodexError("The backend's model catalog was not understood (no list of models).")
    etag = None
    if headers is not None:
        with contextlib.suppress(Exception):
            etag = headers.get("etag") or headers.get("ETag")
    models = tuple(_by_priority(m for m in parse_models(entries) if _keep(m)))
    return Catalog(
        models=models,
        source="backend",
        fetched_at=time.time(),
        etag=etag if isinstance(etag, str) else None,
        client_version=version,
    )


def fetch_models(client: _JSONGetter, *, client_version: str | None = None) -> list[ModelInfo]:
    """The backend's current model list (see :func:`fetch_catalog`). Does not touch the cache."""
    return list(fetch_catalog(client, client_version=client_version).models)


def _ensure_state_dir(directory: Path) -> None:
    """Create ``directory`` (and parents) with mode 0700 if missing."""
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            os.chmod(directory, 0o700)


def _write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to a temp file beside ``path``, then ``os.replace`` it in place."""
    _ensure_state_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def save_cache(
    models: Iterable[ModelInfo | Mapping[str, Any]],
    *,
    etag: str | None = None,
    client_version: str | None = None,
    fetched_at: float | None = None,
    path: Path | None = None,
) -> Path:
    """Write the cache atomically as ``{"fetched_at","etag","client_version","backend",
    "models":[raw...]}``; a cache recorded for another backend is ignored when read.

    ``fetched_at`` is written as RFC 3339 UTC. The state directory is created 0700.
    """
    path = path or config.models_cache_path()
    raw = [dict(m.raw) if isinstance(m, ModelInfo) else dict(m) for m in models]
    payload = {
        "fetched_at": _rfc3339(time.time() if fetched_at is None else fetched_at),
        "etag": etag,
        "client_version": client_version or config.client_version(),
        "backend": config.backend_base_url(),
        "models": raw,
    }
    _write_json_atomic(path, payload)
    return path


def refresh_cache(
    client: _JSONGetter, *, client_version: str | None = None, path: Path | None = None
) -> tuple[list[str], list[str]]:
    """Fetch the catalog, save it, and return ``(added, removed)`` slugs (sorted) compared with
    what :func:`load_models` offered before (the previous cache, else the built-in list).

    An empty answer is not saved (it would hide every model): it raises a
    :class:`~llm_codex.core.errors.CodexError` suggesting a newer ``LLM_CODEX_CLIENT_VERSION``.
    """
    before = {m.slug for m in load_catalog(path=path).models}
    fetched = fetch_catalog(client, client_version=client_version)
    if not fetched.models:
        raise CodexError(
            f"The backend listed no models for client version {fetched.client_version}; "
            "set LLM_CODEX_CLIENT_VERSION to a recent Codex CLI version and try again."
        )
    save_cache(
        fetched.models,
        etag=fetched.etag,
        client_version=fetched.client_version,
        fetched_at=fetched.fetched_at,
        path=path,
    )
    after = {m.slug for m in load_catalog(path=path).models}
    return sorted(after - before), sorted(before - after)
