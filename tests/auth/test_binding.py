"""A login is bound to the issuer and backend it was obtained for (issue 14, items 1 and 3).

The scenario that cost users their login: a real ChatGPT login in llm-codex's folder, then the
README's "Try it offline" pointing LLM_CODEX_AUTH_URL / LLM_CODEX_BASE_URL at the fake. The
real tokens must never reach the fake; the real login must not be marked, replaced or revoked.
"""

from __future__ import annotations

import os
import time

import pytest
from click.testing import CliRunner
from llm.cli import cli

from llm_codex import config
from llm_codex.auth.manager import AuthManager
from llm_codex.auth.store import SOURCE_OWN, read_login
from llm_codex.core.errors import ForeignLogin
from llm_codex.testing.authfile import auth_json

from .helpers import AUTH_CLAIM, make_jwt, snapshot, write_json

REAL_ISSUER = "https://auth.openai.com"


def _real_login(*, expires_in: float = 3600, **extra) -> dict:
    """A login document shaped like one issued by the real issuer (``iss`` set)."""
    auth = {"chatgpt_account_id": "acct-real", "chatgpt_plan_type": "pro"}
    idt = make_jwt({"iss": REAL_ISSUER, "email": "real@example.com", AUTH_CLAIM: auth})
    access = make_jwt({"iss": REAL_ISSUER, "exp": int(time.time() + expires_in), AUTH_CLAIM: auth})
    doc = auth_json({"id_token": idt, "access_token": access, "refresh_token": "rt-real-secret"})
    doc.update(extra)
    return doc


def _no_token_left(fake) -> None:
    """Nothing of the real login reached the fake, in any request."""
    for req in fake.requests:
        text = req.raw_body.decode("latin-1") + " ".join(req.headers.values())
        assert "rt-real-secret" not in text
        assert "real@example.com" not in text
        assert "acct-real" not in text


def test_a_real_login_is_never_sent_to_another_issuer(codex_backend):
    """An expired real login with the fake configured: no refresh at the fake, no mark, one
    sentence naming the login's issuer."""
    path = write_json(config.own_auth_path(), _real_login(expires_in=-60))
    before = snapshot(path)
    result = CliRunner().invoke(cli, ["-m", "openai-codex/gpt-5.5", "hello"])
    assert result.exit_code == 1
    assert REAL_ISSUER in result.output and "LLM_USER_PATH" in result.output
    assert "Traceback" not in result.output
    assert codex_backend.requests_to("/oauth/token") == []
    assert codex_backend.requests_to("/responses") == []
    _no_token_left(codex_backend)
    assert snapshot(path) == before


def test_a_valid_real_login_is_not_sent_to_another_backend(codex_backend):
    """Even a valid access token stays home: the fake backend never sees it."""
    write_json(config.own_auth_path(), _real_login())
    with pytest.raises(ForeignLogin, match=r"issued by https://auth\.openai\.com"):
        AuthManager().current()
    assert codex_backend.requests == []


def test_the_backend_a_login_was_made_for_is_kept(codex_backend, monkeypatch):
    """A login recorded for one backend is not sent to another, even with the same issuer."""
    tokens = codex_backend.issue_tokens()
    doc = auth_json(tokens)
    doc["llm_codex_backend"] = "https://proxy.example/backend-api/codex"
    write_json(config.own_auth_path(), doc)
    with pytest.raises(ForeignLogin, match=r"made for the backend https://proxy\.example"):
        AuthManager().current()
    monkeypatch.setenv("LLM_CODEX_BASE_URL", "https://PROXY.example:443/backend-api/codex/")
    assert AuthManager().current().access_token == tokens["access_token"]


def test_a_matching_borrowed_login_is_used_past_a_foreign_own_login(codex_backend):
    """The own login of another issuer is skipped; the Codex CLI login of this one is used."""
    write_json(config.own_auth_path(), _real_login())
    tokens = codex_backend.issue_tokens()
    write_json(config.codex_cli_auth_path(), auth_json(tokens), dir_mode=0o755)
    assert AuthManager().current().access_token == tokens["access_token"]


def test_login_at_another_issuer_leaves_the_real_login_alone(codex_backend):
    """'llm codex login' pointed at the fake refuses before the browser: nothing replaced or
    revoked."""
    path = write_json(config.own_auth_path(), _real_login())
    before = snapshot(path)
    result = CliRunner().invoke(cli, ["codex", "login", "--device-code"])
    assert result.exit_code == 1
    assert REAL_ISSUER in result.output and "LLM_USER_PATH" in result.output
    assert snapshot(path) == before
    assert codex_backend.requests == []


def test_logout_at_another_issuer_neither_revokes_nor_removes(codex_backend):
    path = write_json(config.own_auth_path(), _real_login())
    before = snapshot(path)
    result = CliRunner().invoke(cli, ["codex", "logout"])
    assert result.exit_code == 1
    assert REAL_ISSUER in result.output
    assert snapshot(path) == before
    assert codex_backend.requests_to("/oauth/revoke") == []


def test_a_new_login_records_its_issuer_and_backend(codex_backend, monkeypatch):
    monkeypatch.setenv("LLM_CODEX_DEVICE_POLL_INTERVAL", "0")
    result = CliRunner().invoke(cli, ["codex", "login", "--device-code"])
    assert result.exit_code == 0, result.output
    data = read_login(config.own_auth_path(), source=SOURCE_OWN).data
    assert data["llm_codex_issuer"] == codex_backend.url
    assert data["llm_codex_backend"] == codex_backend.base_url


def test_logout_of_a_shared_mode_file_revokes_before_deleting(codex_backend):
    """Mode 0644 (the token may have leaked): logout still revokes it, then deletes it."""
    tokens = codex_backend.issue_tokens()
    path = write_json(config.own_auth_path(), auth_json(tokens), mode=0o644)
    result = CliRunner().invoke(cli, ["codex", "logout"])
    assert result.exit_code == 0, result.output
    assert "revoked on the server" in result.output
    assert codex_backend.refresh_token_state(tokens["refresh_token"]) == "revoked"
    assert not path.exists()


def test_status_in_a_read_only_folder_says_it_cannot_renew(codex_backend, monkeypatch):
    """An expired login in a folder we cannot write: no "renewed automatically" promise."""
    from llm_codex.auth import store

    tokens = codex_backend.issue_tokens(access_ttl=-60)
    path = write_json(config.own_auth_path(), auth_json(tokens))
    os.chmod(path.parent, 0o500)

    def refuse(*args, **kwargs):  # root ignores permissions: say what the kernel would
        raise PermissionError(13, "Permission denied")

    if os.geteuid() == 0:
        monkeypatch.setattr(store, "_open_temp", refuse)
    try:
        result = CliRunner().invoke(cli, ["codex", "status"])
    finally:
        os.chmod(path.parent, 0o700)
    assert "renewed automatically" not in result.output
    assert "cannot be written to" in result.output
