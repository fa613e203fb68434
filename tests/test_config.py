"""The configuration contract, identity headers and the shared wording helpers."""

from __future__ import annotations

import platform
import re
from datetime import datetime

import llm
import pytest

from llm_codex import config
from llm_codex.core import errors, identity, timefmt


def test_defaults_point_at_the_real_service(monkeypatch):
    """Without overrides llm-codex talks to chatgpt.com and auth.openai.com."""
    for name in ("LLM_CODEX_BASE_URL", "LLM_CODEX_AUTH_URL", "CODEX_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert config.backend_base_url() == "https://chatgpt.com/backend-api/codex"
    assert config.usage_url() == "https://chatgpt.com/backend-api/wham/usage"
    assert config.auth_base_url() == "https://auth.openai.com"
    assert config.codex_cli_auth_path() == config.codex_home() / "auth.json"
    assert str(config.codex_home()).endswith(".codex")


@pytest.mark.parametrize(
    ("base", "usage"),
    [
        ("http://127.0.0.1:5000/backend-api/codex", "http://127.0.0.1:5000/backend-api/wham/usage"),
        (
            "http://127.0.0.1:5000/backend-api/codex/",
            "http://127.0.0.1:5000/backend-api/wham/usage",
        ),
        ("http://proxy.local/custom", "http://proxy.local/custom/wham/usage"),
    ],
)
def test_usage_url_replaces_the_final_codex(monkeypatch, base, usage):
    """The usage endpoint is derived from LLM_CODEX_BASE_URL, read at call time."""
    monkeypatch.setenv("LLM_CODEX_BASE_URL", base)
    assert config.usage_url() == usage


def test_own_files_live_in_llm_user_dir(monkeypatch, tmp_path):
    """LLM_USER_PATH isolates our credentials exactly as it isolates llm's own files."""
    monkeypatch.setenv("LLM_USER_PATH", str(tmp_path / "u"))
    assert config.llm_user_dir() == llm.user_dir()
    assert config.own_auth_path() == llm.user_dir() / "llm-codex" / "auth.json"
    assert config.models_cache_path().parent == config.state_dir()


def test_llm_user_dir_matches_llm_without_override(monkeypatch):
    """Without LLM_USER_PATH we compute the same folder llm does."""
    monkeypatch.delenv("LLM_USER_PATH", raising=False)
    assert config.llm_user_dir() == llm.user_dir()


def test_user_agent_is_honest():
    """We identify as llm-codex with our version and platform, never as the Codex CLI."""
    ua = identity.user_agent()
    assert re.fullmatch(r"llm-codex/[^ ]+ \(.+ .*; .+\)", ua)
    assert platform.machine() in ua
    assert "codex_" not in ua
    assert identity.base_headers()["originator"] == "llm-codex"


def test_describe_reset_uses_local_time_and_remaining():
    """Reset times read like 'resets at 15:42, in 1 h 06 min'."""
    now = 1_800_000_000
    resets = now + 3960
    expected_clock = datetime.fromtimestamp(resets).strftime("%H:%M")
    assert timefmt.describe_reset(resets, now=now) == f"resets at {expected_clock}, in 1 h 06 min"
    assert timefmt.describe_reset(now - 5, now=now) == "resets now"
    assert timefmt.describe_duration(59) == "less than a minute"
    assert timefmt.describe_duration(3 * 86400 + 4 * 3600) == "3 d 4 h"


def test_usage_limit_message_names_plan_and_reset():
    """A usage-limit error is one sentence with the plan and when it resets."""
    now = 1_800_000_000
    err = errors.UsageLimitReached(plan_type="plus", resets_at=now + 600, now=now)
    text = str(err)
    assert text.startswith("Usage limit reached on your ChatGPT plus plan; it resets at ")
    assert text.endswith("in 10 min.")
    assert err.code == "usage_limit_reached"
    assert isinstance(err, errors.APIError)


def test_cloudflare_message_explains_the_block():
    """The Cloudflare error says the request never reached OpenAI, and why that happens."""
    text = str(errors.CloudflareBlocked())
    assert "before it reached OpenAI" in text
    assert "VPN" in text


def test_not_signed_in_names_the_login_command():
    """Not being signed in points at 'llm codex login'."""
    assert "llm codex login" in str(errors.NotSignedIn())


def test_credentials_repr_hides_the_token():
    """A Credentials value never shows its token in a repr or a log line."""
    from llm_codex.core.types import Credentials

    assert "secret" not in repr(Credentials(access_token="secret", account_id="acct"))
