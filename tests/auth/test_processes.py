"""Many processes, one login: a single refresh, no reuse errors, and crash safety."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_codex import config
from llm_codex.auth.manager import AuthManager
from llm_codex.auth.store import SOURCE_OWN, read_login
from llm_codex.core.errors import AuthenticationRequired
from llm_codex.testing.authfile import write_auth_file

LLM = str(Path(sys.executable).with_name("llm"))
N = 16
IN_WINDOW = 120

WORKER = """
import os, sys, time
import httpx2
from llm_codex import config
from llm_codex.auth import default_auth_manager
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.01)
creds = default_auth_manager().current()
answer = httpx2.get(
    config.backend_base_url() + "/models",
    params={"client_version": config.client_version()},
    headers={"Authorization": "Bearer " + creds.access_token,
             "chatgpt-account-id": creds.account_id},
)
sys.exit(0 if answer.status_code == 200 else 3)
"""


def _assert_single_refresh(fake, path: Path) -> None:
    calls = fake.requests_to("/oauth/token")
    assert fake.refresh_count == 1
    assert len(calls) == 1
    assert [c.status for c in calls] == [200]  # so no refresh_token_reused either
    data = json.loads(path.read_text())
    assert data["tokens"]["access_token"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("n", [N, 2 * N])
def test_sixteen_processes_share_one_refresh(codex_backend, tmp_path, n):
    """16 (and 32) processes whose token is inside the refresh window all work with exactly one
    refresh."""
    tokens = codex_backend.issue_tokens(access_ttl=IN_WINDOW)
    path = write_auth_file(config.own_auth_path(), tokens)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(n)
    ]
    time.sleep(0.3)
    go.write_text("")
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, outputs
    _assert_single_refresh(codex_backend, path)
    assert len(codex_backend.requests_to("/models")) == n
    assert read_login(path, source=SOURCE_OWN).access_token != tokens["access_token"]


def _model_registered() -> bool:
    """Whether llm knows the model (what `llm models` would list), checked in-process."""
    import llm

    try:
        llm.get_model("openai-codex/gpt-5.5")
    except llm.UnknownModelError:
        return False
    return True


def _prepare_llm_database() -> None:
    """Create llm's log database once: 16 llm processes racing to create it would fail."""
    import llm
    import sqlite_utils
    from llm.migrations import migrate

    user_dir = llm.user_dir()
    user_dir.mkdir(parents=True, exist_ok=True)
    migrate(sqlite_utils.Database(user_dir / "logs.db"))


def test_sixteen_llm_prompts_share_one_refresh(codex_backend):
    """16 concurrent `llm -m openai-codex/gpt-5.5 hi` runs refresh once and all answer."""
    assert _model_registered(), "the openai-codex models are not registered"
    _prepare_llm_database()
    tokens = codex_backend.issue_tokens(access_ttl=IN_WINDOW)
    path = write_auth_file(config.own_auth_path(), tokens)
    procs = [
        subprocess.Popen(
            [LLM, "-m", "openai-codex/gpt-5.5", "hi", "--no-log"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(N)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * N, outputs
    assert all("Hello from the fake Codex backend" in o for o in outputs), outputs
    _assert_single_refresh(codex_backend, path)


def test_a_process_killed_mid_refresh_leaves_a_readable_file(codex_backend):
    """SIGKILL while the refresh answer is in flight leaves the credential file intact and
    the lock free; the next run asks for a new sign-in instead of hanging or corrupting."""
    tokens = codex_backend.issue_tokens(access_ttl=-60)
    path = write_auth_file(config.own_auth_path(), tokens)
    codex_backend.token_delay = 30
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from llm_codex.auth import default_auth_manager; default_auth_manager().current()",
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while codex_backend.refresh_count == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert codex_backend.refresh_count == 1  # the server already rotated the token
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    login = read_login(path, source=SOURCE_OWN)
    assert login.refresh_token == tokens["refresh_token"]
    assert json.loads(path.read_text())["tokens"]["access_token"] == tokens["access_token"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(path.parent)) == ["auth.json", "auth.json.lock"]
    codex_backend.token_delay = 0
    with pytest.raises(AuthenticationRequired, match="llm codex login"):
        AuthManager(lock_timeout=5).current()
    assert read_login(path, source=SOURCE_OWN).refresh_token == tokens["refresh_token"]
