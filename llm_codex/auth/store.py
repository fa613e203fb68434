"""Credential files: reading and validating them, atomic private writes, the sidecar lock.

Two kinds of file share one JSON shape (the Codex CLI's ``auth.json``, protocol §A3):

- our own store (``config.own_auth_path()``): directory 0700, file 0600, symlinks refused;
- a borrowed Codex CLI login (``$CODEX_HOME/auth.json``): read as it is; when a refresh has to
  be saved it is replaced at the same path in its own format, unknown keys and file mode kept.

Writes go to a random temp file in the same directory (``O_CREAT|O_EXCL|O_NOFOLLOW``, final
mode from the start), are fsynced, ``os.replace``\\ d over the target and the directory is
fsynced, so a reader (or a process killed mid-write) only ever sees the old or the new file.
The lock is a sidecar ``<store>.lock`` (0600, never replaced) taken with :mod:`filelock`.

A file that cannot be used raises :class:`~llm_codex.core.errors.CredentialFileError` with one
sentence and is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from llm_codex.auth.tokens import (
    IdClaims,
    access_token_account,
    access_token_expiry,
    access_token_plan,
    format_rfc3339,
    parse_rfc3339,
    read_id_claims,
)
from llm_codex.core.errors import CredentialFileError, RefreshInProgress

__all__ = [
    "MARKER_KEY",
    "SOURCE_CODEX_CLI",
    "SOURCE_OWN",
    "StoredLogin",
    "build_auth_data",
    "check_writable",
    "delete_file",
    "ensure_private_dir",
    "foreign_owner",
    "lock_path",
    "merge_refreshed",
    "parse_login",
    "read_json_file",
    "read_login",
    "recover_stray_temps",
    "store_lock",
    "write_login",
]

SOURCE_OWN = "llm-codex"
SOURCE_CODEX_CLI = "codex-cli"

#: A small marker in OUR file only: ``"possibly_spent"`` or ``"needs_login"`` (protocol §A6.4).
MARKER_KEY = "llm_codex_refresh_state"
MARKERS = ("possibly_spent", "needs_login")

_MAX_FILE_SIZE = 1 << 20  # a credential file is a few KB; refuse anything absurd
_PRIVATE_BITS = 0o077
_REREAD_DELAY = 0.05  # seconds before re-reading a Codex CLI file that looked half-written


@dataclass(frozen=True)
class StoredLogin:
    """One validated credential file, as read from disk (tokens are never shown in its repr)."""

    path: Path
    source: str
    data: dict[str, Any] = field(repr=False)
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    account_id: str
    last_refresh: datetime | None
    claims: IdClaims
    mode: int = 0o600
    marker: str | None = None

    @property
    def expires_at(self) -> float | None:
        """The access token's ``exp``, or ``None`` when it has none."""
        return access_token_expiry(self.access_token)

    @property
    def plan_type(self) -> str | None:
        """The plan from the id token, else from the access token."""
        return self.claims.plan_type or access_token_plan(self.access_token)

    def same_tokens(self, other: StoredLogin) -> bool:
        """Whether both hold the same access and refresh token (nobody rotated in between)."""
        return (self.access_token, self.refresh_token) == (other.access_token, other.refresh_token)


def _where(path: Path, source: str) -> str:
    kind = "llm-codex credential file" if source == SOURCE_OWN else "Codex CLI login"
    return f"The {kind} {path}"


def parse_login(raw: bytes | str, *, path: Path, source: str, mode: int = 0o600) -> StoredLogin:
    """Validate the bytes of an ``auth.json`` and return the login it holds.

    Raises :class:`CredentialFileError` (one sentence naming the file) for: empty or malformed
    JSON, an API-key or other non-ChatGPT login, missing tokens, an id token that is not a JWT
    with claims, or no ChatGPT account id.
    """
    where = _where(path, source)
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CredentialFileError(f"{where} is not valid UTF-8 JSON.") from None
    if not raw.strip():
        raise CredentialFileError(f"{where} is empty; run 'llm codex login' to sign in.")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise CredentialFileError(
            f"{where} is not valid JSON; run 'llm codex login' to sign in again."
        ) from None
    if not isinstance(data, dict):
        raise CredentialFileError(f"{where} does not hold a JSON object.")

    mode_name = data.get("auth_mode")
    api_key = data.get("OPENAI_API_KEY")
    if mode_name is None:
        mode_name = "apikey" if api_key not in (None, "") else "chatgpt"
    if not isinstance(mode_name, str):
        raise CredentialFileError(f"{where} has an unreadable auth_mode.")
    if mode_name.lower() in ("apikey", "api_key"):
        raise CredentialFileError(
            f"{where} holds an OpenAI API key, but llm-codex needs a ChatGPT sign-in, "
            "not an API key; run 'llm codex login'."
        )
    if mode_name != "chatgpt":
        raise CredentialFileError(
            f"{where} uses the sign-in mode '{mode_name[:40]}', which llm-codex cannot use; "
            "run 'llm codex login'."
        )

    tokens = data.get("tokens")
    if not isinstance(tokens, dict):
        raise CredentialFileError(f"{where} holds no ChatGPT tokens; run 'llm codex login'.")
    access = tokens.get("access_token")
    if not isinstance(access, str) or not access.strip():
        raise CredentialFileError(f"{where} has no access token; run 'llm codex login'.")
    refresh = tokens.get("refresh_token")
    if refresh is not None and not isinstance(refresh, str):
        raise CredentialFileError(f"{where} has an unreadable refresh token.")
    try:
        claims = read_id_claims(tokens.get("id_token"))
    except CredentialFileError as exc:
        raise CredentialFileError(
            f"{where} is unusable: {exc.message[0].lower()}{exc.message[1:-1]}; "
            "run 'llm codex login' to sign in again."
        ) from None
    account = tokens.get("account_id")
    if not (isinstance(account, str) and account):
        account = claims.account_id or access_token_account(access)
    if not account:
        raise CredentialFileError(
            f"{where} has no ChatGPT account id; run 'llm codex login' to sign in again."
        )
    marker = data.get(MARKER_KEY) if source == SOURCE_OWN else None
    return StoredLogin(
        path=path,
        source=source,
        data=data,
        id_token=tokens["id_token"],
        access_token=access,
        refresh_token=refresh or None,
        account_id=account,
        last_refresh=parse_rfc3339(data.get("last_refresh")),
        claims=claims,
        mode=mode,
        marker=marker if marker in MARKERS else None,
    )


def _read_bytes(path: Path, *, source: str) -> tuple[bytes, int] | None:
    """The file's bytes and permission bits; ``None`` when it does not exist."""
    where = _where(path, source)
    # O_NONBLOCK: a named pipe (or device) put in place of the file must not block the open;
    # it is refused as "not a regular file" below. Regular files ignore the flag.
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    if source == SOURCE_OWN:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CredentialFileError(
                f"{where} is a symbolic link, which llm-codex refuses for its credentials."
            ) from None
        if exc.errno == errno.EISDIR:
            raise CredentialFileError(f"{where} is a directory, not a file.") from None
        raise CredentialFileError(
            f"{where} cannot be read ({exc.strerror or exc.__class__.__name__})."
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CredentialFileError(f"{where} is not a regular file.")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > _MAX_FILE_SIZE:
                raise CredentialFileError(f"{where} is far too large to be a credential file.")
            chunks.append(chunk)
    except OSError as exc:
        raise CredentialFileError(
            f"{where} cannot be read ({exc.strerror or exc.__class__.__name__})."
        ) from None
    finally:
        os.close(fd)
    return b"".join(chunks), stat.S_IMODE(info.st_mode)


def read_login(path: Path, *, source: str, lenient_mode: bool = False) -> StoredLogin | None:
    """Read and validate a credential file; ``None`` when it does not exist.

    Our own file must live in a private directory (not a symlink) and must not be readable by
    group or others; a borrowed Codex CLI file is read as it is. ``lenient_mode`` reads our own
    file even when others may read it — only to revoke its tokens at sign-out, never to use them.
    """
    if source == SOURCE_OWN:
        _check_private_dir(path.parent, create=False)
    got = _read_bytes(path, source=source)
    if got is None:
        return None
    raw, mode = got
    shared = sys.platform != "win32" and mode & _PRIVATE_BITS
    if source == SOURCE_OWN and shared and not lenient_mode:
        raise CredentialFileError(
            f"{_where(path, source)} is readable by other users (mode {mode:04o}); "
            f"run 'chmod 600 {path}' or sign in again with 'llm codex login'."
        )
    try:
        return parse_login(raw, path=path, source=source, mode=mode)
    except CredentialFileError:
        if source == SOURCE_OWN:
            raise
        # The Codex CLI rewrites its file in place, without a lock: we may have caught it
        # half-written. Look once more before calling it broken.
        time.sleep(_REREAD_DELAY)
        again = _read_bytes(path, source=source)
        if again is None or again[0] == raw:
            raise
        return parse_login(again[0], path=path, source=source, mode=again[1])


def read_json_file(path: Path) -> Any:
    """A small private JSON file of ours (``None`` when absent or not JSON)."""
    got = _read_bytes(path, source=SOURCE_OWN)
    if got is None:
        return None
    try:
        return json.loads(got[0].decode("utf-8"))
    except (ValueError, RecursionError):
        return None


# --- recovery after a crash --------------------------------------------------------------------


def _stray_temps(path: Path) -> list[Path]:
    prefix = f".{path.name}."
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    return [path.parent / n for n in names if n.startswith(prefix) and n.endswith(".tmp")]


def _read_temp(tmp: Path, *, path: Path, source: str) -> StoredLogin | None:
    """A stray temp file's login when it is a whole, valid credential file of ours, else None."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(tmp, flags)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_FILE_SIZE:
            return None
        raw = os.read(fd, _MAX_FILE_SIZE + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return parse_login(raw, path=path, source=source, mode=stat.S_IMODE(info.st_mode))
    except CredentialFileError:
        return None


def recover_stray_temps(path: Path, *, source: str, lock_timeout: float) -> bool:
    """Finish a write that a killed process left as ``.<name>.<hex>.tmp``; ``True`` if adopted.

    Every write of ours happens under the store lock and ends with a rename, so a temp file
    seen while holding the lock was left by a process killed before its rename. One that holds
    a whole login of the same account, saved later than the stored one (a refresh whose new,
    single-use tokens exist nowhere else), replaces the store; every other one is removed.
    Best effort: a lock that cannot be taken leaves things for the next run.
    """
    if not _stray_temps(path):
        return False
    try:
        with store_lock(path, timeout=lock_timeout):
            return _recover_locked(path, source=source)
    except (CredentialFileError, RefreshInProgress):
        return False


def _recover_locked(path: Path, *, source: str) -> bool:
    try:
        current = read_login(path, source=source)
    except CredentialFileError:
        return False  # a file we cannot judge: leave everything as it is
    best: tuple[float, Path] | None = None
    strays = _stray_temps(path)
    for tmp in strays:
        found = _read_temp(tmp, path=path, source=source)
        if found is None or found.last_refresh is None:
            continue
        if current is not None:
            if found.account_id != current.account_id or found.same_tokens(current):
                continue
            if current.last_refresh and found.last_refresh <= current.last_refresh:
                continue
        when = found.last_refresh.timestamp()
        if best is None or when > best[0]:
            best = (when, tmp)
    adopted = False
    if best is not None:
        try:
            os.replace(best[1], path)
            adopted = True
        except OSError:
            pass
    for tmp in strays:
        if adopted and tmp == best[1]:  # type: ignore[index]
            continue
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _fsync_dir(path.parent)
    return adopted


# --- directories -------------------------------------------------------------------------------


def _check_private_dir(directory: Path, *, create: bool) -> None:
    """Refuse a symlinked or foreign directory; tighten ours to 0700; create it when asked."""
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        if not create:
            return
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise CredentialFileError(
                f"The folder {directory} for llm-codex's credentials cannot be created "
                f"({exc.strerror or exc.__class__.__name__})."
            ) from None
        info = os.lstat(directory)
    if stat.S_ISLNK(info.st_mode):
        raise CredentialFileError(
            f"The folder {directory} for llm-codex's credentials is a symbolic link, "
            "which llm-codex refuses."
        )
    if not stat.S_ISDIR(info.st_mode):
        raise CredentialFileError(f"{directory} should be a folder for llm-codex's credentials.")
    if sys.platform == "win32":
        return
    if info.st_uid != os.getuid():
        raise CredentialFileError(
            f"The folder {directory} for llm-codex's credentials belongs to another user."
        )
    if stat.S_IMODE(info.st_mode) & _PRIVATE_BITS:
        # Our own folder (maybe created by an older version or another writer): make it private.
        with contextlib.suppress(OSError):
            os.chmod(directory, 0o700)


def ensure_private_dir(directory: Path) -> None:
    """Create our credential folder with mode 0700 (or check and tighten an existing one)."""
    _check_private_dir(directory, create=True)


# --- writing -----------------------------------------------------------------------------------


def _open_temp(directory: Path, name: str, mode: int) -> tuple[int, Path]:
    """Create a fresh temp file next to the target: O_CREAT|O_EXCL|O_NOFOLLOW, ``mode`` at once."""
    flags = (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_EXCL
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )
    tmp = directory / f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, flags, mode)
    return fd, tmp


def _fsync_dir(directory: Path) -> None:
    if sys.platform == "win32":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_error(path: Path, exc: OSError) -> CredentialFileError:
    reason = exc.strerror or exc.__class__.__name__
    return CredentialFileError(
        f"The login cannot be saved to {path} ({reason}); the file was left as it was."
    )


def check_writable(path: Path) -> None:
    """Prove that a file can be created next to ``path`` (a real probe, not ``os.access``).

    Run before spending a refresh token, so a read-only folder fails before anything is sent
    (and so does a file of another user that we could not give back to its owner).
    """
    try:
        fd, tmp = _open_temp(path.parent, path.name, 0o600)
    except OSError as exc:
        raise CredentialFileError(
            f"The folder {path.parent} cannot be written to "
            f"({exc.strerror or exc.__class__.__name__}), so the login in {path} cannot be "
            "renewed or updated; make the folder writable for your user."
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    if sys.platform != "win32" and os.path.exists(path):
        foreign_owner(path)


def foreign_owner(path: Path) -> tuple[int, int] | None:
    """``(uid, gid)`` to give a rewritten borrowed file when it belongs to another user.

    Running as root (``sudo -E``, a container with ``~/.codex`` mounted) the owner is kept, so
    its user is not locked out of their own login; as any other user a file we do not own is
    refused with one sentence before anything is spent. ``None``: the file is ours (or absent).
    """
    if sys.platform == "win32":
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    if info.st_uid == os.geteuid():
        return None
    if os.geteuid() == 0:
        return info.st_uid, info.st_gid
    raise CredentialFileError(
        f"The login in {path} belongs to another user, so llm-codex will not rewrite it; "
        "run llm as that user, or sign in with 'llm codex login'."
    )


def write_login(path: Path, data: dict[str, Any], *, source: str, mode: int = 0o600) -> None:
    """Atomically replace ``path`` with ``data`` as pretty-printed JSON.

    Our own file: folder 0700 (created if needed), file 0600. A borrowed Codex CLI file keeps
    ``mode`` (its existing permission bits). On failure the old file is untouched.
    """
    owner: tuple[int, int] | None = None
    if source == SOURCE_OWN:
        ensure_private_dir(path.parent)
        mode = 0o600
    else:
        owner = foreign_owner(path)
    payload = (json.dumps(data, indent=2) + "\n").encode("utf-8")
    try:
        fd, tmp = _open_temp(path.parent, path.name, mode)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)  # the umask may have cut bits; nothing is written yet
            if owner is not None:
                os.fchown(fd, *owner)  # keep the file its user's (we run as root: see above)
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _write_error(path, exc) from None
    _fsync_dir(path.parent)


def delete_file(path: Path) -> bool:
    """Remove a file if it exists; ``True`` when something was removed."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise CredentialFileError(
            f"{path} cannot be removed ({exc.strerror or exc.__class__.__name__})."
        ) from None
    _fsync_dir(path.parent)
    return True


def build_auth_data(tokens: dict[str, Any], *, account_id: str, now: float | None = None) -> dict:
    """A fresh credential document in the Codex CLI's shape, for a new login."""
    return {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": tokens["id_token"],
            "access_token": tokens["access_token"],
            "refresh_token": tokens.get("refresh_token"),
            "account_id": account_id,
        },
        "last_refresh": format_rfc3339(now),
    }


def merge_refreshed(login: StoredLogin, fresh: dict[str, Any], *, now: float | None = None) -> dict:
    """The stored document with only the returned token fields replaced and ``last_refresh`` set.

    Unknown keys (of either file format) are kept; our refresh-state marker is dropped.
    """
    data = json.loads(json.dumps(login.data))  # deep copy of plain JSON
    tokens = data.setdefault("tokens", {})
    for key in ("id_token", "access_token", "refresh_token"):
        value = fresh.get(key)
        if isinstance(value, str) and value.strip():
            if key == "id_token":
                try:  # an unreadable id token would make the whole file unusable: keep ours
                    read_id_claims(value)
                except CredentialFileError:
                    continue
            tokens[key] = value
    if not tokens.get("account_id"):
        tokens["account_id"] = login.account_id
    data["last_refresh"] = format_rfc3339(now)
    data.pop(MARKER_KEY, None)
    return data


# --- locking -----------------------------------------------------------------------------------


def lock_path(path: Path) -> Path:
    """The sidecar lock file of a store: ``<store>.lock``."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def store_lock(path: Path, *, timeout: float) -> Iterator[None]:
    """Hold the exclusive cross-process lock of ``path`` (``<path>.lock``, 0600, never replaced).

    Raises :class:`RefreshInProgress` after ``timeout`` seconds, :class:`CredentialFileError`
    when the lock file cannot be created.
    """
    import filelock

    lock = filelock.FileLock(str(lock_path(path)), timeout=timeout, mode=0o600)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise RefreshInProgress(
            f"Another process has been refreshing the login in {path} for over "
            f"{timeout:.0f} s; try again in a moment."
        ) from None
    except OSError as exc:
        raise CredentialFileError(
            f"The lock file {lock_path(path)} cannot be created "
            f"({exc.strerror or exc.__class__.__name__}), so the login cannot be refreshed safely."
        ) from None
    _give_lock_to_store_owner(path)
    try:
        yield
    finally:
        lock.release()


def _give_lock_to_store_owner(path: Path) -> None:
    """As root, hand a lock file we created beside another user's store to that user.

    Otherwise that user's next refresh could not open the lock (a lock-out).
    """
    if sys.platform == "win32" or os.geteuid() != 0:
        return
    with contextlib.suppress(OSError):
        store = os.stat(path)
        lock = lock_path(path)
        if os.stat(lock).st_uid != store.st_uid:
            os.chown(lock, store.st_uid, store.st_gid)
