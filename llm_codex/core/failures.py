"""What a failure means: every HTTP, transport and stream failure mapped to one error class.

The one place that knows the backend's error shapes (protocol §7). Pure functions shared by the
sync and async clients and the stream assembler:

- :func:`map_http_error` turns a status, headers and body into one
  :mod:`~llm_codex.core.errors` exception, reading both the ``{"detail": …}`` and the
  ``{"error": {…}}`` body shapes;
- :func:`map_failure` does the same for the error object of a ``response.failed`` event, and
  :func:`stream_error` for an ``error`` event in the stream;
- :func:`transport_error` names an httpx2 failure (no answer, a timeout, a broken stream);
- :func:`not_json` is the error for a JSON resource whose body is not JSON.

Whether an attempt may be repeated is :mod:`~llm_codex.core.retry`'s business, not this one's.
Error messages are one sentence; they never contain a token.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx2

from llm_codex.core.errors import (
    APIError,
    AuthenticationRequired,
    BadRequest,
    CloudflareBlocked,
    CodexError,
    ConnectionFailed,
    ContextWindowExceeded,
    Forbidden,
    IdleTimeout,
    ModelNotSupported,
    NotAnEventStream,
    NotFound,
    QuotaExceeded,
    RateLimited,
    ResponseFailed,
    ServerError,
    ServerOverloaded,
    StreamClosedEarly,
    StreamError,
    UsageLimitReached,
)
from llm_codex.core.ratelimits import parse_headers
from llm_codex.core.types import CodexResult

__all__ = [
    "idle_error",
    "map_failure",
    "map_http_error",
    "name_url",
    "not_an_event_stream",
    "not_json",
    "parse_retry_after",
    "refuse_web_page",
    "request_ids",
    "stream_error",
    "transport_error",
]

#: Longest body excerpt quoted in an error message.
_MAX_DETAIL = 500

#: Error codes that mean the plan has no Codex usage or its quota is spent.
_QUOTA_CODES = frozenset({"usage_not_included", "insufficient_quota"})
#: Error codes that mean the backend is overloaded (never retried).
_OVERLOADED_CODES = frozenset({"server_is_overloaded", "slow_down"})
_SIGN_IN_AGAIN = "sign in again with 'llm codex login'"


class _Stream(Protocol):
    """What :func:`transport_error` needs of a stream whose headers arrived."""

    def partial(self, status: str = ...) -> CodexResult: ...

    def eof_error(self) -> StreamClosedEarly: ...


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def request_ids(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``(request_id, cf_ray)`` from response headers, for support output."""
    request_id = headers.get("x-request-id") or headers.get("x-oai-request-id")
    return request_id, headers.get("cf-ray")


# -- body parsing -------------------------------------------------------------------------------


def _parse_body(body: bytes | str | None) -> tuple[Any, str]:
    """``(json or None, text)`` of an error body."""
    if body is None:
        return None, ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        return json.loads(text), text
    except ValueError:
        return None, text


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _error_fields(data: Any, text: str) -> tuple[str | None, str | None, dict[str, Any]]:
    """``(code, detail, error_object)`` from any of the body shapes (protocol §3.2, §7).

    The error object is ``error`` when it is an object, else a ``detail`` object, else the
    body itself when it carries ``code``/``type``/``message`` at the top level. The code is the
    object's ``code``, else its ``type``, else an ``error`` string that looks like a code. The
    detail is the message (``message``, a ``detail`` string, an ``error`` string), else the
    error object as JSON, else the body text.
    """
    if not isinstance(data, dict):
        if _looks_html(text):  # an error page: its title, never the markup
            return None, _html_title(text), {}
        return None, (_short(text) if text.strip() else None), {}
    err = data.get("error")
    detail_value = data.get("detail")
    obj: dict[str, Any]
    if isinstance(err, dict):
        obj = err
    elif isinstance(detail_value, dict):
        obj = detail_value
    elif any(k in data for k in ("code", "type", "message")):
        obj = data
    else:
        obj = {}
    code: Any = obj.get("code") or obj.get("type") or data.get("code")
    if not isinstance(code, (str, int)) or isinstance(code, bool) or code == "error":
        code = None
    if code is None and isinstance(err, str) and err.strip() and " " not in err.strip():
        code = err.strip()
    message: Any = obj.get("message")
    if not message and isinstance(detail_value, str):
        message = detail_value
    if not message and isinstance(err, str) and err.strip():
        message = err
    if not message and isinstance(data.get("message"), str):
        message = data["message"]
    if not message and isinstance(data.get("error_description"), str):
        message = data["error_description"]
    if not message:
        if obj:
            message = obj
        elif detail_value is not None:
            message = detail_value
        elif data:
            message = data
    return (
        (str(code) if code is not None else None),
        (_stringify(message) if message else None),
        obj,
    )


def _stringify(value: Any) -> str:
    if isinstance(value, str):
        return _short(value)
    return _short(json.dumps(value, ensure_ascii=False))


def _looks_html(text: str) -> bool:
    """Whether a body is an HTML page (a challenge page sent without an HTML content type)."""
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html")) or "<html" in head


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def _html_title(text: str) -> str | None:
    """The ``<title>`` of an HTML error page as plain text (no markup), or None."""
    match = _TITLE.search(text[:20000])
    if match is None:
        return None
    title = html.unescape(_TAG.sub("", match.group(1)))
    title = " ".join(title.replace("<", " ").replace(">", " ").replace("{", " ").split())
    return _short(title) if title else None


def _header_number(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric string, else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _reset_from_headers(headers: Mapping[str, str]) -> float | None:
    """The reset time of the exhausted window from ``x-<family>-*-reset-at`` headers.

    The family is ``x-codex-active-limit`` (default ``codex``); of its windows, the one with
    the highest used percentage wins (the later reset on a tie).
    """
    family = (headers.get("x-codex-active-limit") or "codex").strip().lower().replace("_", "-")
    best: tuple[float, float] | None = None
    for window in ("primary", "secondary"):
        prefix = f"x-{family}-{window}-"
        reset = _header_float(headers, prefix + "reset-at")
        if reset is None:
            after = _header_float(headers, prefix + "reset-after-seconds")
            reset = time.time() + after if after is not None else None
        if reset is None:
            continue
        used = _header_float(headers, prefix + "used-percent") or 0.0
        if best is None or (used, reset) > best:
            best = (used, reset)
    return best[1] if best else None


def _decode_error_json_header(value: str | None) -> dict[str, Any]:
    """The base64 JSON of an ``x-error-json`` header (403 answers), or {}."""
    if not value:
        return {}
    try:
        padded = value + "=" * (-len(value) % 4)
        data = json.loads(base64.b64decode(padded, altchars=b"-_" if "-" in value else None))
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


# -- the mapping --------------------------------------------------------------------------------


def map_http_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | None,
    *,
    now: float | None = None,
) -> CodexError:
    """The exception for an HTTP error answer (protocol §3.2, §7, §8.3).

    400/422 → :class:`BadRequest` with the backend's ``detail`` verbatim (``ModelNotSupported``
    for "model is not supported"); 401 → :class:`AuthenticationRequired`; 403 →
    :class:`CloudflareBlocked` for an HTML challenge, else :class:`Forbidden`; 404 →
    :class:`NotFound`; 429 → :class:`UsageLimitReached`, :class:`QuotaExceeded` or
    :class:`RateLimited`; 503 overloaded → :class:`ServerOverloaded`; other 5xx →
    :class:`ServerError`; anything else → :class:`APIError`.
    """
    data, text = _parse_body(body)
    code, detail, err = _error_fields(data, text)
    request_id, cf_ray = request_ids(headers)
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "detail": detail,
        "body": data if data is not None else (_short(text) if text else None),
        "request_id": request_id,
        "cf_ray": cf_ray,
        "retry_after": retry_after,
    }
    shown = detail or f"HTTP {status}"
    suffix = f": {detail}" if detail else "."
    content_type = (headers.get("content-type") or "").lower()

    if status in (400, 422):
        lowered = shown.lower()
        if "model is not supported" in lowered or (
            "model" in lowered and "not supported" in lowered
        ):
            return ModelNotSupported(f"The backend rejected the model: {shown}", **common)
        return BadRequest(f"The backend rejected the request: {shown}", **common)
    if status == 401:
        return AuthenticationRequired(
            f"ChatGPT rejected the login (HTTP 401); {_SIGN_IN_AGAIN}.",
            status=status,
            request_id=request_id,
            cf_ray=cf_ray,
        )
    if status == 403:
        challenge = (headers.get("cf-mitigated") or "").lower() == "challenge"
        if challenge or "text/html" in content_type or (data is None and _looks_html(text)):
            common.pop("status")
            common["body"] = None  # an HTML page is noise in an error
            common["detail"] = None
            return CloudflareBlocked(**common)
        extra = _decode_error_json_header(headers.get("x-error-json"))
        inner = extra.get("error") if isinstance(extra.get("error"), dict) else extra
        if not code and inner.get("code"):
            common["code"] = str(inner["code"])
        reason = (
            detail
            or inner.get("message")
            or headers.get("x-openai-authorization-error")
            or common["code"]
            or "no reason given"
        )
        return Forbidden(
            f"The backend refused the request (HTTP 403): {_stringify(reason)}", **common
        )
    if status == 404:
        return NotFound(f"The backend answered 404 Not Found{suffix}", **common)
    if status == 429:
        kind = code or ""
        quota = kind in _QUOTA_CODES or err.get("type") in _QUOTA_CODES
        if (
            kind == "usage_limit_reached"
            or err.get("type") == "usage_limit_reached"
            or err.get("code") == "usage_limit_reached"
            or (
                not quota
                and (
                    headers.get("x-codex-active-limit")
                    or headers.get("x-codex-rate-limit-reached-type")
                )
            )
        ):
            resets_at = _header_number(err.get("resets_at"))
            if resets_at is None:
                after = _header_number(err.get("resets_in_seconds"))
                if after is not None:
                    resets_at = (time.time() if now is None else now) + after
                else:
                    resets_at = _reset_from_headers(headers)
            plan = err.get("plan_type") if isinstance(err.get("plan_type"), str) else None
            plan = plan or headers.get("x-codex-plan-type")
            common.pop("code")
            limit = UsageLimitReached(plan_type=plan, resets_at=resets_at, now=now, **common)
            limit.rate_limits = parse_headers(headers)
            return limit
        if quota:
            return QuotaExceeded(
                "Your ChatGPT plan does not include Codex usage, or its quota is spent "
                f"(HTTP 429: {shown}).",
                **common,
            )
        wait = f"; the backend asks to wait {retry_after:.0f} s" if retry_after else ""
        return RateLimited(f"Too many requests to the Codex backend{wait} ({shown}).", **common)
    if status >= 500:
        lowered = (code or "") + " " + (detail or "")
        if status == 503 and any(c in lowered for c in _OVERLOADED_CODES):
            return ServerOverloaded(
                "The Codex backend is overloaded; try again in a few minutes.", **common
            )
        return ServerError(f"The Codex backend failed (HTTP {status}){suffix}", **common)
    if 300 <= status < 400:
        where = headers.get("location")
        target = f" to {_short(where)}" if where else ""
        return APIError(
            f"The Codex backend answered HTTP {status}, a redirect{target}; check "
            "LLM_CODEX_BASE_URL.",
            **common,
        )
    return APIError(f"The Codex backend answered HTTP {status}{suffix}", **common)


# -- stream failures ------------------------------------------------------------------------------


_TRY_AGAIN = re.compile(r"try again in\s+(\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)


def _try_again_in(message: str) -> float | None:
    """Seconds from a "try again in 1.5s" / "try again in 28ms" hint, else None."""
    match = _TRY_AGAIN.search(message or "")
    if match is None:
        return None
    value = float(match.group(1))
    return value / 1000.0 if match.group(2).lower() == "ms" else value


def _resets_at(err: dict[str, Any]) -> float | None:
    """Unix seconds of the reset: ``resets_at``, else now + ``resets_in_seconds``."""
    at = _header_number(err.get("resets_at"))
    if at is not None:
        return at
    after = _header_number(err.get("resets_in_seconds"))
    return time.time() + after if after is not None else None


def map_failure(error: Any, *, partial: CodexResult | None = None) -> CodexError:
    """The exception for a ``response.failed`` error object (protocol §8.3).

    ``context_length_exceeded`` → :class:`ContextWindowExceeded`; an error carrying
    ``plan_type``/``resets_at`` (or code ``usage_limit_reached``) → :class:`UsageLimitReached`;
    ``insufficient_quota``/``usage_not_included`` → :class:`QuotaExceeded`;
    ``server_is_overloaded``/``slow_down`` → :class:`ServerOverloaded`; anything else →
    :class:`ResponseFailed`. ``partial`` is attached to every one of them.
    """
    err = error if isinstance(error, dict) else {}
    code = err.get("code") or err.get("type")
    code = str(code) if code is not None else None
    message = str(err.get("message") or "").strip()
    exc: CodexError
    if code == "context_length_exceeded":
        exc = ContextWindowExceeded(
            "The conversation is longer than this model's context window; "
            "start a new conversation or shorten the input.",
            code=code,
            partial=partial,
        )
    elif (
        err.get("plan_type") is not None
        or err.get("resets_at") is not None
        or err.get("resets_in_seconds") is not None
        or code == "usage_limit_reached"
    ):
        exc = UsageLimitReached(
            plan_type=err.get("plan_type") if isinstance(err.get("plan_type"), str) else None,
            resets_at=_resets_at(err),
            body=error,
        )
    elif code in _QUOTA_CODES:
        exc = QuotaExceeded(
            "Your ChatGPT plan does not include Codex usage, or its quota is spent"
            + (f": {message}" if message else "."),
            code=code,
            body=error,
        )
    elif code in _OVERLOADED_CODES:
        exc = ServerOverloaded(
            "The Codex backend is overloaded; try again in a few minutes.", code=code, body=error
        )
    else:
        label = f" ({code})" if code else ""
        text = f": {message}" if message else "."
        exc = ResponseFailed(f"The backend failed the response{label}{text}", code=code)
        if code == "rate_limit_exceeded":
            # "Please try again in 1.5s" / "in 28ms": retried once after that (protocol §8.2).
            exc.retry_after = _try_again_in(message)  # type: ignore[attr-defined]
    if getattr(exc, "body", None) is None:
        exc.body = error  # type: ignore[attr-defined]
    exc.partial = partial  # type: ignore[attr-defined]
    return exc


def stream_error(event: dict[str, Any], *, partial: CodexResult | None = None) -> CodexError:
    """The exception for an ``error`` event, whatever its shape (protocol §6.2).

    Seen: ``{"type":"error","code","message"}``, ``{"type":"error","error":{…}}`` (with a
    ``status`` on WebSocket-style events) and ``{"type":"error","error":"text"}``. Codes
    with a specific meaning (usage limit, context window, quota, overload) map like a
    ``response.failed``; anything else is a :class:`StreamError` quoting the message.
    ``partial`` (the result so far) is attached to every one of them.
    """
    inner = event.get("error")
    if isinstance(inner, dict):
        err = dict(inner)
        if not err.get("message") and isinstance(event.get("message"), str):
            err["message"] = event["message"]
    elif isinstance(inner, str) and inner.strip():
        err = {k: v for k, v in event.items() if k != "error"}
        err.setdefault("message", inner)
    else:
        err = event
    code = err.get("code") or err.get("type")
    if code == "error" or not isinstance(code, (str, int)):
        code = None
    message = str(err.get("message") or "").strip()
    if (
        code in ("context_length_exceeded", "usage_limit_reached")
        or code in _QUOTA_CODES
        or code in _OVERLOADED_CODES
        or err.get("resets_at") is not None
        or err.get("resets_in_seconds") is not None
        or err.get("plan_type") is not None
    ):
        return map_failure(err, partial=partial)
    label = f" ({code})" if code else ""
    text = f": {message}" if message else "."
    exc = StreamError(f"The backend reported an error{label}{text}", partial=partial)
    exc.code = str(code) if code is not None else None  # type: ignore[attr-defined]
    exc.body = err  # type: ignore[attr-defined]
    return exc


# -- transport failures ---------------------------------------------------------------------------


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def transport_error(
    exc: Exception, *, url: str, idle_timeout: float, asm: _Stream | None
) -> CodexError:
    """Our error for an httpx2 failure; ``asm`` is set once response headers arrived."""
    if isinstance(exc, httpx2.ReadTimeout):
        return idle_error(idle_timeout, asm)
    if isinstance(exc, httpx2.DecodingError):
        return StreamError(
            f"The answer of the Codex backend at {url} could not be decoded (its declared "
            "content encoding does not match its body); check LLM_CODEX_BASE_URL or the proxy "
            "in between.",
            partial=asm.partial("incomplete") if asm is not None else None,
        )
    if asm is not None:
        err = asm.eof_error()
        return err
    if isinstance(exc, httpx2.TimeoutException):
        why = "timed out"
    else:
        why = type(exc).__name__
        detail = str(exc).strip()
        if detail:
            why = f"{why}: {detail}"
    return ConnectionFailed(f"Could not reach the Codex backend at {_host(url)} ({why}).")


def name_url(error: CodexError, url: str) -> CodexError:
    """``error`` with the URL named where it is the likely culprit: a 404 (of any route)."""
    generic = error.message.startswith("The backend answered 404 Not Found")
    if isinstance(error, NotFound) and generic and url not in error.message:
        detail = f": {error.detail}" if getattr(error, "detail", None) else "."
        error.message = f"The backend answered 404 Not Found for {url}{detail}"
        error.args = (error.message,)
    return error


def idle_error(idle_timeout: float, asm: _Stream | None) -> IdleTimeout:
    """No stream *event* for ``idle_timeout`` seconds (keep-alive comments do not count)."""
    partial = asm.partial("incomplete") if asm is not None else None
    return IdleTimeout(
        f"The Codex backend sent no event for {idle_timeout:g} s; gave up waiting.",
        partial=partial,
    )


def _web_page(url: str, body: bytes = b"") -> NotAnEventStream:
    title = _html_title(body[:20000].decode("utf-8", "replace")) if body else None
    named = f' ("{title[:80]}")' if title else ""
    return NotAnEventStream(
        f"The backend at {url} answered with a web page{named}, not an event stream; check "
        "LLM_CODEX_BASE_URL, or whether a proxy or captive portal is in the way.",
        status=200,
    )


def refuse_web_page(headers: Mapping[str, str], url: str) -> None:
    """A 2xx declared as HTML is a web page (a portal, a proxy, a wrong URL), not a stream."""
    if "html" in (headers.get("content-type") or "").lower():
        raise _web_page(url)


def not_an_event_stream(
    url: str, headers: Mapping[str, str], head: bytes
) -> NotAnEventStream | None:
    """What a 2xx body that ended without a single event was, when it was not a stream:
    a web page, or another content type; ``None`` for an (empty) event stream."""
    start = head.lstrip()[:200].lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<html" in start:
        return _web_page(url, head)
    kind = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if head.strip() and kind != "text/event-stream":
        return NotAnEventStream(
            f"The backend at {url} answered HTTP 200 with {kind or 'no content type'}, not an "
            "event stream; check LLM_CODEX_BASE_URL.",
            status=200,
        )
    return None


def not_json(status: int, headers: Mapping[str, str]) -> APIError:
    request_id, cf_ray = request_ids(headers)
    return APIError(
        f"The Codex backend answered HTTP {status} with a body that is not JSON.",
        status=status,
        request_id=request_id,
        cf_ray=cf_ray,
    )
