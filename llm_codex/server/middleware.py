"""The layers every request passes before a route: access log, Host check, CORS, API key.

Outermost first (:func:`middleware_stack` builds the list in this order):

- :class:`AccessLog` — one line per request on the ``llm_codex.server.access`` logger; routes
  add the model and the token usage through :func:`access_record`. What the client chose
  (path, model) is escaped and cut, so it can neither forge lines nor make huge ones.
- :class:`HostCheck` — DNS-rebinding defence: only loopback names, the bound address and
  ``--allow-host`` names (any IP literal when bound to a wildcard address); 403 otherwise.
- Starlette's ``CORSMiddleware`` — only when ``--cors-origin`` was given.
- :class:`ApiKeyCheck` — ``Authorization: Bearer <key>`` or ``x-api-key`` (constant-time) on
  every request but ``GET /health`` and ``/``, when the server has a key; 401 otherwise.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_codex.server.common import DROPPED_HEADER
from llm_codex.server.errors import ErrorInfo, error_response
from llm_codex.server.validation import printable

if TYPE_CHECKING:
    from llm_codex.server.settings import ServerSettings

__all__ = [
    "LOOPBACK_NAMES",
    "AccessLog",
    "ApiKeyCheck",
    "HostCheck",
    "access_record",
    "host_allowed",
    "is_loopback_host",
    "middleware_stack",
]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind

access_logger = logging.getLogger("llm_codex.server.access")
_RECORD_KEY = "llm_codex.log"


def middleware_stack(settings: ServerSettings) -> list[Middleware]:
    """The middleware for ``settings``, outermost first."""
    stack = [Middleware(AccessLog), Middleware(HostCheck, settings=settings)]
    if settings.cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["*"],
                expose_headers=[DROPPED_HEADER, "Retry-After"],
                max_age=600,
            )
        )
    if settings.api_key:
        stack.append(Middleware(ApiKeyCheck, api_key=settings.api_key))
    return stack


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value
    return None


# --- access log ----------------------------------------------------------------------------------


def access_record(scope: Scope) -> dict[str, Any]:
    """The access-log record of this request; routes set ``model`` and ``usage`` in it."""
    return scope.get(_RECORD_KEY) or {}


class AccessLog:
    """Outermost layer: logs one line per request, when its answer is finished."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        record: dict[str, Any] = {"status": 500, "ttfb": None, "model": None, "usage": None}
        scope[_RECORD_KEY] = record

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
            elif message["type"] == "http.response.body" and record["ttfb"] is None:
                if message.get("body") or not message.get("more_body", False):
                    record["ttfb"] = time.perf_counter() - start
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            _log_access(scope, record, time.perf_counter() - start)


_ACCESS_LINE = '%s "%s %s" %s model=%s ttfb=%s dur=%.3fs tokens=%s'


def _log_access(scope: Scope, record: dict[str, Any], duration: float) -> None:
    """The request's line on :data:`access_logger`, when that logger takes INFO records.

    The record goes through the logger's own filters and handlers (``Logger.handle``), but
    is made without ``Logger.info``'s search of the stack for the caller: its place is
    always this function's, set from constants."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    who = f"{client[0]}:{client[1]}" if client else "-"
    ttfb = record.get("ttfb")
    usage = record.get("usage")
    tokens = f"{usage.input_tokens}+{usage.output_tokens}" if usage is not None else "-"
    args = (
        who,
        printable(scope.get("method", "-"), 16),
        printable(scope.get("path", "-"), 200),
        record.get("status"),
        printable(record.get("model") or "-", 80),
        f"{ttfb:.3f}s" if ttfb is not None else "-",
        duration,
        tokens,
    )
    path, line, name = _CALLER
    access_logger.handle(
        access_logger.makeRecord(
            access_logger.name, logging.INFO, path, line, _ACCESS_LINE, args, None, name
        )
    )


#: Where the access log's records say they come from.
_CALLER = (__file__, _log_access.__code__.co_firstlineno, _log_access.__name__)


# --- Host check ----------------------------------------------------------------------------------


def _strip_brackets(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    host = _strip_brackets(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_header_name(value: str) -> str:
    """The host part of a ``Host`` header (port removed, IPv6 brackets removed, lower case)."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(header: str | None, settings: ServerSettings) -> bool:
    """Whether a request's ``Host`` header names this server (DNS-rebinding defence).

    Allowed: loopback names, the bound address, ``allowed_hosts``; when bound to a wildcard
    address (which needs an API key), any IP literal too: a rebinding attack needs a DNS name.
    """
    if not header:
        return False
    name = _host_header_name(header)
    if name in LOOPBACK_NAMES or is_loopback_host(name):
        return True
    bound = _strip_brackets(settings.host)
    if name == bound:
        return True
    if name in {_strip_brackets(h) for h in settings.allowed_hosts}:
        return True
    return bound in _WILDCARDS and _is_ip(name)


class HostCheck:
    """Refuses requests whose ``Host`` header does not name this server (403).

    The verdict for each ``Host`` value is remembered (it depends only on the value and the
    settings): a client sends the same one on every request, and parsing it as an IP address
    each time was a good part of this layer's cost. At most :attr:`REMEMBERED` values are
    kept; a client sending ever new ones only makes the memory start over.
    """

    REMEMBERED = 64

    def __init__(self, app: ASGIApp, *, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings
        self._verdicts: dict[bytes | None, bool] = {}

    def allowed(self, host: bytes | None) -> bool:
        """:func:`host_allowed` for a raw ``Host`` header value, remembered."""
        verdict = self._verdicts.get(host)
        if verdict is None:
            verdict = host_allowed(host.decode("latin-1") if host else None, self.settings)
            if len(self._verdicts) >= self.REMEMBERED:
                self._verdicts.clear()
            self._verdicts[host] = verdict
        return verdict

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if not self.allowed(_header(scope, b"host")):
                info = ErrorInfo(
                    403,
                    "This server only answers requests addressed to localhost or its own "
                    "address (Host header refused; use --allow-host to add a name).",
                    "invalid_request_error",
                    "host_not_allowed",
                )
                await error_response(info)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --- API key -------------------------------------------------------------------------------------


class ApiKeyCheck:
    """Requires the key on every request except ``GET /health`` and ``/`` (an empty probe).

    The key comes as ``Authorization: Bearer <key>`` or, as Anthropic clients send it,
    ``x-api-key: <key>``.
    """

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") not in ("/health", "/"):
            given = b""
            for name, value in scope.get("headers") or []:
                if name == b"authorization":
                    scheme, _, token = value.partition(b" ")
                    if scheme.lower() == b"bearer":
                        given = token.strip()
                    break
                if name == b"x-api-key":
                    given = value.strip()
                    break
            if not hmac.compare_digest(given, self.key):
                info = ErrorInfo(
                    401,
                    "Missing or wrong API key: send 'Authorization: Bearer <key>' with the key "
                    "this server was started with (--api-key or LLM_CODEX_SERVER_KEY).",
                    "authentication_error",
                    "invalid_api_key",
                )
                await error_response(info, {"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.app(scope, receive, send)
