"""The client against HTTP answers of a different, spec-conformant backend (protocol §6, §7, §8).

Error bodies of every shape in the protocol §7 table, headers in any case, a stream that keeps the
connection open after ``response.completed``, and the 401 → one refresh → resend rule for
every 401 body shape.
"""

from __future__ import annotations

import json
import threading

import pytest

from llm_codex.core.errors import (
    AuthenticationRequired,
    CloudflareBlocked,
    NotFound,
    QuotaExceeded,
    RateLimited,
    ServerOverloaded,
    UsageLimitReached,
)
from llm_codex.core.failures import map_http_error
from llm_codex.core.types import Completed, Credentials

from .helpers import RawServer, StaticCredentials, drive, sse_events, user_request

NOW = 1_780_000_000.0


def _map(status, body, headers=None):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return map_http_error(status, headers or {}, raw, now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"type": "usage_limit_reached", "resets_in_seconds": 600}},
        {"error": {"code": "usage_limit_reached", "resets_in_seconds": 600}},
        {"type": "usage_limit_reached", "resets_in_seconds": 600},
        {"code": "usage_limit_reached", "resets_in_seconds": "600", "plan_type": "plus"},
        {"detail": {"code": "usage_limit_reached", "resets_in_seconds": 600}},
    ],
)
def test_usage_limit_429_in_any_shape(body) -> None:
    """A 429 usage limit is recognised with only ``resets_in_seconds``, in any body shape."""
    err = _map(429, body)
    assert isinstance(err, UsageLimitReached)
    assert err.resets_at == pytest.approx(NOW + 600)


def test_usage_limit_429_known_from_headers_alone() -> None:
    """A 429 without a usable body but with ``x-codex-active-limit`` is the usage limit."""
    headers = {
        "X-Codex-Active-Limit": "codex",
        "X-Codex-Primary-Used-Percent": "100",
        "X-Codex-Primary-Reset-At": str(int(NOW + 90)),
    }
    import httpx2

    err = _map(429, "Too Many Requests", httpx2.Headers(headers))
    assert isinstance(err, UsageLimitReached)
    assert err.resets_at == NOW + 90


def test_other_429_shapes() -> None:
    """Quota codes under ``code`` and plain 429s map to their own classes."""
    assert isinstance(_map(429, {"error": {"code": "usage_not_included"}}), QuotaExceeded)
    assert isinstance(_map(429, {"code": "insufficient_quota", "message": "no"}), QuotaExceeded)
    assert isinstance(_map(429, {"detail": "Too many requests"}), RateLimited)


def test_cloudflare_403_recognised_without_cf_mitigated() -> None:
    """An HTML 403 is Cloudflare, by content type or by the body itself."""
    html = "<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>"
    assert isinstance(
        _map(403, html, {"content-type": "text/html; charset=UTF-8"}), CloudflareBlocked
    )
    assert isinstance(_map(403, html, {}), CloudflareBlocked)
    assert isinstance(_map(403, html.upper(), {"content-type": "text/plain"}), CloudflareBlocked)


def test_item_not_found_404_explains_itself() -> None:
    """A 404 'Item with id … not found' names the item problem, in both body shapes."""
    text = "Item with id 'rs_1' not found. Items are not persisted when `store` is set to false."
    for body in (
        {"detail": text},
        {"error": {"message": text, "type": "invalid_request_error", "code": None}},
        text,
    ):
        err = _map(404, body)
        assert isinstance(err, NotFound)
        assert "rs_1" in str(err)


def test_overloaded_503_in_any_shape() -> None:
    """503 overloaded is recognised from ``error.code``, top-level ``code`` or the detail."""
    for body in (
        {"error": {"code": "server_is_overloaded"}},
        {"code": "slow_down"},
        {"detail": "server_is_overloaded"},
    ):
        assert isinstance(_map(503, body), ServerOverloaded)


def test_error_messages_fall_back_to_the_body() -> None:
    """An error object without ``message`` still shows what the server said."""
    err = _map(400, {"error": {"code": "bad_thing", "param": "input"}})
    assert "bad_thing" in str(err)
    err = _map(400, {"error": "invalid_request"})
    assert "invalid_request" in str(err)


def test_retry_after_header_in_any_case() -> None:
    """``Retry-After`` is read whatever the header's case."""
    import httpx2

    err = _map(500, {"detail": "x"}, httpx2.Headers({"RETRY-AFTER": "7"}))
    assert err.retry_after == 7


# -- over the wire ------------------------------------------------------------------------------


@pytest.fixture
def raw():
    servers = []

    def start(*replies):
        server = RawServer(list(replies))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _head(status: int, ctype: str, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nConnection: close\r\n{extra}\r\n"
    ).encode()


_TURN = sse_events(
    {"type": "response.output_text.delta", "output_index": 0, "delta": "Hi"},
    {
        "type": "response.output_item.done",
        "output_index": 0,
        "item": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hi"}],
        },
    },
    {"type": "response.completed", "response": {"id": "r", "output": [], "usage": None}},
)


@pytest.mark.parametrize(
    "body",
    [
        b'{"detail":"Unauthorized"}',
        b'{"error":{"code":"token_expired","message":"expired"}}',
        b'{"error":{"message":"Your authentication token has been invalidated.",'
        b'"type":"invalid_request_error","code":"token_invalidated","param":null},"status":401}',
        b"",
        b"<html>401</html>",
    ],
)
def test_every_401_body_gets_one_refresh_and_resend(mode, raw, body) -> None:
    """Whatever the 401 says, the login is refreshed once and the turn is resent once."""
    server = raw(
        (_head(401, "application/json", f"Content-Length: {len(body)}\r\n") + body, []),
        (_head(200, "text/event-stream"), [_TURN]),
    )
    provider = StaticCredentials(Credentials("old", "acct"), refreshed=Credentials("new", "acct"))
    events, err = drive(mode, user_request(), credentials=provider, base_url=server.url)
    assert err is None
    assert isinstance(events[-1], Completed) and events[-1].result.text == "Hi"
    assert len(provider.unauthorized) == 1
    assert server.header(1, "authorization") == "Bearer new"


def test_second_401_asks_to_sign_in(mode, raw) -> None:
    """A second 401 after the refresh is 'sign in again', not a loop."""
    body = b'{"detail":"Unauthorized"}'
    reply = (_head(401, "application/json", f"Content-Length: {len(body)}\r\n") + body, [])
    server = raw(reply, reply, reply)
    provider = StaticCredentials(Credentials("old", "acct"), refreshed=Credentials("new", "acct"))
    _, err = drive(mode, user_request(), credentials=provider, base_url=server.url)
    assert isinstance(err, AuthenticationRequired)
    assert len(server.requests) == 2


def test_reading_stops_at_completed_even_if_the_server_keeps_the_connection(mode, raw) -> None:
    """Bytes after ``response.completed`` and a connection left open do not hold the turn."""
    release = threading.Event()
    trailing = b'data: {"type":"response.output_text.delta","delta":"LATE"}\n\n'
    server = raw((_head(200, "text/event-stream"), [_TURN, trailing, 30.0]))
    provider = StaticCredentials(Credentials("t", "acct"))
    try:
        events, err = drive(
            mode, user_request(), credentials=provider, base_url=server.url, idle_timeout=20
        )
    finally:
        release.set()
    assert err is None
    assert events[-1].result.text == "Hi"
    assert "LATE" not in "".join(getattr(e, "text", "") for e in events[:-1])


def test_crlf_stream_without_event_lines_over_the_wire(mode, raw) -> None:
    """A stream with CRLF line ends, no ``event:`` lines and ``data:`` without a space works."""
    events_json = [
        {"type": "response.output_text.delta", "output_index": 0, "delta": "A"},
        {"delta": "B", "type": "response.output_text.delta", "output_index": 0},
        {
            "type": "response.completed",
            "response": {
                "output": [
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": "AB"}],
                    }
                ]
            },
        },
    ]
    body = b"".join(
        b": hi\r\ndata:" + json.dumps(e, separators=(", ", ": ")).encode() + b"\r\n\r\n"
        for e in events_json
    )
    server = raw((_head(200, "text/event-stream; charset=utf-8"), [body[:7], 0.05, body[7:]]))
    provider = StaticCredentials(Credentials("t", "acct"))
    events, err = drive(mode, user_request(), credentials=provider, base_url=server.url)
    assert err is None
    assert "".join(e.text for e in events if hasattr(e, "text")) == "AB"
    assert events[-1].result.text == "AB"


@pytest.mark.parametrize("ending", [b"\n", b"", b"\r\n"])
def test_last_event_without_blank_line_before_close(mode, raw, ending) -> None:
    """A server that closes right after the last ``data:`` line still completes the turn."""
    body = _TURN.rstrip(b"\n") + ending
    server = raw((_head(200, "text/event-stream"), [body]))
    provider = StaticCredentials(Credentials("t", "acct"))
    events, err = drive(mode, user_request(), credentials=provider, base_url=server.url)
    assert err is None
    assert events[-1].result.text == "Hi"


def test_a_cut_off_last_event_is_not_taken_as_text(mode, raw) -> None:
    """A connection dropped inside a text delta gives no made-up text from the fragment."""
    fragment = b'data: {"type":"response.output_text.delta","output_index":0,"delta":"Hel","x":['
    first = b'data: {"type":"response.output_text.delta","output_index":0,"delta":"A"}\n\n'
    server = raw((_head(200, "text/event-stream"), [first, 0.05, fragment]))
    provider = StaticCredentials(Credentials("t", "acct"))
    events, err = drive(
        mode, user_request(), credentials=provider, base_url=server.url, max_attempts=1
    )
    assert err is not None and "closed before" in str(err)
    assert "".join(e.text for e in events) == "A"
    assert err.partial.text == "A"


def test_rate_limited_failure_is_retried_after_the_hint(mode, codex_backend, provider, sleeps):
    """``response.failed`` rate_limit_exceeded "try again in 28ms" is retried once, then works."""
    codex_backend.enqueue_failed(
        code="rate_limit_exceeded", message="Rate limit reached. Please try again in 28ms."
    )
    events, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert err is None
    assert isinstance(events[-1], Completed)
    assert sleeps == [pytest.approx(0.028)]
    assert len(codex_backend.requests_to("/responses")) == 2


def test_other_failures_are_not_retried(mode, codex_backend, provider, sleeps):
    """A ``response.failed`` without a retry hint is reported at once."""
    codex_backend.enqueue_failed(code="rate_limit_exceeded", message="Slow down.")
    _, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert err is not None and "rate_limit_exceeded" in str(err)
    assert sleeps == []


def test_an_html_5xx_page_is_shown_by_its_title() -> None:
    """A 502 HTML page reads as its title, never as markup."""
    page = "<!DOCTYPE html><html><head><title>chatgpt.com | 502: Bad gateway</title>"
    page += "<style>body{margin:0}</style></head><body><h1>Bad gateway</h1></body></html>"
    err = _map(502, page, {"content-type": "text/html"})
    assert "502: Bad gateway" in str(err)
    assert "<" not in str(err) and "{" not in str(err)


def test_a_redirect_is_reported_not_read_as_a_stream(mode, raw) -> None:
    """A 3xx answer is one clear error naming the redirect, without retries."""
    head = _head(307, "text/plain", "Location: http://elsewhere/x\r\nContent-Length: 0\r\n")
    server = raw((head, []), (head, []), (head, []))
    provider = StaticCredentials(Credentials("t", "acct"))
    _, err = drive(mode, user_request(), credentials=provider, base_url=server.url)
    assert err is not None and "redirect" in str(err) and "elsewhere" in str(err)
    assert len(server.requests) == 1
