"""Snapshots from the /wham/usage answer (protocol §11)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_codex.core.ratelimits import Credits, RateLimitWindow, parse_usage_payload

NOW = 1_779_780_000.0

PLUS_SAMPLE = {  # protocol §11.2, first sample (codex2api #168)
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

FREE_SAMPLE = {  # protocol §11.2, second sample: the weekly window arrives as "primary"
    "plan_type": "free",
    "rate_limit": {
        "allowed": True,
        "limit_reached": False,
        "primary_window": {
            "used_percent": 3,
            "limit_window_seconds": 604800,
            "reset_after_seconds": 604800,
            "reset_at": 1780378144,
        },
        "secondary_window": None,
    },
}


def test_plus_sample_gives_both_windows_and_the_reached_flag():
    """A Plus answer shows the 5-hour and weekly windows and that the limit is reached."""
    snap = parse_usage_payload(PLUS_SAMPLE, now=NOW)
    assert snap is not None
    codex = snap.families["codex"]
    assert codex.primary == RateLimitWindow(1.0, 300, 1779791385.0)
    assert codex.secondary == RateLimitWindow(100.0, 10080, 1780208142.0)
    assert codex.limit_reached is True
    assert snap.plan_type == "plus"
    assert snap.source == "usage"


def test_free_plan_weekly_window_in_primary_is_labelled_weekly():
    """On a free plan the only window is called weekly, not 5-hour, though it is 'primary'."""
    snap = parse_usage_payload(FREE_SAMPLE, now=NOW)
    assert snap is not None
    windows = snap.families["codex"].windows
    assert [w.label for w in windows] == ["weekly window"]
    assert windows[0].used_percent == 3.0


def test_a_window_whose_reset_is_past_shows_zero():
    """A window that has rolled over since the server computed it reads 0 %."""
    snap = parse_usage_payload(PLUS_SAMPLE, now=1779791385 + 60)
    assert snap is not None
    codex = snap.families["codex"]
    assert codex.primary is not None and codex.primary.used_percent == 0.0
    assert codex.secondary is not None and codex.secondary.used_percent == 100.0


def test_reset_after_seconds_when_reset_at_is_missing():
    """Without reset_at, the reset time is now + reset_after_seconds."""
    payload = {
        "plan_type": "pro",
        "rate_limit": {
            "primary_window": {
                "used_percent": 50,
                "limit_window_seconds": 18000,
                "reset_after_seconds": 600,
            }
        },
    }
    snap = parse_usage_payload(payload, now=NOW)
    assert snap is not None
    assert snap.families["codex"].primary == RateLimitWindow(50.0, 300, NOW + 600)


def test_additional_limits_become_their_own_families():
    """Extra metered limits are kept as named families, not dropped."""
    payload = dict(
        PLUS_SAMPLE,
        additional_rate_limits=[
            {
                "limit_name": "GPT-5.3-Codex-Spark",
                "metered_feature": "codex-bengalfox",
                "rate_limit": {
                    "primary_window": {
                        "used_percent": 20,
                        "limit_window_seconds": 18000,
                        "reset_at": NOW + 100,
                    },
                    "secondary_window": None,
                },
            },
            "junk",
            {"limit_name": None, "metered_feature": None},
        ],
    )
    snap = parse_usage_payload(payload, now=NOW)
    assert snap is not None
    assert list(snap.families) == ["codex", "codex_bengalfox"]
    spark = snap.families["codex_bengalfox"]
    assert spark.title == "GPT-5.3-Codex-Spark"
    assert spark.primary == RateLimitWindow(20.0, 300, NOW + 100)


def test_credits_and_reached_type():
    """Credits and the reached type are read; a numeric balance is kept as text."""
    payload = dict(
        FREE_SAMPLE,
        credits={
            "has_credits": True,
            "unlimited": False,
            "balance": 42,
            "approx_cloud_messages": 3,
        },
        rate_limit_reached_type={"type": "workspace_owner_usage_limit_reached"},
    )
    snap = parse_usage_payload(payload, now=NOW)
    assert snap is not None
    assert snap.credits == Credits(True, False, "42")
    assert snap.reached_type == "workspace_owner_usage_limit_reached"


def test_null_rate_limit_keeps_the_plan():
    """A plan without windows still reports the plan and an empty Codex family."""
    snap = parse_usage_payload({"plan_type": "go", "rate_limit": None, "credits": None}, now=NOW)
    assert snap is not None
    assert snap.plan_type == "go"
    assert snap.families["codex"].windows == []
    assert snap.credits is None


def test_non_object_answers_give_none():
    """An answer that is not a JSON object is not a snapshot."""
    for data in (None, [], "x", 3):
        assert parse_usage_payload(data, now=NOW) is None


_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=8,
)
_window = st.fixed_dictionaries(
    {},
    optional={
        "used_percent": _json,
        "limit_window_seconds": _json,
        "reset_after_seconds": _json,
        "reset_at": _json,
    },
)
_payload = st.fixed_dictionaries(
    {},
    optional={
        "plan_type": _json,
        "rate_limit": st.none()
        | st.fixed_dictionaries(
            {}, optional={"primary_window": _window | _json, "secondary_window": _window | _json}
        ),
        "credits": _json,
        "rate_limit_reached_type": _json,
        "additional_rate_limits": st.lists(
            st.fixed_dictionaries(
                {}, optional={"limit_name": _json, "metered_feature": _json, "rate_limit": _json}
            )
            | _json,
            max_size=3,
        ),
    },
)


@settings(max_examples=100, deadline=None)
@given(_payload)
def test_parse_usage_payload_never_raises(payload):
    """Whatever the usage endpoint answers, parsing it never raises."""
    snap = parse_usage_payload(payload, now=NOW)
    assert snap is not None
    assert "codex" in snap.families
