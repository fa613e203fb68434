"""The safe refresh protocol (protocol §A5, §6): single flight, lock, re-read, adopt, persist.

One refresh of one credential file runs like this:

1. in-process single flight: a ``threading.Lock`` per store path (shared by every manager);
2. the cross-process lock ``<store>.lock`` (bounded wait, longer than the HTTP timeout);
3. re-read the store: if another process (or the Codex CLI) already rotated the tokens, adopt
   them; if a proactive refresh is no longer due, stop;
4. prove the folder is writable, then POST the refresh (JSON body, our identity headers);
5. persist the merged result atomically *before* releasing the lock.

Failures: a permanent refusal (``refresh_token_expired|reused|invalidated`` or any other 401)
re-reads once, adopts a sibling's rotation if there is one, else marks the login "needs sign-in"
and raises :class:`AuthenticationRequired`. An unknown outcome (read timeout, reset after
sending, unreadable 200) marks the login "possibly spent" — the refresh token is never sent
again — and raises :class:`RefreshFailed`. Only provably unsent errors are retried (once).
Credentials are never deleted. Marks live in memory and on disk: for our own file in a small
``llm_codex_refresh_state`` field, for a borrowed Codex CLI login in our own state folder
(``refresh-marks.json``, keyed by file and refresh-token hash); the Codex CLI's file never gets
one. A login bound to another issuer or backend (:mod:`~llm_codex.auth.binding`) is never sent.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
import time
from pathlib import Path
from typing import Any

from llm_codex import config
from llm_codex.auth.binding import foreign_reason
from llm_codex.auth.http import (
    endpoint,
    error_code,
    json_or_none,
    post_bounded,
    provably_unsent,
    token_answer,
)
from llm_codex.auth.store import (
    MARKER_KEY,
    MARKERS,
    SOURCE_OWN,
    StoredLogin,
    check_writable,
    merge_refreshed,
    read_json_file,
    read_login,
    store_lock,
    write_login,
)
from llm_codex.auth.tokens import needs_refresh
from llm_codex.core.errors import (
    AuthenticationRequired,
    CredentialFileError,
    ForeignLogin,
    NotSignedIn,
    RefreshFailed,
)

__all__ = [
    "DEFAULT_HTTP_TIMEOUT",
    "DEFAULT_LOCK_TIMEOUT",
    "NEEDS_LOGIN",
    "POSSIBLY_SPENT",
    "login_mark",
    "path_lock",
    "post_refresh",
    "refresh_login",
    "spent_message",
]

DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_LOCK_TIMEOUT = 60.0
POSSIBLY_SPENT = "possibly_spent"
NEEDS_LOGIN = "needs_login"
_UNSENT_RETRY_DELAY = 0.25

_PERMANENT_WORDING = {
    "refresh_token_expired": "its refresh token has expired",
    "refresh_token_reused": "its refresh token was already used",
    "refresh_token_invalidated": "its refresh token was revoked",
}

_path_locks: dict[str, threading.Lock] = {}
_path_locks_guard = threading.Lock()
#: (store path, hash of the refresh token) -> POSSIBLY_SPENT | NEEDS_LOGIN, for this process.
_marks: dict[tuple[str, str], str] = {}


def path_lock(path: Path) -> threading.Lock:
    """The in-process lock of one credential file (one per path for the whole process)."""
    key = str(path)
    with _path_locks_guard:
        lock = _path_locks.get(key)
        if lock is None:
            lock = _path_locks[key] = threading.Lock()
        return lock


def _mark_key(path: Path, refresh_token: str | None) -> tuple[str, str]:
    return str(path), _token_digest(refresh_token or "")


@functools.lru_cache(maxsize=16)
def _token_digest(refresh_token: str) -> str:
    """The hash a refresh token's mark is kept under (remembered: every request asks)."""
    return hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()[:32]


def _borrowed_marks() -> dict[str, str]:
    """The persisted marks of borrowed logins: ``{"<path>|<token hash>": mark}``."""
    try:
        got = read_json_file(config.refresh_marks_path())
    except CredentialFileError:
        return {}
    marks = got.get("marks") if isinstance(got, dict) else None
    if not isinstance(marks, dict):
        return {}
    return {k: v for k, v in marks.items() if isinstance(k, str) and v in MARKERS}


def _persist_borrowed_mark(login: StoredLogin, mark: str) -> None:
    """Remember a borrowed login's mark in our own state folder (its file never gets one)."""
    marks = _borrowed_marks()
    marks["|".join(_mark_key(login.path, login.refresh_token))] = mark
    if len(marks) > 64:  # old tokens' marks are useless: keep the newest few
        marks = dict(list(marks.items())[-64:])
    write_login(config.refresh_marks_path(), {"marks": marks}, source=SOURCE_OWN)


def login_mark(login: StoredLogin) -> str | None:
    """``POSSIBLY_SPENT``, ``NEEDS_LOGIN`` or ``None`` for this login's current refresh token.

    Marks survive the process: our own file carries its marker field, a borrowed login's mark
    is kept in ``config.refresh_marks_path()`` under the hash of its refresh token.
    """
    key = _mark_key(login.path, login.refresh_token)
    mark = _marks.get(key) or login.marker
    if mark is None and login.source != SOURCE_OWN:
        mark = _borrowed_marks().get("|".join(key))
    return mark


def _mark(login: StoredLogin, mark: str) -> None:
    """Remember a mark in memory and on disk (best effort): in our own file as a marker
    field, for a borrowed login in our state folder."""
    _marks[_mark_key(login.path, login.refresh_token)] = mark
    with contextlib.suppress(Exception):
        if login.source == SOURCE_OWN:
            data = dict(login.data)
            data[MARKER_KEY] = mark
            write_login(login.path, data, source=login.source)
        else:
            _persist_borrowed_mark(login, mark)


def spent_message(mark: str, login: StoredLogin) -> str:
    """The sentence for a login that can no longer be refreshed."""
    if mark == POSSIBLY_SPENT:
        return (
            "The last token refresh did not complete, so this ChatGPT login cannot be refreshed "
            "safely any more; run 'llm codex login' to sign in again."
        )
    return "Your ChatGPT login can no longer be refreshed; run 'llm codex login' to sign in again."


class _Permanent(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _UnknownOutcome(Exception):
    pass


class _Unsent(Exception):
    pass


class _Transient(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def post_refresh(refresh_token: str, *, proactive: bool, timeout: float) -> dict[str, Any]:
    """POST one refresh grant and return the JSON answer (fields optional).

    Raises the private outcome classes used by :func:`refresh_login`. Provably unsent errors
    are retried once after a short pause.
    """
    import httpx2

    body: dict[str, str] = {"client_id": config.CLIENT_ID, "grant_type": "refresh_token"}
    if proactive:
        body["refresh_reason"] = "proactive_expiry"
    body["refresh_token"] = refresh_token
    url = endpoint("/oauth/token")
    attempt = 0
    while True:
        attempt += 1
        try:
            response = post_bounded(url, json=body, timeout=timeout)
            break
        except httpx2.HTTPError as exc:
            if provably_unsent(exc):
                if attempt < 2:
                    time.sleep(_UNSENT_RETRY_DELAY)
                    continue
                raise _Unsent(
                    f"The sign-in server at {config.auth_base_url()} could not be reached "
                    f"({exc.__class__.__name__})"
                ) from None
            raise _UnknownOutcome(exc.__class__.__name__) from None
    if 200 <= response.status_code < 300:
        answer = token_answer(response)
        if answer is None:
            raise _UnknownOutcome("unreadable answer")
        return answer
    data = json_or_none(response)
    if data is None:
        data = token_answer(response)
    code = error_code(data)
    if code in _PERMANENT_WORDING:
        why = _PERMANENT_WORDING[code]
        raise _Permanent(
            f"Your ChatGPT login could not be refreshed because {why}; "
            "run 'llm codex login' to sign in again."
        )
    if response.status_code == 401 or code == "invalid_grant":
        raise _Permanent(
            "Your ChatGPT login could not be refreshed: the sign-in server refused it "
            f"(HTTP {response.status_code}); run 'llm codex login' to sign in again."
        )
    raise _Transient(
        f"The sign-in server answered HTTP {response.status_code} to a token refresh",
        response.status_code,
    )


def refresh_login(
    seen: StoredLogin,
    *,
    proactive: bool,
    http_timeout: float = DEFAULT_HTTP_TIMEOUT,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> StoredLogin:
    """Refresh the login ``seen`` was read from, or adopt what another process already did.

    ``proactive`` refreshes stop when the stored token is no longer inside its refresh window
    (and send ``refresh_reason``); a refresh after a 401 goes ahead unless the store holds
    different tokens than ``seen``. Returns the login to use now.
    """
    path, source = seen.path, seen.source
    with path_lock(path), store_lock(path, timeout=lock_timeout):
        stored = read_login(path, source=source)
        if stored is None:
            raise NotSignedIn(
                f"The login in {path} was removed meanwhile; run 'llm codex login' to sign in."
            )
        if not stored.same_tokens(seen):
            return stored  # another process or the Codex CLI already rotated: adopt
        reason = foreign_reason(stored)
        if reason is not None:  # never send a token to an issuer that did not issue it
            raise ForeignLogin(reason)
        if proactive and not needs_refresh(stored.access_token, stored.last_refresh):
            return stored
        mark = login_mark(stored)
        if mark is not None:
            raise AuthenticationRequired(spent_message(mark, stored))
        if not stored.refresh_token:
            raise AuthenticationRequired(
                "This ChatGPT login has no refresh token and its access token is no longer "
                "usable; run 'llm codex login' to sign in again."
            )
        check_writable(path)
        try:
            fresh = post_refresh(stored.refresh_token, proactive=proactive, timeout=http_timeout)
        except _Unsent as exc:
            raise RefreshFailed(f"{exc}; your login was kept, try again later.") from None
        except _Transient as exc:
            raise RefreshFailed(
                f"{exc.message}; your login was kept, try again later.", status=exc.status
            ) from None
        except _UnknownOutcome as exc:
            _mark(stored, POSSIBLY_SPENT)
            raise RefreshFailed(
                f"The token refresh did not complete ({exc}); the login was kept, but it may "
                "need a new sign-in with 'llm codex login' once its access token expires."
            ) from None
        except (KeyboardInterrupt, SystemExit):
            _mark(stored, POSSIBLY_SPENT)  # Ctrl-C after sending: the outcome is unknown
            raise
        except _Permanent as exc:
            again = read_login(path, source=source)
            if again is not None and not again.same_tokens(stored):
                return again  # a sibling rotated it while we asked: adopt
            _mark(stored, NEEDS_LOGIN)
            raise AuthenticationRequired(exc.message) from None
        data = merge_refreshed(stored, fresh)
        try:
            write_login(path, data, source=source, mode=stored.mode)
        except CredentialFileError as exc:
            _mark(stored, POSSIBLY_SPENT)
            raise CredentialFileError(
                f"{exc.message[:-1]}, so the refreshed login was lost; "
                "run 'llm codex login' to sign in again."
            ) from None
        updated = read_login(path, source=source)
        if updated is None:  # pragma: no cover - we just wrote it under the lock
            raise NotSignedIn()
        return updated
