"""Usage warnings after responses, and the passive snapshot kept in the state file."""

from __future__ import annotations

import json
import os
import stat

import pytest

from llm_codex import config
from llm_codex.core.ratelimits import (
    LimitFamily,
    RateLimitSnapshot,
    RateLimitWindow,
    load_snapshot,
    parse_headers,
    record_response_snapshot,
    save_snapshot,
    usage_warnings,
    warning_threshold,
)

NOW = 1_780_000_000.0


@pytest.fixture(autouse=True)
def _fixed_tz(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def snapshot(primary=93.0, secondary=40.0, extra=None) -> RateLimitSnapshot:
    families = {
        "codex": LimitFamily(
            "codex",
            primary=RateLimitWindow(primary, 300, NOW + 3960),
            secondary=RateLimitWindow(secondary, 10080, NOW + 4 * 86400),
        )
    }
    if extra is not None:
        families["codex_bengalfox"] = LimitFamily(
            "codex_bengalfox", "Spark", primary=RateLimitWindow(extra, 300, None)
        )
    return RateLimitSnapshot(families=families, plan_type="plus", captured_at=NOW)


def test_a_window_over_ninety_percent_warns_once():
    """At 93 % of the 5-hour window one short line says so, with the reset time."""
    lines = usage_warnings(snapshot(), now=NOW)
    assert lines == ["llm-codex: 93% of your 5-hour window used; resets at 21:32, in 1 h 06 min."]


def test_the_same_window_warns_at_most_once_an_hour():
    """Repeated responses within the hour stay quiet; after an hour the warning comes back."""
    assert len(record_response_snapshot(snapshot(), now=NOW)) == 1
    assert record_response_snapshot(snapshot(primary=95), now=NOW + 60) == []
    assert record_response_snapshot(snapshot(primary=97), now=NOW + 3599) == []
    again = record_response_snapshot(snapshot(primary=98), now=NOW + 3600)
    assert again == ["llm-codex: 98% of your 5-hour window used; resets at 21:32, in 6 min."]


def test_each_window_has_its_own_hour():
    """A second window crossing the threshold warns even if the first just did."""
    assert len(record_response_snapshot(snapshot(), now=NOW)) == 1
    lines = record_response_snapshot(snapshot(secondary=91, extra=99.5), now=NOW + 10)
    assert lines == [
        "llm-codex: 91% of your weekly window used; resets at Mon 01 Jun 20:26, in 3 d 23 h.",
        "llm-codex: 99% of your Spark 5-hour window used.",
    ]


def test_below_threshold_is_silent():
    """Nothing is said while every window is under 90 %."""
    assert record_response_snapshot(snapshot(primary=89.9), now=NOW) == []


def test_threshold_from_the_environment(monkeypatch):
    """LLM_CODEX_USAGE_WARNING sets the percentage; off or 0 silences the warnings."""
    monkeypatch.setenv("LLM_CODEX_USAGE_WARNING", "80%")
    assert warning_threshold() == 80.0
    assert len(usage_warnings(snapshot(primary=85), now=NOW)) == 1
    for off in ("off", "0", "OFF", "none"):
        monkeypatch.setenv("LLM_CODEX_USAGE_WARNING", off)
        assert warning_threshold() is None
        assert record_response_snapshot(snapshot(primary=100), now=NOW + 7200) == []
    monkeypatch.setenv("LLM_CODEX_USAGE_WARNING", "lots")
    assert warning_threshold() == 90.0


def test_explicit_threshold_argument():
    """A threshold passed in wins over the default."""
    assert usage_warnings(snapshot(primary=50), now=NOW, threshold=50) != []
    assert usage_warnings(snapshot(primary=100), now=NOW, threshold=0) == []


def test_a_rolled_over_window_does_not_warn():
    """A window whose reset time has passed counts as 0 % and is not warned about."""
    assert record_response_snapshot(snapshot(primary=100), now=NOW + 4000) == []


def test_recording_saves_the_snapshot_for_later():
    """The last response's snapshot can be read back (for llm codex usage --cached)."""
    snap = parse_headers(
        {"x-codex-primary-used-percent": "12", "x-codex-primary-window-minutes": "300"}, now=NOW
    )
    assert record_response_snapshot(snap, now=NOW) == []
    assert load_snapshot() == snap


def test_no_headers_change_nothing():
    """A response without rate-limit headers leaves the state file alone."""
    assert record_response_snapshot(None) == []
    assert not config.ratelimit_state_path().exists()


def test_state_file_is_written_atomically_in_a_private_directory():
    """The state directory is 0700 and no temporary files are left behind."""
    save_snapshot(snapshot())
    path = config.ratelimit_state_path()
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["ratelimits.json"]
    assert json.loads(path.read_text())["snapshot"]["plan_type"] == "plus"


def test_last_writer_wins_and_bookkeeping_survives():
    """Saving a new snapshot replaces the old one but keeps the once-an-hour bookkeeping."""
    assert len(record_response_snapshot(snapshot(), now=NOW)) == 1
    newer = snapshot(primary=96)
    save_snapshot(newer)
    assert load_snapshot() == newer
    assert record_response_snapshot(newer, now=NOW + 5) == []


def test_corrupt_state_file_reads_as_no_snapshot():
    """A damaged state file is treated as empty, and the next response repairs it."""
    path = config.ratelimit_state_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert load_snapshot() is None
    assert len(record_response_snapshot(snapshot(), now=NOW)) == 1
    assert load_snapshot() == snapshot()


def test_unwritable_state_never_raises(tmp_path):
    """If the state cannot be written the response still goes through."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    lines = record_response_snapshot(snapshot(), now=NOW, path=blocker / "sub" / "r.json")
    assert len(lines) == 1


def test_the_snapshot_and_warnings_are_kept_per_backend(monkeypatch):
    """A snapshot (and the warnings' bookkeeping) seen on the fake is not shown for the real
    backend, and does not silence its warnings."""
    monkeypatch.setenv("LLM_CODEX_BASE_URL", "http://127.0.0.1:18555/backend-api/codex")
    assert record_response_snapshot(snapshot(), now=NOW)
    assert load_snapshot() is not None
    monkeypatch.delenv("LLM_CODEX_BASE_URL")
    assert load_snapshot() is None
    assert usage_warnings(snapshot(), now=NOW)
