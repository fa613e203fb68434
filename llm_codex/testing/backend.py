"""A faithful in-process fake of the Codex backend and of the auth issuer, for tests.

One :class:`FakeCodexBackend` is one HTTP server on ``127.0.0.1`` (random port) that speaks the
protocol described in ``docs/protocol.md``. It imports nothing from
``llm_codex.core`` or ``llm_codex.auth``, so a client bug cannot hide behind the same bug in the
fake. Start-up takes about a millisecond; ``stop()`` cuts open connections, wakes sleeping
handlers and joins every server thread.

Start / stop::

    with FakeCodexBackend() as fake:      # or fake.start() ... fake.stop()
        fake.url        # "http://127.0.0.1:<port>"  -> LLM_CODEX_AUTH_URL
        fake.base_url   # fake.url + "/backend-api/codex" -> LLM_CODEX_BASE_URL
        tokens = fake.issue_tokens(account_id="acct-test", email="user@example.com",
                                   plan_type="plus", access_ttl=3600, refresh_ttl=None)
        # -> {"id_token", "access_token", "refresh_token", "account_id", "expires_in"}

(The pytest fixtures ``codex_backend``, ``codex_login`` and ``codex_cli_login`` wrap this; see
:mod:`llm_codex.testing.pytest_plugin`.)

Endpoints
---------
``POST /backend-api/codex/responses``  an SSE turn (validated by :mod:`.validation`)
``GET  /backend-api/codex/models?client_version=X.Y.Z``  :attr:`models`, filtered by
       ``minimal_client_version`` (no version counts as 0.0.0), ``ETag`` = :attr:`models_etag`,
       ``If-None-Match`` → 304
``GET  /backend-api/wham/usage`` (and ``/api/codex/usage``)  :attr:`usage_payload`
``GET  /oauth/authorize``, ``POST /oauth/token``, ``POST /oauth/revoke``, device-code endpoints
       ``POST /api/accounts/deviceauth/usercode`` and ``/token``: see :mod:`.oauth`

Every request is recorded: :attr:`requests` is a list of :class:`RecordedRequest` (``method``,
``path``, ``query`` dict, lower-cased ``headers``, ``body`` parsed from JSON or form, plus the
``status`` answered and the ``request_id`` sent back); :meth:`requests_to` filters by path
suffix (and method); :meth:`clear_requests`. The fake is thread-safe.

Authentication on backend paths
-------------------------------
Only access tokens this fake issued and that are not expired are accepted; otherwise 401:
unknown or missing → ``{"detail":"Unauthorized"}``; expired → OpenAI-style error, code
``token_expired``; revoked family → ``token_invalidated``. A missing ``chatgpt-account-id``
header is accepted and only recorded (:attr:`requests_without_account_id`).

``/responses`` answers
----------------------
Every answer carries ``x-request-id``, ``cf-ray`` and the ``x-codex-*`` rate-limit headers of
protocol §9 (:meth:`set_rate_limit_headers` overrides them, :attr:`rate_limit_headers` shows them);
only the Cloudflare page has none. Streams also carry ``x-models-etag``, ``openai-model`` and,
when :attr:`turn_state` is set, ``x-codex-turn-state``.

Processing order for one request: (1) a Cloudflare scenario at the head of the queue answers
first (Cloudflare sits in front of everything), (2) authentication, (3) a server-error scenario
at the head, (4) validation (400/404 bodies of protocol §3.2; :attr:`require_instructions` switches
the instructions check), (5) the next queued scenario, else the default reply. So a queued
scenario is not spent by a request that fails authentication or validation.

Default reply: a reasoning item when ``reasoning`` is an object (summary paragraphs only when
``reasoning.summary`` is set and not ``"none"``; ``encrypted_content`` only when ``include`` has
``"reasoning.encrypted_content"``), then an assistant message (``phase: "final_answer"``)
``"Hello from the fake Codex backend. You said: <last user input_text>"`` in ~5-character
deltas (a minimal schema-valid JSON document instead when ``text.format`` is ``json_schema``),
then ``response.completed`` with ``output: []`` and usage.

Usage: ``input_tokens`` ≈ characters/4 of instructions + tools + input; ``cached_tokens`` > 0
when an earlier request with the same ``prompt_cache_key`` shared the prefix (instructions and
tools, then leading input items); without a key nothing is cached. ``reasoning_tokens`` > 0
when a reasoning item was produced; ``total_tokens`` = input + output.

Encrypted reasoning: each ``encrypted_content`` is minted and remembered; replayed reasoning
items (without ``id``) are accepted when it is one of the fake's (:attr:`replayed_reasoning`:
per accepted request, the response ids whose reasoning came back; :meth:`decode_encrypted`),
and answered 400 ``invalid_encrypted_content`` otherwise. A reasoning item replayed *with* its
``rs_…`` id gets the 404 of protocol §3.2.

Scenario API (a FIFO queue; each accepted ``POST /responses`` consumes one)
---------------------------------------------------------------------------
With nothing queued, a prompt word in the last user message (``fake-tool``, ``fake-tools``,
``fake-search``, ``fake-image``, ``fake-limit``, ``fake-cloudflare``, ``fake-drop``,
``fake-slow``; :mod:`llm_codex.testing.prompt_words`) picks a scenario, so the CLI can show
every behaviour; ``prompt_words = False`` turns this off.

``enqueue_text(text, *, reasoning_summary=None, chunks=None, phase="final_answer")``
    ``chunks``: an explicit list of deltas or a delta size; ``reasoning_summary``: str or list
``enqueue_tool_call(name, arguments="{}", *, call_id=None, also_text=None, namespace=None)``
    ``also_text``: a ``commentary`` message before the call
``enqueue_tool_calls([(name, arguments_json), ...], *, also_text=None)``  parallel calls
``enqueue_usage_limit(*, plan_type="plus", resets_in=3600, body_has_reset=True,
    window="primary")``  429 ``usage_limit_reached`` (protocol §7) + exhausted ``x-codex-*``
    headers incl. ``reset-at`` and ``x-codex-active-limit``
``enqueue_cloudflare()``  403 ``text/html`` "Just a moment...", ``cf-mitigated: challenge``
``enqueue_server_error(status=500, *, times=1, retry_after=None, body=None)``  the next
    ``times`` requests fail (503 carries ``server_is_overloaded``), then the queue moves on
``enqueue_http_error(status, body, *, headers=None)``  any other error answer
``enqueue_drop(after_deltas=3, *, text=None, clean=False)``  the stream stops after N text
    deltas without a terminal event: the TCP connection is cut mid-body (``clean=True``: the
    HTTP body ends properly instead)
``enqueue_failed(code="context_length_exceeded", message=None, **error_fields)``
    ``response.failed``; extra fields (e.g. ``plan_type``, ``resets_at``) go into ``error``
``enqueue_stream_error(code="server_error", message=..., **extra)``  a bare ``error`` event
``enqueue_incomplete(reason="max_output_tokens", *, text=...)``  ``response.incomplete``
``enqueue_slow(text=..., delay=0.5)``  a pause before the first event and between events
``enqueue_long(n_deltas=20000, delta="x")``  generated from a template: fast
``enqueue_web_search(query=..., text=..., sources=[{"url", "title"}])``  ``web_search_call``
    then a message with ``url_citation`` annotations; needs a ``{"type":"web_search"}`` tool in
    the request (otherwise the text comes without a search)
``enqueue_image_generation(png_bytes=None, revised_prompt=..., *, text=None)``
    ``image_generation_call`` with base64 PNG ``result``; needs an ``image_generation`` tool
``pending_scenarios``, ``clear_scenarios()``

Function calls are produced whether or not the request declared the tool (it is model output);
hosted tools run only when declared (they execute on the server).

Other knobs: :attr:`require_instructions` (True), :attr:`allowed_fields`, :attr:`models`
(default catalog: :mod:`.catalog`), :attr:`usage_payload`, :attr:`turn_state`,
:attr:`sse_style` (a dict: write streams like another conformant server — no ``event:`` lines,
CRLF, spaced/shuffled JSON, extra or dropped fields, multi-line data, comments, tiny chunks,
``completed_output="full"``, dropped event types, bytes after the terminal event; see
:mod:`.sse_style`).

Auth controls (see :mod:`.oauth` for the endpoints)
---------------------------------------------------
``issue_tokens(*, account_id, email, plan_type, access_ttl, refresh_ttl, user_id)``
``access_token_ttl`` (3600 s) / ``refresh_token_ttl`` (None = never): tokens from /oauth/token
``refresh_count``  successful refresh grants
``refresh_omit_fields``  e.g. ``{"id_token"}``, left out of refresh answers (all optional)
``token_delay``  seconds the /oauth/token answer is held *after* the grant was processed (the
    old refresh token is already spent), so a test can kill a client mid-refresh
``enqueue_token_error(status=500, *, times=1, body=None, retry_after=None)``  nothing spent
``expire_access_token(token=None)``  401 token_expired (None: every token so far)
``invalidate_access_token(token)``  401 token_invalidated; the family's refresh tokens revoked
``expire_refresh_tokens(token=None)``  refresh_token_expired
``revoke_tokens(token)``, ``revoked_tokens`` (posted to /oauth/revoke), ``revoke_status`` (200)
``refresh_token_state(token)``  "fresh" | "used" | "revoked" | "expired" | "unknown"
``set_login_identity(*, account_id, email, plan_type, user_id)`` / ``login_identity``  whom
    browser and device logins sign in as
``authorize_error``  e.g. "access_denied" → redirect with missing_codex_entitlement
``allowed_redirect_ports``  None = any loopback port
``device_auth_enabled`` (False → 404), ``device_interval`` ("5", a string as on the wire;
    tests usually set "0"), ``device_pending_polls`` (2), ``device_pending_status`` (403; 404
    also means pending), ``device_outcome`` ("approve" | "deny"), ``device_usercode_field``
    ("user_code" or "usercode"), ``device_pending_code`` (the error code of pending answers,
    e.g. "slow_down" or "authorization_pending"); an int ``device_interval`` is sent as an int
``token_answer_format`` ("json" | "form": form-encoded successful /oauth/token answers)
``token_answer_extra``  fields merged into successful /oauth/token answers
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from llm_codex.testing import catalog as _catalog
from llm_codex.testing._http import HTTPRequest, HTTPServer, Reply
from llm_codex.testing._util import json_reply, parse_body, tiny_png
from llm_codex.testing.oauth import CLIENT_ID, OAuthEndpoints
from llm_codex.testing.planner import Scenario, TurnPlanner
from llm_codex.testing.prompt_words import scenario_from_prompt
from llm_codex.testing.sse_style import restyle
from llm_codex.testing.streams import render
from llm_codex.testing.tokens import TokenAuthority
from llm_codex.testing.usage import (
    default_rate_limit_headers,
    default_usage_payload,
    usage_limit_headers,
)
from llm_codex.testing.validation import ALLOWED_FIELDS, LITE_HEADER, validate

__all__ = ["CLIENT_ID", "FakeCodexBackend", "RecordedRequest", "tiny_png"]

BACKEND_PREFIX = "/backend-api/codex"

_CLOUDFLARE_HTML = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body>
<div class="main-wrapper" role="main"><div class="main-content">
<h1>chatgpt.com</h1><h2>Verify you are human by completing the action below.</h2>
<noscript>Enable JavaScript and cookies to continue</noscript></div></div>
</body></html>"""


@dataclass
class RecordedRequest:
    """One request as the fake saw it. ``headers`` keys are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any] | str | None
    status: int | None = None
    request_id: str | None = None
    raw_body: bytes = field(default=b"", repr=False)

    @property
    def json(self) -> dict[str, Any]:
        """The body as a dict (fails loudly if it was not a JSON/form object)."""
        assert isinstance(self.body, dict), f"body is not an object: {self.body!r}"
        return self.body


class FakeCodexBackend(OAuthEndpoints):
    """The fake Codex backend + auth issuer. See the module docstring for the full API."""

    def __init__(self, *, port: int = 0, require_instructions: bool = True) -> None:
        self._port = port
        self._server: HTTPServer | None = None
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._queue: deque[Scenario] = deque()
        self._planner = TurnPlanner()
        self.url = ""
        self.base_url = ""
        now = time.time()
        self.require_instructions = require_instructions
        #: Prompt words (``fake-limit``, ``fake-tool`` ...) act when nothing is queued
        #: (:mod:`llm_codex.testing.prompt_words`); set False to answer them as plain text.
        self.prompt_words = True
        self.allowed_fields = ALLOWED_FIELDS
        self.models: list[dict[str, Any]] = _catalog.default_models()
        self.usage_payload: dict[str, Any] = default_usage_payload(now=now)
        self._rate_limit_headers: dict[str, str] = default_rate_limit_headers(now=now)
        self.replayed_reasoning: list[list[str]] = []
        self.turn_state: str | None = None
        #: re-format every streamed turn like another conformant server (see :mod:`.sse_style`)
        self.sse_style: dict[str, Any] | None = None
        self._init_oauth()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeCodexBackend:
        """Bind 127.0.0.1 (random port unless one was given) and serve in background threads.

        After :meth:`stop`, ``start()`` serves again on the same port with the same tokens,
        queue and recordings, so a test can simulate the backend going away and coming back.
        """
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = HTTPServer(self._app, port=self._port)
        self._port = self._server.port  # a restart after stop() comes back on the same port
        self.url = f"http://127.0.0.1:{self._server.port}"
        self.base_url = self.url + BACKEND_PREFIX
        if self._tokens is None:  # tokens survive a restart, like a real outage
            self._tokens = TokenAuthority(issuer=self.url, client_id=CLIENT_ID)
        return self

    def stop(self) -> None:
        """Stop serving: open connections are cut, sleeping handlers woken, threads joined."""
        server, self._server = self._server, None
        self._stopping.set()
        if server is not None:
            server.stop()

    def __enter__(self) -> FakeCodexBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (0 before :meth:`start`)."""
        return self._server.port if self._server else 0

    @property
    def connections_accepted(self) -> int:
        """TCP connections the fake has accepted since it started (for connection-reuse tests)."""
        return self._server.accepted if self._server else 0

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if the fake is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()

    # --- recording ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every recorded request, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, suffix: str, *, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path ends with ``suffix`` (and with ``method``, if given)."""
        return [
            r
            for r in self.requests
            if r.path.endswith(suffix) and (method is None or r.method == method.upper())
        ]

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    @property
    def requests_without_account_id(self) -> list[RecordedRequest]:
        """Backend requests that came without a ``chatgpt-account-id`` header."""
        return [
            r
            for r in self.requests
            if r.path.startswith("/backend-api") and "chatgpt-account-id" not in r.headers
        ]

    # --- rate limits ----------------------------------------------------------------------------

    def set_rate_limit_headers(
        self, headers: dict[str, str | float | int | bool | None], *, replace: bool = False
    ) -> None:
        """Override the ``x-codex-*`` headers of every ``/responses`` answer.

        Merges into the current set (a ``None`` value removes a header) unless ``replace``.
        Booleans are sent as ``True``/``False`` like the real server.
        """
        with self._lock:
            current = {} if replace else dict(self._rate_limit_headers)
            for name, value in headers.items():
                key = name.lower()
                if value is None:
                    current.pop(key, None)
                elif isinstance(value, bool):
                    current[key] = "True" if value else "False"
                else:
                    current[key] = str(value)
            self._rate_limit_headers = current

    @property
    def rate_limit_headers(self) -> dict[str, str]:
        """The ``x-codex-*`` headers currently sent."""
        with self._lock:
            return dict(self._rate_limit_headers)

    # --- scenarios ------------------------------------------------------------------------------

    def _enqueue(self, kind: str, **params: Any) -> None:
        with self._lock:
            self._queue.append(Scenario(kind, params))

    @property
    def pending_scenarios(self) -> int:
        """How many queued scenarios are not consumed yet."""
        with self._lock:
            return len(self._queue)

    def clear_scenarios(self) -> None:
        """Drop all queued scenarios."""
        with self._lock:
            self._queue.clear()

    def enqueue_text(
        self,
        text: str,
        *,
        reasoning_summary: str | list[str] | None = None,
        chunks: int | list[str] | None = None,
        phase: str = "final_answer",
    ) -> None:
        """Next turn answers ``text`` (deltas: ``chunks`` list, or pieces of ``chunks`` chars).

        ``reasoning_summary`` (a string, or a list of paragraphs) replaces the default summary
        when the request asked for summaries.
        """
        self._enqueue("text", text=text, summary=reasoning_summary, chunks=chunks, phase=phase)

    def enqueue_tool_call(
        self,
        name: str,
        arguments: str = "{}",
        *,
        call_id: str | None = None,
        also_text: str | None = None,
        namespace: str | None = None,
    ) -> None:
        """Next turn calls the function ``name`` (``also_text``: a commentary message first).

        ``namespace``: ``None`` gives the call the namespace the request offered ``name`` in
        (none for a tool outside any namespace); ``""`` sends the call without one; any other
        value is sent as is. A later request that replays the call without the namespace it
        carried is refused ("Missing namespace ...").
        """
        self._enqueue(
            "tools",
            calls=[(name, arguments, call_id, namespace)],
            also_text=also_text,
        )

    def enqueue_tool_calls(
        self, calls: list[tuple[str, str]], *, also_text: str | None = None
    ) -> None:
        """Next turn makes several function calls at once (parallel tool calls)."""
        self._enqueue(
            "tools",
            calls=[(name, args, None, None) for name, args in calls],
            also_text=also_text,
        )

    def enqueue_usage_limit(
        self,
        *,
        plan_type: str = "plus",
        resets_in: int = 3600,
        body_has_reset: bool = True,
        window: str = "primary",
    ) -> None:
        """Next turn answers 429 ``usage_limit_reached`` (protocol §7) with exhausted headers."""
        self._enqueue(
            "usage_limit",
            plan_type=plan_type,
            resets_in=resets_in,
            body_has_reset=body_has_reset,
            window=window,
        )

    def enqueue_cloudflare(self) -> None:
        """Next ``/responses`` request gets Cloudflare's 403 HTML challenge page."""
        self._enqueue("cloudflare")

    def enqueue_server_error(
        self,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: float | None = None,
        body: dict[str, Any] | str | None = None,
    ) -> None:
        """The next ``times`` requests answer ``status`` (then the queue moves on)."""
        self._enqueue(
            "server_error", status=status, times=times, retry_after=retry_after, body=body
        )

    def enqueue_drop(
        self, after_deltas: int = 3, *, text: str | None = None, clean: bool = False
    ) -> None:
        """Next stream stops after ``after_deltas`` text deltas, without a terminal event."""
        self._enqueue("drop", after_deltas=after_deltas, text=text, clean=clean)

    def enqueue_failed(
        self, code: str = "context_length_exceeded", message: str | None = None, **error: Any
    ) -> None:
        """Next stream ends with ``response.failed`` carrying ``error.code`` (+ extra fields)."""
        if message is None:
            message = {
                "context_length_exceeded": "Your input exceeds the context window of this model. "
                "Please adjust your input and try again.",
                "server_is_overloaded": "Our servers are currently overloaded. Please try again "
                "later.",
                "rate_limit_exceeded": "Rate limit reached. Please try again in 1.5s.",
            }.get(code, f"The response failed ({code}).")
        self._enqueue("failed", code=code, message=message, extra=error)

    def enqueue_incomplete(
        self,
        reason: str = "max_output_tokens",
        *,
        text: str = "This answer was cut off because",
    ) -> None:
        """Next stream ends with ``response.incomplete`` after some text."""
        self._enqueue("incomplete", reason=reason, text=text)

    def enqueue_slow(self, text: str = "Slow and steady.", delay: float = 0.5) -> None:
        """Next stream waits ``delay`` seconds before the first event and between events."""
        self._enqueue("slow", text=text, delay=delay)

    def enqueue_long(self, n_deltas: int = 20000, delta: str = "x") -> None:
        """Next stream has ``n_deltas`` identical text deltas (generated cheaply)."""
        self._enqueue("long", n_deltas=n_deltas, delta=delta)

    def enqueue_web_search(
        self,
        query: str = "latest news",
        text: str = "Here is what I found.",
        sources: list[dict[str, str]] | None = None,
    ) -> None:
        """Next turn runs the hosted web search, then answers with url_citation annotations."""
        if sources is None:
            sources = [{"url": "https://example.com/news", "title": "Example News"}]
        self._enqueue("web_search", query=query, text=text, sources=sources)

    def enqueue_image_generation(
        self,
        png_bytes: bytes | None = None,
        revised_prompt: str = "A pelican riding a bicycle",
        *,
        text: str | None = None,
    ) -> None:
        """Next turn runs the hosted image generation (``result`` = base64 of ``png_bytes``)."""
        self._enqueue(
            "image", png=png_bytes or tiny_png(4, 4), revised_prompt=revised_prompt, text=text
        )

    def enqueue_stream_error(
        self, code: str = "server_error", message: str = "An error occurred.", **extra: Any
    ) -> None:
        """Next stream ends with a bare ``error`` event (``{"type":"error","code",...}``)."""
        self._enqueue("stream_error", code=code, message=message, extra=extra)

    def enqueue_http_error(
        self,
        status: int,
        body: dict[str, Any] | str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Next accepted turn answers ``status`` with ``body`` (JSON, or text when a string).

        For error shapes without a dedicated method: 429 ``usage_not_included``, a plain 429
        with ``Retry-After``, a JSON 403 with ``x-error-json``, a disguised 404, ...
        """
        self._enqueue("http_error", status=status, body=body, headers=dict(headers or {}))

    @property
    def models_etag(self) -> str:
        """The catalog's ETag (also sent as ``x-models-etag`` on ``/responses`` answers)."""
        payload = json.dumps(self.models, sort_keys=True).encode()
        return '"' + hashlib.sha256(payload).hexdigest()[:20] + '"'

    # --- HTTP dispatch --------------------------------------------------------------------------

    def _app(self, http: HTTPRequest) -> Reply:
        record = RecordedRequest(
            method=http.method,
            path=http.path,
            query=http.query,
            headers=http.headers,
            body=parse_body(http.headers, http.body),
            raw_body=http.body,
        )
        with self._lock:
            self._requests.append(record)
        reply = self._route(http, record)
        record.status = reply.status
        return reply

    def _route(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        routes = {
            ("POST", BACKEND_PREFIX + "/responses"): self._responses,
            ("GET", BACKEND_PREFIX + "/models"): self._models,
            ("GET", "/backend-api/wham/usage"): self._usage,
            ("GET", "/api/codex/usage"): self._usage,
            ("GET", "/oauth/authorize"): self._authorize,
            ("POST", "/oauth/token"): self._token,
            ("POST", "/oauth/revoke"): self._revoke,
            ("POST", "/api/accounts/deviceauth/usercode"): self._device_usercode,
            ("POST", "/api/accounts/deviceauth/token"): self._device_token,
            ("GET", "/.well-known/openid-configuration"): self._discovery,
            ("GET", "/codex/device"): self._html_stub,
            ("GET", "/deviceauth/callback"): self._html_stub,
        }
        path = http.path.rstrip("/") or "/"
        handler = routes.get((http.method, path))
        if handler is None:
            if any(p == path for _, p in routes):
                return json_reply(405, {"detail": "Method Not Allowed"})
            return json_reply(404, {"detail": "Not Found"})
        return handler(http, record)

    def _check_auth(self, http: HTTPRequest) -> Reply | None:
        verdict = self.tokens.check_access(http.headers.get("authorization"))
        if verdict.ok:
            return None
        return json_reply(verdict.status, verdict.body)

    # --- /responses -----------------------------------------------------------------------------

    def decode_encrypted(self, encrypted_content: str) -> str | None:
        """The response id an ``encrypted_content`` came from, or ``None`` if not the fake's."""
        return self._planner.decode_encrypted(encrypted_content)

    def _response_headers(self, record: RecordedRequest, extra: dict[str, str] | None = None):
        request_id = str(uuid.uuid4())
        record.request_id = request_id
        with self._lock:
            limits = dict(self._rate_limit_headers)
        limits.update(extra or {})
        headers = [("x-request-id", request_id), ("cf-ray", secrets.token_hex(8) + "-OSL")]
        headers.extend(limits.items())
        return headers

    def _pop_head(self, kinds: tuple[str, ...]) -> Scenario | None:
        with self._lock:
            if not self._queue or self._queue[0].kind not in kinds:
                return None
            head = self._queue[0]
            if head.kind == "server_error":
                head.params["times"] -= 1
                if head.params["times"] <= 0:
                    self._queue.popleft()
            else:
                self._queue.popleft()
            return head

    def _responses(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        if self._pop_head(("cloudflare",)) is not None:
            return self._cloudflare()
        denied = self._check_auth(http)
        if denied is not None:
            denied.headers.extend(self._response_headers(record))
            return denied
        failure = self._pop_head(("server_error",))
        if failure is not None:
            return self._server_error(failure.params, record)
        body = record.body
        rejection = validate(
            body,
            models=self.models,
            require_instructions=self.require_instructions,
            known_encrypted=self._planner.known_encrypted,
            allowed_fields=self.allowed_fields,
            lite_header=http.headers.get(LITE_HEADER, "").lower() == "true",
            issued_namespace=self._planner.issued_namespace,
        )
        if rejection is not None:
            return json_reply(rejection.status, rejection.body, self._response_headers(record))
        assert isinstance(body, dict)
        replayed = self._planner.replayed_reasoning(body)
        with self._lock:
            self.replayed_reasoning.append(replayed)
        with self._lock:
            scenario = self._queue.popleft() if self._queue else None
        if scenario is None and self.prompt_words:
            scenario = scenario_from_prompt(body)
        if scenario is not None and scenario.kind == "usage_limit":
            return self._usage_limit(scenario.params, record)
        if scenario is not None and scenario.kind == "http_error":
            params = scenario.params
            extra = [*params["headers"].items(), *self._response_headers(record)]
            if isinstance(params["body"], str):
                content = [("Content-Type", "text/plain; charset=utf-8"), *extra]
                return Reply(params["status"], content, params["body"].encode())
            return json_reply(params["status"], params["body"], extra)
        if scenario is not None and scenario.kind == "cloudflare":  # enqueued meanwhile
            return self._cloudflare()
        if scenario is not None and scenario.kind == "server_error":
            if scenario.params["times"] > 1:
                with self._lock:
                    scenario.params["times"] -= 1
                    self._queue.appendleft(scenario)
            return self._server_error(scenario.params, record)
        plan = self._planner.plan(body, scenario)
        headers = [
            ("Content-Type", "text/event-stream; charset=utf-8"),
            ("Cache-Control", "no-cache"),
            ("openai-model", str(body.get("model"))),
            ("x-reasoning-included", "true"),
            ("x-models-etag", self.models_etag),
            *([("x-codex-turn-state", self.turn_state)] if self.turn_state else []),
            *self._response_headers(record),
        ]
        stream = render(plan)
        style = self.sse_style
        if style:
            stream = restyle(stream, dict(style))
        return Reply(200, headers, stream=stream)

    def _cloudflare(self) -> Reply:
        return Reply(
            403,
            [
                ("Content-Type", "text/html; charset=UTF-8"),
                ("cf-mitigated", "challenge"),
                ("cf-ray", secrets.token_hex(8) + "-OSL"),
                ("Server", "cloudflare"),
                ("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate"),
            ],
            _CLOUDFLARE_HTML.encode(),
        )

    def _server_error(self, params: dict[str, Any], record: RecordedRequest) -> Reply:
        status = params["status"]
        extra = []
        if params.get("retry_after") is not None:
            extra.append(("Retry-After", str(params["retry_after"])))
        body = params.get("body")
        if body is None:
            if status == 503:
                body = {
                    "error": {
                        "message": "Our servers are currently overloaded. Please try again later.",
                        "type": "server_error",
                        "param": None,
                        "code": "server_is_overloaded",
                    }
                }
            else:
                body = {
                    "error": {
                        "message": "An error occurred while processing your request.",
                        "type": "server_error",
                        "param": None,
                        "code": "server_error",
                    }
                }
        headers = [*extra, *self._response_headers(record)]
        if isinstance(body, str):
            return Reply(status, [("Content-Type", "text/plain"), *headers], body.encode())
        return json_reply(status, body, headers)

    def _usage_limit(self, params: dict[str, Any], record: RecordedRequest) -> Reply:
        now = time.time()
        resets_at = int(now + params["resets_in"])
        error: dict[str, Any] = {
            "type": "usage_limit_reached",
            "message": "The usage limit has been reached",
            "plan_type": params["plan_type"],
        }
        if params["body_has_reset"]:
            error["resets_at"] = resets_at
        error["eligible_promo"] = None
        if params["body_has_reset"]:
            error["resets_in_seconds"] = int(params["resets_in"])
        with self._lock:
            base = dict(self._rate_limit_headers)
        base["x-codex-plan-type"] = params["plan_type"]
        limited = usage_limit_headers(base, resets_at=resets_at, now=now, window=params["window"])
        headers = [("x-request-id", str(uuid.uuid4())), ("cf-ray", secrets.token_hex(8) + "-OSL")]
        record.request_id = headers[0][1]
        headers.extend(limited.items())
        return json_reply(429, {"error": error}, headers)

    # --- catalog and usage ----------------------------------------------------------------------

    def _models(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        denied = self._check_auth(http)
        if denied is not None:
            return denied
        version = http.query.get("client_version")
        models = [m for m in self.models if _catalog.visible_for_version(m, version)]
        payload = json.dumps({"models": models}).encode()
        etag = self.models_etag
        if http.headers.get("if-none-match") == etag:
            return Reply(304, [("ETag", etag)])
        return Reply(200, [("Content-Type", "application/json"), ("ETag", etag)], payload)

    def _usage(self, http: HTTPRequest, record: RecordedRequest) -> Reply:
        denied = self._check_auth(http)
        if denied is not None:
            return denied
        return json_reply(200, self.usage_payload)
