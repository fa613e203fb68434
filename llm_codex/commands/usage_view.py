"""Rendering of usage snapshots for ``llm codex usage``: text for people, a dict for scripts.

Pure functions of a :class:`~llm_codex.core.ratelimits.RateLimitSnapshot` and a clock (``now``),
so the output can be tested exactly. Text fits ``width`` columns (80 by default); colour is only
added when the caller asks for it (the command decides: a TTY and no ``NO_COLOR``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import click

from llm_codex.core.ratelimits import (
    LimitFamily,
    RateLimitSnapshot,
    RateLimitWindow,
    format_percent,
)
from llm_codex.core.timefmt import describe_duration, describe_reset

__all__ = ["BAR_WIDTH", "describe_ago", "render_usage", "usage_json"]

#: Characters inside the brackets of a usage bar.
BAR_WIDTH = 16
_LABEL_WIDTH = 13  # len("5-hour window") == len("weekly window")


def describe_ago(then: float, *, now: float) -> str:
    """``12 min ago``, ``2 h 05 min ago``, ``less than a minute ago``."""
    return f"{describe_duration(max(now - then, 0))} ago"


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bar(percent: float) -> str:
    filled = min(max(round(percent / 100 * BAR_WIDTH), 0), BAR_WIDTH)
    if 0 < percent and filled == 0:
        filled = 1
    return "#" * filled + "-" * (BAR_WIDTH - filled)


def _level_colour(percent: float) -> str:
    if percent >= 90:
        return "red"
    if percent >= 70:
        return "yellow"
    return "green"


def _reset_text(window: RateLimitWindow, now: float) -> str:
    if window.resets_at is None:
        return ""
    if window.has_reset(now):
        return "window has reset"
    return describe_reset(window.resets_at, now=now, prefix="resets")


def _window_lines(
    window: RateLimitWindow, *, now: float, width: int, label_width: int, colour: bool
) -> list[str]:
    percent = window.percent_at(now)
    pct = format_percent(percent).rjust(4)
    bar = _bar(percent)
    lead = f"  {window.label.ljust(label_width)}  "
    reset = _reset_text(window, now)
    plain_len = len(lead) + len(pct) + 2 + len(bar) + 2
    if colour:
        shade = _level_colour(percent)
        pct = click.style(pct, fg=shade, bold=percent >= 90)
        bar = click.style(bar, fg=shade)
    line = f"{lead}{pct}  [{bar}]"
    if not reset:
        return [line]
    if plain_len + 2 + len(reset) <= width:
        return [f"{line}  {reset}"]
    indent = " " * (len(lead) + 4 + 2)
    if len(indent) + len(reset) > width:
        indent = " " * 4
    return [line, f"{indent}{reset}"]


def _limit_reached(family: LimitFamily, snapshot: RateLimitSnapshot, now: float) -> bool:
    """Whether ``family`` is at its limit: the backend says so, or it is the family a
    usage-limit answer named (``x-codex-active-limit``) and one of its windows is still full."""
    if family.limit_reached:
        return True
    if snapshot.active_limit != family.name:
        return False
    return any(window.percent_at(now) >= 100 for window in family.windows)


def _family_lines(
    family: LimitFamily,
    *,
    now: float,
    width: int,
    label_width: int,
    colour: bool,
    reached: bool = False,
) -> list[str]:
    title = family.title
    if reached or family.limit_reached:
        title += " (limit reached)"
    lines = [click.style(title, bold=True) if colour else title]
    windows = family.windows
    if not windows:
        lines.append("  no usage windows reported")
    for window in windows:
        lines.extend(
            _window_lines(window, now=now, width=width, label_width=label_width, colour=colour)
        )
    return lines


def _credits_text(snapshot: RateLimitSnapshot) -> str | None:
    credits = snapshot.credits
    if credits is None:
        return None
    if credits.unlimited:
        return "Credits: unlimited"
    if credits.has_credits:
        return f"Credits: {credits.balance}" if credits.balance else "Credits: available"
    return "Credits: none"


def render_usage(
    snapshot: RateLimitSnapshot,
    *,
    now: float,
    passive: RateLimitSnapshot | None = None,
    cached: bool = False,
    colour: bool = False,
    width: int = 80,
) -> str:
    """The text ``llm codex usage`` prints (no trailing newline).

    ``snapshot`` is what to show; with ``cached=True`` it is the last passive snapshot and the
    heading says no request was made. ``passive`` (live mode) is the last snapshot seen in a
    response, whose age is mentioned at the end. Unknown extra families are shown after Codex.
    """
    style: Callable[..., str] = click.style if colour else (lambda text, **_: text)
    out: list[str] = []
    if cached:
        out.extend(
            textwrap.wrap(
                f"Last seen in a response {describe_ago(snapshot.captured_at, now=now)} "
                "(cached; no request made).",
                width=width,
            )
        )
    plan = snapshot.plan_type
    out.append(f"ChatGPT plan: {plan}" if plan else "ChatGPT plan: unknown")

    families = snapshot.ordered_families()
    label_width = max(
        [_LABEL_WIDTH] + [len(w.label) for f in families for w in f.windows if len(w.label) < 24]
    )
    for family in families:
        out.append("")
        out.extend(
            _family_lines(
                family,
                now=now,
                width=width,
                label_width=label_width,
                colour=colour,
                reached=_limit_reached(family, snapshot, now),
            )
        )
    if not families:
        out.append("")
        out.append("No usage windows reported.")

    footer: list[str] = []
    credits = _credits_text(snapshot)
    if credits:
        footer.append(credits)
    if snapshot.reached_type:
        footer.append(style(f"Limit reached: {snapshot.reached_type.replace('_', ' ')}.", fg="red"))
    if snapshot.promo_message:
        footer.extend(textwrap.wrap(snapshot.promo_message, width=width) or [])
    if not cached and passive is not None:
        footer.extend(
            textwrap.wrap(
                f"Last seen in a response {describe_ago(passive.captured_at, now=now)}.",
                width=width,
            )
        )
    if footer:
        out.append("")
        out.extend(footer)
    return "\n".join(out)


def _window_json(window: RateLimitWindow, now: float) -> dict[str, Any]:
    return {
        "label": window.label,
        "used_percent": window.percent_at(now),
        "window_minutes": window.window_minutes,
        "resets_at": window.resets_at,
        "resets_at_iso": _iso(window.resets_at),
        "resets_in_seconds": (
            max(round(window.resets_at - now), 0) if window.resets_at is not None else None
        ),
        "has_reset": window.has_reset(now),
    }


def usage_json(
    snapshot: RateLimitSnapshot,
    *,
    now: float,
    passive: RateLimitSnapshot | None = None,
    cached: bool = False,
) -> dict[str, Any]:
    """What ``llm codex usage --json`` prints: stable keys, times as Unix seconds and ISO UTC."""
    last = snapshot if cached else passive
    return {
        "cached": cached,
        "source": snapshot.source,
        "captured_at": snapshot.captured_at,
        "captured_at_iso": _iso(snapshot.captured_at),
        "plan_type": snapshot.plan_type,
        "families": [
            {
                "name": family.name,
                "title": family.title,
                "display_name": family.display_name,
                "limit_reached": (
                    True if _limit_reached(family, snapshot, now) else family.limit_reached
                ),
                "windows": [_window_json(w, now) for w in family.windows],
            }
            for family in snapshot.ordered_families()
        ],
        "credits": snapshot.credits.to_json() if snapshot.credits else None,
        "active_limit": snapshot.active_limit,
        "reached_type": snapshot.reached_type,
        "promo_message": snapshot.promo_message,
        "last_response_at": last.captured_at if last is not None else None,
        "last_response_at_iso": _iso(last.captured_at) if last is not None else None,
    }
