"""The official login's tokens: earliest_refresh_at, rotation, 401 handling, the lock, the race."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_codex import config
from llm_codex.auth.siwc.provider import OfficialAuth
from llm_codex.core.errors import AuthenticationRequired
from llm_codex.testing.siwc_fake import write_official_login

from ..plugin.plugin_helpers import assert_user_error, run_llm
from .helpers import PLAN_MODEL, official_doc


def sign_in(fake, **kwargs):
    return write_official_login(config.state_dir(), fake, **kwargs)


def test_a_token_inside_the_window_is_not_refreshed_before_earliest_refresh_at(siwc_backend):
    """An early refresh would spend the refresh token: the still-valid token is used instead."""
    siwc_backend.issuer.refresh_delay = 3000  # not renewable yet
    issued = sign_in(siwc_backend, expires_at=time.time() + 60)  # within the 300 s margin
    run = run_llm("-m", PLAN_MODEL, "hi")
    assert run.exit_code == 0, run.output
    assert siwc_backend.issuer.refresh_count == 0
    assert official_doc()["tokens"]["refresh_token"] == issued["refresh_token"]


def test_a_due_and_allowed_refresh_rotates_and_persists(siwc_backend):
    siwc_backend.issuer.refresh_delay = 0
    issued = sign_in(siwc_backend, expires_at=time.time() + 60)
    run = run_llm("-m", PLAN_MODEL, "hi")
    assert run.exit_code == 0, run.output
    assert siwc_backend.issuer.refresh_count == 1
    [refresh] = siwc_backend.issuer.token_requests
    assert refresh == {
        "grant_type": "refresh_token",
        "client_id": issued["client_id"],
        "refresh_token": issued["refresh_token"],
        "resource": "https://api.openai.com/v1",
    }
    tokens = official_doc()["tokens"]
    assert tokens["refresh_token"] != issued["refresh_token"]
    assert tokens["id_token"]  # kept for id_token_hint
    used = siwc_backend.api.requests[-1].headers["authorization"]
    assert used == "Bearer " + tokens["access_token"]


def test_expired_and_not_yet_renewable_names_the_time_and_sends_nothing(siwc_backend):
    sign_in(siwc_backend, expires_at=time.time() - 10, earliest_refresh_at=time.time() + 600)
    assert_user_error(run_llm("-m", PLAN_MODEL, "hi"), "can be renewed at")
    assert siwc_backend.issuer.refresh_count == 0
    assert siwc_backend.api.requests == []


def test_a_401_refreshes_once_when_allowed_and_retries(siwc_backend):
    siwc_backend.issuer.refresh_delay = 0
    sign_in(siwc_backend)
    siwc_backend.issuer.expire_access_tokens()
    run = run_llm("-m", PLAN_MODEL, "hi")
    assert run.exit_code == 0, run.output
    assert siwc_backend.issuer.refresh_count == 1
    assert len(siwc_backend.api.requests) == 2


def test_a_401_while_refresh_is_not_allowed_keeps_the_files(siwc_backend):
    sign_in(siwc_backend)  # renewable only six minutes before expiry
    siwc_backend.issuer.expire_access_tokens()
    before = official_doc()
    assert_user_error(
        run_llm("-m", PLAN_MODEL, "hi"),
        "Your ChatGPT plan sign-in was not accepted; run `llm codex login --official`.",
    )
    assert siwc_backend.issuer.refresh_count == 0
    assert official_doc() == before


@pytest.mark.parametrize("code", ["invalid_grant", "refresh_token_reused", "token_expired"])
def test_a_permanent_refresh_refusal_ends_the_sign_in_but_keeps_the_registration(
    siwc_backend, code
):
    siwc_backend.issuer.refresh_delay = 0
    issued = sign_in(siwc_backend, expires_at=time.time() + 60)
    siwc_backend.issuer.token_failure = (400, code)
    assert_user_error(run_llm("-m", PLAN_MODEL, "hi"), "Your ChatGPT plan sign-in has ended")
    doc = official_doc()
    assert doc["tokens"]["needs_sign_in"] is True and doc["tokens"]["refresh_token"] is None
    assert doc["client_id"] == issued["client_id"]
    assert config.official_host_id_path().exists()
    status = json.loads(run_llm("codex", "status", "--json").stdout)["official"]
    assert status["needs_sign_in"] is True


def test_invalid_client_on_refresh_keeps_everything(siwc_backend):
    siwc_backend.issuer.refresh_delay = 0
    sign_in(siwc_backend, expires_at=time.time() + 60)
    before = official_doc()
    siwc_backend.issuer.token_failure = (401, "invalid_client")
    run = run_llm("-m", PLAN_MODEL, "hi")
    # the token is still valid, so the prompt goes through; the registration is untouched
    assert run.exit_code == 0 or "invalid_client" in run.stderr
    assert official_doc()["client_id"] == before["client_id"]


def test_a_transient_refresh_failure_uses_the_valid_token(siwc_backend):
    siwc_backend.issuer.refresh_delay = 0
    issued = sign_in(siwc_backend, expires_at=time.time() + 60)
    siwc_backend.issuer.token_failure = (503, "server_error")
    run = run_llm("-m", PLAN_MODEL, "hi")
    assert run.exit_code == 0, run.output
    used = siwc_backend.api.requests[0].headers["authorization"]
    assert used == "Bearer " + issued["access_token"]


def test_the_login_is_bound_to_its_issuer_and_api(siwc_backend, monkeypatch):
    sign_in(siwc_backend)
    monkeypatch.setenv("LLM_CODEX_API_URL", "http://127.0.0.1:9/v1")
    assert_user_error(run_llm("-m", PLAN_MODEL, "hi"), "LLM_CODEX_API_URL")
    monkeypatch.setenv("LLM_CODEX_API_URL", siwc_backend.api_url)
    monkeypatch.setenv("LLM_CODEX_AUTH_URL", "http://127.0.0.1:9")
    assert_user_error(run_llm("-m", PLAN_MODEL, "hi"), "LLM_CODEX_AUTH_URL")
    assert siwc_backend.api.requests == []


async def test_concurrent_coroutines_share_one_refresh(siwc_backend):
    siwc_backend.issuer.refresh_delay = 0
    siwc_backend.issuer.refresh_delay_seconds = 0.3
    sign_in(siwc_backend, expires_at=time.time() + 60)
    auth = OfficialAuth()
    results = await asyncio.gather(*(auth.acurrent() for _ in range(8)))
    assert len({r.access_token for r in results}) == 1
    assert siwc_backend.issuer.refresh_count == 1


def test_read_only_commands_never_refresh(siwc_backend):
    siwc_backend.issuer.refresh_delay = 0
    sign_in(siwc_backend, expires_at=time.time() + 60)
    for args in (("models",), ("codex", "status"), ("codex", "models"), ("codex", "usage")):
        run_llm(*args)
    assert siwc_backend.issuer.refresh_count == 0
    assert siwc_backend.api.model_requests == []


def test_status_after_possibly_spent_asks_for_a_new_sign_in_once_expired(siwc_backend):
    sign_in(siwc_backend, expires_at=time.time() - 1, earliest_refresh_at=None)
    path = config.official_auth_path()
    doc = json.loads(path.read_text())
    doc["tokens"]["possibly_spent"] = True
    path.write_text(json.dumps(doc))
    with pytest.raises(AuthenticationRequired, match="did not complete"):
        OfficialAuth().current()
    assert siwc_backend.issuer.refresh_count == 0


WORKER = """
import os, sys, time
import httpx2
from llm_codex import config
from llm_codex.auth.siwc.provider import OfficialAuth
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.01)
creds = OfficialAuth().current()
answer = httpx2.get(config.api_base_url() + "/models",
                    headers={"Authorization": "Bearer " + creds.access_token})
sys.exit(0 if answer.status_code == 200 else 3)
"""


def test_twelve_processes_race_to_exactly_one_refresh(siwc_backend, tmp_path):
    siwc_backend.issuer.refresh_delay = 0
    siwc_backend.issuer.refresh_delay_seconds = 0.2
    issued = sign_in(siwc_backend, expires_at=time.time() + 60)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(go)], env=dict(os.environ))
        for _ in range(12)
    ]
    time.sleep(0.5)
    go.write_text("go")
    codes = [p.wait(timeout=120) for p in procs]
    assert codes == [0] * 12
    assert siwc_backend.issuer.refresh_count == 1
    refreshes = [
        r for r in siwc_backend.issuer.token_requests if r["grant_type"] == "refresh_token"
    ]
    assert len(refreshes) == 1 and refreshes[0]["refresh_token"] == issued["refresh_token"]
    assert Path(config.official_auth_path()).stat().st_mode & 0o777 == 0o600


def test_an_unknown_refresh_outcome_never_resends_the_token(siwc_backend, monkeypatch):
    """A refresh that times out after sending may have spent the token: it is marked possibly
    spent, the still-valid access token keeps working, and the token is never sent again."""
    from llm_codex.auth.siwc import issuer

    original = issuer.post_token
    monkeypatch.setattr(issuer, "post_token", lambda form: original(form, timeout=0.3))
    siwc_backend.issuer.refresh_delay = 0
    siwc_backend.issuer.refresh_delay_seconds = 1.0
    issued = sign_in(siwc_backend, expires_at=time.time() + 60)
    creds = OfficialAuth().current()
    assert creds.access_token == issued["access_token"]
    assert official_doc()["tokens"]["possibly_spent"] is True
    assert OfficialAuth().current().access_token == issued["access_token"]
    deadline = time.monotonic() + 10  # let the fake finish the refresh it was asked for
    while siwc_backend.issuer.refresh_count == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert siwc_backend.issuer.refresh_count == 1  # sent once, never again
