"""``llm codex login --official`` and ``logout --official`` (siwc.md §4–§7, §8.7, §13).

Sign-in, in order: host id → discovery (checked) → the registration to use (the saved issued
client id, else ``dynamic_agent_client`` with ``agent_name_hint=llm-codex``) → a loopback
listener on ``127.0.0.1`` (ephemeral port unless ``--port``) → the authorize URL (PKCE S256,
``state``, ``nonce``, ``resource``, the plan scopes) → the callback (or a pasted callback URL
with ``--no-browser``) → a first sign-in's issued client id saved at once → the code exchange →
the token checks → the ID token verified → the granted scope decides plan usage → saved under
the lock. Nothing is saved when a check fails; an earlier login stays as it was.

The listener answers only ``GET /auth/callback`` with ``Host: 127.0.0.1:<port>``; a missing or
wrong ``state`` gets 400 and the wait goes on. Its page says "Return to your terminal" and
carries no token. Pasted URLs are never echoed; the authorize URL is printed once, never logged.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlencode, urlsplit

from llm_codex import config
from llm_codex.auth.login import Pkce, new_pkce, new_state
from llm_codex.auth.login import _Handler as CodexLoginHandler
from llm_codex.auth.siwc.files import (
    OfficialLogin,
    ensure_host_id,
    iso_now,
    read_official,
    tokens_record,
    write_official,
)
from llm_codex.auth.siwc.issuer import (
    AUTHORIZE_PATH,
    DYNAMIC_CLIENT_ID,
    PLAN_SCOPE,
    RESOURCE,
    SCOPES,
    discover,
    post_token,
    revoke,
)
from llm_codex.auth.store import store_lock
from llm_codex.core.errors import LoginFailed

__all__ = [
    "CALLBACK_PATH",
    "LoginResult",
    "LogoutResult",
    "authorize_params",
    "official_login",
    "official_logout",
]

CALLBACK_PATH = "/auth/callback"
AGENT_NAME = "llm-codex"
DEFAULT_TIMEOUT = 600.0
_AGAIN = "run `llm codex login --official` again"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")

Echo = Callable[[str], None]


@dataclass(frozen=True)
class _Attempt:
    """One sign-in's secrets: ``state`` and ``nonce`` (32 random bytes each) and the PKCE pair
    (a 32-byte verifier, 43 characters, as the official sign-in documents)."""

    state: str
    nonce: str
    pkce: Pkce

    @classmethod
    def new(cls) -> _Attempt:
        return cls(state=new_state(), nonce=new_state(), pkce=new_pkce(nbytes=32))


def authorize_params(
    *,
    attempt: _Attempt,
    redirect_uri: str,
    host_id: str,
    registration: OfficialLogin | None,
) -> dict[str, str]:
    """The authorize query (§5): registration on the first sign-in, the issued id afterwards."""
    params = {"response_type": "code"}
    if registration is None:
        params["client_id"] = DYNAMIC_CLIENT_ID
        params["agent_name_hint"] = AGENT_NAME
    else:
        params["client_id"] = registration.client_id or ""
    params.update(
        {
            "ext_agent_host_id": host_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "resource": RESOURCE,
            "state": attempt.state,
            "nonce": attempt.nonce,
            "code_challenge_method": "S256",
            "code_challenge": attempt.pkce.challenge,
        }
    )
    if registration is not None:
        if registration.id_token:
            params["id_token_hint"] = registration.id_token
        if registration.email:
            params["login_hint"] = registration.email
        if registration.data.get("plan_usage") is False:  # an earlier decline (§7.4)
            params["prompt"] = "consent"
    return params


# --- the loopback listener -----------------------------------------------------------------------


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values is not None and len(values) == 1 else None


def _state_ok(params: dict[str, list[str]], state: str) -> bool:
    got = _single(params, "state")
    return got is not None and secrets.compare_digest(got.encode(), state.encode())


class _Handler(CodexLoginHandler):
    """Only ``GET /auth/callback`` for our own ``Host``; pages as the Codex login's, plus
    ``Referrer-Policy: no-referrer``."""

    server: _Server

    def end_headers(self) -> None:
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        expected_host = f"127.0.0.1:{self.server.server_address[1]}"
        if parts.path != CALLBACK_PATH or self.headers.get("Host") != expected_host:
            self._page(404, "Not found", "This address belongs to an llm-codex sign-in.")
            return
        params = parse_qs(parts.query, keep_blank_values=True)
        if not _state_ok(params, self.server.state):
            self._page(400, "Wrong sign-in attempt", "This link does not match; try again.")
            return
        self.server.results.put(params)
        self._page(200, "Signed in", "Return to your terminal.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    state: str
    results: queue.Queue[dict[str, list[str]]]


def _listen(port: int) -> _Server:
    try:
        server = _Server(("127.0.0.1", port), _Handler)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise LoginFailed(f"port {port} is in use; try another --port or omit it") from None
        raise LoginFailed(f"The sign-in listener could not start ({exc.strerror}).") from None
    server.results = queue.Queue()
    return server


def _pasted(text: str, *, port: int, state: str) -> tuple[dict[str, list[str]] | None, str]:
    """The callback parameters of a pasted URL, or ``(None, what is wrong)``."""
    try:
        parts = urlsplit(text.strip())
        url_port = parts.port
    except ValueError:
        return None, "That is not the URL your browser ended on."
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or url_port != port:
        return None, f"That is not the http://127.0.0.1:{port}{CALLBACK_PATH} URL of this sign-in."
    if parts.path != CALLBACK_PATH:
        return None, f"That URL's path is not {CALLBACK_PATH}."
    params = parse_qs(parts.query, keep_blank_values=True)
    if not _state_ok(params, state):
        return None, "That URL belongs to a different sign-in attempt."
    return params, ""


def _wait(
    server: _Server, reader: Any, *, port: int, state: str, echo: Echo, timeout: float
) -> dict[str, list[str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return server.results.get(timeout=0.05 if reader else 0.2)
        except queue.Empty:
            pass
        if reader is None:
            continue
        line = reader.poll(0.05)
        if line is None or not line.strip():
            continue
        params, problem = _pasted(line, port=port, state=state)
        if params is not None:
            return params
        echo(f"{problem} Paste the URL again:")
    raise LoginFailed(f"No sign-in arrived within {timeout:.0f} seconds; {_AGAIN}.")


# --- the flow ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    """A completed sign-in: who, whether plan usage is on, whether to show the notice now."""

    login: OfficialLogin
    email: str | None
    plan_usage: bool
    show_notice: bool


def _callback_error(params: dict[str, list[str]]) -> LoginFailed:
    error = (params.get("error") or [""])[0]
    if error == "access_denied":
        return LoginFailed("You did not allow llm-codex to sign in; nothing was changed.")
    return LoginFailed(
        f"You did not allow llm-codex to sign in ({error[:60]}); nothing was changed."
    )


def _exchange_error(code: str | None, status: int | None, kind: str) -> LoginFailed:
    if kind in ("unsent", "transient", "unknown"):
        return LoginFailed(f"The ChatGPT sign-in could not be completed (network); {_AGAIN}.")
    if code == "invalid_client":
        return LoginFailed("ChatGPT rejected llm-codex's registration (invalid_client).")
    if code == "invalid_grant":
        return LoginFailed(f"ChatGPT did not accept the sign-in code (invalid_grant); {_AGAIN}.")
    label = code or f"HTTP {status}"
    return LoginFailed(f"ChatGPT refused the sign-in ({label}); {_AGAIN}.")


def _checked_tokens(answer: dict[str, Any]) -> dict[str, Any]:
    """§6.3: every required field present, else nothing is saved."""
    ok = (
        isinstance(answer.get("access_token"), str)
        and bool(answer["access_token"])
        and str(answer.get("token_type", "")).lower() == "bearer"
        and isinstance(answer.get("refresh_token"), str)
        and bool(answer["refresh_token"])
        and isinstance(answer.get("id_token"), str)
        and isinstance(answer.get("scope"), str)
    )
    try:
        ok = ok and float(answer["expires_in"]) > 0
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise LoginFailed("ChatGPT returned incomplete credentials; nothing was saved.")
    return answer


def official_login(
    *,
    port: int | None = None,
    open_browser: bool = True,
    echo: Echo = print,
    stdin: TextIO | None = None,
    timeout: float | None = None,
) -> LoginResult:
    """Run the sign-in (see the module doc) and save it; :class:`LoginFailed` otherwise."""
    from llm_codex.auth.siwc.idtoken import verify_id_token

    if timeout is None:
        raw = os.environ.get("LLM_CODEX_LOGIN_TIMEOUT", "").strip()
        try:
            timeout = float(raw) if raw else DEFAULT_TIMEOUT
        except ValueError:
            timeout = DEFAULT_TIMEOUT
    path = config.official_auth_path()
    host_id = ensure_host_id()
    disco = discover()
    saved = read_official(path)
    registration = saved if saved is not None and saved.issuer == disco.issuer else None
    attempt = _Attempt.new()

    server = _listen(port or 0)
    server.state = attempt.state
    bound = server.server_address[1]
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    ).start()
    redirect_uri = f"http://127.0.0.1:{bound}{CALLBACK_PATH}"
    query = authorize_params(
        attempt=attempt, redirect_uri=redirect_uri, host_id=host_id, registration=registration
    )
    url = disco.issuer + AUTHORIZE_PATH + "?" + urlencode(query)
    reader = None
    try:
        opened = False
        if open_browser:
            import webbrowser

            with contextlib.suppress(Exception):
                opened = webbrowser.open(url)
        if opened:
            echo("Continue with ChatGPT in your browser. If it did not open, visit this URL:")
        else:
            echo("Continue with ChatGPT: open this URL in a browser")
        echo(url)
        if not opened:
            from llm_codex.auth.login import _PasteReader

            echo(
                f"Then paste here the http://127.0.0.1:{bound}{CALLBACK_PATH} URL your browser "
                "ends on (it is not shown), unless this finishes by itself:"
            )
            reader = _PasteReader(stdin if stdin is not None else sys.stdin)
        params = _wait(server, reader, port=bound, state=attempt.state, echo=echo, timeout=timeout)
    finally:
        if reader is not None:
            reader.close()
        server.shutdown()
        server.server_close()
    return _complete(
        params,
        attempt=attempt,
        redirect_uri=redirect_uri,
        registration=registration,
        saved=saved,
        host_id=host_id,
        disco=disco,
        verify=verify_id_token,
    )


def _complete(
    params: dict[str, list[str]],
    *,
    attempt: _Attempt,
    redirect_uri: str,
    registration: OfficialLogin | None,
    saved: OfficialLogin | None,
    host_id: str,
    disco: Any,
    verify: Callable[..., dict[str, Any]],
) -> LoginResult:
    path = config.official_auth_path()
    if params.get("error"):
        raise _callback_error(params)
    returned = params.get("client_id")
    if registration is None:
        client_id = _single(params, "client_id")
        if client_id is None or client_id == DYNAMIC_CLIENT_ID or not _CLIENT_ID.match(client_id):
            raise LoginFailed(f"ChatGPT did not complete app registration; {_AGAIN}.")
        with store_lock(path, timeout=60.0):  # persist at once: a retry must not re-register
            registration = write_official(
                {
                    "issuer": disco.issuer,
                    "api_base": config.api_base_url(),
                    "client_id": client_id,
                    "subject": None,
                    "email": None,
                    "ext_agent_host_id": host_id,
                    "registered_at": iso_now(),
                    "notice_shown_at": (saved.data.get("notice_shown_at") if saved else None),
                    "plan_usage": None,
                    "tokens": None,
                },
                path,
            )
    elif returned is not None and (len(returned) != 1 or returned[0] != registration.client_id):
        raise LoginFailed(f"ChatGPT answered with an unexpected client id; {_AGAIN}.")
    client_id = registration.client_id or ""
    code = _single(params, "code")
    if not code:
        raise LoginFailed(f"ChatGPT sent no sign-in code; {_AGAIN}.")

    outcome = post_token(
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": code,
            "code_verifier": attempt.pkce.verifier,
            "redirect_uri": redirect_uri,
            "resource": RESOURCE,
        }
    )
    if outcome.kind != "ok" or outcome.answer is None:
        raise _exchange_error(outcome.code, outcome.status, outcome.kind)
    received = time.time()
    answer = _checked_tokens(outcome.answer)
    claims = verify(
        answer["id_token"],
        jwks_uri=disco.jwks_uri,
        issuer=disco.issuer,
        client_id=client_id,
        nonce=attempt.nonce,
    )
    if registration.subject and claims["sub"] != registration.subject:
        raise LoginFailed(
            "This sign-in returned a different ChatGPT account than the one llm-codex is "
            "registered with; nothing was changed."
        )
    plan_usage = PLAN_SCOPE in answer["scope"].split()
    email = claims.get("email") if isinstance(claims.get("email"), str) else registration.email
    with store_lock(path, timeout=60.0):
        current = read_official(path) or registration
        show_notice = plan_usage and not current.notice_shown
        notice = iso_now() if show_notice else current.data.get("notice_shown_at")
        login = write_official(
            current.with_changes(
                issuer=disco.issuer,
                api_base=config.api_base_url(),
                client_id=client_id,
                subject=claims["sub"],
                email=email,
                ext_agent_host_id=host_id,
                plan_usage=plan_usage,
                notice_shown_at=notice,
                tokens=tokens_record(answer, now=received),
            ),
            path,
        )
    return LoginResult(login=login, email=email, plan_usage=plan_usage, show_notice=show_notice)


# --- logout ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogoutResult:
    """``signed_in``: there were tokens to remove; ``revoked``: the issuer confirmed it."""

    signed_in: bool
    revoked: bool = False


def official_logout() -> LogoutResult:
    """Revoke the refresh token, then delete the tokens (keeping the registration) (§8.7)."""
    path = config.official_auth_path()
    login = read_official(path)
    if login is None or login.tokens is None:
        return LogoutResult(signed_in=False)
    revoked = False
    if login.refresh_token and login.client_id and login.issuer == config.auth_base_url():
        try:
            disco = discover()
        except LoginFailed:
            disco = None
        if disco is not None and disco.revocation_endpoint:
            revoked = revoke(
                disco.revocation_endpoint,
                refresh_token=login.refresh_token,
                client_id=login.client_id,
            )
    with store_lock(path, timeout=60.0):
        current = read_official(path) or login
        write_official(current.with_changes(tokens=None), path)
    return LogoutResult(signed_in=True, revoked=revoked)
