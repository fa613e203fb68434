"""The fake official route: a "Sign in with ChatGPT" issuer and the public API on one server.

``FakeSiwc().start()`` listens on ``127.0.0.1``; ``url`` is the issuer (``LLM_CODEX_AUTH_URL``)
and ``api_url`` (``url + "/v1"``) the API (``LLM_CODEX_API_URL``). ``issuer``
(:class:`~llm_codex.testing.siwc_issuer.SiwcIssuer`) and ``api``
(:class:`~llm_codex.testing.siwc_api.SiwcApi`) hold the state tests script and inspect.

Given ``fallback`` (a fake Codex backend's request handler), every other path is handed to it,
so one URL is the issuer of both routes, as ``LLM_CODEX_AUTH_URL`` is in production.

:func:`write_official_login` writes a signed-in ``official.json`` (and ``host-id.json``) in the
documented shape (siwc.md §9.4), for fixtures; :func:`browser_consent` plays the user's browser
for a printed authorize URL.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llm_codex.testing._http import HTTPRequest, HTTPServer, Reply
from llm_codex.testing._util import json_reply, parse_body
from llm_codex.testing.siwc_api import SiwcApi
from llm_codex.testing.siwc_issuer import SiwcIssuer

__all__ = ["FakeSiwc", "browser_consent", "write_official_login"]


class FakeSiwc:
    """The issuer and API of the official route (see the module doc)."""

    def __init__(
        self, *, port: int = 0, fallback: Callable[[HTTPRequest], Reply] | None = None
    ) -> None:
        self._port = port
        self._fallback = fallback
        self._server: HTTPServer | None = None
        self.issuer = SiwcIssuer()
        self.api = SiwcApi(self.issuer)
        self.url = ""
        self.api_url = ""

    def start(self) -> FakeSiwc:
        self._server = HTTPServer(self._app, port=self._port)
        self.url = f"http://127.0.0.1:{self._server.port}"
        self.api_url = self.url + "/v1"
        self.issuer.url = self.url
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeSiwc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _app(self, http: HTTPRequest) -> Reply:
        path = http.path.rstrip("/") or "/"
        route = (http.method, path)
        body = parse_body(http.headers, http.body)
        if route == ("GET", "/.well-known/openid-configuration"):
            return json_reply(200, self.issuer.discovery())
        if route == ("GET", "/.well-known/jwks.json"):
            return json_reply(200, self.issuer.jwks())
        if route == ("GET", "/api/accounts/authorize"):
            status, where = self.issuer.authorize(dict(http.query))
            if status == 302:
                return Reply(302, [("Location", str(where)), ("Content-Length", "0")])
            return json_reply(status, where)
        if route == ("POST", "/api/accounts/oauth/token"):
            form = body if isinstance(body, dict) else {}
            status, answer = self.issuer.token(
                {str(k): str(v) for k, v in form.items()},
                content_type=http.headers.get("content-type", ""),
                authorization=http.headers.get("authorization"),
            )
            return json_reply(status, answer)
        if route == ("POST", "/api/accounts/oauth/revoke"):
            form = body if isinstance(body, dict) else {}
            self.issuer.revoke({str(k): str(v) for k, v in form.items()})
            return Reply(200, [("Content-Length", "0")])
        if route == ("GET", "/v1/models"):
            status, answer = self.api.list_models(http.headers)
            return json_reply(status, answer)
        if route == ("POST", "/v1/responses"):
            status, answer = self.api.respond(http.headers, body)
            if status != 200 or isinstance(answer, dict):
                return json_reply(status, answer)
            ctype = self.api.stream_content_type
            return Reply(200, [("Content-Type", ctype)] if ctype else [], stream=answer)
        if self._fallback is not None:
            return self._fallback(http)
        return json_reply(404, {"detail": "Not Found"})


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_private(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def write_official_login(
    state_dir: str | os.PathLike[str],
    fake: FakeSiwc,
    *,
    plan: bool = True,
    notice_shown: bool = True,
    expires_at: float | None = None,
    earliest_refresh_at: float | str | None = "issued",
) -> dict[str, Any]:
    """Write a signed-in ``official.json`` (and ``host-id.json``) into ``state_dir`` (the
    ``llm-codex`` folder); returns the token answer it holds, with ``client_id``/``sub``."""
    state = Path(state_dir)
    issued = fake.issuer.issue(plan=plan)
    now = time.time()
    host_path = state / "host-id.json"
    if host_path.exists():
        host_id = json.loads(host_path.read_text())["ext_agent_host_id"]
    else:
        host_id = f"urn:uuid:{uuid.uuid4()}"
        _write_private(host_path, {"ext_agent_host_id": host_id, "created_at": _iso(now)})
    if earliest_refresh_at == "issued":
        earliest = issued.get("earliest_refresh_at")
    else:
        earliest = earliest_refresh_at
    doc = {
        "version": 1,
        "issuer": fake.url,
        "api_base": fake.api_url,
        "client_id": issued["client_id"],
        "subject": issued["sub"],
        "email": issued["email"],
        "ext_agent_host_id": host_id,
        "registered_at": _iso(now),
        "notice_shown_at": _iso(now) if notice_shown else None,
        "plan_usage": plan,
        "tokens": {
            "id_token": issued["id_token"],
            "access_token": issued["access_token"],
            "refresh_token": issued["refresh_token"],
            "token_type": "Bearer",
            "expires_in": issued["expires_in"],
            "expires_at": expires_at if expires_at is not None else now + issued["expires_in"],
            "earliest_refresh_at": earliest,
            "scopes": sorted(issued["scope"].split()),
            "saved_at": _iso(now),
            "last_refresh": _iso(now),
            "needs_sign_in": False,
            "possibly_spent": False,
        },
    }
    _write_private(state / "official.json", doc)
    return issued


def browser_consent(authorize_url: str, *, follow: bool = True) -> str:
    """Play the browser: open ``authorize_url`` and return the callback URL it redirects to;
    with ``follow``, also load that callback (as a browser would). Raises on a refusal."""
    import httpx2

    with httpx2.Client(follow_redirects=False, timeout=10.0) as http:
        answer = http.get(authorize_url)
        if answer.status_code != 302:
            raise AssertionError(f"authorize refused: {answer.status_code} {answer.text}")
        callback = answer.headers["location"]
        if follow:
            http.get(callback)
    return callback
