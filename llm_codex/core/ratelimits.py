"""Usage windows: parsed from response headers (protocol §9) and from ``/wham/usage`` (§11).

Every ``/responses`` answer carries ``x-codex-*`` headers describing the plan's usage windows.
:func:`parse_headers` turns them into a :class:`RateLimitSnapshot`; the plugin hands each one to
:func:`record_response_snapshot`, which saves it (so ``llm codex usage --cached`` can show it with
no network) and returns the warnings that are due.

Warnings
    When a window is at or above the warning threshold, one short line is returned, e.g.
    ``llm-codex: 93% of your 5-hour window used; resets at 15:42, in 1 h 06 min.`` Each window
    warns at most once per hour. The threshold is 90 % by default; set the environment variable
    ``LLM_CODEX_USAGE_WARNING`` to another percentage (``80`` or ``80%``), or to ``off`` (or
    ``0``) to silence the warnings.

The snapshot and the warning bookkeeping share one small JSON file,
:func:`llm_codex.config.ratelimit_state_path`, written atomically (temp file + ``os.replace``);
concurrent writers do not lock: the last writer wins, which at worst repeats a warning.

Windows are identified by their length, never by their position: free plans put the weekly window
in ``primary`` (protocol §11.3). A window whose reset time has passed has rolled over and counts as
0 % used (:meth:`RateLimitWindow.percent_at`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_codex import config
from llm_codex.core.timefmt import describe_reset

__all__ = [
    "DEFAULT_WARNING_THRESHOLD",
    "WARNING_INTERVAL",
    "Credits",
    "LimitFamily",
    "RateLimitSnapshot",
    "RateLimitWindow",
    "format_percent",
    "load_snapshot",
    "parse_headers",
    "parse_usage_payload",
    "record_response_snapshot",
    "save_snapshot",
    "usage_warnings",
    "warning_threshold",
]

#: Default percentage at which a window triggers a warning.
DEFAULT_WARNING_THRESHOLD = 90.0
#: Minimum seconds between two warnings about the same window.
WARNING_INTERVAL = 3600.0
#: The default limit family (protocol §9).
DEFAULT_FAMILY = "codex"

_WEEK_MINUTES = 7 * 24 * 60
_DAY_MINUTES = 24 * 60


# --- value parsing -----------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A stripped non-empty string from a str, bytes or number; ``None`` otherwise."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = repr(value)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def _float(value: Any) -> float | None:
    """A finite float from a number or numeric string; ``None`` for anything odd."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = _text(value)
        if text is None:
            return None
        try:
            number = float(text)
        except (ValueError, OverflowError):
            return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    """An integer (floats truncated) from a number or numeric string; ``None`` when odd."""
    number = _float(value)
    if number is None:
        return None
    try:
        return int(number)
    except (ValueError, OverflowError):
        return None


def _bool(value: Any) -> bool | None:
    """``True``/``False``/``true``/``false``/``1``/``0`` (any case); ``None`` for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = _text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None


def _family_id(name: str) -> str:
    """``codex-bengalfox`` -> ``codex_bengalfox`` (lower case, ``-`` to ``_``)."""
    return name.strip().lower().replace("-", "_")


def format_percent(percent: float) -> str:
    """``93%`` (rounded down, so 99.6 never reads 100); ``<1%`` for a small non-zero value."""
    if 0 < percent < 1:
        return "<1%"
    return f"{math.floor(percent)}%"


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimitWindow:
    """One usage window: percent used, its length in minutes and when it resets (Unix seconds)."""

    used_percent: float
    window_minutes: int | None = None
    resets_at: float | None = None

    @property
    def label(self) -> str:
        """``5-hour window``, ``weekly window``, else ``N-day``/``N-hour``/``N-minute window``."""
        minutes = self.window_minutes
        if not minutes or minutes <= 0:
            return "usage window"
        if minutes == _WEEK_MINUTES:
            return "weekly window"
        if minutes % _DAY_MINUTES == 0:
            return f"{minutes // _DAY_MINUTES}-day window"
        if minutes % 60 == 0:
            return f"{minutes // 60}-hour window"
        return f"{minutes}-minute window"

    def has_reset(self, now: float | None = None) -> bool:
        """Whether the reset time has passed (the window rolled over since it was seen)."""
        now = time.time() if now is None else now
        return self.resets_at is not None and self.resets_at <= now

    def percent_at(self, now: float | None = None) -> float:
        """Percent used as of ``now``: 0 once the window has reset."""
        return 0.0 if self.has_reset(now) else self.used_percent

    def to_json(self) -> dict[str, Any]:
        return {
            "used_percent": self.used_percent,
            "window_minutes": self.window_minutes,
            "resets_at": self.resets_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> RateLimitWindow | None:
        if not isinstance(data, dict):
            return None
        used = _float(data.get("used_percent"))
        if used is None:
            return None
        return cls(used, _int(data.get("window_minutes")), _float(data.get("resets_at")))


@dataclass(frozen=True)
class LimitFamily:
    """A limit family (``codex`` or an extra metered one): up to two windows.

    Iterating yields the present windows, shortest first. ``display_name`` comes from
    ``x-<name>-limit-name`` or the usage payload's ``limit_name``; :attr:`title` always has text.
    """

    name: str
    display_name: str | None = None
    primary: RateLimitWindow | None = None
    secondary: RateLimitWindow | None = None
    limit_reached: bool | None = None

    def __iter__(self) -> Iterator[RateLimitWindow]:
        present = [w for w in (self.primary, self.secondary) if w is not None]
        present.sort(key=lambda w: w.window_minutes if w.window_minutes else math.inf)
        return iter(present)

    @property
    def windows(self) -> list[RateLimitWindow]:
        """The present windows, shortest first."""
        return list(self)

    @property
    def title(self) -> str:
        """``Codex`` for the default family, the display name, else the id in words."""
        if self.display_name:
            return self.display_name
        if self.name == DEFAULT_FAMILY:
            return "Codex"
        return self.name.replace("_", " ").capitalize()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "limit_reached": self.limit_reached,
            "primary": self.primary.to_json() if self.primary else None,
            "secondary": self.secondary.to_json() if self.secondary else None,
        }

    @classmethod
    def from_json(cls, data: Any) -> LimitFamily | None:
        if not isinstance(data, dict) or not _text(data.get("name")):
            return None
        return cls(
            name=_family_id(_text(data.get("name")) or DEFAULT_FAMILY),
            display_name=_text(data.get("display_name")),
            primary=RateLimitWindow.from_json(data.get("primary")),
            secondary=RateLimitWindow.from_json(data.get("secondary")),
            limit_reached=_bool(data.get("limit_reached")),
        )


@dataclass(frozen=True)
class Credits:
    """Credits on the plan. ``balance`` is kept as the server's text (e.g. ``"12.5"``)."""

    has_credits: bool
    unlimited: bool = False
    balance: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "has_credits": self.has_credits,
            "unlimited": self.unlimited,
            "balance": self.balance,
        }

    @classmethod
    def from_json(cls, data: Any) -> Credits | None:
        if not isinstance(data, dict):
            return None
        has = _bool(data.get("has_credits"))
        if has is None:
            return None
        return cls(has, bool(_bool(data.get("unlimited"))), _text(data.get("balance")))


@dataclass(frozen=True)
class RateLimitSnapshot:
    """Everything known about the plan's limits at ``captured_at`` (Unix seconds).

    ``families`` maps a family id (``codex``, ``codex_bengalfox``...) to its windows.
    ``source`` is ``"response"`` for headers of a model response, ``"usage"`` for ``/wham/usage``.
    """

    families: dict[str, LimitFamily] = field(default_factory=dict)
    credits: Credits | None = None
    plan_type: str | None = None
    active_limit: str | None = None
    reached_type: str | None = None
    promo_message: str | None = None
    captured_at: float = 0.0
    source: str = "response"

    def windows(self) -> Iterator[tuple[LimitFamily, RateLimitWindow]]:
        """Every ``(family, window)`` pair, the default family first."""
        for family in self.ordered_families():
            for window in family:
                yield family, window

    def ordered_families(self) -> list[LimitFamily]:
        """The families, ``codex`` first, the rest by id."""
        return sorted(self.families.values(), key=lambda f: (f.name != DEFAULT_FAMILY, f.name))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the inverse of :meth:`from_json`)."""
        return {
            "captured_at": self.captured_at,
            "source": self.source,
            "plan_type": self.plan_type,
            "active_limit": self.active_limit,
            "reached_type": self.reached_type,
            "promo_message": self.promo_message,
            "credits": self.credits.to_json() if self.credits else None,
            "families": {name: fam.to_json() for name, fam in self.families.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> RateLimitSnapshot | None:
        """Rebuild a snapshot from :meth:`to_json` output; ``None`` when it is not one."""
        if not isinstance(data, dict):
            return None
        families: dict[str, LimitFamily] = {}
        raw_families = data.get("families")
        if isinstance(raw_families, dict):
            for value in raw_families.values():
                family = LimitFamily.from_json(value)
                if family is not None:
                    families[family.name] = family
        return cls(
            families=families,
            credits=Credits.from_json(data.get("credits")),
            plan_type=_text(data.get("plan_type")),
            active_limit=_text(data.get("active_limit")),
            reached_type=_text(data.get("reached_type")),
            promo_message=_text(data.get("promo_message")),
            captured_at=_float(data.get("captured_at")) or 0.0,
            source=_text(data.get("source")) or "response",
        )


# --- headers (protocol §9) ---------------------------------------------------------------------

_FAMILY_HEADER = re.compile(r"^x-(.+)-(?:primary|secondary)-used-percent$")


def _lower_headers(headers: Any) -> dict[str, Any]:
    """Header names lower-cased; non-string names skipped. Accepts any mapping or pair list."""
    items: Any
    try:
        items = headers.items() if hasattr(headers, "items") else headers
        out: dict[str, Any] = {}
        for key, value in items:
            if isinstance(key, bytes):
                key = key.decode("latin-1")
            if isinstance(key, str):
                out.setdefault(key.strip().lower(), value)
        return out
    except Exception:
        return {}


def _header_window(
    h: dict[str, Any], prefix: str, which: str, now: float
) -> RateLimitWindow | None:
    used = _float(h.get(f"{prefix}-{which}-used-percent"))
    if used is None:
        return None
    minutes = _int(h.get(f"{prefix}-{which}-window-minutes"))
    resets_at = _float(h.get(f"{prefix}-{which}-reset-at"))
    if resets_at is None:
        after = _float(h.get(f"{prefix}-{which}-reset-after-seconds"))
        if after is not None:
            resets_at = now + after
    if used == 0 and not minutes and resets_at is None:
        return None
    return RateLimitWindow(used, minutes, resets_at)


def parse_headers(
    headers: Mapping[str, str], *, now: float | None = None
) -> RateLimitSnapshot | None:
    """The snapshot described by a response's ``x-*`` rate-limit headers (protocol §9).

    Names are case-insensitive. Every ``x-<name>-primary-used-percent`` (or ``secondary``) header
    defines a family ``<name>`` with ``-`` read as ``_``. A window is present only when its used
    percent is non-zero, its length is non-zero or its reset time is known (``reset-at``, else
    ``now + reset-after-seconds``). Odd values (non-numeric, empty, infinite) are ignored.
    Returns ``None`` when the headers carry no usable rate-limit information. Never raises.
    """
    try:
        return _parse_headers(headers, time.time() if now is None else now)
    except Exception:  # a parser of untrusted headers must never break a response
        return None


def _parse_headers(headers: Mapping[str, str], now: float) -> RateLimitSnapshot | None:
    h = _lower_headers(headers)
    names: set[str] = set()
    for key in h:
        match = _FAMILY_HEADER.match(key)
        if match and match.group(1).strip():
            names.add(match.group(1))
    families: dict[str, LimitFamily] = {}
    for header_name in sorted(names):
        prefix = f"x-{header_name}"
        primary = _header_window(h, prefix, "primary", now)
        secondary = _header_window(h, prefix, "secondary", now)
        if primary is None and secondary is None:
            continue
        family_id = _family_id(header_name)
        if family_id in families:
            continue
        families[family_id] = LimitFamily(
            name=family_id,
            display_name=_text(h.get(f"{prefix}-limit-name")),
            primary=primary,
            secondary=secondary,
        )

    credits = None
    has_credits = _bool(h.get("x-codex-credits-has-credits"))
    if has_credits is not None:
        credits = Credits(
            has_credits=has_credits,
            unlimited=bool(_bool(h.get("x-codex-credits-unlimited"))),
            balance=_text(h.get("x-codex-credits-balance")),
        )
    active = _text(h.get("x-codex-active-limit"))
    reached = _text(h.get("x-codex-rate-limit-reached-type"))
    promo = _text(h.get("x-codex-promo-message"))
    if not families and credits is None and active is None and reached is None:
        return None
    return RateLimitSnapshot(
        families=families,
        credits=credits,
        plan_type=_text(h.get("x-codex-plan-type")),
        active_limit=_family_id(active) if active else None,
        reached_type=reached,
        promo_message=promo,
        captured_at=now,
        source="response",
    )


# --- /wham/usage (protocol §11) ----------------------------------------------------------------


def _usage_window(data: Any, now: float) -> RateLimitWindow | None:
    if not isinstance(data, dict):
        return None
    used = _float(data.get("used_percent"))
    if used is None:
        return None
    seconds = _float(data.get("limit_window_seconds"))
    minutes = round(seconds / 60) if seconds is not None and seconds > 0 else None
    resets_at = _float(data.get("reset_at"))
    if resets_at is None:
        after = _float(data.get("reset_after_seconds"))
        if after is not None:
            resets_at = now + after
    if used == 0 and not minutes and resets_at is None:
        return None
    if resets_at is not None and resets_at <= now:
        used = 0.0  # rolled over since the server computed it (protocol §11.3)
    return RateLimitWindow(used, minutes, resets_at)


def _usage_family(name: str, display: str | None, data: Any, now: float) -> LimitFamily:
    rate_limit = data if isinstance(data, dict) else {}
    return LimitFamily(
        name=name,
        display_name=display,
        primary=_usage_window(rate_limit.get("primary_window"), now),
        secondary=_usage_window(rate_limit.get("secondary_window"), now),
        limit_reached=_bool(rate_limit.get("limit_reached")),
    )


def parse_usage_payload(data: Any, *, now: float | None = None) -> RateLimitSnapshot | None:
    """The snapshot described by a ``/wham/usage`` answer; ``None`` when it is not an object.

    The ``codex`` family comes from ``rate_limit`` (kept even when null, with no windows, so the
    plan is still shown); each ``additional_rate_limits`` entry becomes a family named after its
    ``metered_feature`` (else ``limit_name``) and titled ``limit_name``. Windows are labelled by
    ``limit_window_seconds``, not by position. Lenient: odd values are ignored, never raised.
    """
    if not isinstance(data, dict):
        return None
    try:
        return _parse_usage(data, time.time() if now is None else now)
    except Exception:
        return None


def _parse_usage(data: dict[str, Any], now: float) -> RateLimitSnapshot:
    families = {DEFAULT_FAMILY: _usage_family(DEFAULT_FAMILY, None, data.get("rate_limit"), now)}
    extra = data.get("additional_rate_limits")
    if isinstance(extra, list):
        for entry in extra:
            if not isinstance(entry, dict):
                continue
            display = _text(entry.get("limit_name"))
            ident = _text(entry.get("metered_feature")) or display
            if ident is None:
                continue
            name = _family_id(ident)
            if name in families:
                continue
            families[name] = _usage_family(name, display, entry.get("rate_limit"), now)

    reached = data.get("rate_limit_reached_type")
    if isinstance(reached, dict):
        reached = reached.get("type") or reached.get("kind")
    return RateLimitSnapshot(
        families=families,
        credits=Credits.from_json(data.get("credits")),
        plan_type=_text(data.get("plan_type")),
        active_limit=None,
        reached_type=_text(reached),
        promo_message=None,
        captured_at=now,
        source="usage",
    )


# --- state file --------------------------------------------------------------------------------


def _read_state(path: Path) -> dict[str, Any]:
    """The state file; empty when missing, unreadable, or recorded for another backend."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict) or not config.is_current_backend(data.get("backend")):
        return {}
    return data


def _write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomic write (temp file + ``os.replace``); the directory is created 0700."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            os.chmod(path.parent, 0o700)
    state = {**state, "backend": config.backend_base_url()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_snapshot(snapshot: RateLimitSnapshot, path: Path | None = None) -> None:
    """Store ``snapshot`` as the last one seen (atomic; last writer wins; bookkeeping kept)."""
    path = path or config.ratelimit_state_path()
    state = _read_state(path)
    state["snapshot"] = snapshot.to_json()
    _write_state(path, state)


def load_snapshot(path: Path | None = None) -> RateLimitSnapshot | None:
    """The last stored snapshot, or ``None`` when there is none (or the file is unreadable)."""
    path = path or config.ratelimit_state_path()
    return RateLimitSnapshot.from_json(_read_state(path).get("snapshot"))


# --- warnings ----------------------------------------------------------------------------------

_OFF_WORDS = {"off", "no", "none", "false", "never", "disable", "disabled"}


def warning_threshold() -> float | None:
    """The threshold from ``LLM_CODEX_USAGE_WARNING`` (default 90); ``None`` when silenced.

    Accepts ``85``, ``85%`` or ``85.5``; ``off``/``0`` (and ``none``, ``no``, ``false``) silence
    the warnings; an unreadable value keeps the default.
    """
    raw = os.environ.get("LLM_CODEX_USAGE_WARNING", "").strip().lower()
    if not raw:
        return DEFAULT_WARNING_THRESHOLD
    if raw in _OFF_WORDS:
        return None
    number = _float(raw.rstrip("%").strip())
    if number is None:
        return DEFAULT_WARNING_THRESHOLD
    return number if number > 0 else None


def _window_key(family: LimitFamily, window: RateLimitWindow, position: int) -> str:
    length = window.window_minutes if window.window_minutes else f"p{position}"
    return f"{family.name}:{length}"


def _warning_line(family: LimitFamily, window: RateLimitWindow, now: float) -> str:
    whose = window.label
    if family.name != DEFAULT_FAMILY:
        whose = f"{family.title} {window.label}"
    line = f"llm-codex: {format_percent(window.percent_at(now))} of your {whose} used"
    if window.resets_at is not None:
        line += f"; {describe_reset(window.resets_at, now=now)}"
    return line + "."


def _due_warnings(
    snapshot: RateLimitSnapshot | None,
    warned: dict[str, Any],
    now: float,
    threshold: float | None,
) -> tuple[list[str], dict[str, float]]:
    """The lines due now and the updated bookkeeping (stale entries dropped)."""
    book = {
        k: float(v)
        for k, v in warned.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and now - v < WARNING_INTERVAL
    }
    lines: list[str] = []
    if snapshot is None or threshold is None or threshold <= 0:
        return lines, book
    for family in snapshot.ordered_families():
        for position, window in enumerate(family):
            if window.percent_at(now) < threshold:
                continue
            key = _window_key(family, window, position)
            if key in book:
                continue
            book[key] = now
            lines.append(_warning_line(family, window, now))
    return lines, book


def usage_warnings(
    snapshot: RateLimitSnapshot | None,
    *,
    now: float | None = None,
    threshold: float | None = None,
    path: Path | None = None,
) -> list[str]:
    """One line per window at or above the threshold that has not warned in the last hour.

    ``threshold`` defaults to :func:`warning_threshold` (``LLM_CODEX_USAGE_WARNING``); 0 silences.
    The bookkeeping lives in the state file; failing to write it never raises.
    """
    now = time.time() if now is None else now
    threshold = warning_threshold() if threshold is None else threshold
    path = path or config.ratelimit_state_path()
    state = _read_state(path)
    warned = state.get("warned") if isinstance(state.get("warned"), dict) else {}
    lines, book = _due_warnings(snapshot, warned, now, threshold)
    if lines:
        state["warned"] = book
        with contextlib.suppress(OSError):
            _write_state(path, state)
    return lines


def record_response_snapshot(
    snapshot: RateLimitSnapshot | None,
    *,
    now: float | None = None,
    threshold: float | None = None,
    path: Path | None = None,
) -> list[str]:
    """Save a response's snapshot and return the warnings due (print them to stderr).

    One read and one atomic write of the state file. ``None`` (a response without rate-limit
    headers) changes nothing. Never raises: a state file that cannot be written only means the
    snapshot is not kept.
    """
    if snapshot is None:
        return []
    now = time.time() if now is None else now
    threshold = warning_threshold() if threshold is None else threshold
    path = path or config.ratelimit_state_path()
    try:
        state = _read_state(path)
        warned = state.get("warned") if isinstance(state.get("warned"), dict) else {}
        lines, book = _due_warnings(snapshot, warned, now, threshold)
        state["snapshot"] = snapshot.to_json()
        state["warned"] = book
        with contextlib.suppress(OSError):
            _write_state(path, state)
        return lines
    except Exception:
        return []
