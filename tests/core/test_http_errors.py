"""HTTP error answers become one clear error each; the retry policy is bounded and honest."""

from __future__ import annotations

import base64
import json
from email.utils import formatdate

import pytest

from llm_codex.core.errors import (
    APIError,
    AuthenticationRequired,
    BadRequest,
    CloudflareBlocked,
    ConnectionFailed,
    Forbidden,
    IdleTimeout,
    ModelNotSupported,
    NotFound,
    QuotaExceeded,
    RateLimited,
    ServerError,
    ServerOverloaded,
    StreamClosedEarly,
    UsageLimitReached,
)
from llm_codex.core.failures import map_http_error, parse_retry_after
from llm_codex.core.retry import Attempts, backoff_delay, is_retryable

NOW = 1_800_000_000.0


def mapped(status, body, headers=None):
    raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    return map_http_error(status, headers or {}, raw, now=NOW)


def test_bad_request_detail_is_passed_through_verbatim():
    """A 400 shows the backend's own words, e.g. which parameter it rejected."""
    err = mapped(400, {"detail": "Unsupported parameter: temperature"}, {"x-request-id": "r1"})
    assert type(err) is BadRequest
    assert str(err) == "The backend rejected the request: Unsupported parameter: temperature"
    assert err.status == 400 and err.detail == "Unsupported parameter: temperature"
    assert err.request_id == "r1"


def test_openai_style_error_body_is_read_too():
    """The {"error": {...}} body shape gives the message and code."""
    body = {
        "error": {
            "message": "No tool call found for call_1.",
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        }
    }
    err = mapped(400, body)
    assert type(err) is BadRequest and "No tool call found for call_1." in str(err)
    assert err.code == "invalid_request_error"


def test_unsupported_model_is_its_own_error():
    """The 'model is not supported' 400 becomes ModelNotSupported."""
    detail = "The 'gpt-5.4' model is not supported when using Codex with a ChatGPT account."
    err = mapped(400, {"detail": detail})
    assert type(err) is ModelNotSupported and detail in str(err)


def test_validation_error_list_is_shown_compactly():
    """A 422 with a list detail is still one readable line."""
    err = mapped(422, {"detail": [{"loc": ["body", "input"], "msg": "field required"}]})
    assert type(err) is BadRequest and "field required" in str(err) and "\n" not in str(err)


def test_unauthorized_says_to_sign_in_again():
    """A 401 (after the one refresh) tells the user to sign in again."""
    err = mapped(401, {"detail": "Unauthorized"}, {"cf-ray": "ray-1"})
    assert type(err) is AuthenticationRequired
    assert "llm codex login" in str(err) and err.cf_ray == "ray-1"


def test_cloudflare_challenge_is_not_an_auth_failure():
    """A 403 HTML challenge page says 'blocked by Cloudflare', without the HTML."""
    html = "<!DOCTYPE html><html><title>Just a moment...</title></html>"
    err = mapped(403, html, {"content-type": "text/html; charset=UTF-8", "cf-ray": "ray-2"})
    assert type(err) is CloudflareBlocked and "Cloudflare" in str(err)
    assert "<html" not in str(err) and err.cf_ray == "ray-2" and err.status == 403
    challenge = mapped(403, "", {"cf-mitigated": "challenge"})
    assert type(challenge) is CloudflareBlocked


def test_other_forbidden_decodes_the_error_header():
    """A JSON 403 is Forbidden, with the code from the base64 x-error-json header."""
    header = base64.b64encode(json.dumps({"error": {"code": "account_deactivated"}}).encode())
    err = mapped(403, "", {"content-type": "application/json", "x-error-json": header.decode()})
    assert type(err) is Forbidden and err.code == "account_deactivated"
    assert "account_deactivated" in str(err)


def test_not_found_shows_the_message():
    """A 404 (e.g. a replayed reasoning id) shows what was not found."""
    err = mapped(404, {"detail": "Item with id 'rs_1' not found."})
    assert type(err) is NotFound and "rs_1" in str(err)


def test_usage_limit_from_body():
    """A 429 usage_limit_reached carries the plan and the reset time from the body."""
    body = {
        "error": {
            "type": "usage_limit_reached",
            "message": "The usage limit has been reached",
            "plan_type": "plus",
            "resets_at": NOW + 3960,
            "resets_in_seconds": 3960,
        }
    }
    err = mapped(429, body)
    assert type(err) is UsageLimitReached and err.plan_type == "plus"
    assert err.resets_at == NOW + 3960 and err.code == "usage_limit_reached"
    assert "plus plan" in str(err) and "1 h 06 min" in str(err)
    assert not is_retryable(err)


def test_usage_limit_reset_from_the_exhausted_window_header():
    """Without a reset in the body, the reset time of the most-used window is used."""
    headers = {
        "x-codex-active-limit": "codex",
        "x-codex-primary-used-percent": "40",
        "x-codex-primary-reset-at": str(int(NOW + 100)),
        "x-codex-secondary-used-percent": "100",
        "x-codex-secondary-reset-at": str(int(NOW + 5000)),
        "x-codex-plan-type": "pro",
    }
    err = mapped(429, {"error": {"type": "usage_limit_reached"}}, headers)
    assert type(err) is UsageLimitReached
    assert err.resets_at == NOW + 5000 and err.plan_type == "pro"


def test_quota_and_plain_rate_limit():
    """usage_not_included is a quota problem; any other 429 is RateLimited with Retry-After."""
    quota = mapped(429, {"error": {"type": "usage_not_included", "message": "Upgrade."}})
    assert type(quota) is QuotaExceeded and not is_retryable(quota)
    limited = mapped(429, {"detail": "Too many requests"}, {"retry-after": "5"})
    assert type(limited) is RateLimited and limited.retry_after == 5.0
    assert is_retryable(limited)
    assert not is_retryable(mapped(429, {"detail": "Slow down"}))
    assert not is_retryable(mapped(429, {"detail": "x"}, {"retry-after": "3600"}))


def test_overloaded_is_not_retried_but_other_5xx_are():
    """503 overloaded fails at once; 500/502/504 and a bare 503 are retried."""
    overloaded = mapped(503, {"error": {"code": "server_is_overloaded", "message": "Busy."}})
    assert type(overloaded) is ServerOverloaded and not is_retryable(overloaded)
    for status in (500, 502, 503, 504):
        err = mapped(status, "upstream connect error")
        assert type(err) is ServerError and is_retryable(err), status
        assert "upstream connect error" in str(err)
    assert str(mapped(500, None)) == "The Codex backend failed (HTTP 500)."


def test_other_statuses_and_long_bodies():
    """Unusual statuses are APIError; long bodies are cut to a readable length."""
    err = mapped(418, "x" * 5000)
    assert type(err) is APIError and len(str(err)) < 600
    assert not is_retryable(err) and not is_retryable(mapped(400, {"detail": "no"}))


def test_messages_never_contain_a_token():
    """Error text is built from the answer only; request credentials never appear."""
    for status in (400, 401, 403, 404, 429, 500, 503):
        err = mapped(status, {"detail": "nope"}, {"content-type": "application/json"})
        assert "Bearer" not in str(err)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after_seconds(value, expected):
    """Retry-After in seconds is read; nonsense is ignored."""
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_after_http_date():
    """Retry-After as an HTTP date is turned into seconds from now."""
    assert parse_retry_after(formatdate(NOW + 30, usegmt=True), now=NOW) == pytest.approx(30)


def test_backoff_grows_with_jitter_and_caps_retry_after():
    """Waits are 200 ms · 2^(n−1) ± 10 %, or Retry-After capped at 60 s."""
    for attempt, base in ((1, 0.2), (2, 0.4), (3, 0.8)):
        for _ in range(50):
            assert base * 0.9 <= backoff_delay(attempt) <= base * 1.1
    assert backoff_delay(1, retry_after=7) == 7
    assert backoff_delay(1, retry_after=600) == 60


def test_attempts_budget_refresh_and_no_retry_after_yield():
    """At most N sends; one free resend after a 401; nothing retried once events were shown."""
    attempts = Attempts(3)
    server = ServerError("boom", status=500)
    attempts.begin()
    assert attempts.use_refresh(401) and not attempts.use_refresh(401)
    assert not attempts.use_refresh(500)
    attempts.begin()
    assert attempts.delay_after(server) is not None
    attempts.begin()
    assert attempts.delay_after(server) is not None
    attempts.begin()
    assert attempts.delay_after(server) is None  # three counted sends spent
    fresh = Attempts(3)
    fresh.begin()
    fresh.yielded = True
    assert fresh.delay_after(StreamClosedEarly("eof")) is None
    for err in (ConnectionFailed("down"), IdleTimeout("idle"), StreamClosedEarly("eof")):
        assert is_retryable(err)


def test_plain_rate_limit_is_waited_for_only_once():
    """A 429 with a short Retry-After is retried once, never twice."""
    attempts = Attempts(3)
    limited = mapped(429, {"detail": "x"}, {"retry-after": "2"})
    attempts.begin()
    assert attempts.delay_after(limited) == 2.0
    attempts.begin()
    assert attempts.delay_after(limited) is None


def test_turn_state_is_remembered():
    """x-codex-turn-state from an answer is kept for the rest of the turn."""
    attempts = Attempts(3)
    attempts.note_headers({})
    assert attempts.turn_state is None
    attempts.note_headers({"x-codex-turn-state": "abc"})
    attempts.note_headers({})
    assert attempts.turn_state == "abc"
