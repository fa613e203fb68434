"""The official route: "Sign in with ChatGPT" plan usage on the public Responses API (siwc.md).

Same client, same SSE decoder, same stream assembler as the Codex route; this module supplies
what differs (:class:`PlanRoute`):

- **where**: ``POST {LLM_CODEX_API_URL}/responses`` and ``GET {api}/models`` (§3);
- **body** (§11.2–§11.4), from an allow-list of its own: always ``model``, an ``input`` array,
  ``store: false``, ``stream: true``; only when asked for: ``instructions`` (the system prompt),
  ``tools`` (llm's function tools inside one ``llm`` namespace tool; ``web_search`` as is),
  ``reasoning`` and ``text.format``. Never ``include``, ``prompt_cache_key``, ``tool_choice``,
  ``parallel_tool_calls``, ``service_tier``, ``text.verbosity``, sampling or length fields.
  Replayed items lose their ``id``; ``reasoning`` items are not replayed (§11.6);
- **headers** (§11.1): ``Authorization``, ``Content-Type``, ``Accept``, our ``User-Agent``.
  No ``originator``, no account id, no session headers;
- **errors** (§14): a 200 with a JSON body is an error; every documented code becomes one
  sentence; no plan-usage error and no 429 is ever retried (§11.7); only a 502/503/504 without
  a code and a connection that was refused get one more try (clients use ``max_attempts=2``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from llm_codex import config
from llm_codex.core.errors import (
    APIError,
    AuthenticationRequired,
    BadRequest,
    CodexError,
    ConnectionFailed,
    IdleTimeout,
    IncompleteResponse,
    PlanUsageError,
    PlanUsageLimitReached,
    ResponseFailed,
    ServerError,
    StreamClosedEarly,
    StreamError,
)
from llm_codex.core.failures import request_ids
from llm_codex.core.identity import user_agent
from llm_codex.core.request import encode_body, reasoning_of
from llm_codex.core.types import CodexRequest, Credentials

__all__ = [
    "MANAGE_USAGE_URL",
    "PLAN_BODY_KEYS",
    "PLAN_ROUTE",
    "SIGN_IN_OFFICIAL",
    "TOOL_NAMESPACE",
    "PlanRoute",
    "build_plan_body",
    "plan_error",
]

#: Where a user manages their plan's usage per app (named by every usage-limit error).
MANAGE_USAGE_URL = "https://chatgpt.com/settings/usage"
SIGN_IN_OFFICIAL = "run `llm codex login --official`"
#: The one namespace llm's function tools are sent in (siwc.md §11.5).
TOOL_NAMESPACE = "llm"
#: Every key :func:`build_plan_body` may produce.
PLAN_BODY_KEYS = frozenset(
    {"model", "input", "store", "stream", "instructions", "tools", "reasoning", "text"}
)
_NO_RETRY_STATUSES = frozenset({502, 503, 504})

#: siwc.md §14.2: documented codes → the sentence shown (``{param}`` is filled in).
CODE_MESSAGES: dict[str, str] = {
    "subscription_sharing_usage_limit_exceeded": (
        "ChatGPT plan usage limit reached (your plan's or llm-codex's own limit); manage it at "
        f"{MANAGE_USAGE_URL}."
    ),
    "subscription_sharing_usage_unavailable": (
        "ChatGPT plan usage could not be checked right now; try again later."
    ),
    "subscription_sharing_user_not_eligible": (
        "This ChatGPT account or workspace can't use its plan in other apps (not eligible)."
    ),
    "subscription_sharing_unsupported_capability": (
        "Not supported with ChatGPT plan usage: {param}."
    ),
    "subscription_sharing_route_not_supported": (
        "This endpoint is not available with ChatGPT plan usage."
    ),
    "subscription_sharing_invalid_user": (
        f"Your ChatGPT account could not be validated; {SIGN_IN_OFFICIAL}."
    ),
    "chatpass_v2_scope_not_authorized": (
        f"This sign-in does not allow ChatGPT plan usage; {SIGN_IN_OFFICIAL} and allow it."
    ),
    "chatpass_v2_invalid_authorization_context": (
        f"The ChatGPT plan permission is not valid for this request; {SIGN_IN_OFFICIAL}."
    ),
    "subscription_sharing_user_unavailable": (
        "Your ChatGPT account information is temporarily unavailable; try again later."
    ),
}
NOT_ACCEPTED = f"Your ChatGPT plan sign-in was not accepted; {SIGN_IN_OFFICIAL}."


# --- the body ----------------------------------------------------------------------------------


def _plan_input(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input items for this route: no ``id``, no ``reasoning`` items, ``system`` → ``developer``."""
    out: list[dict[str, Any]] = []
    for item in items:
        if item.get("type") == "reasoning":
            continue
        copy = {k: v for k, v in item.items() if k != "id"}
        if copy.get("role") == "system":
            copy["role"] = "developer"
        out.append(copy)
    return out


def _plan_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Function tools inside one ``llm`` namespace tool (siwc.md §11.5); hosted ones as given."""
    functions = [dict(t) for t in tools if t.get("type") == "function"]
    others = [dict(t) for t in tools if t.get("type") != "function"]
    if not functions:
        return others
    namespace = {
        "type": "namespace",
        "name": TOOL_NAMESPACE,
        "description": "Tools from the user's llm session",
        "tools": functions,
    }
    return [namespace, *others]


def build_plan_body(req: CodexRequest) -> dict[str, Any]:
    """The JSON body of ``POST {api}/responses`` for ``req`` (see the module doc)."""
    body: dict[str, Any] = {
        "model": req.model,
        "input": _plan_input(req.input),
        "store": False,
        "stream": True,
    }
    if req.instructions and req.instructions.strip():
        body["instructions"] = req.instructions
    tools = _plan_tools(req.tools)
    if tools:
        body["tools"] = tools
    reasoning = reasoning_of(req)
    if reasoning:
        body["reasoning"] = reasoning
    if req.text_format is not None:
        body["text"] = {"format": req.text_format}
    return body


# --- errors ------------------------------------------------------------------------------------


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fields(body: bytes | str | None) -> tuple[Any, str | None, str | None, str | None]:
    """``(json, code, message, param)`` of ``{"error": {…}}`` or ``{"detail": …}`` bodies."""
    if body is None:
        return None, None, None, None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return None, None, (_short(text) if text.strip() else None), None
    if not isinstance(data, dict):
        return data, None, None, None
    err = data.get("error")
    detail = data.get("detail")
    obj: dict[str, Any] = {}
    if isinstance(err, dict):
        obj = err
    elif isinstance(detail, dict):
        obj = detail
    code = obj.get("code") or obj.get("error_code") or data.get("code")
    if not isinstance(code, str) and isinstance(err, str) and " " not in err.strip():
        code = err.strip() or None
    message = obj.get("message") or obj.get("detail")
    if not message and isinstance(detail, str):
        message = detail
    if not message and isinstance(err, str):
        message = data.get("error_description") or err
    param = obj.get("param")
    return (
        data,
        code if isinstance(code, str) and code else None,
        _short(str(message)) if message else None,
        param if isinstance(param, str) and param else None,
    )


def plan_error(
    code: str | None,
    *,
    message: str | None = None,
    param: str | None = None,
    status: int | None = None,
    **kwargs: Any,
) -> PlanUsageError | None:
    """The error for a documented code (§14.2), or ``None`` when ``code`` is not one."""
    if code not in CODE_MESSAGES:
        return None
    text = CODE_MESSAGES[code].format(param=param or message or "this request")
    cls = (
        PlanUsageLimitReached
        if code == "subscription_sharing_usage_limit_exceeded"
        else PlanUsageError
    )
    return cls(text, code=code, param=param, detail=message, status=status, **kwargs)


def map_plan_http_error(
    status: int, headers: Mapping[str, str], body: bytes | str | None
) -> CodexError:
    """The exception for an HTTP error answer of the public API (siwc.md §14.1, §14.2)."""
    data, code, message, param = _fields(body)
    request_id, cf_ray = request_ids(headers)
    common: dict[str, Any] = {"request_id": request_id, "cf_ray": cf_ray}
    known = plan_error(code, message=message, param=param, status=status, body=data, **common)
    if known is not None:
        return known
    if 300 <= status < 400:
        return APIError(
            "Unexpected redirect from the API; not following it with your token.",
            status=status,
            **common,
        )
    if status == 401:
        return AuthenticationRequired(NOT_ACCEPTED, status=status, **common)
    if status == 403:
        return PlanUsageError(
            f"ChatGPT plan usage was refused by policy ({message or code or 'no reason given'}).",
            status=status,
            code=code,
            detail=message,
            body=data,
            **common,
        )
    if status in _NO_RETRY_STATUSES:
        return ServerError(
            "ChatGPT plan usage is temporarily unavailable; try again later.",
            status=status,
            code=code,
            detail=message,
            body=data,
            **common,
        )
    if status == 400 and message and not code:
        return BadRequest(
            f"The request was rejected: {message.rstrip('.')}.",
            status=status,
            detail=message,
            body=data,
            **common,
        )
    label = f"{status} {code}" if code else str(status)
    text = f": {message.rstrip('.')}." if message else "."
    return PlanUsageError(
        f"ChatGPT plan request failed ({label}){text}",
        status=status,
        code=code,
        detail=message,
        body=data,
        **common,
    )


class PlanRoute:
    """The official route (see the module doc). Build clients with ``max_attempts=2``."""

    name = "official"

    def base_url(self) -> str:
        return config.api_base_url()

    def encode(self, req: CodexRequest) -> tuple[bytes, str]:
        return encode_body(build_plan_body(req)), ""

    def _auth(self, creds: Credentials) -> dict[str, str]:
        return {"Authorization": f"Bearer {creds.access_token}", "User-Agent": user_agent()}

    def headers(
        self,
        creds: Credentials,
        *,
        session_id: str,
        turn_state: str | None,
        responses_lite: bool = False,
    ) -> dict[str, str]:
        """The §11.1 headers; the Codex backend's lite header has no meaning here."""
        headers = self._auth(creds)
        headers["Content-Type"] = "application/json"
        headers["Accept"] = "text/event-stream"
        return headers

    def get_headers(self, creds: Credentials) -> dict[str, str]:
        headers = self._auth(creds)
        headers["Accept"] = "application/json"
        return headers

    def http_error(
        self, status: int, headers: Mapping[str, str], body: bytes | str | None
    ) -> CodexError:
        return map_plan_http_error(status, headers, body)

    def error_answer(self, headers: Mapping[str, str]) -> bool:
        """A 200 is read as SSE whatever its Content-Type (it may be missing), unless it is
        ``application/json``: then it is an error body (siwc.md §12.6)."""
        return (headers.get("content-type") or "").lower().startswith("application/json")

    def may_retry(self, error: CodexError) -> bool:
        """One more try only for a 502/503/504 without a code and a refused connection."""
        if isinstance(error, ServerError):
            return error.status in _NO_RETRY_STATUSES and not error.code
        if isinstance(error, ConnectionFailed):
            return "ConnectError" in error.message
        return False

    def final_error(self, error: CodexError) -> CodexError:
        """Stream failures in this route's words; documented codes mid-stream through §14.2."""
        partial = getattr(error, "partial", None)
        code = getattr(error, "code", None)
        if isinstance(error, (ResponseFailed, StreamError)) and code in CODE_MESSAGES:
            raw = getattr(error, "body", None)
            param = raw.get("param") if isinstance(raw, dict) else None
            mapped = plan_error(code, message=error.message, param=param)
            if mapped is not None:
                mapped.partial = partial  # type: ignore[attr-defined]
                mapped.request_id = error.request_id
                return mapped
        if isinstance(error, IdleTimeout):
            seconds = _idle_seconds()
            return _reworded(
                error, f"No data from the ChatGPT plan API for {seconds:g} s; giving up."
            )
        if isinstance(error, StreamClosedEarly):
            return _reworded(error, "The response was interrupted before it finished.")
        if isinstance(error, IncompleteResponse):
            reason = error.reason or "unknown"
            return _reworded(error, f"The response is incomplete ({reason}).")
        if isinstance(error, ConnectionFailed):
            host = urlsplit(config.api_base_url()).netloc
            why = error.message.rsplit("(", 1)[-1].rstrip(").") if "(" in error.message else ""
            return _reworded(
                error,
                f"Could not reach the ChatGPT plan API at {host}" + (f" ({why})." if why else "."),
            )
        if "Codex backend" in error.message or error.message.startswith("The backend"):
            text = error.message.replace("The Codex backend", "The ChatGPT plan API")
            text = text.replace("the Codex backend", "the ChatGPT plan API")
            text = text.replace("The backend", "The ChatGPT plan API", 1)
            return _reworded(error, text)
        return error


def _idle_seconds() -> float:
    from llm_codex.core.client import _env_idle_timeout

    return _env_idle_timeout()


def _reworded(error: CodexError, message: str) -> CodexError:
    error.message = message
    error.args = (message,)
    return error


#: The one instance every official-route client uses.
PLAN_ROUTE = PlanRoute()
