"""Signing in and out: browser PKCE, paste-the-redirect fallback, device code, revoke.

Browser flow (protocol §A7): PKCE S256 + ``state``; a loopback listener bound on 127.0.0.1 (port
1455, else 1457, or the port asked for) receives ``/auth/callback``; the code is exchanged and
the browser is redirected to a static ``/success`` page that carries no tokens. With a paste
reader (``--no-browser``), the redirect URL the browser ended on can be pasted instead; the
first of callback and paste wins. Pasted URLs are never echoed.

Device flow (protocol §A8): show ``<issuer>/codex/device`` and the code, poll at the server's
interval (403/404 and ``deviceauth_authorization_pending``/``slow_down`` mean pending), give up
after 15 minutes.

A new login is written to our own store only (never the Codex CLI's), then the refresh token of
the login it replaced is revoked (best effort). Logout revokes (10 s, best effort), then removes
our file and its lock file.

Environment knobs, for tests and unusual setups (seconds):
``LLM_CODEX_LOGIN_TIMEOUT`` (browser/paste wait, default 600),
``LLM_CODEX_DEVICE_POLL_INTERVAL`` (overrides the server's poll interval),
``LLM_CODEX_DEVICE_TIMEOUT`` (device-code lifetime, default 900).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import html
import os
import queue
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, urlencode, urlsplit

from llm_codex import config
from llm_codex.auth.binding import binding_fields, refuse_foreign_own_login
from llm_codex.auth.http import (
    auth_client,
    endpoint,
    error_code,
    json_or_none,
    post_bounded,
    token_answer,
)
from llm_codex.auth.store import (
    SOURCE_OWN,
    StoredLogin,
    build_auth_data,
    delete_file,
    ensure_private_dir,
    lock_path,
    read_login,
    store_lock,
    write_login,
)
from llm_codex.auth.tokens import read_id_claims
from llm_codex.core.errors import CredentialFileError, LoginFailed

__all__ = [
    "DEFAULT_PORTS",
    "SCOPES",
    "CallbackListener",
    "LogoutResult",
    "Pkce",
    "authorize_url",
    "browser_login",
    "device_login",
    "exchange_code",
    "logout",
    "new_pkce",
    "parse_pasted_redirect",
    "revoke_token",
    "save_new_login",
]

SCOPES = "openid profile email offline_access api.connectors.read api.connectors.invoke"
#: The loopback ports registered for the Codex client (protocol §A2).
DEFAULT_PORTS = (1455, 1457)
CALLBACK_PATH = "/auth/callback"
SUCCESS_PATH = "/success"
TOKEN_TIMEOUT = 30.0
REVOKE_TIMEOUT = 10.0
DEFAULT_LOGIN_TIMEOUT = 600.0
DEFAULT_DEVICE_TIMEOUT = 15 * 60.0
DEFAULT_DEVICE_INTERVAL = 5.0

Echo = Callable[[str], None]


def _env_seconds(name: str, default: float | None) -> float | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        return default
    return seconds if seconds >= 0 else default


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# --- PKCE and the authorize URL ----------------------------------------------------------------


@dataclass(frozen=True)
class Pkce:
    """A PKCE pair: the secret verifier and its S256 challenge."""

    verifier: str
    challenge: str


def new_pkce(*, nbytes: int = 64) -> Pkce:
    """``nbytes`` random bytes as the verifier (base64url, unpadded; the Codex issuer's 64 by
    default) and ``S256`` of it as the challenge."""
    verifier = _b64url(secrets.token_bytes(nbytes))
    challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    return Pkce(verifier=verifier, challenge=challenge)


def new_state() -> str:
    """32 random bytes, base64url."""
    return _b64url(secrets.token_bytes(32))


def redirect_uri_for(port: int) -> str:
    """``http://localhost:<port>/auth/callback`` (``localhost``, while we bind 127.0.0.1)."""
    return f"http://localhost:{port}{CALLBACK_PATH}"


def authorize_url(*, redirect_uri: str, pkce: Pkce, state: str) -> str:
    """The issuer's authorize URL for the browser (protocol §A7), with ``originator=llm-codex``."""
    params = {
        "response_type": "code",
        "client_id": config.CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": SCOPES,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
        "state": state,
        "originator": config.ORIGINATOR,
    }
    return endpoint("/oauth/authorize") + "?" + urlencode(params)


# --- token endpoint ----------------------------------------------------------------------------


def _login_error_from(response: Any, what: str) -> LoginFailed:
    body = json_or_none(response)
    code = error_code(body)
    detail = f" ({code})" if code else ""
    return LoginFailed(
        f"The sign-in server refused the {what}: HTTP {response.status_code}{detail}; "
        "run 'llm codex login' again."
    )


def exchange_code(code: str, *, redirect_uri: str, verifier: str) -> dict[str, Any]:
    """Exchange an authorization code (form POST, protocol §A7); returns the token answer."""
    import httpx2

    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": config.CLIENT_ID,
        "code_verifier": verifier,
    }
    try:
        response = post_bounded(endpoint("/oauth/token"), data=form, timeout=TOKEN_TIMEOUT)
    except httpx2.HTTPError as exc:
        raise LoginFailed(
            f"The sign-in server at {config.auth_base_url()} could not be reached "
            f"({exc.__class__.__name__}); check your connection and run 'llm codex login' again."
        ) from None
    if not 200 <= response.status_code < 300:
        raise _login_error_from(response, "sign-in code")
    data = token_answer(response)
    if not isinstance(data, dict):
        raise LoginFailed("The sign-in server sent an unreadable token answer; try again.")
    for key in ("id_token", "access_token"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise LoginFailed(f"The sign-in server's answer has no {key.replace('_', ' ')}.")
    if not isinstance(data.get("refresh_token"), str) or not data["refresh_token"]:
        raise LoginFailed(
            "The sign-in server's answer has no refresh token, so the login could not be kept."
        )
    return data


def revoke_token(token: str, *, kind: str = "refresh_token") -> bool:
    """Revoke a token at the issuer (JSON body, protocol §A10, 10 s). ``True`` when confirmed.

    Never raises: revocation is best effort.
    """
    import httpx2

    body: dict[str, str] = {"token": token, "token_type_hint": kind}
    if kind == "refresh_token":
        body["client_id"] = config.CLIENT_ID
    try:
        response = post_bounded(endpoint("/oauth/revoke"), json=body, timeout=REVOKE_TIMEOUT)
    except httpx2.HTTPError:
        return False
    return 200 <= response.status_code < 300


def save_new_login(tokens: dict[str, Any]) -> StoredLogin:
    """Write a fresh login to our own store (atomically, under its lock) and return it.

    The refresh token of the own login it replaces is revoked afterwards (best effort). The
    Codex CLI's file is never touched.
    """
    try:
        claims = read_id_claims(tokens.get("id_token"))
    except CredentialFileError as exc:
        raise LoginFailed(f"{exc.message[:-1]} in the sign-in answer; try again.") from None
    account = tokens.get("account_id") if isinstance(tokens.get("account_id"), str) else None
    account = account or claims.account_id
    if not account:
        raise LoginFailed(
            "The signed-in account has no ChatGPT workspace id; "
            "sign in with an account that has a ChatGPT plan."
        )
    path = config.own_auth_path()
    ensure_private_dir(path.parent)
    previous: StoredLogin | None = None
    with store_lock(path, timeout=60.0):
        refuse_foreign_own_login("login")
        with contextlib.suppress(CredentialFileError):
            previous = read_login(path, source=SOURCE_OWN)
        data = build_auth_data(tokens, account_id=account)
        data.update(binding_fields())
        write_login(path, data, source=SOURCE_OWN)
        saved = read_login(path, source=SOURCE_OWN)
    if (
        previous is not None
        and previous.refresh_token
        and previous.refresh_token != tokens.get("refresh_token")
    ):
        revoke_token(previous.refresh_token)
    if saved is None:  # pragma: no cover - we just wrote it
        raise LoginFailed("The new login could not be read back.")
    return saved


# --- the loopback listener ---------------------------------------------------------------------

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em}}</style>
</head><body><h1>{title}</h1><p>{body}</p></body></html>"""

_SUCCESS_PAGE = _PAGE.format(
    title="Signed in to llm-codex",
    body="You can close this tab and go back to your terminal.",
)


def _callback_error(params: dict[str, list[str]]) -> LoginFailed:
    error = (params.get("error") or [""])[0]
    description = (params.get("error_description") or [""])[0]
    if "missing_codex_entitlement" in (error + " " + description):
        return LoginFailed(
            "Codex is not enabled for this ChatGPT workspace (missing_codex_entitlement); ask "
            "your workspace admin to enable Codex, or sign in with another account."
        )
    if error == "access_denied":
        return LoginFailed(
            "Sign-in was cancelled or refused in the browser (access_denied); "
            "run 'llm codex login' to try again."
        )
    detail = f": {description[:200]}" if description else ""
    return LoginFailed(f"Sign-in failed in the browser ({error[:60]}{detail}).")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 15  # an idle (pre)connection from the browser never blocks the listener

    def log_message(self, format: str, *args: Any) -> None:  # never log callback URLs
        return

    def _page(self, status: int, title: str, body: str) -> None:
        payload = _PAGE.format(title=html.escape(title), body=html.escape(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == SUCCESS_PATH:
            payload = _SUCCESS_PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            self.server.listener.success_served.set()
            return
        if parts.path != CALLBACK_PATH:
            self._page(404, "Not found", "This page belongs to an llm-codex sign-in.")
            return
        listener = self.server.listener
        params = parse_qs(parts.query)
        state = (params.get("state") or [""])[0]
        if not secrets.compare_digest(state.encode(), listener.state.encode()):
            listener.offer_error(
                LoginFailed(
                    "The browser sign-in answered a different login attempt (state mismatch); "
                    "run 'llm codex login' again."
                )
            )
            self._page(400, "State mismatch", "This sign-in link does not match; try again.")
            return
        if params.get("error"):
            failure = _callback_error(params)
            listener.offer_error(failure)
            self._page(400, "Sign-in failed", failure.message)
            return
        code = (params.get("code") or [""])[0]
        if not code:
            failure = LoginFailed("The browser sign-in returned no code; run 'llm codex login'.")
            listener.offer_error(failure)
            self._page(400, "Sign-in failed", failure.message)
            return
        if not listener.offer_code(code):
            self._page(409, "Already handled", "This sign-in was already completed.")
            return
        outcome = listener.wait_outcome()
        if outcome is None:
            self.send_response(302)
            self.send_header("Location", SUCCESS_PATH)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
        else:
            self._page(400, "Sign-in failed", outcome)


class _Server(ThreadingHTTPServer):
    listener: CallbackListener
    allow_reuse_address = False
    daemon_threads = True


class CallbackListener:
    """The loopback HTTP listener for ``/auth/callback`` (bound on 127.0.0.1 only).

    ``offered`` receives ``("code", code)`` or ``("error", LoginFailed)``; the browser waits
    for :meth:`finish` to learn the outcome (success → redirect to ``/success``).
    """

    def __init__(self, *, state: str, ports: tuple[int, ...] = DEFAULT_PORTS) -> None:
        self.state = state
        self.offered: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._taken = threading.Lock()
        self._claimed = False
        self._outcome_ready = threading.Event()
        self._outcome: str | None = None
        self.success_served = threading.Event()
        self._server: _Server | None = None
        last: OSError | None = None
        for port in ports:
            try:
                server = _Server(("127.0.0.1", port), _Handler, bind_and_activate=True)
            except OSError as exc:
                last = exc
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise
            server.listener = self
            self._server = server
            break
        if self._server is None:
            raise OSError(errno.EADDRINUSE, f"ports {ports} are busy") from last
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def redirect_uri(self) -> str:
        return redirect_uri_for(self.port)

    def start(self) -> CallbackListener:
        self._thread.start()
        return self

    def offer_code(self, code: str) -> bool:
        with self._taken:
            if self._claimed:
                return False
            self._claimed = True
        self.offered.put(("code", code))
        return True

    def offer_error(self, failure: LoginFailed) -> None:
        with self._taken:
            if self._claimed:
                return
            self._claimed = True
        self.offered.put(("error", failure))

    def claim(self) -> bool:
        """Claim the login for another channel (a paste); ``False`` when the browser won."""
        with self._taken:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def wait_outcome(self, timeout: float = 60.0) -> str | None:
        self._outcome_ready.wait(timeout)
        return self._outcome

    def finish(self, error: str | None = None) -> None:
        """Tell a waiting browser how the exchange went (``None`` = success)."""
        self._outcome = error
        self._outcome_ready.set()

    def stop(self) -> None:
        if self._server is not None:
            if self._thread.is_alive():
                self._server.shutdown()
            self._server.server_close()


# --- the paste channel -------------------------------------------------------------------------


def parse_pasted_redirect(text: str, *, state: str, port: int) -> str:
    """Validate a pasted redirect URL and return its code (protocol §A9).

    Checks scheme ``http``, host ``localhost``/``127.0.0.1``, the port, path ``/auth/callback``
    and ``state``. Raises :class:`LoginFailed` without repeating the URL.
    """
    text = text.strip()
    try:
        parts = urlsplit(text)
        url_port = parts.port
    except ValueError:
        raise LoginFailed("That is not the URL your browser ended on.") from None
    if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1"):
        raise LoginFailed("That is not the http://localhost/auth/callback URL from your browser.")
    if url_port != port:
        raise LoginFailed(f"That URL is for port {url_port}, but this login expects {port}.")
    if parts.path != CALLBACK_PATH:
        raise LoginFailed("That URL's path is not /auth/callback.")
    params = parse_qs(parts.query)
    got_state = (params.get("state") or [""])[0]
    if not secrets.compare_digest(got_state.encode(), state.encode()):
        raise LoginFailed(
            "That URL belongs to a different login attempt (state mismatch); "
            "paste the URL from this attempt."
        )
    if params.get("error"):
        raise _callback_error(params)
    code = (params.get("code") or [""])[0]
    if not code:
        raise LoginFailed("That URL carries no sign-in code.")
    return code


class _PasteReader:
    """Reads pasted lines without blocking the wait loop; a terminal does not echo them."""

    def __init__(self, stream: TextIO) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stream = stream
        self._termios_state: Any = None
        self._fd: int | None = None
        self._buffer = b""
        self.eof = False
        tty = False
        with contextlib.suppress(Exception):
            tty = stream.isatty()
        if tty and sys.platform != "win32":
            import termios

            self._fd = stream.fileno()
            self._termios_state = termios.tcgetattr(self._fd)
            quiet = termios.tcgetattr(self._fd)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(self._fd, termios.TCSADRAIN, quiet)
        elif tty:
            threading.Thread(target=self._read_getpass, daemon=True).start()
        else:
            threading.Thread(target=self._read_plain, daemon=True).start()

    def _read_plain(self) -> None:
        try:
            for line in iter(self._stream.readline, ""):
                self._lines.put(line)
        except (OSError, ValueError):
            pass
        self._lines.put(None)

    def _read_getpass(self) -> None:  # pragma: no cover - Windows terminals
        import getpass

        while True:
            try:
                self._lines.put(getpass.getpass(""))
            except (EOFError, OSError):
                self._lines.put(None)
                return

    def poll(self, timeout: float) -> str | None:
        """A pasted line, or ``None`` when nothing arrived within ``timeout``."""
        if self.eof:
            time.sleep(timeout)
            return None
        if self._fd is not None:
            import select

            ready, _, _ = select.select([self._fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self._fd, 4096)
            if not chunk:
                self.eof = True
                return None
            self._buffer += chunk
            if b"\n" not in self._buffer and b"\r" not in self._buffer:
                return None
            line, _, self._buffer = self._buffer.replace(b"\r", b"\n").partition(b"\n")
            return line.decode("utf-8", "replace")
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            self.eof = True
        return line

    def close(self) -> None:
        if self._fd is not None and self._termios_state is not None:
            import termios

            with contextlib.suppress(Exception):
                termios.tcsetattr(self._fd, termios.TCSADRAIN, self._termios_state)
            self._termios_state = None


# --- browser login -----------------------------------------------------------------------------


def _can_open_browser() -> bool:
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def browser_login(
    *,
    port: int | None = None,
    open_browser: bool = True,
    accept_paste: bool = False,
    echo: Echo = print,
    stdin: TextIO | None = None,
    timeout: float | None = None,
) -> StoredLogin:
    """Run the browser PKCE login and save the result to our own store.

    ``port`` overrides the 1455/1457 choice (0 = any free port, for tests). When the browser
    cannot be opened, the listener cannot start, or ``accept_paste`` is set, the redirect URL
    can also be pasted on ``stdin``; the first of callback and paste wins.
    """
    refuse_foreign_own_login("login")
    if timeout is None:
        timeout = _env_seconds("LLM_CODEX_LOGIN_TIMEOUT", None) or DEFAULT_LOGIN_TIMEOUT
    pkce, state = new_pkce(), new_state()
    ports = (port,) if port is not None else DEFAULT_PORTS
    listener: CallbackListener | None
    try:
        listener = CallbackListener(state=state, ports=ports).start()
    except OSError:
        listener = None
    redirect_port = listener.port if listener is not None else ports[0]
    redirect_uri = redirect_uri_for(redirect_port)
    url = authorize_url(redirect_uri=redirect_uri, pkce=pkce, state=state)

    opened = False
    if open_browser and listener is not None and _can_open_browser():
        import webbrowser

        with contextlib.suppress(Exception):
            opened = webbrowser.open(url)
    if opened:
        echo("Your browser has been opened to sign in to ChatGPT. If it did not open, visit:")
    else:
        echo("Open this URL in a browser to sign in to ChatGPT:")
    echo("")
    echo(url)
    echo("")
    if listener is None:
        echo(
            f"Ports {', '.join(map(str, ports))} are busy, so llm-codex cannot receive the "
            "browser's answer directly."
        )
    paste = accept_paste or not opened or listener is None
    reader: _PasteReader | None = None
    if paste:
        echo(
            "After signing in, your browser ends on a page starting with "
            f"http://localhost:{redirect_port}/auth/callback"
            + (" (it may fail to load)" if listener is None else "")
            + "; if this command does not finish by itself, paste that whole URL here and "
            "press Enter (it is not shown):"
        )
        reader = _PasteReader(stdin if stdin is not None else sys.stdin)
    else:
        echo("Waiting for the browser sign-in to finish...")

    try:
        code, via_browser = _wait_for_code(
            listener, reader, state=state, port=redirect_port, echo=echo, timeout=timeout
        )
        try:
            tokens = exchange_code(code, redirect_uri=redirect_uri, verifier=pkce.verifier)
            login = save_new_login(tokens)
        except (LoginFailed, CredentialFileError) as exc:
            if listener is not None:
                listener.finish(exc.message)
            raise
        if listener is not None:
            listener.finish(None)
            if via_browser:  # keep serving until the browser got its page
                listener.success_served.wait(3.0)
        return login
    finally:
        if reader is not None:
            reader.close()
        if listener is not None:
            listener.stop()


def _wait_for_code(
    listener: CallbackListener | None,
    reader: _PasteReader | None,
    *,
    state: str,
    port: int,
    echo: Echo,
    timeout: float,
) -> tuple[str, bool]:
    """The sign-in code and whether it came through the browser callback (else a paste)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listener is not None:
            try:
                kind, value = listener.offered.get(timeout=0.05 if reader else 0.2)
            except queue.Empty:
                pass
            else:
                if kind == "error":
                    raise value
                return value, True
        if reader is not None:
            line = reader.poll(0.05 if listener else 0.2)
            if line is None or not line.strip():
                if reader.eof and listener is None:
                    raise LoginFailed("No sign-in URL was pasted; run 'llm codex login' again.")
                continue
            try:
                code = parse_pasted_redirect(line, state=state, port=port)
            except LoginFailed as exc:
                echo(f"{exc.message} Paste the URL again:")
                continue
            if listener is not None and not listener.claim():
                continue  # the browser callback won meanwhile
            return code, False
    raise LoginFailed(
        f"No sign-in arrived within {timeout:.0f} seconds; run 'llm codex login' again."
    )


# --- device-code login -------------------------------------------------------------------------


#: Poll answers that mean "not approved yet" (Codex's spelling and RFC 8628's).
_PENDING_CODES = frozenset({"deviceauth_authorization_pending", "authorization_pending"})


def device_login(*, echo: Echo = print, sleep: Callable[[float], None] = time.sleep) -> StoredLogin:
    """Run the device-code login (protocol §A8) and save the result to our own store."""
    import httpx2

    refuse_foreign_own_login("login")
    issuer = config.auth_base_url()
    try:
        with auth_client(timeout=TOKEN_TIMEOUT) as client:
            response = client.post(
                endpoint("/api/accounts/deviceauth/usercode"), json={"client_id": config.CLIENT_ID}
            )
    except httpx2.HTTPError as exc:
        raise LoginFailed(
            f"The sign-in server at {issuer} could not be reached ({exc.__class__.__name__})."
        ) from None
    if response.status_code == 404:
        raise LoginFailed(
            "Device-code sign-in is not enabled for this account: turn on device code "
            "login in ChatGPT's security settings, or use 'llm codex login' with a browser."
        )
    if response.status_code != 200:
        raise _login_error_from(response, "device-code request")
    data = json_or_none(response)
    data = data if isinstance(data, dict) else {}
    device_auth_id = data.get("device_auth_id")
    user_code = data.get("user_code") or data.get("usercode")
    if isinstance(device_auth_id, int) and not isinstance(device_auth_id, bool):
        device_auth_id = str(device_auth_id)
    if not isinstance(device_auth_id, str) or not isinstance(user_code, str):
        raise LoginFailed("The sign-in server sent an unreadable device-code answer.")
    try:  # a string of seconds on the wire ("5"); an int or float is read the same way
        interval = float(data.get("interval") or DEFAULT_DEVICE_INTERVAL)
    except (TypeError, ValueError):
        interval = DEFAULT_DEVICE_INTERVAL
    if not 0 <= interval <= 300:  # negative, NaN or absurd: the default
        interval = DEFAULT_DEVICE_INTERVAL
    override = _env_seconds("LLM_CODEX_DEVICE_POLL_INTERVAL", None)
    if override is not None:
        interval = override
    lifetime = _env_seconds("LLM_CODEX_DEVICE_TIMEOUT", DEFAULT_DEVICE_TIMEOUT)
    lifetime = DEFAULT_DEVICE_TIMEOUT if lifetime is None else lifetime

    echo("To sign in, open this page in any browser and enter the code below:")
    echo("")
    echo(f"  {issuer}/codex/device")
    echo(f"  Code: {user_code}")
    echo("")
    echo(
        "The code expires in 15 minutes. Never share this code: anyone who has it can "
        "sign in as you (device codes are a favourite phishing trick)."
    )
    echo("Waiting for you to sign in...")

    deadline = time.monotonic() + lifetime
    body = {"device_auth_id": device_auth_id, "user_code": user_code}
    while True:
        sleep(interval)
        if time.monotonic() > deadline:
            raise LoginFailed(
                "The device code expired before the sign-in finished; run "
                "'llm codex login --device-code' again."
            )
        try:
            with auth_client(timeout=TOKEN_TIMEOUT) as client:
                poll = client.post(endpoint("/api/accounts/deviceauth/token"), json=body)
        except httpx2.HTTPError:
            continue  # a network blip: keep polling until the deadline
        if poll.status_code in (403, 404):
            continue
        answer = json_or_none(poll)
        code_name = error_code(answer)
        if 200 <= poll.status_code < 300 and isinstance(answer, dict) and code_name is None:
            code = answer.get("authorization_code")
            verifier = answer.get("code_verifier")
            if not isinstance(code, str) or not isinstance(verifier, str):
                raise LoginFailed("The sign-in server sent an unreadable device-code result.")
            tokens = exchange_code(
                code, redirect_uri=f"{issuer}/deviceauth/callback", verifier=verifier
            )
            return save_new_login(tokens)
        if code_name in _PENDING_CODES:
            continue
        if code_name == "slow_down" or poll.status_code == 429:
            interval += 5.0
            continue
        if poll.status_code >= 500:
            continue
        raise _login_error_from(poll, "device-code sign-in")


# --- logout ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogoutResult:
    """What logout did. ``revoked``: ``True`` confirmed, ``False`` not confirmed, ``None``
    nothing to revoke (no own login, or its file was unreadable)."""

    removed: bool
    revoked: bool | None
    codex_cli_login: Path | None


def logout() -> LogoutResult:
    """Revoke our own login's refresh token (best effort), then delete our file and lock file.

    The tokens are revoked *before* the file is removed, also when the file is refused for use
    because others may read it (exactly when they may have leaked). A login issued by another
    issuer than the configured one is neither revoked nor removed (:class:`ForeignLogin`).
    The Codex CLI's login is never touched; ``codex_cli_login`` reports whether one exists.
    """
    path = config.own_auth_path()
    codex = config.codex_cli_auth_path()
    codex_present = codex if codex.is_file() else None
    if not os.path.lexists(path):
        with contextlib.suppress(CredentialFileError):
            delete_file(lock_path(path))
        return LogoutResult(removed=False, revoked=None, codex_cli_login=codex_present)
    refuse_foreign_own_login("logout")
    revoked: bool | None = None
    with store_lock(path, timeout=60.0):
        login: StoredLogin | None = None
        with contextlib.suppress(CredentialFileError):
            login = read_login(path, source=SOURCE_OWN, lenient_mode=True)
        if login is not None:
            if login.refresh_token:
                revoked = revoke_token(login.refresh_token)
            else:
                revoked = revoke_token(login.access_token, kind="access_token")
        delete_file(path)
    delete_file(lock_path(path))
    return LogoutResult(removed=True, revoked=revoked, codex_cli_login=codex_present)
