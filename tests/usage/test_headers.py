"""Passive rate-limit snapshots from the x-codex-* response headers (protocol §9)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_codex.core.ratelimits import (
    LimitFamily,
    RateLimitSnapshot,
    RateLimitWindow,
    parse_headers,
)

NOW = 1_780_000_000.0


def plus_headers(**overrides: str) -> dict[str, str]:
    headers = {
        "x-codex-primary-used-percent": "41.5",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": str(int(NOW + 3960)),
        "x-codex-primary-reset-after-seconds": "3960",
        "x-codex-secondary-used-percent": "7",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-at": str(int(NOW + 400_000)),
        "x-codex-credits-has-credits": "True",
        "x-codex-credits-unlimited": "False",
        "x-codex-credits-balance": "12.5",
        "x-codex-plan-type": "plus",
    }
    headers.update(overrides)
    return headers


def test_plus_plan_headers_give_a_five_hour_and_a_weekly_window():
    """A Plus response's headers become a 5-hour and a weekly window with their reset times."""
    snap = parse_headers(plus_headers(), now=NOW)
    assert snap is not None
    codex = snap.families["codex"]
    assert codex.primary == RateLimitWindow(41.5, 300, NOW + 3960)
    assert codex.secondary == RateLimitWindow(7.0, 10080, NOW + 400_000)
    assert [w.label for w in codex] == ["5-hour window", "weekly window"]
    assert snap.plan_type == "plus"
    assert snap.captured_at == NOW
    assert snap.source == "response"


def test_header_names_are_case_insensitive():
    """Headers logged as X-Codex-Primary-Used-Percent are read like lower-case ones."""
    headers = {k.title(): v for k, v in plus_headers().items()}
    assert parse_headers(headers, now=NOW) == parse_headers(plus_headers(), now=NOW)


def test_credit_booleans_accept_the_servers_capitalised_values():
    """The server's True/False (and true/false/1/0) credit flags are understood."""
    snap = parse_headers(plus_headers(), now=NOW)
    assert snap is not None and snap.credits is not None
    assert (snap.credits.has_credits, snap.credits.unlimited) == (True, False)
    assert snap.credits.balance == "12.5"
    for true, false in [("true", "false"), ("1", "0"), ("TRUE", "FALSE")]:
        other = parse_headers(
            plus_headers(
                **{
                    "x-codex-credits-has-credits": false,
                    "x-codex-credits-unlimited": true,
                }
            ),
            now=NOW,
        )
        assert other is not None and other.credits is not None
        assert (other.credits.has_credits, other.credits.unlimited) == (False, True)


def test_odd_values_are_ignored_without_failing():
    """Non-numeric, empty or infinite values are skipped; the rest of the snapshot survives."""
    snap = parse_headers(
        plus_headers(
            **{
                "x-codex-primary-used-percent": "lots",
                "x-codex-secondary-window-minutes": "",
                "x-codex-credits-has-credits": "maybe",
            }
        ),
        now=NOW,
    )
    assert snap is not None
    codex = snap.families["codex"]
    assert codex.primary is None
    assert codex.secondary == RateLimitWindow(7.0, None, NOW + 400_000)
    assert snap.credits is None
    inf = parse_headers(plus_headers(**{"x-codex-primary-used-percent": "inf"}), now=NOW)
    assert inf is not None and inf.families["codex"].primary is None


def test_reset_after_seconds_is_used_when_reset_at_is_missing():
    """Older-style headers with only reset-after-seconds still give a reset time."""
    headers = plus_headers()
    del headers["x-codex-primary-reset-at"]
    snap = parse_headers(headers, now=NOW)
    assert snap is not None
    assert snap.families["codex"].primary == RateLimitWindow(41.5, 300, NOW + 3960)


def test_a_window_without_reset_time_is_kept():
    """A window with a percent and a length but no reset time is shown without one."""
    snap = parse_headers(
        {"x-codex-primary-used-percent": "20", "x-codex-primary-window-minutes": "300"}, now=NOW
    )
    assert snap is not None
    assert snap.families["codex"].primary == RateLimitWindow(20.0, 300, None)


def test_an_all_zero_window_counts_as_absent():
    """A window with 0 %, no length and no reset time is not a window (protocol §9)."""
    snap = parse_headers(
        {
            "x-codex-primary-used-percent": "0",
            "x-codex-secondary-used-percent": "5",
            "x-codex-secondary-window-minutes": "10080",
        },
        now=NOW,
    )
    assert snap is not None
    codex = snap.families["codex"]
    assert codex.primary is None
    assert [w.label for w in codex] == ["weekly window"]


def test_extra_limit_family_with_display_name():
    """x-codex-bengalfox-* headers become a second family named by its limit-name header."""
    snap = parse_headers(
        plus_headers(
            **{
                "x-codex-bengalfox-primary-used-percent": "55",
                "x-codex-bengalfox-primary-window-minutes": "300",
                "x-codex-bengalfox-limit-name": "GPT-5.3-Codex-Spark",
            }
        ),
        now=NOW,
    )
    assert snap is not None
    assert set(snap.families) == {"codex", "codex_bengalfox"}
    spark = snap.families["codex_bengalfox"]
    assert spark.title == "GPT-5.3-Codex-Spark"
    assert spark.primary == RateLimitWindow(55.0, 300, None)
    assert [f.name for f in snap.ordered_families()] == ["codex", "codex_bengalfox"]


def test_a_family_seen_only_in_its_secondary_window():
    """A family that only sends secondary-window headers is still recognised."""
    snap = parse_headers(
        {"x-other-secondary-used-percent": "3", "x-other-secondary-window-minutes": "1440"},
        now=NOW,
    )
    assert snap is not None
    assert snap.families["other"].secondary == RateLimitWindow(3.0, 1440, None)
    assert snap.families["other"].title == "Other"


def test_usage_limit_extras_are_kept():
    """On a 429 the active limit, the reached type and the promo message are recorded."""
    snap = parse_headers(
        plus_headers(
            **{
                "x-codex-active-limit": "codex",
                "x-codex-rate-limit-reached-type": "workspace_member_usage_limit_reached",
                "x-codex-promo-message": "Upgrade for higher limits.",
            }
        ),
        now=NOW,
    )
    assert snap is not None
    assert snap.active_limit == "codex"
    assert snap.reached_type == "workspace_member_usage_limit_reached"
    assert snap.promo_message == "Upgrade for higher limits."


def test_no_rate_limit_headers_give_none():
    """A response without rate-limit headers records nothing."""
    assert parse_headers({}, now=NOW) is None
    assert parse_headers({"content-type": "text/event-stream", "x-request-id": "r1"}) is None


def test_window_labels_follow_the_window_length_not_the_position():
    """5-hour, weekly, N-day, N-hour and N-minute windows are named by their length."""
    labels = {
        300: "5-hour window",
        10080: "weekly window",
        1440: "1-day window",
        2880: "2-day window",
        120: "2-hour window",
        45: "45-minute window",
        None: "usage window",
        0: "usage window",
    }
    for minutes, label in labels.items():
        assert RateLimitWindow(1.0, minutes, None).label == label


def test_snapshot_json_round_trip():
    """A snapshot saved as JSON reads back identical."""
    snap = parse_headers(
        plus_headers(
            **{
                "x-codex-bengalfox-primary-used-percent": "55",
                "x-codex-bengalfox-limit-name": "Spark",
            }
        ),
        now=NOW,
    )
    assert snap is not None
    assert RateLimitSnapshot.from_json(snap.to_json()) == snap


def test_family_iteration_is_shortest_window_first():
    """Windows are listed shortest first whatever slot they came in."""
    fam = LimitFamily(
        "codex", primary=RateLimitWindow(3, 10080, None), secondary=RateLimitWindow(1, 300, None)
    )
    assert [w.window_minutes for w in fam] == [300, 10080]


_header_names = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "x-codex-primary-used-percent",
            "x-codex-primary-window-minutes",
            "x-codex-primary-reset-at",
            "x-codex-primary-reset-after-seconds",
            "x-codex-secondary-used-percent",
            "x-codex-credits-has-credits",
            "x-codex-credits-balance",
            "x-codex-active-limit",
            "x--primary-used-percent",
            "x-a-b-primary-used-percent",
            "x-A_b-limit-name",
        ]
    ),
)
_header_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["True", "False", "1e309", "-5", "nan", "", " 12 ", "0x10", "1_000"]),
    st.integers().map(str),
    st.floats(allow_nan=True).map(str),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_header_names, _header_values, max_size=12))
def test_parse_headers_never_raises(headers):
    """Whatever headers a server or proxy sends, parsing them never breaks a response."""
    snap = parse_headers(headers, now=NOW)
    if snap is not None:
        assert RateLimitSnapshot.from_json(snap.to_json()) == snap
