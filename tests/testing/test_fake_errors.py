"""Error scenarios of /responses: usage limit, Cloudflare, 5xx, drops and slow streams."""

from __future__ import annotations

import time

import httpx2 as httpx
import pytest

from .fake_helpers import parse_sse, text_of, turn


def test_usage_limit(client):
    """enqueue_usage_limit answers 429 usage_limit_reached with resets_at and exhausted headers."""
    before = int(time.time())
    client.fake.enqueue_usage_limit(plan_type="pro", resets_in=600)
    response = client.post(turn())
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["type"] == "usage_limit_reached"
    assert error["message"] == "The usage limit has been reached"
    assert error["plan_type"] == "pro"
    assert before + 600 <= error["resets_at"] <= int(time.time()) + 600
    assert error["resets_in_seconds"] == 600
    assert error["eligible_promo"] is None
    assert response.headers["x-codex-primary-used-percent"] == "100.0"
    assert response.headers["x-codex-primary-reset-at"] == str(error["resets_at"])
    assert response.headers["x-codex-active-limit"] == "codex"
    assert response.headers["x-codex-plan-type"] == "pro"
    assert response.headers["x-request-id"]
    assert client.post(turn()).status_code == 200


def test_usage_limit_without_reset_in_body(client):
    """With body_has_reset=False the reset time is only in the headers."""
    client.fake.enqueue_usage_limit(body_has_reset=False, window="secondary")
    response = client.post(turn())
    error = response.json()["error"]
    assert "resets_at" not in error
    assert "resets_in_seconds" not in error
    assert response.headers["x-codex-secondary-used-percent"] == "100.0"
    assert int(response.headers["x-codex-secondary-reset-at"]) > time.time()


def test_cloudflare_challenge(client):
    """enqueue_cloudflare answers the HTML challenge page with cf-mitigated: challenge."""
    client.fake.enqueue_cloudflare()
    response = client.post(turn())
    assert response.status_code == 403
    assert response.headers["cf-mitigated"] == "challenge"
    assert response.headers["content-type"].startswith("text/html")
    assert "Just a moment..." in response.text
    assert "Enable JavaScript and cookies to continue" in response.text
    assert not any(h.startswith("x-codex-") for h in response.headers)


def test_cloudflare_comes_before_auth(client):
    """The challenge page is served even to a request without a valid token."""
    client.fake.enqueue_cloudflare()
    response = client.http.post(client.fake.base_url + "/responses", json=turn())
    assert response.status_code == 403


def test_server_error_times_then_success(client):
    """enqueue_server_error(times=2) fails two requests, then the default reply streams."""
    client.fake.enqueue_server_error(502, times=2, retry_after=1)
    first, second, third = (client.post(turn()) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (502, 502, 200)
    assert first.headers["retry-after"] == "1"
    assert first.json()["error"]["type"] == "server_error"
    assert first.headers["x-request-id"]


def test_overloaded_503(client):
    """A 503 carries the server_is_overloaded code."""
    client.fake.enqueue_server_error(503)
    response = client.post(turn())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "server_is_overloaded"


def test_server_error_custom_text_body(client):
    """A string body is sent as text/plain."""
    client.fake.enqueue_server_error(500, body="upstream exploded")
    response = client.post(turn())
    assert response.text == "upstream exploded"


def test_drop_closes_connection_mid_stream(client):
    """enqueue_drop cuts the connection after N text deltas, with no terminal event."""
    client.fake.enqueue_drop(after_deltas=3)
    received = []
    with pytest.raises(httpx.RemoteProtocolError):
        with client.http.stream(
            "POST",
            client.fake.base_url + "/responses",
            json=turn(),
            headers=client.headers(),
        ) as response:
            assert response.status_code == 200
            for chunk in response.iter_text():
                received.append(chunk)
    events = [data for _, data in parse_sse("".join(received))]
    types = [e["type"] for e in events]
    assert types.count("response.output_text.delta") == 3
    assert not {"response.completed", "response.failed", "response.incomplete"} & set(types)
    assert client.post(turn()).status_code == 200


def test_clean_drop_ends_body_without_terminal_event(client):
    """enqueue_drop(clean=True) ends the HTTP body normally but without a terminal event."""
    client.fake.enqueue_drop(after_deltas=0, clean=True)
    events = client.events(turn())
    types = [e["type"] for e in events]
    assert "response.output_text.delta" not in types
    assert types[-1] == "response.content_part.added"


def test_slow_stream_is_incremental(client):
    """enqueue_slow spaces events out, so the first event arrives before the stream ends."""
    client.fake.enqueue_slow("slow text", delay=0.01)
    pieces = []
    with client.http.stream(
        "POST", client.fake.base_url + "/responses", json=turn(), headers=client.headers()
    ) as response:
        for chunk in response.iter_raw():
            pieces.append(chunk)
    assert len(pieces) > 5
    assert b"response.created" in pieces[0]
    assert b"response.completed" not in pieces[0]
    assert text_of([d for _, d in parse_sse(b"".join(pieces).decode())]) == "slow text"


def test_scenarios_are_fifo(client):
    """Scenarios are consumed in order, one per accepted request."""
    client.fake.enqueue_text("one")
    client.fake.enqueue_server_error(500)
    client.fake.enqueue_text("two")
    assert text_of(client.events(turn())) == "one"
    assert client.post(turn()).status_code == 500
    assert text_of(client.events(turn())) == "two"
    client.fake.enqueue_text("dropped")
    client.fake.clear_scenarios()
    assert "You said" in text_of(client.events(turn()))


def test_stream_error_event(client):
    """enqueue_stream_error ends the stream with a bare error event."""
    client.fake.enqueue_stream_error("server_error", "Something broke.")
    frames = parse_sse(client.post(turn()).text)
    event, data = frames[-1]
    assert event == "error"
    assert data["type"] == "error"
    assert data["code"] == "server_error"
    assert data["message"] == "Something broke."


def test_http_error_any_shape(client):
    """enqueue_http_error answers any status, body and headers once."""
    body = {"error": {"type": "usage_not_included", "message": "Upgrade to use Codex."}}
    client.fake.enqueue_http_error(429, body, headers={"Retry-After": "7"})
    response = client.post(turn())
    assert response.status_code == 429
    assert response.json() == body
    assert response.headers["retry-after"] == "7"
    assert response.headers["x-codex-primary-used-percent"]
    client.fake.enqueue_http_error(404, "not here")
    assert client.post(turn()).text == "not here"
    assert client.post(turn()).status_code == 200
