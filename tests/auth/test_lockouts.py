"""No lock-outs (issue 14, item 4): owners kept, spent marks persisted, crashes recovered,
and nothing blocks on a named pipe."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading

import pytest

from llm_codex import config
from llm_codex.auth import refresh
from llm_codex.auth.manager import AuthManager
from llm_codex.auth.store import SOURCE_CODEX_CLI, SOURCE_OWN, lock_path, read_login
from llm_codex.core.errors import CodexError, CredentialFileError
from llm_codex.testing.authfile import auth_json, write_auth_file

from .helpers import snapshot, write_json

IN_WINDOW = 120
NOBODY = 65534


def _borrowed(fake, ttl: float) -> dict:
    tokens = fake.issue_tokens(access_ttl=ttl)
    write_json(config.codex_cli_auth_path(), auth_json(tokens), dir_mode=0o755)
    return tokens


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() != 0, reason="needs root")
def test_root_refreshing_a_borrowed_login_keeps_its_owner(codex_backend):
    """sudo -E / a container: the refreshed file and its lock stay the user's, not root's."""
    _borrowed(codex_backend, -60)
    path = config.codex_cli_auth_path()
    os.chown(path, NOBODY, NOBODY)
    AuthManager().current()
    assert codex_backend.refresh_count == 1
    info = path.stat()
    assert (info.st_uid, info.st_gid) == (NOBODY, NOBODY)
    assert lock_path(path).stat().st_uid == NOBODY


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX owners")
def test_another_users_borrowed_login_is_refused_before_spending(codex_backend, monkeypatch):
    """Not root and not the owner: one sentence, and the refresh token is not spent."""
    tokens = _borrowed(codex_backend, -60)
    path = config.codex_cli_auth_path()
    os.chown(path, NOBODY, NOBODY)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(CredentialFileError, match="belongs to another user"):
        AuthManager().current()
    assert codex_backend.refresh_count == 0
    assert codex_backend.refresh_token_state(tokens["refresh_token"]) == "fresh"


def test_a_possibly_spent_borrowed_token_is_not_resent_by_the_next_process(codex_backend):
    """The "possibly spent" mark of a borrowed login survives the process (README promise 5)."""
    old = _borrowed(codex_backend, IN_WINDOW)
    before = snapshot(config.codex_cli_auth_path())
    codex_backend.token_delay = 3
    assert AuthManager(http_timeout=0.3).current().access_token == old["access_token"]
    assert codex_backend.refresh_count == 1
    refresh._marks.clear()  # what a new process starts with
    codex_backend.token_delay = 0
    assert AuthManager().current().access_token == old["access_token"]
    assert len(codex_backend.requests_to("/oauth/token")) == 1
    assert snapshot(config.codex_cli_auth_path()) == before  # the Codex CLI file is untouched
    assert "did not complete" in AuthManager().status().note


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.parametrize("which", ["own", "borrowed"])
def test_a_named_pipe_in_place_of_auth_json_never_blocks(which, tmp_path):
    path = config.own_auth_path() if which == "own" else config.codex_cli_auth_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    os.mkfifo(path, 0o600)
    outcome: list[object] = []

    def run() -> None:
        try:
            AuthManager().status()
        except CodexError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():  # unblock the reader so the suite does not hang, then fail
        with open(path, "w"):
            pass
        pytest.fail("reading a named pipe blocked")
    assert len(outcome) == 1 and "not a regular file" in str(outcome[0])


KILLER = """
import os, signal, sys
from llm_codex.auth import store
point = sys.argv[1]
real_replace = os.replace
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
if point == "before_rename":
    def replace(src, dst):
        if str(src).endswith(".tmp"):
            die()
        return real_replace(src, dst)
    os.replace = replace
elif point == "before_write":
    real_open_temp = store._open_temp
    def open_temp(*args):
        fd, tmp = real_open_temp(*args)
        if os.fstat(fd).st_size == 0 and "probe" not in sys.argv:
            sys.argv.append("probe")  # the first temp is the writability probe
            return fd, tmp
        die()
    store._open_temp = open_temp
elif point == "after_rename":
    store._fsync_dir = die
from llm_codex.auth import default_auth_manager
default_auth_manager().current()
"""

KILL_POINTS = ["before_write", "before_rename", "after_rename"]


@pytest.mark.parametrize("source", [SOURCE_OWN, SOURCE_CODEX_CLI])
@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_9_at_any_point_of_a_refresh_loses_nothing(codex_backend, point, source):
    """SIGKILL at each step of saving a refresh: the next run uses the newest tokens it can
    (recovered from a stray temp file when that is the only copy), leaves no temp file, and
    never resends a spent refresh token."""
    tokens = codex_backend.issue_tokens(access_ttl=-60)
    if source == SOURCE_OWN:
        path = write_auth_file(config.own_auth_path(), tokens)
    else:
        path = write_json(config.codex_cli_auth_path(), auth_json(tokens), dir_mode=0o755)
    mode = stat.S_IMODE(path.stat().st_mode)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, point], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert codex_backend.refresh_count == 1
    refresh._marks.clear()
    if point == "before_write":  # the new tokens never reached the disk: sign in again
        with pytest.raises(CodexError, match="llm codex login"):
            AuthManager(lock_timeout=5).current()
    else:
        creds = AuthManager(lock_timeout=5).current()
        assert creds.access_token != tokens["access_token"]
    assert codex_backend.refresh_count == 1  # the spent token was never resent successfully
    assert [n for n in os.listdir(path.parent) if n.endswith(".tmp")] == []
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert json.loads(path.read_text())["tokens"]["access_token"]
    assert read_login(path, source=source) is not None


def test_a_trickling_token_answer_cannot_hold_the_refresh_and_its_lock(monkeypatch):
    """A token endpoint sending a byte every 50 ms: the refresh gives up after its overall
    deadline (0.5 s here), the lock is free again, and the token is marked possibly spent."""
    from llm_codex.auth import store

    from .helpers import make_jwt

    server = _TrickleServer()
    try:
        monkeypatch.setenv("LLM_CODEX_AUTH_URL", server.url)
        claims = {"https://api.openai.com/auth": {"chatgpt_account_id": "acct-1"}}
        doc = auth_json(
            {
                "id_token": make_jwt(claims),
                "access_token": make_jwt({"exp": 1}),
                "refresh_token": "rt-1",
            }
        )
        doc["llm_codex_issuer"] = server.url
        path = write_json(config.own_auth_path(), doc)
        with pytest.raises(CodexError, match="llm codex login"):
            AuthManager(http_timeout=0.5).current()
        assert not server.done
        with store.store_lock(path, timeout=1):
            pass
        assert read_login(path, source=SOURCE_OWN).marker == "possibly_spent"
    finally:
        server.close()


class _TrickleServer:
    """Answers one request with a 200 whose body comes one byte every 50 ms, for 20 s."""

    def __init__(self) -> None:
        import socket

        self.done = False
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except OSError:
            return
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: 5000\r\n\r\n{"
                )
                for _ in range(400):
                    if self._stop.wait(0.05):
                        return
                    conn.sendall(b" ")
                self.done = True
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(5)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_a_refresh_marks_the_token_possibly_spent(codex_backend):
    """Ctrl-C while the refresh answer is in flight: the outcome is unknown, so the next run
    never resends that refresh token (auth.md §6.4)."""
    import time

    tokens = codex_backend.issue_tokens(access_ttl=-60)
    path = write_auth_file(config.own_auth_path(), tokens)
    codex_backend.token_delay = 30
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from llm_codex.auth import default_auth_manager; default_auth_manager().current()",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(1500):
            if codex_backend.refresh_count:
                break
            time.sleep(0.02)
        assert codex_backend.refresh_count == 1
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    codex_backend.token_delay = 0
    assert read_login(path, source=SOURCE_OWN).marker == "possibly_spent"
    refresh._marks.clear()
    with pytest.raises(CodexError, match="llm codex login"):
        AuthManager(lock_timeout=5).current()
    assert len(codex_backend.requests_to("/oauth/token")) == 1
