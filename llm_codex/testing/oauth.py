"""The fake auth issuer's endpoints and token controls (protocol §A2–§A10), mixed into the fake.

Endpoints: ``GET /oauth/authorize`` (auto-consent redirect with ``code`` and ``state``; PKCE S256
required; ``redirect_uri`` must be ``http://localhost|127.0.0.1:<port>/auth/callback``),
``POST /oauth/token`` (``authorization_code`` with PKCE check and matching ``redirect_uri``;
``refresh_token`` with rotation; form or JSON bodies; the Codex client id only),
``POST /oauth/revoke`` (revokes the token's family, 200 even for unknown tokens),
``POST /api/accounts/deviceauth/usercode`` and ``/api/accounts/deviceauth/token`` (device code:
pending answers for the first polls, then ``authorization_code`` + ``code_verifier`` +
``code_challenge`` for an exchange with ``redirect_uri=<issuer>/deviceauth/callback``), and
``GET /.well-known/openid-configuration``.

:class:`OAuthEndpoints` expects the host class to provide ``tokens`` (a
:class:`~llm_codex.testing.tokens.TokenAuthority`), ``url``, ``_lock``, ``_token_errors``,
``_devices``, ``_wait`` and the knobs set in :meth:`_init_oauth`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from llm_codex.testing._http import HTTPRequest, Reply
from llm_codex.testing._util import json_reply
from llm_codex.testing.tokens import Identity, TokenAuthority, b64url, pkce_challenge

if TYPE_CHECKING:
    from llm_codex.testing.backend import RecordedRequest

__all__ = ["CLIENT_ID", "OAuthEndpoints"]

#: The Codex CLI's public OAuth client id (protocol §A2); the only one the fake accepts.
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"


class OAuthEndpoints:
    """Token controls and the issuer's HTTP handlers (see the module docstring)."""

    url: str
    _lock: threading.RLock

    def _init_oauth(self) -> None:
        self._tokens: TokenAuthority | None = None
        self._token_errors: deque[dict[str, Any]] = deque()
        self._devices: dict[str, dict[str, Any]] = {}
        self.access_token_ttl: float = 3600
        self.refresh_token_ttl: float | None = None
        self.refresh_count = 0
        self.token_delay: float = 0.0
        self.refresh_omit_fields: set[str] = set()
        self.revoke_status = 200
        self.revoked_tokens: list[str] = []
        self.login_identity = Identity()
        self.authorize_error: str | None = None
        self.allowed_redirect_ports: set[int] | None = None
        self.device_auth_enabled = True
        self.device_interval = "5"
        self.device_pending_polls = 2
        self.device_pending_status = 403
        self.device_outcome = "approve"
        self.device_usercode_field = "user_code"
        #: error code of a pending poll answer (``slow_down``, ``authorization_pending`` …)
        self.device_pending_code = "deviceauth_authorization_pending"
        #: "json" (default) or "form": how successful ``/oauth/token`` answers are encoded
        self.token_answer_format = "json"
        #: extra fields merged into successful ``/oauth/token`` answers (e.g. a bad id_token)
        self.token_answer_extra: dict[str, Any] = {}

    def _wait(self, seconds: float) -> bool:  # provided by the host
        raise NotImplementedError

    @property
    def tokens(self) -> TokenAuthority:
        """The token registry (raises before ``start()``)."""
        if self._tokens is None:
            raise RuntimeError("FakeCodexBackend is not started")
        return self._tokens

    # --- tokens ---------------------------------------------------------------------------------

    def issue_tokens(
        self,
        *,
        account_id: str = "acct-test",
        email: str = "user@example.com",
        plan_type: str = "plus",
        access_ttl: float = 3600,
        refresh_ttl: float | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Mint tokens the fake accepts: ``{"id_token","access_token","refresh_token",
        "account_id","expires_in"}``. A negative ``access_ttl`` gives an already expired token."""
        identity = Identity(account_id, email, plan_type, user_id or f"user-{account_id}")
        return self.tokens.issue(identity, access_ttl=access_ttl, refresh_ttl=refresh_ttl)

    def set_login_identity(
        self,
        *,
        account_id: str = "acct-test",
        email: str = "user@example.com",
        plan_type: str = "plus",
        user_id: str | None = None,
    ) -> None:
        """Who the browser and device-code logins sign in as."""
        self.login_identity = Identity(
            account_id, email, plan_type, user_id or f"user-{account_id}"
        )

    def expire_access_token(self, access_token: str | None = None) -> None:
        """From now on the backend answers 401 ``token_expired`` for this token (None: all)."""
        self.tokens.expire_access(access_token)

    def invalidate_access_token(self, access_token: str) -> None:
        """Server-side invalidation: 401 ``token_invalidated``; its refresh tokens are revoked."""
        self.tokens.invalidate_access(access_token)

    def expire_refresh_tokens(self, refresh_token: str | None = None) -> None:
        """One refresh token (or all issued so far) answers ``refresh_token_expired``."""
        self.tokens.expire_refresh(refresh_token)

    def revoke_tokens(self, token: str) -> None:
        """Revoke the family of a token, as ``/oauth/revoke`` would."""
        self.tokens.revoke(token)

    def refresh_token_state(self, refresh_token: str) -> str:
        """The state of a refresh token: fresh, used, revoked, expired or unknown."""
        return self.tokens.refresh_state(refresh_token)

    def enqueue_token_error(
        self,
        status: int = 500,
        *,
        times: int = 1,
        body: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        """The next ``times`` calls to ``/oauth/token`` fail with ``status`` (nothing is spent)."""
        with self._lock:
            self._token_errors.append(
                {"status": status, "times": times, "body": body, "retry_after": retry_after}
            )

    # --- OAuth ----------------------------------------------------------------------------------

    def _redirect_ok(self, redirect_uri: str) -> bool:
        split = urlsplit(redirect_uri)
        if split.scheme != "http" or split.hostname not in ("localhost", "127.0.0.1"):
            return False
        if split.path != "/auth/callback":
            return False
        return self.allowed_redirect_ports is None or split.port in self.allowed_redirect_ports

    def _authorize(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        q = http.query
        redirect_uri = q.get("redirect_uri", "")
        problems = []
        if q.get("client_id") != CLIENT_ID:
            problems.append("unknown client_id")
        if not self._redirect_ok(redirect_uri):
            problems.append("redirect_uri not allowed")
        if problems:
            page = (
                "<html><body><h1>Authorization error</h1>"
                f"<p>{'; '.join(problems)}</p></body></html>"
            )
            return Reply(400, [("Content-Type", "text/html; charset=utf-8")], page.encode())
        params: dict[str, str] = {}
        if q.get("response_type") != "code":
            params = {"error": "unsupported_response_type"}
        elif q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            params = {
                "error": "invalid_request",
                "error_description": "PKCE with code_challenge_method=S256 is required",
            }
        elif self.authorize_error:
            params = {"error": self.authorize_error}
            if self.authorize_error == "access_denied":
                params["error_description"] = "missing_codex_entitlement"
        else:
            params = {
                "code": self.tokens.create_code(
                    self.login_identity,
                    redirect_uri=redirect_uri,
                    code_challenge=q["code_challenge"],
                    scope=q.get("scope", ""),
                )
            }
        if "state" in q:
            params["state"] = q["state"]
        sep = "&" if "?" in redirect_uri else "?"
        return Reply(302, [("Location", redirect_uri + sep + urlencode(params))])

    def _token(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        with self._lock:
            failure = None
            if self._token_errors:
                failure = self._token_errors[0]
                failure["times"] -= 1
                if failure["times"] <= 0:
                    self._token_errors.popleft()
        if failure is not None:
            headers = []
            if failure["retry_after"] is not None:
                headers.append(("Retry-After", str(failure["retry_after"])))
            body = failure["body"] or {
                "error": {
                    "message": "Internal server error",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
            return json_reply(failure["status"], body, headers)
        form = record.body if isinstance(record.body, dict) else {}
        grant = form.get("grant_type")
        if form.get("client_id") != CLIENT_ID:
            status, body = (
                401,
                {
                    "error": {
                        "message": "Invalid client.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_client",
                    }
                },
            )
        elif grant == "authorization_code":
            status, body = self.tokens.exchange_code(
                str(form.get("code", "")),
                redirect_uri=form.get("redirect_uri"),
                code_verifier=form.get("code_verifier"),
                access_ttl=self.access_token_ttl,
                refresh_ttl=self.refresh_token_ttl,
            )
        elif grant == "refresh_token":
            status, body = self.tokens.refresh(
                str(form.get("refresh_token", "")),
                access_ttl=self.access_token_ttl,
                refresh_ttl=self.refresh_token_ttl,
            )
            if status == 200:
                with self._lock:
                    self.refresh_count += 1
                for name in self.refresh_omit_fields:
                    body.pop(name, None)
        else:
            status, body = (
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": f"grant_type {grant!r} is not supported",
                },
            )
        if self.token_delay and self._wait(self.token_delay):
            return Reply(503, [("Connection", "close")])
        if status == 200 and isinstance(body, dict):
            body = {**body, **self.token_answer_extra}
            if self.token_answer_format == "form":
                form_body = urlencode({k: str(v) for k, v in body.items() if v is not None})
                return Reply(
                    200,
                    [
                        ("Content-Type", "application/x-www-form-urlencoded"),
                        ("Cache-Control", "no-store"),
                    ],
                    form_body.encode(),
                )
        return json_reply(status, body, [("Cache-Control", "no-store")])

    def _revoke(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        body = record.body if isinstance(record.body, dict) else {}
        token = body.get("token")
        if self.revoke_status != 200:
            return json_reply(self.revoke_status, {"error": "server_error"})
        if isinstance(token, str) and token:
            with self._lock:
                self.revoked_tokens.append(token)
            self.tokens.revoke(token)
        return json_reply(200, {})

    def _device_usercode(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        body = record.body if isinstance(record.body, dict) else {}
        if not self.device_auth_enabled:
            return json_reply(404, {"detail": "Not Found"})
        if body.get("client_id") != CLIENT_ID:
            return json_reply(
                400, {"error": {"code": "invalid_client", "message": "Invalid client."}}
            )
        device_auth_id = "deviceauth_" + secrets.token_hex(12)
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        code = "".join(secrets.choice(alphabet) for _ in range(8))
        user_code = f"{code[:4]}-{code[4:]}"
        with self._lock:
            self._devices[device_auth_id] = {"user_code": user_code, "polls": 0}
        return json_reply(
            200,
            {
                "device_auth_id": device_auth_id,
                self.device_usercode_field: user_code,
                # a string on the wire (protocol §A8); an int set by a test is sent as an int
                "interval": self.device_interval
                if isinstance(self.device_interval, (int, float))
                else str(self.device_interval),
                "expires_at": int(time.time() + 900),
            },
        )

    def _device_token(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        body = record.body if isinstance(record.body, dict) else {}
        with self._lock:
            device = self._devices.get(str(body.get("device_auth_id")))
            if device is None or device["user_code"] != body.get("user_code"):
                return json_reply(
                    400,
                    {"error": {"code": "invalid_request", "message": "Unknown device code."}},
                )
            device["polls"] += 1
            pending = device["polls"] <= self.device_pending_polls
        if pending:
            return json_reply(
                self.device_pending_status,
                {
                    "error": {
                        "code": self.device_pending_code,
                        "message": "Authorization is pending.",
                    }
                },
            )
        if self.device_outcome != "approve":
            return json_reply(
                400, {"error": {"code": "access_denied", "message": "The user denied the request."}}
            )
        verifier = b64url(secrets.token_bytes(64))
        challenge = pkce_challenge(verifier)
        code = self.tokens.create_code(
            self.login_identity,
            redirect_uri=f"{self.url}/deviceauth/callback",
            code_challenge=challenge,
            scope="openid profile email offline_access",
        )
        return json_reply(
            200,
            {"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier},
        )

    def _discovery(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        return json_reply(
            200,
            {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/oauth/authorize",
                "token_endpoint": f"{self.url}/oauth/token",
                "revocation_endpoint": f"{self.url}/oauth/revoke",
                "code_challenge_methods_supported": ["S256"],
            },
        )

    def _html_stub(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        page = b"<html><body><h1>Fake Codex sign-in</h1><p>Nothing to do here.</p></body></html>"
        return Reply(200, [("Content-Type", "text/html; charset=utf-8")], page)
