"""The credential provider every face uses: find the login, refresh it safely, report status.

Sources, in order: llm-codex's own login (``config.own_auth_path()``), then a borrowed Codex
CLI login (``$CODEX_HOME/auth.json``). Paths are read from the environment at call time and
the chosen file is checked on every use, so a token rotated by another process — or by the
Codex CLI itself — is picked up at once. Checking is a ``stat`` of the file and its folder:
the file is read and parsed again only when that changed (inode, size, times, mode), and a
file changed less than a second ago is always re-read (file times are coarse: two writes
within one tick can share them).

``current()`` refreshes only when the access token is inside its refresh window (protocol
§A6.1); a transient refresh failure while the access token is still valid is silent.
``after_unauthorized()`` adopts a different stored token or refreshes once. ``status()`` never
touches the network and never refreshes.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from llm_codex import config
from llm_codex.auth.binding import foreign_reason
from llm_codex.auth.refresh import (
    DEFAULT_HTTP_TIMEOUT,
    DEFAULT_LOCK_TIMEOUT,
    NEEDS_LOGIN,
    POSSIBLY_SPENT,
    login_mark,
    refresh_login,
    spent_message,
)
from llm_codex.auth.store import (
    SOURCE_CODEX_CLI,
    SOURCE_OWN,
    StoredLogin,
    check_writable,
    read_login,
    recover_stray_temps,
)
from llm_codex.auth.tokens import format_rfc3339, needs_refresh
from llm_codex.core.errors import (
    AuthenticationRequired,
    CredentialFileError,
    ForeignLogin,
    NotSignedIn,
    RefreshFailed,
    RefreshInProgress,
)
from llm_codex.core.types import Credentials

__all__ = ["AsyncTwins", "AuthManager", "LoginStatus", "default_auth_manager"]

#: Seconds of leeway when deciding that an access token is already expired.
_EXPIRY_LEEWAY = 10.0


@dataclass(frozen=True)
class LoginStatus:
    """Which login is in use and what it says about itself (read without network)."""

    source: str | None
    path: Path | None = None
    account_id: str | None = None
    email: str | None = None
    plan_type: str | None = None
    expires_at: float | None = None
    last_refresh: datetime | None = None
    needs_login: bool = False
    note: str | None = None
    unused_codex_cli_login: Path | None = None
    #: Why a due renewal cannot happen here (e.g. the folder is read-only), or ``None``.
    renewal_blocked: str | None = None

    @property
    def signed_in(self) -> bool:
        """Whether any usable login was found."""
        return self.source is not None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as RFC 3339 UTC; no tokens)."""
        return {
            "signed_in": self.signed_in,
            "source": self.source,
            "path": str(self.path) if self.path else None,
            "account_id": self.account_id,
            "email": self.email,
            "plan_type": self.plan_type,
            "expires_at": format_rfc3339(self.expires_at) if self.expires_at else None,
            "expired": (self.expires_at is not None and self.expires_at <= time.time()),
            "last_refresh": (
                format_rfc3339(self.last_refresh.timestamp()) if self.last_refresh else None
            ),
            "needs_login": self.needs_login,
            "note": self.note,
        }


def _credentials(login: StoredLogin) -> Credentials:
    return Credentials(access_token=login.access_token, account_id=login.account_id)


def _expired(login: StoredLogin, *, now: float | None = None) -> bool:
    """Whether the access token is known to be expired (unknown expiry counts as usable)."""
    exp = login.expires_at
    now = time.time() if now is None else now
    return exp is not None and exp <= now + _EXPIRY_LEEWAY


@functools.lru_cache(maxsize=16)
def _folder_of(path: Path) -> str:
    """The folder of a credential file, as text (remembered: it is checked on every use)."""
    return str(path.parent)


def _signature(path: Path, *, follow: bool) -> tuple[int, ...] | None:
    """What tells a credential file changed: its and its folder's stat fields (None: absent
    or unreadable, so it is read the full way). The file's ``mtime_ns`` comes last."""
    try:
        folder = os.lstat(_folder_of(path))
        info = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return None
    return (
        folder.st_ino,
        folder.st_mode,
        folder.st_uid,
        info.st_ino,
        info.st_dev,
        info.st_mode,
        info.st_size,
        info.st_ctime_ns,
        info.st_mtime_ns,
    )


class AsyncTwins:
    """The async half of a credential provider, shared by both routes' providers.

    A subclass supplies ``load()``, ``_ready(login)`` (credentials, or ``None`` when a refresh is
    due), ``_proactive(login)``, ``_after_401(login, rejected)`` and ``_as_credentials(login)``,
    and sets ``self._inflight = {}``. A due refresh then runs once in a worker thread for every
    coroutine waiting on it.
    """

    _inflight: dict[tuple[int, str], asyncio.Task[Credentials]]

    async def _shared(self, key: str, work: Callable[[], Credentials]) -> Credentials:
        """Run ``work`` in a worker thread, shared by every coroutine asking for ``key``."""
        loop = asyncio.get_running_loop()
        full = (id(loop), key)
        task = self._inflight.get(full)
        if task is None or task.done():
            task = loop.create_task(asyncio.to_thread(work))
            self._inflight[full] = task

            def _forget(done: asyncio.Task[Credentials], full: tuple[int, str] = full) -> None:
                if self._inflight.get(full) is done:
                    del self._inflight[full]
                if not done.cancelled():
                    done.exception()  # retrieved here, so an abandoned failure logs nothing

            task.add_done_callback(_forget)
        return await asyncio.shield(task)

    async def acurrent(self) -> Credentials:
        """Async :meth:`current`: a due refresh runs once in a thread for all waiting coroutines."""
        login = self.load()
        ready = self._ready(login)
        if ready is not None:
            return ready
        return await self._shared(f"current:{login.path}", lambda: self._proactive(login))

    async def aafter_unauthorized(self, rejected: Credentials) -> Credentials:
        """Async :meth:`after_unauthorized`, shared by coroutines rejected with the same token."""
        login = self.load()
        if login.access_token != rejected.access_token:
            return self._as_credentials(login)
        key = f"401:{login.path}:{hash(rejected.access_token)}"
        return await self._shared(key, lambda: self._after_401(login, rejected))


class AuthManager(AsyncTwins):
    """Implements :class:`llm_codex.core.types.CredentialProvider` over the credential files.

    ``own_path`` / ``codex_path`` pin the files (default: read from the environment on every
    call); ``http_timeout`` bounds the refresh POST, ``lock_timeout`` the wait for another
    process's refresh (it must stay longer than ``http_timeout``).
    """

    def __init__(
        self,
        *,
        own_path: Path | None = None,
        codex_path: Path | None = None,
        http_timeout: float = DEFAULT_HTTP_TIMEOUT,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self._own_path = own_path
        self._codex_path = codex_path
        self.http_timeout = http_timeout
        self.lock_timeout = lock_timeout
        self._inflight: dict[tuple[int, str], asyncio.Task[Credentials]] = {}
        self._parsed: dict[tuple[Path, str], tuple[tuple[int, ...], StoredLogin]] = {}
        self._verdicts: dict[Path, tuple[StoredLogin, tuple[str, str], str | None]] = {}

    # --- sources -------------------------------------------------------------------------------

    def own_path(self) -> Path:
        """Our own credential file."""
        return self._own_path or config.own_auth_path()

    def codex_path(self) -> Path:
        """The Codex CLI's credential file."""
        return self._codex_path or config.codex_cli_auth_path()

    def load(self) -> StoredLogin:
        """The login in use: ours if present, else the Codex CLI's; re-read from disk.

        A present but unusable file raises :class:`CredentialFileError` (we never silently
        skip a broken own login). A login obtained from another issuer or for another backend
        than the configured ones is skipped; when no other login is there,
        :class:`ForeignLogin` says whose it is. No login at all raises :class:`NotSignedIn`.
        A refreshed login that a killed process left in a temp file is recovered first.
        """
        foreign: str | None = None
        for source in (SOURCE_OWN, SOURCE_CODEX_CLI):
            # the borrowed login's path is only worked out when our own login is not used
            path = self.own_path() if source == SOURCE_OWN else self.codex_path()
            login = self._read(path, source)
            if login is None:
                continue
            reason = self._foreign_reason(login)
            if reason is None:
                return login
            foreign = foreign or reason
        if foreign is not None:
            raise ForeignLogin(foreign)
        raise NotSignedIn()

    def _foreign_reason(self, login: StoredLogin) -> str | None:
        """:func:`foreign_reason`, remembered for the parsed login in use while the configured
        issuer and backend stay the same."""
        places = (config.auth_base_url(), config.backend_base_url())
        known = self._verdicts.get(login.path)
        if known is not None and known[0] is login and known[1] == places:
            return known[2]
        reason = foreign_reason(login)
        self._verdicts[login.path] = (login, places, reason)
        return reason

    def _read(self, path: Path, source: str) -> StoredLogin | None:
        """:func:`read_login`, skipped when the file is unchanged since it was last parsed."""
        signature = _signature(path, follow=source != SOURCE_OWN)
        key = (path, source)
        cached = self._parsed.get(key)
        if signature is not None and cached is not None and cached[0] == signature:
            return cached[1]
        # A parse from disk (always the first in a process): finish a write a killed
        # process left behind first.
        recover_stray_temps(path, source=source, lock_timeout=self.lock_timeout)
        login = read_login(path, source=source)
        if login is None or signature is None or time.time() - signature[-1] / 1e9 < 1.0:
            self._parsed.pop(key, None)
        else:
            self._parsed[key] = (signature, login)
        return login

    # --- the provider protocol -----------------------------------------------------------------

    def _as_credentials(self, login: StoredLogin) -> Credentials:
        return _credentials(login)

    def _ready(self, login: StoredLogin) -> Credentials | None:
        """Credentials usable without refreshing, ``None`` when a refresh is due."""
        mark = login_mark(login)
        if mark == NEEDS_LOGIN:
            raise AuthenticationRequired(spent_message(mark, login))
        if mark == POSSIBLY_SPENT:
            if _expired(login):
                raise AuthenticationRequired(spent_message(mark, login))
            return _credentials(login)
        if needs_refresh(login.access_token, login.last_refresh):
            return None
        return _credentials(login)

    def _proactive(self, login: StoredLogin) -> Credentials:
        try:
            fresh = refresh_login(
                login,
                proactive=True,
                http_timeout=self.http_timeout,
                lock_timeout=self.lock_timeout,
            )
        except (RefreshFailed, RefreshInProgress, CredentialFileError):
            if not _expired(login):
                return _credentials(login)  # keep using the still-valid token
            if login_mark(login) == POSSIBLY_SPENT:
                raise AuthenticationRequired(spent_message(POSSIBLY_SPENT, login)) from None
            raise
        return _credentials(fresh)

    def current(self) -> Credentials:
        """Usable credentials, refreshed first when the access token is inside its window."""
        login = self.load()
        ready = self._ready(login)
        return ready if ready is not None else self._proactive(login)

    def _after_401(self, login: StoredLogin, rejected: Credentials) -> Credentials:
        if login.access_token != rejected.access_token:
            return _credentials(login)  # someone already rotated it: use the newer token
        mark = login_mark(login)
        if mark is not None:
            raise AuthenticationRequired(spent_message(mark, login))
        fresh = refresh_login(
            login, proactive=False, http_timeout=self.http_timeout, lock_timeout=self.lock_timeout
        )
        if fresh.access_token == rejected.access_token:
            raise AuthenticationRequired(
                "Your ChatGPT login was rejected by the server; "
                "run 'llm codex login' to sign in again."
            )
        return _credentials(fresh)

    def after_unauthorized(self, rejected: Credentials) -> Credentials:
        """After a 401: re-read the store and use a different token, or refresh once."""
        return self._after_401(self.load(), rejected)

    # --- status --------------------------------------------------------------------------------

    def status(self) -> LoginStatus:
        """Which login is in use and its details, read from disk only (no network, no refresh).

        Not signed in gives ``LoginStatus(source=None)``; an unusable file raises
        :class:`CredentialFileError`.
        """
        try:
            login = self.load()
        except NotSignedIn:
            return LoginStatus(source=None)
        mark = login_mark(login)
        note = None
        if mark == NEEDS_LOGIN:
            note = spent_message(mark, login)
        elif mark == POSSIBLY_SPENT:
            note = (
                "The last token refresh did not complete; the login works until its access "
                "token expires, then you must sign in again with 'llm codex login'."
            )
        blocked = None
        if mark is None and needs_refresh(login.access_token, login.last_refresh):
            try:
                check_writable(login.path)
            except CredentialFileError as exc:
                blocked = str(exc)
        unused = None
        if login.source == SOURCE_OWN and self.codex_path().is_file():
            unused = self.codex_path()
        return LoginStatus(
            source=login.source,
            path=login.path,
            account_id=login.account_id,
            email=login.claims.email,
            plan_type=login.plan_type,
            expires_at=login.expires_at,
            last_refresh=login.last_refresh,
            needs_login=mark == NEEDS_LOGIN or (mark == POSSIBLY_SPENT and _expired(login)),
            note=note or blocked,
            unused_codex_cli_login=unused,
            renewal_blocked=blocked,
        )


_default: AuthManager | None = None
_default_guard = threading.Lock()


def default_auth_manager() -> AuthManager:
    """The process-wide :class:`AuthManager` (paths follow the environment at call time)."""
    global _default
    with _default_guard:
        if _default is None:
            _default = AuthManager()
        return _default
