"""``llm codex login --official`` / ``logout --official`` through the real llm CLI, against the
fake issuer: registration, reuse, ID-token verification, every sign-in failure."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from llm_codex import config
from llm_codex.testing.siwc_fake import browser_consent

from ..plugin.plugin_helpers import assert_user_error, run_llm
from .helpers import get, install_browser, official_doc

NOTICE = "You're using your ChatGPT plan"


def login(*extra: str):
    return run_llm("codex", "login", "--official", *extra)


def test_first_sign_in_registers_and_saves_a_private_bound_login(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    run = login()
    assert run.exit_code == 0, run.output
    assert "Signed in to ChatGPT as plan-user@example.com; ChatGPT plan usage is enabled" in (
        run.stdout
    )
    assert NOTICE in run.stderr and NOTICE not in run.stdout
    [query] = siwc_backend.issuer.authorize_requests
    assert query["client_id"] == "dynamic_agent_client"
    assert query["agent_name_hint"] == "llm-codex"
    assert query["ext_agent_host_id"].startswith("urn:uuid:")
    assert query["redirect_uri"].startswith("http://127.0.0.1:")
    assert query["redirect_uri"].endswith("/auth/callback")
    assert query["resource"] == "https://api.openai.com/v1"
    assert "chatgpt.tokens.use.direct" in query["scope"].split()
    assert query["code_challenge_method"] == "S256"
    for absent in ("id_token_hint", "login_hint", "prompt", "force_reconsent", "originator"):
        assert absent not in query
    doc = official_doc()
    assert doc["client_id"].startswith("oaiapp_")
    assert doc["issuer"] == siwc_backend.url and doc["api_base"] == siwc_backend.api_url
    assert doc["subject"] == "user-siwc-1" and doc["plan_usage"] is True
    assert doc["tokens"]["earliest_refresh_at"] < doc["tokens"]["expires_at"]
    host = json.loads(config.official_host_id_path().read_text())
    assert host["ext_agent_host_id"] == query["ext_agent_host_id"]
    for path in (config.official_auth_path(), config.official_host_id_path()):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.state_dir().stat().st_mode) == 0o700
    # the exchange: the issued id, the verifier, the exact redirect, the resource; no scope
    [exchange] = siwc_backend.issuer.token_requests
    assert exchange["client_id"] == doc["client_id"]
    assert exchange["redirect_uri"] == query["redirect_uri"]
    assert "scope" not in exchange and "client_secret" not in exchange
    assert len(exchange["code_verifier"]) == 43  # 32 random bytes, as the sign-in documents
    # the model list was fetched for the new login
    cache = json.loads(config.official_models_path().read_text())
    assert [m["slug"] for m in cache["models"]] == ["gpt-5.5", "gpt-5.4-mini"]
    assert cache["client_id"] == doc["client_id"]


def test_later_sign_ins_reuse_the_issued_client_id_and_show_no_notice(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    assert login().exit_code == 0
    first = official_doc()
    run = login()
    assert run.exit_code == 0, run.output
    assert NOTICE not in run.output
    second_query = siwc_backend.issuer.authorize_requests[-1]
    assert second_query["client_id"] == first["client_id"]
    assert "agent_name_hint" not in second_query
    assert second_query["ext_agent_host_id"] == first["ext_agent_host_id"]
    assert second_query["login_hint"] == "plan-user@example.com"
    assert second_query["id_token_hint"] == first["tokens"]["id_token"]
    assert "prompt" not in second_query
    assert official_doc()["client_id"] == first["client_id"]
    assert siwc_backend.issuer.revoked == []  # a new sign-in does not revoke the old one


@pytest.mark.parametrize(
    "mode", ["bad_signature", "wrong_nonce", "wrong_aud", "alg_none", "expired", "unknown_kid"]
)
def test_an_unverifiable_id_token_saves_nothing(siwc_backend, monkeypatch, mode):
    install_browser(monkeypatch)
    siwc_backend.issuer.id_token_mode = mode
    run = login()
    assert_user_error(run, "The ChatGPT identity could not be verified; nothing was saved.")
    doc = official_doc()
    assert doc["tokens"] is None  # the registration was kept, no token was written
    assert doc["client_id"].startswith("oaiapp_")
    # the next attempt reuses the saved registration instead of registering again
    siwc_backend.issuer.id_token_mode = "good"
    assert login().exit_code == 0
    assert siwc_backend.issuer.authorize_requests[-1]["client_id"] == doc["client_id"]


def test_a_failed_id_token_check_keeps_the_previous_login(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    assert login().exit_code == 0
    before = official_doc()
    siwc_backend.issuer.id_token_mode = "bad_signature"
    assert_user_error(login(), "could not be verified")
    assert official_doc() == before


def test_declined_consent_changes_nothing(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    siwc_backend.issuer.consent = "deny"
    assert_user_error(login(), "You did not allow llm-codex to sign in; nothing was changed.")
    assert official_doc() is None
    assert siwc_backend.issuer.token_requests == []


def test_a_refused_registration_is_one_sentence(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    siwc_backend.issuer.consent = "no_client_id"
    assert_user_error(login(), "ChatGPT did not complete app registration")
    assert official_doc() is None


def test_withheld_plan_scope_keeps_the_sign_in_but_disables_plan_usage(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    siwc_backend.issuer.consent = "no_plan"
    run = login()
    assert_user_error(run, "but ChatGPT plan usage was not enabled")
    assert official_doc()["plan_usage"] is False and official_doc()["tokens"] is not None
    assert NOTICE not in run.output
    prompt = run_llm("-m", "chatgpt/gpt-5.5", "hi")
    assert_user_error(prompt, "ChatGPT plan usage was not enabled")
    assert siwc_backend.api.requests == []
    siwc_backend.issuer.consent = "allow"
    assert login().exit_code == 0
    assert siwc_backend.issuer.authorize_requests[-1]["prompt"] == "consent"


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (401, "invalid_client", "ChatGPT rejected llm-codex's registration (invalid_client)."),
        (400, "invalid_grant", "did not accept the sign-in code (invalid_grant)"),
        (503, "server_error", "could not be completed (network)"),
    ],
)
def test_exchange_errors(siwc_backend, monkeypatch, status, code, message):
    install_browser(monkeypatch)
    siwc_backend.issuer.token_failure = (status, code)
    assert_user_error(login(), message)
    assert official_doc()["tokens"] is None


def test_discovery_for_another_issuer_sends_nothing(siwc_backend, monkeypatch):
    browser = install_browser(monkeypatch)
    port = urlsplit(siwc_backend.url).port
    monkeypatch.setenv("LLM_CODEX_AUTH_URL", f"http://localhost:{port}")
    assert_user_error(login(), "Could not verify the ChatGPT sign-in configuration")
    assert browser.urls == [] and siwc_backend.issuer.authorize_requests == []


def test_a_busy_port_is_one_sentence(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert_user_error(login("--port", str(port)), f"port {port} is in use")


def test_the_listener_ignores_wrong_state_and_strangers(siwc_backend, monkeypatch):
    seen: dict[str, int] = {}

    def probe(url: str) -> None:
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        wrong = get(redirect + "?code=x&state=nope")
        seen["wrong_state"] = wrong.status_code
        assert wrong.headers["referrer-policy"] == "no-referrer"
        assert wrong.headers["cache-control"] == "no-store"
        seen["other_path"] = get(redirect.replace("/auth/callback", "/other")).status_code
        seen["bad_host"] = get(
            redirect + "?code=x&state=nope", headers={"Host": "evil.example"}
        ).status_code

    install_browser(monkeypatch, before=probe)
    run = login()
    assert run.exit_code == 0, run.output
    assert seen == {"wrong_state": 400, "other_path": 404, "bad_host": 404}


def test_a_different_account_is_refused_and_the_old_login_kept(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    assert login().exit_code == 0
    before = official_doc()
    siwc_backend.issuer.user.sub = "someone-else"
    # the same issued client id now answers for another user
    siwc_backend.issuer.clients[before["client_id"]] = "someone-else"
    assert_user_error(login(), "different ChatGPT account")
    assert official_doc() == before


def test_logout_revokes_and_keeps_the_registration(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    assert login().exit_code == 0
    refresh = official_doc()["tokens"]["refresh_token"]
    run = run_llm("codex", "logout", "--official")
    assert run.exit_code == 0
    assert "Signed out of ChatGPT plan usage (revocation confirmed)." in run.stdout
    assert siwc_backend.issuer.revoked == [refresh]
    doc = official_doc()
    assert doc["tokens"] is None and doc["client_id"].startswith("oaiapp_")
    assert config.official_host_id_path().exists()
    again = run_llm("codex", "logout", "--official")
    assert again.exit_code == 0 and "Not signed in with --official." in again.stdout
    # sign in again after logout: same registration, no id_token_hint
    assert login().exit_code == 0
    query = siwc_backend.issuer.authorize_requests[-1]
    assert query["client_id"] == doc["client_id"] and "id_token_hint" not in query


def test_logout_without_the_issuer_signs_out_locally(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    assert login().exit_code == 0
    siwc_backend.stop()
    run = run_llm("codex", "logout", "--official")
    assert run.exit_code == 0
    assert "OpenAI did not confirm the revocation" in run.stdout
    assert official_doc()["tokens"] is None


def test_plain_logout_leaves_the_official_login_alone(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    assert login().exit_code == 0
    before = official_doc()
    run_llm("codex", "logout")
    assert official_doc() == before


LLM = str(Path(sys.executable).with_name("llm"))


def test_no_browser_accepts_a_pasted_callback_and_never_echoes_it(siwc_backend):
    """The real CLI in a subprocess: the URL is printed, a wrong paste is explained, the right
    one completes the sign-in, and no pasted URL appears in the output."""
    proc = subprocess.Popen(
        [LLM, "codex", "login", "--official", "--no-browser"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    assert proc.stdout is not None and proc.stdin is not None
    lines = []
    while True:
        line = proc.stdout.readline()
        assert line, "no URL was printed"
        lines.append(line)
        if line.startswith("http"):
            break
    assert "Continue with ChatGPT" in "".join(lines)
    callback = browser_consent(line.strip(), follow=False)
    proc.stdin.write("http://127.0.0.1:1/auth/callback?code=x&state=y\n")
    proc.stdin.write(callback + "\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "Signed in to ChatGPT as plan-user@example.com" in out
    assert "That is not the http://127.0.0.1:" in out
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert code not in out + err


def test_an_api_url_in_clear_text_is_refused_before_anything_is_sent(siwc_backend, monkeypatch):
    browser = install_browser(monkeypatch)
    monkeypatch.setenv("LLM_CODEX_API_URL", "http://api.example.com/v1")
    assert_user_error(login(), "LLM_CODEX_API_URL must be an https URL")
    assert browser.urls == [] and siwc_backend.issuer.authorize_requests == []


def test_an_unexpected_client_id_on_a_later_sign_in_changes_nothing(siwc_backend, monkeypatch):
    install_browser(monkeypatch)
    assert login().exit_code == 0
    before = official_doc()
    siwc_backend.issuer.callback_client_id = "oaiapp_not_ours"
    assert_user_error(login(), "unexpected client id")
    assert official_doc() == before
