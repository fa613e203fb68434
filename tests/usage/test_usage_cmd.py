"""`llm codex usage` through the real llm CLI against the fake backend."""

from __future__ import annotations

import json
import sys
import time

import pytest
from click.testing import CliRunner
from llm.cli import cli

from llm_codex.commands import usage_cmd
from llm_codex.core.ratelimits import parse_headers, save_snapshot

NOW = 1_780_000_000.0  # Thu 28 May 2026 22:26:40 in Oslo


@pytest.fixture(autouse=True)
def oslo_clock(monkeypatch):
    """The command sees a fixed clock and renders local times in Europe/Oslo."""
    monkeypatch.setenv("TZ", "Europe/Oslo")
    time.tzset()
    monkeypatch.setattr(usage_cmd, "_now", lambda: NOW)
    yield
    monkeypatch.undo()
    time.tzset()


def window(used: float, seconds: int, resets_in: int) -> dict:
    return {
        "used_percent": used,
        "limit_window_seconds": seconds,
        "reset_after_seconds": resets_in,
        "reset_at": int(NOW + resets_in),
    }


PAYLOAD = {
    "plan_type": "pro",
    "rate_limit": {
        "allowed": True,
        "limit_reached": False,
        "primary_window": window(23, 18000, 3960),
        "secondary_window": window(61, 604800, 300_000),
    },
    "credits": {"has_credits": True, "unlimited": False, "balance": "7.25"},
    "additional_rate_limits": [
        {
            "limit_name": "GPT-5.3-Codex-Spark",
            "metered_feature": "codex_bengalfox",
            "rate_limit": {"primary_window": window(95, 18000, 600), "secondary_window": None},
        }
    ],
}


def invoke(*args: str):
    return CliRunner().invoke(cli, ["codex", "usage", *args])


def test_live_usage_text(codex_backend, codex_login):
    """`llm codex usage` shows labelled bars, reset times, extra families, credits and plan."""
    codex_backend.usage_payload = PAYLOAD
    save_snapshot(parse_headers({"x-codex-primary-used-percent": "20"}, now=NOW - 720))
    result = invoke()
    assert result.exit_code == 0, result.output
    assert result.output == (
        "ChatGPT plan: pro\n"
        "\n"
        "Codex\n"
        "  5-hour window   23%  [####------------]  resets 23:32, in 1 h 06 min\n"
        "  weekly window   61%  [##########------]  resets Mon 01 Jun 09:46, in 3 d 11 h\n"
        "\n"
        "GPT-5.3-Codex-Spark\n"
        "  5-hour window   95%  [###############-]  resets 22:36, in 10 min\n"
        "\n"
        "Credits: 7.25\n"
        "Last seen in a response 12 min ago.\n"
    )
    (request,) = codex_backend.requests_to("/wham/usage")
    assert request.headers["authorization"] == f"Bearer {codex_login['access_token']}"
    assert codex_backend.refresh_count == 0  # a fresh token is not refreshed


def test_live_usage_json(codex_backend, codex_login):
    """--json prints machine-readable windows for scripts."""
    codex_backend.usage_payload = PAYLOAD
    result = invoke("--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cached"] is False and data["plan_type"] == "pro"
    assert [f["name"] for f in data["families"]] == ["codex", "codex_bengalfox"]
    labels = [w["label"] for w in data["families"][0]["windows"]]
    assert labels == ["5-hour window", "weekly window"]
    assert data["families"][1]["windows"][0]["used_percent"] == 95
    assert data["credits"] == {"has_credits": True, "unlimited": False, "balance": "7.25"}


def test_cached_usage_makes_no_request(codex_backend):
    """--cached shows the last passive snapshot, says so, and sends nothing (no login needed)."""
    save_snapshot(
        parse_headers(
            {
                "x-codex-primary-used-percent": "50",
                "x-codex-primary-window-minutes": "300",
                "x-codex-primary-reset-at": str(int(NOW + 600)),
                "x-codex-plan-type": "plus",
            },
            now=NOW - 180,
        )
    )
    result = invoke("--cached")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Last seen in a response 3 min ago (cached; no request made).\n"
        "ChatGPT plan: plus\n"
        "\n"
        "Codex\n"
        "  5-hour window   50%  [########--------]  resets 22:36, in 10 min\n"
    )
    assert codex_backend.requests == []
    data = json.loads(invoke("--cached", "--json").output)
    assert data["cached"] is True and data["last_response_at"] == NOW - 180
    assert codex_backend.requests == []


def test_cached_without_any_snapshot_says_so(codex_backend):
    """--cached before any prompt explains there is nothing yet, without a traceback."""
    result = invoke("--cached")
    assert result.exit_code == 1
    assert result.output.startswith("Error: No usage has been seen yet")
    assert "Traceback" not in result.output
    assert codex_backend.requests == []


def test_not_signed_in_is_one_clear_sentence(codex_backend):
    """Without a login the live view fails with one sentence and exit code 1."""
    result = invoke()
    assert result.exit_code == 1
    assert result.output.startswith("Error: Not signed in")
    assert result.output.count("\n") == 1


def test_no_colour_in_pipes_and_with_no_color(monkeypatch):
    """Colour is used on a terminal only, and never when NO_COLOR is set."""

    class Tty:
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdout", Tty())
    assert usage_cmd._use_colour() is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert usage_cmd._use_colour() is False


def test_cli_output_has_no_escape_codes(codex_backend, codex_login):
    """Piped output (CliRunner is not a TTY) carries no colour codes."""
    codex_backend.usage_payload = PAYLOAD
    assert "\x1b[" not in invoke().output


def test_a_prompt_leaves_a_snapshot_for_cached_usage(codex_backend, codex_login, monkeypatch):
    """After a prompt, `llm codex usage --cached` shows the windows from that response."""
    monkeypatch.setattr(usage_cmd, "_now", time.time)
    codex_backend.set_rate_limit_headers(
        {
            "x-codex-primary-used-percent": "42.0",
            "x-codex-primary-window-minutes": "300",
            "x-codex-primary-reset-at": str(int(time.time() + 3 * 3600)),
        }
    )
    prompt = CliRunner().invoke(cli, ["-m", "openai-codex/gpt-5.5", "hello", "--no-log"])
    assert prompt.exit_code == 0, prompt.output
    sent = len(codex_backend.requests)
    result = invoke("--cached")
    assert result.exit_code == 0, result.output
    assert "(cached; no request made)" in result.output
    assert "  5-hour window   42%  [#######---------]  resets " in result.output
    assert len(codex_backend.requests) == sent


def test_a_nearly_spent_window_warns_after_a_prompt(codex_backend, codex_login):
    """A prompt that leaves a window at 95 % prints one warning line on stderr, once."""
    codex_backend.set_rate_limit_headers(
        {
            "x-codex-primary-used-percent": "95.0",
            "x-codex-primary-window-minutes": "300",
            "x-codex-primary-reset-at": str(int(time.time() + 3 * 3600 + 120)),
        }
    )
    first = CliRunner().invoke(cli, ["-m", "openai-codex/gpt-5.5", "hello", "--no-log"])
    assert first.exit_code == 0, first.output
    assert "llm-codex: 95% of your 5-hour window used; resets at " in first.stderr
    second = CliRunner().invoke(cli, ["-m", "openai-codex/gpt-5.5", "again", "--no-log"])
    assert "llm-codex:" not in second.stderr


def test_an_expired_token_is_refreshed_once_before_asking(codex_backend):
    """With an expired access token the live view refreshes it once and still answers."""
    from llm_codex import config
    from llm_codex.testing.authfile import write_auth_file

    write_auth_file(config.own_auth_path(), codex_backend.issue_tokens(access_ttl=-60))
    codex_backend.usage_payload = PAYLOAD
    result = invoke()
    assert result.exit_code == 0, result.output
    assert "GPT-5.3-Codex-Spark" in result.output
    assert codex_backend.refresh_count == 1
