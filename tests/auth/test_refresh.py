"""The refresh protocol against the fake issuer: when, how, adopt, and what failures do."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading

import filelock
import httpx2
import pytest

from llm_codex import config
from llm_codex.auth import store
from llm_codex.auth.manager import AuthManager
from llm_codex.auth.refresh import refresh_login
from llm_codex.auth.store import SOURCE_CODEX_CLI, SOURCE_OWN, read_login
from llm_codex.core.errors import (
    AuthenticationRequired,
    CredentialFileError,
    RefreshFailed,
    RefreshInProgress,
)
from llm_codex.core.identity import user_agent
from llm_codex.core.types import Credentials
from llm_codex.testing.authfile import auth_json, write_auth_file

from .helpers import snapshot, write_json

IN_WINDOW = 120  # seconds left: inside the 5-minute refresh window, still valid
EXPIRED = -60


def _own(codex_backend, ttl: float) -> dict:
    tokens = codex_backend.issue_tokens(access_ttl=ttl)
    write_auth_file(config.own_auth_path(), tokens)
    return tokens


def _cli(codex_backend, ttl: float, **extra) -> dict:
    tokens = codex_backend.issue_tokens(access_ttl=ttl)
    doc = auth_json(tokens)
    doc.update(extra)
    write_json(config.codex_cli_auth_path(), doc, dir_mode=0o755)
    return tokens


def _token_calls(fake):
    return fake.requests_to("/oauth/token")


def test_a_valid_borrowed_login_is_used_without_writing_it(codex_backend, codex_cli_login):
    """A Codex CLI login with a valid token is used as is: no request, file bytes and mtime kept."""
    path = config.codex_cli_auth_path()
    before = snapshot(path)
    creds = AuthManager().current()
    assert creds.access_token == codex_cli_login["access_token"]
    assert creds.account_id == "acct-test"
    assert snapshot(path) == before
    assert codex_backend.requests == []
    assert not (path.parent / "auth.json.lock").exists()


def test_an_expired_borrowed_login_is_refreshed_once_and_written_back(codex_backend):
    """An expired Codex CLI login is refreshed once, saved in its own format, and still works
    for the Codex CLI afterwards."""
    old = _cli(codex_backend, EXPIRED, future_key={"kept": True})
    path = config.codex_cli_auth_path()
    os.chmod(path, 0o640)
    mgr = AuthManager()
    creds = mgr.current()
    assert creds.access_token != old["access_token"]
    assert codex_backend.refresh_count == 1
    written = json.loads(path.read_text())
    assert written["future_key"] == {"kept": True}
    assert written["tokens"]["access_token"] == creds.access_token
    assert written["tokens"]["refresh_token"] != old["refresh_token"]
    assert store.MARKER_KEY not in written
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not (config.own_auth_path()).exists()  # never copied into our store
    # later calls reuse it without another refresh
    assert mgr.current() == creds
    assert codex_backend.refresh_count == 1
    # the Codex CLI (or we) can refresh again from the written file
    answer = httpx2.post(
        codex_backend.url + "/oauth/token",
        json={
            "client_id": config.CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": written["tokens"]["refresh_token"],
        },
    )
    assert answer.status_code == 200


def test_refresh_sends_the_cli_json_body_with_our_identity(codex_backend):
    """A proactive refresh is a JSON POST with refresh_reason and our originator/User-Agent."""
    old = _own(codex_backend, IN_WINDOW)
    AuthManager().current()
    (call,) = _token_calls(codex_backend)
    assert call.headers["content-type"].startswith("application/json")
    assert call.headers["originator"] == "llm-codex"
    assert call.headers["user-agent"] == user_agent()
    assert json.loads(call.raw_body) == {
        "client_id": config.CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_reason": "proactive_expiry",
        "refresh_token": old["refresh_token"],
    }


def test_a_refresh_after_401_has_no_refresh_reason(codex_backend, codex_login):
    """After a 401 the refresh runs once, without the proactive refresh_reason."""
    mgr = AuthManager()
    rejected = mgr.current()
    fresh = mgr.after_unauthorized(rejected)
    assert fresh.access_token != rejected.access_token
    (call,) = _token_calls(codex_backend)
    assert "refresh_reason" not in json.loads(call.raw_body)


def test_a_token_outside_the_window_is_never_refreshed(codex_backend, codex_login):
    """A login with more than 5 minutes left is used without touching the issuer."""
    mgr = AuthManager()
    for _ in range(3):
        assert mgr.current().access_token == codex_login["access_token"]
    assert codex_backend.requests == []


def test_after_401_a_different_stored_token_is_adopted(codex_backend, codex_login):
    """If another process already rotated the token, a 401 retry uses it without refreshing."""
    mgr = AuthManager()
    stale = mgr.current()
    newer = codex_backend.issue_tokens()
    write_auth_file(config.own_auth_path(), newer)
    assert mgr.after_unauthorized(stale).access_token == newer["access_token"]
    assert _token_calls(codex_backend) == []


def test_a_refresh_already_done_by_a_sibling_is_adopted_under_the_lock(codex_backend):
    """A process that read the old token adopts the sibling's rotation instead of spending it."""
    _own(codex_backend, IN_WINDOW)
    path = config.own_auth_path()
    stale = read_login(path, source=SOURCE_OWN)
    AuthManager().current()  # the "sibling" refreshes
    assert codex_backend.refresh_count == 1
    adopted = refresh_login(stale, proactive=True)
    assert adopted.access_token != stale.access_token
    adopted_401 = refresh_login(stale, proactive=False)
    assert adopted_401.access_token == adopted.access_token
    assert codex_backend.refresh_count == 1
    assert all(r.status == 200 for r in _token_calls(codex_backend))


@pytest.mark.parametrize(
    ("spoil", "words"),
    [
        ("expire", "has expired"),
        ("spend", "already used"),
        ("revoke", "was revoked"),
    ],
)
def test_a_dead_refresh_token_asks_to_sign_in_again(codex_backend, spoil, words):
    """expired / reused / invalidated refresh tokens end in 'run llm codex login', once."""
    old = _cli(codex_backend, EXPIRED)
    if spoil == "expire":
        codex_backend.expire_refresh_tokens()
    elif spoil == "spend":
        httpx2.post(
            codex_backend.url + "/oauth/token",
            json={
                "client_id": config.CLIENT_ID,
                "grant_type": "refresh_token",
                "refresh_token": old["refresh_token"],
            },
        )
    else:
        codex_backend.revoke_tokens(old["refresh_token"])
    codex_backend.clear_requests()
    path = config.codex_cli_auth_path()
    before = snapshot(path)
    mgr = AuthManager()
    with pytest.raises(AuthenticationRequired) as info:
        mgr.current()
    assert words in str(info.value)
    assert "llm codex login" in str(info.value)
    with pytest.raises(AuthenticationRequired):
        mgr.current()  # remembered: no second attempt with a dead token
    assert len(_token_calls(codex_backend)) == 1
    assert snapshot(path) == before  # the Codex CLI's file is never marked


def test_a_permanent_failure_is_remembered_in_our_file(codex_backend):
    """Our own file keeps its tokens and gains a needs-sign-in marker; status shows it."""
    old = _own(codex_backend, EXPIRED)
    codex_backend.expire_refresh_tokens()
    with pytest.raises(AuthenticationRequired):
        AuthManager().current()
    login = read_login(config.own_auth_path(), source=SOURCE_OWN)
    assert login.refresh_token == old["refresh_token"]
    assert login.marker == "needs_login"
    info = AuthManager().status()
    assert info.needs_login and "llm codex login" in info.note


def test_a_transient_failure_keeps_using_the_valid_token(codex_backend):
    """A 500 from the issuer while the access token is still valid is invisible to the user."""
    old = _own(codex_backend, IN_WINDOW)
    codex_backend.enqueue_token_error(500, times=5)
    creds = AuthManager().current()
    assert creds.access_token == old["access_token"]
    login = read_login(config.own_auth_path(), source=SOURCE_OWN)
    assert login.marker is None and login.refresh_token == old["refresh_token"]


def test_a_transient_failure_with_an_expired_token_is_a_clear_error(codex_backend):
    """A 500 while the token has expired: RefreshFailed, credentials kept for the next try."""
    old = _own(codex_backend, EXPIRED)
    codex_backend.enqueue_token_error(502, times=1)
    with pytest.raises(RefreshFailed, match="kept"):
        AuthManager().current()
    assert (
        read_login(config.own_auth_path(), source=SOURCE_OWN).refresh_token == old["refresh_token"]
    )
    assert AuthManager().current().access_token != old["access_token"]  # next try works


def test_an_unreachable_issuer_is_retryable(codex_backend, monkeypatch):
    """Connection refused proves nothing was sent: credentials kept, no marker, clear error."""
    old = codex_backend.issue_tokens(access_ttl=EXPIRED)
    doc = auth_json(old)
    doc["llm_codex_issuer"] = "http://127.0.0.1:9"  # signed in there; now it is down
    write_json(config.own_auth_path(), doc)
    monkeypatch.setenv("LLM_CODEX_AUTH_URL", "http://127.0.0.1:9")
    with pytest.raises(RefreshFailed, match="could not be reached"):
        AuthManager().current()
    login = read_login(config.own_auth_path(), source=SOURCE_OWN)
    assert login.marker is None and login.refresh_token == old["refresh_token"]


def test_an_unknown_outcome_marks_the_token_possibly_spent(codex_backend):
    """A read timeout after sending: the valid token is still used, the refresh token is never
    resent, and once expired the user is asked to sign in again."""
    old = _own(codex_backend, IN_WINDOW)
    codex_backend.token_delay = 3
    mgr = AuthManager(http_timeout=0.3)
    assert mgr.current().access_token == old["access_token"]
    assert mgr.current().access_token == old["access_token"]
    assert len(_token_calls(codex_backend)) == 1
    login = read_login(config.own_auth_path(), source=SOURCE_OWN)
    assert login.marker == "possibly_spent"
    assert login.refresh_token == old["refresh_token"]
    assert "did not complete" in AuthManager().status().note


def test_an_unknown_outcome_with_an_expired_token_asks_to_sign_in(codex_backend):
    """If the token is expired and the refresh outcome is unknown, the user must sign in again."""
    _cli(codex_backend, EXPIRED)
    codex_backend.token_delay = 3
    before = snapshot(config.codex_cli_auth_path())
    mgr = AuthManager(http_timeout=0.3)
    with pytest.raises(AuthenticationRequired, match="llm codex login"):
        mgr.current()
    with pytest.raises(AuthenticationRequired):
        mgr.current()
    assert len(_token_calls(codex_backend)) == 1
    assert snapshot(config.codex_cli_auth_path()) == before


def test_threads_share_one_refresh(codex_backend):
    """Many threads needing a refresh at once cause exactly one refresh call."""
    _own(codex_backend, IN_WINDOW)
    mgr = AuthManager()
    results: list[Credentials] = []
    threads = [threading.Thread(target=lambda: results.append(mgr.current())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({c.access_token for c in results}) == 1
    assert codex_backend.refresh_count == 1
    assert len(_token_calls(codex_backend)) == 1


async def test_coroutines_share_one_refresh(codex_backend):
    """Concurrent coroutines needing a refresh share one refresh in a worker thread."""
    old = _own(codex_backend, IN_WINDOW)
    mgr = AuthManager()
    results = await asyncio.gather(*(mgr.acurrent() for _ in range(12)))
    assert len({c.access_token for c in results}) == 1
    assert results[0].access_token != old["access_token"]
    again = await asyncio.gather(*(mgr.aafter_unauthorized(results[0]) for _ in range(6)))
    assert len({c.access_token for c in again}) == 1
    assert codex_backend.refresh_count == 2
    assert len(_token_calls(codex_backend)) == 2


def test_a_refresh_held_up_by_another_process_times_out_clearly(codex_backend):
    """A lock held too long by another process: RefreshInProgress, unless the token still works."""
    _own(codex_backend, EXPIRED)
    path = config.own_auth_path()
    holder = filelock.FileLock(str(path) + ".lock")
    with holder:
        with pytest.raises(RefreshInProgress, match="Another process"):
            AuthManager(lock_timeout=0.2).current()
        still_valid = _own(codex_backend, IN_WINDOW)
        assert AuthManager(lock_timeout=0.2).current().access_token == still_valid["access_token"]
    assert codex_backend.requests == []


def test_a_read_only_folder_fails_before_spending_the_token(codex_backend, monkeypatch):
    """A refresh that could not be saved is refused up front; the file stays as it was."""
    old = _cli(codex_backend, EXPIRED)
    path = config.codex_cli_auth_path()
    with store.store_lock(path, timeout=1):  # the lock file may already exist
        pass
    before = snapshot(path)
    os.chmod(path.parent, 0o500)
    if os.geteuid() == 0:  # root ignores permissions: simulate what the kernel would say

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(store, "_open_temp", refuse)
    try:
        with pytest.raises(CredentialFileError, match="cannot be written to") as info:
            AuthManager().current()
    finally:
        os.chmod(path.parent, 0o755)
    assert str(path) in str(info.value)
    assert snapshot(path) == before
    assert codex_backend.refresh_count == 0
    assert codex_backend.refresh_token_state(old["refresh_token"]) == "fresh"


def test_files_stay_private_after_a_refresh(codex_backend):
    """After a refresh our file is still 0600 in a 0700 folder and the lock file is 0600."""
    _own(codex_backend, EXPIRED)
    AuthManager().current()
    path = config.own_auth_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((path.parent / "auth.json.lock").stat().st_mode) == 0o600
    assert sorted(os.listdir(path.parent)) == ["auth.json", "auth.json.lock"]
    assert read_login(path, source=SOURCE_OWN).source == SOURCE_OWN


def test_our_login_wins_over_a_codex_cli_login(codex_backend, codex_login, codex_cli_login):
    """With both logins present, llm-codex's own one is used."""
    assert AuthManager().current().access_token == codex_login["access_token"]
    assert AuthManager().load().source == SOURCE_OWN
    os.unlink(config.own_auth_path())
    assert AuthManager().load().source == SOURCE_CODEX_CLI


def _age(path, seconds: float) -> None:
    """Set the file's times ``seconds`` into the past (out of the racy window)."""
    then = os.stat(path).st_mtime - seconds
    os.utime(path, (then, then))


def test_an_unchanged_login_file_is_not_read_again(codex_backend, codex_login, monkeypatch):
    """Per-request credential lookups stat the file; only a changed file is parsed again."""
    path = config.own_auth_path()
    _age(path, 10)
    reads = []
    real = store.read_login

    def counting(*args, **kwargs):
        reads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr("llm_codex.auth.manager.read_login", counting)
    mgr = AuthManager()
    for _ in range(5):
        assert mgr.current().access_token == codex_login["access_token"]
    assert len(reads) == 1
    newer = codex_backend.issue_tokens()
    write_auth_file(path, newer)  # rotated by another process: atomic replace
    assert mgr.current().access_token == newer["access_token"]
    assert len(reads) == 2


def test_a_login_file_rewritten_in_place_is_picked_up(codex_backend, codex_cli_login):
    """The Codex CLI rewrites its file in place: a same-size rewrite is still noticed."""
    path = config.codex_cli_auth_path()
    mgr = AuthManager()
    assert mgr.current().access_token == codex_cli_login["access_token"]
    newer = codex_backend.issue_tokens()
    doc = auth_json(newer)
    with open(path, "r+") as fh:  # same inode; size and times may or may not change
        fh.seek(0)
        fh.write(json.dumps(doc))
        fh.truncate()
    assert mgr.current().access_token == newer["access_token"]
