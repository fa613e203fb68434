"""Signing in and out: browser PKCE, pasted redirect URL, device code, logout with revoke."""

from __future__ import annotations

import json
import os
import queue
import stat
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from click.testing import CliRunner
from llm.cli import cli

from llm_codex import config
from llm_codex.auth import login as login_mod
from llm_codex.auth.store import SOURCE_OWN, read_login
from llm_codex.core.errors import LoginFailed

from .helpers import snapshot

LLM = str(Path(sys.executable).with_name("llm"))


class _Run:
    """A library login running in a thread, with its printed lines collected."""

    def __init__(self, target, **kwargs):
        self.lines: queue.Queue[str] = queue.Queue()
        self.printed: list[str] = []
        self.result = None
        self.error: BaseException | None = None

        def echo(text: str) -> None:
            self.printed.append(text)
            self.lines.put(text)

        def run():
            try:
                self.result = target(echo=echo, **kwargs)
            except BaseException as exc:  # handed to the test
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def url(self) -> str:
        while True:
            line = self.lines.get(timeout=10)
            if line.startswith("http"):
                return line

    def join(self):
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()
        if self.error:
            raise self.error
        return self.result


def test_authorize_url_carries_pkce_state_and_our_originator(codex_backend):
    """The browser is sent to the issuer with S256 PKCE, state, our client and originator."""
    pkce = login_mod.new_pkce()
    url = login_mod.authorize_url(
        redirect_uri="http://localhost:1455/auth/callback", pkce=pkce, state="st"
    )
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert url.startswith(codex_backend.url + "/oauth/authorize?")
    assert q["code_challenge_method"] == "S256"
    assert q["client_id"] == config.CLIENT_ID
    assert q["originator"] == "llm-codex"
    assert q["state"] == "st"
    assert "offline_access" in q["scope"].split()
    assert q["redirect_uri"] == "http://localhost:1455/auth/callback"
    assert len(pkce.verifier) >= 43 and pkce.verifier not in url


def test_browser_login_saves_our_own_file_and_shows_a_clean_success_page(codex_backend):
    """Following the browser redirect signs in; the success page URL carries no tokens."""
    run = _Run(login_mod.browser_login, port=0, open_browser=False)
    url = run.url()
    page = httpx2.get(url, follow_redirects=True, timeout=10)
    saved = run.join()
    assert page.status_code == 200
    assert "Signed in" in page.text
    assert page.url.path == "/success" and not page.url.query
    hops = [r.url for r in page.history]
    assert any(str(h).startswith("http://localhost:") or "/auth/callback" in str(h) for h in hops)
    assert saved.source == SOURCE_OWN
    path = config.own_auth_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_login(path, source=SOURCE_OWN).account_id == "acct-test"
    assert not config.codex_cli_auth_path().exists()
    (exchange,) = codex_backend.requests_to("/oauth/token")
    assert exchange.headers["originator"] == "llm-codex"
    assert exchange.json["grant_type"] == "authorization_code"


def test_login_does_not_touch_the_codex_cli_login(codex_backend, codex_cli_login):
    """Signing in with llm-codex leaves the Codex CLI's auth.json and tokens alone."""
    path = config.codex_cli_auth_path()
    before = snapshot(path)
    run = _Run(login_mod.browser_login, port=0, open_browser=False)
    httpx2.get(run.url(), follow_redirects=True, timeout=10)
    run.join()
    assert snapshot(path) == before
    assert codex_backend.refresh_token_state(codex_cli_login["refresh_token"]) == "fresh"
    assert codex_backend.revoked_tokens == []


def test_a_new_login_revokes_the_one_it_replaces(codex_backend, codex_login):
    """Signing in again revokes the previous own login's refresh token (best effort)."""
    run = _Run(login_mod.browser_login, port=0, open_browser=False)
    httpx2.get(run.url(), follow_redirects=True, timeout=10)
    saved = run.join()
    assert codex_backend.revoked_tokens == [codex_login["refresh_token"]]
    assert saved.refresh_token != codex_login["refresh_token"]
    (revoke,) = codex_backend.requests_to("/oauth/revoke")
    assert revoke.headers["originator"] == "llm-codex"


def test_a_pasted_redirect_url_completes_the_login(codex_backend):
    """On a headless machine the URL the browser ended on can be pasted instead."""
    read_fd, write_fd = os.pipe()
    stdin = os.fdopen(read_fd, "r")
    try:
        run = _Run(
            login_mod.browser_login, port=0, open_browser=False, accept_paste=True, stdin=stdin
        )
        url = run.url()
        redirect = httpx2.get(url, follow_redirects=False, timeout=10).headers["location"]
        wrong_state = redirect.replace("state=", "state=x")
        os.write(write_fd, (wrong_state + "\n" + redirect + "\n").encode())
        saved = run.join()
    finally:
        os.close(write_fd)
        stdin.close()
    assert saved.account_id == "acct-test"
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    output = "\n".join(run.printed)
    assert code not in output  # never echoed
    assert "state mismatch" in output


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("https://localhost:{port}/auth/callback?code=c&state=s", "http://localhost"),
        ("http://evil.example:{port}/auth/callback?code=c&state=s", "http://localhost"),
        ("http://localhost:1/auth/callback?code=c&state=s", "port"),
        ("http://localhost:{port}/other?code=c&state=s", "path"),
        ("http://localhost:{port}/auth/callback?code=c&state=zz", "state mismatch"),
        ("http://127.0.0.1:{port}/auth/callback?state=s", "no sign-in code"),
        ("http://localhost:{port}/auth/callback?error=access_denied&state=s", "access_denied"),
        ("not a url at all", "http://localhost"),
    ],
)
def test_pasted_urls_are_validated(text, words):
    """Pasted URLs must be our localhost callback with the right port, path and state."""
    with pytest.raises(LoginFailed, match=words):
        login_mod.parse_pasted_redirect(text.format(port=1455), state="s", port=1455)
    assert (
        login_mod.parse_pasted_redirect(
            "http://127.0.0.1:1455/auth/callback?code=abc&state=s", state="s", port=1455
        )
        == "abc"
    )


def test_a_state_mismatch_gets_a_400_page_and_a_clear_error(codex_backend):
    """A callback with the wrong state is refused in the browser and ends the login clearly."""
    run = _Run(login_mod.browser_login, port=0, open_browser=False)
    url = run.url()
    redirect = httpx2.get(url, follow_redirects=False, timeout=10).headers["location"]
    page = httpx2.get(redirect.replace("state=", "state=bad"), timeout=10)
    assert page.status_code == 400
    assert "State mismatch" in page.text
    with pytest.raises(LoginFailed, match="state mismatch"):
        run.join()
    assert not config.own_auth_path().exists()


def test_a_missing_codex_entitlement_is_explained(codex_backend):
    """access_denied with missing_codex_entitlement says Codex is not enabled for the workspace."""
    codex_backend.authorize_error = "access_denied"
    run = _Run(login_mod.browser_login, port=0, open_browser=False)
    page = httpx2.get(run.url(), follow_redirects=True, timeout=10)
    assert page.status_code == 400
    with pytest.raises(LoginFailed, match="Codex is not enabled"):
        run.join()


def test_device_code_login_polls_until_approved(codex_backend, monkeypatch):
    """The device flow shows the code and URL, warns about phishing, and polls past pending."""
    monkeypatch.setenv("LLM_CODEX_DEVICE_POLL_INTERVAL", "0")
    codex_backend.device_pending_polls = 3
    codex_backend.device_pending_status = 404
    codex_backend.device_usercode_field = "usercode"
    result = CliRunner().invoke(cli, ["codex", "login", "--device-code"])
    assert result.exit_code == 0, result.output
    assert f"{codex_backend.url}/codex/device" in result.output
    assert "Never share this code" in result.output
    assert "Signed in as user@example.com (plus plan)" in result.output
    polls = codex_backend.requests_to("/api/accounts/deviceauth/token")
    assert len(polls) == 4
    assert all(p.headers["originator"] == "llm-codex" for p in polls)
    (exchange,) = codex_backend.requests_to("/oauth/token")
    assert exchange.json["redirect_uri"] == f"{codex_backend.url}/deviceauth/callback"
    assert read_login(config.own_auth_path(), source=SOURCE_OWN).account_id == "acct-test"


def test_device_code_uses_the_server_interval_string(codex_backend):
    """Without an override the poll interval is the server's string of seconds."""
    codex_backend.device_interval = "0"
    codex_backend.device_pending_polls = 1
    slept: list[float] = []
    login_mod.device_login(echo=lambda _: None, sleep=slept.append)
    assert slept == [0.0, 0.0]


def test_device_code_not_enabled_is_explained(codex_backend):
    """A 404 on the user-code endpoint says to enable device codes in ChatGPT security settings."""
    codex_backend.device_auth_enabled = False
    result = CliRunner().invoke(cli, ["codex", "login", "--device-code"])
    assert result.exit_code == 1
    assert "security settings" in result.output
    assert "Traceback" not in result.output


def test_device_code_gives_up_after_its_lifetime(codex_backend, monkeypatch):
    """Polling stops when the device code's lifetime is over."""
    monkeypatch.setenv("LLM_CODEX_DEVICE_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("LLM_CODEX_DEVICE_TIMEOUT", "0.2")
    codex_backend.device_pending_polls = 10_000
    result = CliRunner().invoke(cli, ["codex", "login", "--device-code"])
    assert result.exit_code == 1
    assert "expired" in result.output


def test_a_denied_device_code_is_a_clear_failure(codex_backend, monkeypatch):
    """Any non-pending error while polling ends the device flow with one sentence."""
    monkeypatch.setenv("LLM_CODEX_DEVICE_POLL_INTERVAL", "0")
    codex_backend.device_outcome = "deny"
    result = CliRunner().invoke(cli, ["codex", "login", "--device-code"])
    assert result.exit_code == 1
    assert "access_denied" in result.output


def test_logout_revokes_and_removes_our_login(codex_backend, codex_login):
    """Logout revokes the refresh token (JSON body), says so, and deletes our file and lock."""
    path = config.own_auth_path()
    (path.parent / "auth.json.lock").write_text("")
    result = CliRunner().invoke(cli, ["codex", "logout"])
    assert result.exit_code == 0, result.output
    assert "revoked on the server" in result.output
    assert not path.exists() and not (path.parent / "auth.json.lock").exists()
    (revoke,) = codex_backend.requests_to("/oauth/revoke")
    assert json.loads(revoke.raw_body) == {
        "token": codex_login["refresh_token"],
        "token_type_hint": "refresh_token",
        "client_id": config.CLIENT_ID,
    }


def test_logout_says_when_revocation_was_not_confirmed(codex_backend, codex_login):
    """If the issuer does not confirm, logout still removes the file and says so."""
    codex_backend.revoke_status = 500
    result = CliRunner().invoke(cli, ["codex", "logout"])
    assert result.exit_code == 0
    assert "could not be confirmed" in result.output
    assert not config.own_auth_path().exists()


def test_logout_never_touches_the_codex_cli_login(codex_backend, codex_cli_login):
    """With only a Codex CLI login, logout changes nothing and points at 'codex logout'."""
    path = config.codex_cli_auth_path()
    before = snapshot(path)
    result = CliRunner().invoke(cli, ["codex", "logout"])
    assert result.exit_code == 0
    assert "codex logout" in result.output
    assert snapshot(path) == before
    assert codex_backend.requests == []


def _spawn_login(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [LLM, "codex", "login", "--no-browser", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _read_url(proc: subprocess.Popen) -> str:
    for line in proc.stdout:
        if line.startswith("http"):
            return line.strip()
    raise AssertionError("no URL printed")


def test_cli_login_completes_through_the_browser_callback(codex_backend):
    """`llm codex login --no-browser` still listens: visiting the URL signs in."""
    proc = _spawn_login("--port", "0")
    try:
        page = httpx2.get(_read_url(proc), follow_redirects=True, timeout=20)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert page.status_code == 200 and page.url.path == "/success"
    assert proc.returncode == 0, out
    assert "Signed in as user@example.com" in out
    assert read_login(config.own_auth_path(), source=SOURCE_OWN) is not None


def test_cli_login_accepts_the_pasted_url(codex_backend):
    """`llm codex login --no-browser` accepts the final redirect URL on stdin, without echo."""
    proc = _spawn_login("--port", "0")
    try:
        redirect = httpx2.get(_read_url(proc), timeout=20).headers["location"]
        out, _ = proc.communicate(redirect + "\n", timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "Signed in as user@example.com" in out
    assert parse_qs(urlsplit(redirect).query)["code"][0] not in out
