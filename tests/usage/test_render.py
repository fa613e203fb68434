"""The text and JSON that llm codex usage prints, at a fixed clock and time zone."""

from __future__ import annotations

import time

import pytest

from llm_codex.commands.usage_view import render_usage, usage_json
from llm_codex.core.ratelimits import (
    Credits,
    LimitFamily,
    RateLimitSnapshot,
    RateLimitWindow,
    parse_headers,
    parse_usage_payload,
)

NOW = 1_780_000_000.0  # Thu 28 May 2026 22:26:40 in Oslo (CEST)
LIVE_NOW = 1_779_780_000.0  # Tue 26 May 2026 09:20 in Oslo

PLUS_SAMPLE = {
    "plan_type": "plus",
    "rate_limit": {
        "allowed": False,
        "limit_reached": True,
        "primary_window": {
            "used_percent": 1,
            "limit_window_seconds": 18000,
            "reset_after_seconds": 18000,
            "reset_at": 1779791385,
        },
        "secondary_window": {
            "used_percent": 100,
            "limit_window_seconds": 604800,
            "reset_after_seconds": 434757,
            "reset_at": 1780208142,
        },
    },
}


@pytest.fixture(autouse=True)
def oslo_time(monkeypatch):
    """Local times are rendered in Europe/Oslo for these tests."""
    monkeypatch.setenv("TZ", "Europe/Oslo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def passive_snapshot() -> RateLimitSnapshot:
    snap = parse_headers(
        {
            "x-codex-primary-used-percent": "41.5",
            "x-codex-primary-window-minutes": "300",
            "x-codex-primary-reset-at": str(int(NOW + 3960)),
            "x-codex-secondary-used-percent": "7",
            "x-codex-secondary-window-minutes": "10080",
            "x-codex-secondary-reset-after-seconds": "400000",
            "x-codex-bengalfox-primary-used-percent": "55",
            "x-codex-bengalfox-primary-window-minutes": "300",
            "x-codex-bengalfox-limit-name": "GPT-5.3-Codex-Spark",
            "x-codex-credits-has-credits": "True",
            "x-codex-credits-unlimited": "False",
            "x-codex-credits-balance": "12.5",
            "x-codex-plan-type": "plus",
        },
        now=NOW,
    )
    assert snap is not None
    return snap


def test_cached_view_text():
    """--cached says how old the snapshot is, that nothing was requested, and every family."""
    text = render_usage(passive_snapshot(), now=NOW + 720, cached=True)
    assert text == (
        "Last seen in a response 12 min ago (cached; no request made).\n"
        "ChatGPT plan: plus\n"
        "\n"
        "Codex\n"
        "  5-hour window   41%  [#######---------]  resets 23:32, in 54 min\n"
        "  weekly window    7%  [#---------------]  resets Tue 02 Jun 13:33, in 4 d 14 h\n"
        "\n"
        "GPT-5.3-Codex-Spark\n"
        "  5-hour window   55%  [#########-------]\n"
        "\n"
        "Credits: 12.5"
    )


def test_live_view_text():
    """The live view shows the limit-reached family, full bars and the last passive snapshot."""
    live = parse_usage_payload(PLUS_SAMPLE, now=LIVE_NOW)
    assert live is not None
    passive = RateLimitSnapshot(captured_at=LIVE_NOW - 720)
    text = render_usage(live, now=LIVE_NOW, passive=passive)
    assert text == (
        "ChatGPT plan: plus\n"
        "\n"
        "Codex (limit reached)\n"
        "  5-hour window    1%  [#---------------]  resets 12:29, in 3 h 09 min\n"
        "  weekly window  100%  [################]  resets Sun 31 May 08:15, in 4 d 22 h\n"
        "\n"
        "Last seen in a response 12 min ago."
    )


def test_rolled_over_windows_read_zero_in_an_old_snapshot():
    """A cached window whose reset time has passed shows 0 % and says it has reset."""
    text = render_usage(passive_snapshot(), now=NOW + 2 * 3600, cached=True)
    assert "  5-hour window    0%  [----------------]  window has reset" in text.splitlines()


def test_free_plan_and_missing_bits():
    """Free plans show their weekly window; no credits and no windows are said plainly."""
    free = RateLimitSnapshot(
        families={
            "codex": LimitFamily("codex", primary=RateLimitWindow(3, 10080, None)),
            "other_meter": LimitFamily("other_meter"),
        },
        credits=Credits(False),
        plan_type=None,
        reached_type="workspace_owner_usage_limit_reached",
        promo_message="Upgrade to Pro for higher limits.",
        captured_at=NOW,
        source="usage",
    )
    assert render_usage(free, now=NOW) == (
        "ChatGPT plan: unknown\n"
        "\n"
        "Codex\n"
        "  weekly window    3%  [#---------------]\n"
        "\n"
        "Other meter\n"
        "  no usage windows reported\n"
        "\n"
        "Credits: none\n"
        "Limit reached: workspace owner usage limit reached.\n"
        "Upgrade to Pro for higher limits."
    )


def test_output_fits_eighty_columns_with_long_labels():
    """An odd window length moves the reset time to its own line rather than overflow."""
    snap = RateLimitSnapshot(
        families={
            "codex": LimitFamily(
                "codex",
                primary=RateLimitWindow(50, 10000, NOW + 5 * 86400 + 3 * 3600),
                secondary=RateLimitWindow(10, 45, NOW + 600),
            )
        },
        promo_message="word " * 40,
        captured_at=NOW,
    )
    lines = render_usage(snap, now=NOW).splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[3:6] == [
        "  45-minute window      10%  [##--------------]  resets 22:36, in 10 min",
        "  10000-minute window   50%  [########--------]",
        "                             resets Wed 03 Jun 01:26, in 5 d 3 h",
    ]


def test_colour_only_when_asked():
    """Plain text has no escape codes; coloured text marks a nearly full window."""
    plain = render_usage(passive_snapshot(), now=NOW)
    assert "\x1b[" not in plain
    coloured = render_usage(passive_snapshot(), now=NOW, colour=True)
    assert "\x1b[" in coloured
    assert "\x1b[32m" in coloured  # green for a window under 70 %


def test_json_view():
    """--json gives scripts labels, effective percentages and reset times."""
    live = parse_usage_payload(PLUS_SAMPLE, now=LIVE_NOW)
    assert live is not None
    data = usage_json(live, now=LIVE_NOW, passive=None)
    assert data["cached"] is False
    assert data["plan_type"] == "plus"
    assert data["last_response_at"] is None
    (codex,) = data["families"]
    assert codex["name"] == "codex" and codex["limit_reached"] is True
    assert codex["windows"] == [
        {
            "label": "5-hour window",
            "used_percent": 1.0,
            "window_minutes": 300,
            "resets_at": 1779791385.0,
            "resets_at_iso": "2026-05-26T10:29:45Z",
            "resets_in_seconds": 11385,
            "has_reset": False,
        },
        {
            "label": "weekly window",
            "used_percent": 100.0,
            "window_minutes": 10080,
            "resets_at": 1780208142.0,
            "resets_at_iso": "2026-05-31T06:15:42Z",
            "resets_in_seconds": 428142,
            "has_reset": False,
        },
    ]


def test_the_family_a_usage_limit_named_reads_limit_reached_until_it_resets():
    """A snapshot kept from a usage-limit error marks its family as at the limit."""
    snap = RateLimitSnapshot(
        families={
            "codex": LimitFamily(
                "codex",
                primary=RateLimitWindow(100, 300, NOW + 600),
                secondary=RateLimitWindow(40, 10080, NOW + 86400),
            )
        },
        active_limit="codex",
        captured_at=NOW,
    )
    assert "Codex (limit reached)" in render_usage(snap, now=NOW)
    assert usage_json(snap, now=NOW)["families"][0]["limit_reached"] is True
    later = NOW + 700  # the full window has reset
    assert "(limit reached)" not in render_usage(snap, now=later)
    assert usage_json(snap, now=later)["families"][0]["limit_reached"] is None


def test_a_narrow_width_wraps_every_line():
    """At 44 columns the header, reset times and footer all fit."""
    text = render_usage(passive_snapshot(), now=NOW, cached=True, width=44)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 44, text
    assert any(line.strip().startswith("resets") for line in lines)
