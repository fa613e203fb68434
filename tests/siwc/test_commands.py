"""The official login in ``llm codex status``, ``models``, ``usage`` and ``serve``, beside the
Codex login (one issuer URL for both routes), and llm's start-up staying free."""

from __future__ import annotations

import json
import subprocess
import sys

import openai
import pytest

from llm_codex.server.runner import ServerThread
from llm_codex.server.settings import ServerSettings
from llm_codex.testing.authfile import write_auth_file

from ..plugin.plugin_helpers import assert_user_error, run_llm


@pytest.fixture
def both_logins(codex_backend, siwc_backend, siwc_login):
    from llm_codex import config

    write_auth_file(config.own_auth_path(), codex_backend.issue_tokens())
    return codex_backend, siwc_backend


def test_status_shows_both_logins_without_network_or_tokens(both_logins):
    _, siwc = both_logins
    run = run_llm("codex", "status")
    assert run.exit_code == 0, run.output
    assert "ChatGPT plan (official):" in run.stdout
    assert "plan-user@example.com" in run.stdout
    assert "Using ChatGPT plan — Manage usage: https://chatgpt.com/settings/usage" in run.stdout
    data = json.loads(run_llm("codex", "status", "--json").stdout)
    assert data["codex"]["signed_in"] is True and data["official"]["signed_in"] is True
    assert data["official"]["client_id"].startswith("oaiapp_")
    text = json.dumps(data) + run.stdout
    from llm_codex import config

    tokens = json.loads(config.official_auth_path().read_text())["tokens"]
    for secret in (tokens["access_token"], tokens["refresh_token"], tokens["id_token"]):
        assert secret not in text
    assert siwc.api.model_requests == [] and siwc.issuer.token_requests == []


def test_status_with_only_the_official_login(siwc_backend, siwc_login):
    run = run_llm("codex", "status")
    assert run.exit_code == 0, run.output
    assert "Codex login: not signed in" in run.stdout
    assert "Plan usage:           enabled" in run.stdout


def test_models_refresh_refreshes_both_routes(both_logins):
    codex, siwc = both_logins
    run = run_llm("codex", "models", "--refresh")
    assert run.exit_code == 0, run.output
    assert len(codex.requests_to("/models")) == 1
    assert len(siwc.api.model_requests) == 1
    assert "Using ChatGPT plan" in run.stdout
    data = json.loads(run_llm("codex", "models", "--json").stdout)
    assert "chatgpt/gpt-5.4-mini" in [m["model_id"] for m in data["official"]["models"]]


def test_a_failing_route_does_not_hide_the_other(both_logins):
    _, siwc = both_logins
    siwc.issuer.expire_access_tokens()  # refresh not allowed yet: the official list fails
    run = run_llm("codex", "models", "--refresh")
    assert run.exit_code == 1
    assert "openai-codex/<slug>" in run.stdout  # the Codex listing is still shown
    assert "chatgpt/ models" in run.stderr


def test_usage_names_the_settings_page_and_asks_nothing(siwc_backend, siwc_login):
    run = run_llm("codex", "usage")
    assert run.exit_code == 0, run.output
    assert (
        "ChatGPT plan usage: no usage data is available to apps; see "
        "https://chatgpt.com/settings/usage" in run.stdout
    )
    assert siwc_backend.api.requests == [] and siwc_backend.api.model_requests == []


def test_serve_refuses_an_official_only_login(siwc_backend, siwc_login):
    run = run_llm("codex", "serve", "--port", "0")
    assert_user_error(
        run,
        "llm codex serve needs a Codex login (llm codex login); your ChatGPT plan sign-in "
        "(--official) may only be used by llm itself.",
    )


def test_serve_with_both_logins_offers_only_the_codex_route(both_logins):
    _, siwc = both_logins
    with ServerThread(ServerSettings(port=0)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x")
        ids = [m.id for m in client.models.list()]
        assert ids and not any(i.startswith("chatgpt/") for i in ids)
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(
                model="chatgpt/gpt-5.5", messages=[{"role": "user", "content": "hi"}]
            )
        assert caught.value.code == "model_not_found"
    assert siwc.api.requests == [] and siwc.issuer.token_requests == []


STARTUP = """
import sys, llm
names = [m.model_id for m in llm.get_models()]
assert "chatgpt/gpt-5.5" in names, names
watched = ("jwt", "cryptography", "llm_codex.auth.siwc.login")
heavy = [m for m in watched if m in sys.modules]
print(",".join(heavy))
"""


def test_llm_start_up_imports_no_jose_library_and_reads_no_token(siwc_backend, siwc_login):
    out = subprocess.run(
        [sys.executable, "-c", STARTUP], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "jwt" not in out.stdout and "cryptography" not in out.stdout
    assert "llm_codex.auth.siwc.login" not in out.stdout
    assert siwc_backend.issuer.token_requests == [] and siwc_backend.api.model_requests == []


def test_an_unusable_official_file_does_not_hide_the_codex_login(codex_backend, codex_login):
    from llm_codex import config

    path = config.official_auth_path()
    path.write_text("{not json")
    path.chmod(0o600)
    run = run_llm("codex", "status")
    assert run.exit_code == 0, run.output
    assert "Account:" in run.stdout
    assert "official.json is not valid JSON; it was left as it is." in run.stdout
    assert path.read_text() == "{not json"
