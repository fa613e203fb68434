"""`llm codex status`: which login is used and its details, read without any network."""

from __future__ import annotations

import json
import time
from datetime import datetime

from click.testing import CliRunner
from llm.cli import cli

from llm_codex import config
from llm_codex.testing.authfile import write_auth_file

from .helpers import snapshot


def _status(*args):
    return CliRunner().invoke(cli, ["codex", "status", *args])


def test_status_of_our_own_login_uses_no_network(codex_backend, codex_login):
    """Status names our login, account, email, plan, expiry and last refresh; no request made."""
    result = _status()
    assert result.exit_code == 0, result.output
    out = result.output
    assert "llm-codex's own login" in out and str(config.own_auth_path()) in out
    assert "acct-test" in out and "user@example.com" in out and "plus" in out
    assert "(in 59 min)" in out or "(in 1 h 00 min)" in out
    assert "ago)" in out or "less than a minute" in out
    assert codex_backend.requests == []


def test_status_of_a_borrowed_codex_login_does_not_refresh(codex_backend):
    """An expired Codex CLI login is shown as expired, untouched and unrefreshed."""
    tokens = codex_backend.issue_tokens(access_ttl=-7200, plan_type="pro", email="cli@example.com")
    path = write_auth_file(config.codex_cli_auth_path(), tokens)
    before = snapshot(path)
    result = _status()
    assert result.exit_code == 0, result.output
    assert "Codex CLI's login" in result.output
    assert "(expired)" in result.output
    assert "pro" in result.output and "cli@example.com" in result.output
    assert snapshot(path) == before
    assert codex_backend.requests == []


def test_status_json_is_machine_readable(codex_backend, codex_login, codex_cli_login):
    """`status --json` gives source, path, account, expiry and last refresh as JSON."""
    result = _status("--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["signed_in"] is True
    assert data["source"] == "llm-codex"
    assert data["account_id"] == "acct-test"
    assert data["plan_type"] == "plus"
    assert data["expired"] is False
    expires = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00")).timestamp()
    assert 0 < expires - time.time() <= 3600
    assert data["last_refresh"].endswith("Z")
    assert codex_login["access_token"] not in result.output
    assert codex_backend.requests == []


def test_status_mentions_an_unused_codex_cli_login(codex_backend, codex_login, codex_cli_login):
    """When both logins exist, status says the Codex CLI one is present but not used."""
    result = _status()
    assert "present but not used" in result.output


def test_status_when_not_signed_in(codex_backend):
    """Without any login, status says how to sign in and exits 1."""
    result = _status()
    assert result.exit_code == 1
    assert "llm codex login" in result.output
    result = _status("--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["signed_in"] is False
