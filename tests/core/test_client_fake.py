"""The client against the fake backend over real sockets: streaming, errors and retries.

Every test runs with the sync and the async client (the ``mode`` fixture).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from llm_codex.core.client import AsyncCodexClient, CodexClient, shared_client
from llm_codex.core.errors import (
    AuthenticationRequired,
    BadRequest,
    CloudflareBlocked,
    ConnectionFailed,
    ContextWindowExceeded,
    IdleTimeout,
    IncompleteResponse,
    ModelNotSupported,
    NotFound,
    QuotaExceeded,
    RateLimited,
    ResponseFailed,
    ServerError,
    ServerOverloaded,
    StreamClosedEarly,
    UsageLimitReached,
)
from llm_codex.core.types import (
    Completed,
    ItemAdded,
    ItemDone,
    ReasoningDelta,
    TextDelta,
    ToolArgumentsDelta,
)

from .helpers import (
    RawServer,
    StaticCredentials,
    creds_from,
    drive,
    sse_events,
    sse_head,
    user_request,
)


def turns(fake):
    return fake.requests_to("/responses")


def test_default_turn_streams_events_and_a_complete_result(codex_backend, provider, mode):
    """A prompt streams reasoning and text as they come and ends with the assembled result."""
    req = user_request("hello pelican", reasoning_effort="low", reasoning_summary="auto")
    events, err = drive(mode, req, credentials=provider)
    assert err is None
    assert isinstance(events[-1], Completed)
    assert not any(isinstance(e, Completed) for e in events[:-1])
    result = events[-1].result
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == result.text == "Hello from the fake Codex backend. You said: hello pelican"
    assert any(isinstance(e, ReasoningDelta) for e in events)
    assert [i["type"] for i in result.items] == ["reasoning", "message"]
    assert result.reasoning_items[0]["encrypted_content"]
    assert result.response_id and result.response_id.startswith("resp_")
    assert result.usage.output_tokens > 0 and result.model == "gpt-5.5"
    recorded = turns(codex_backend)
    assert len(recorded) == 1 and result.request_id == recorded[0].request_id
    assert result.rate_limits is not None


def test_request_on_the_wire_is_honest_and_minimal(codex_backend, provider, mode):
    """What reaches the server: our identity, session headers, no ids, no rejected fields."""
    replay = {
        "type": "message",
        "role": "assistant",
        "id": "msg_old",
        "content": [{"type": "output_text", "text": "Earlier."}],
    }
    req = user_request("again", session_id="0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11")
    req.input.insert(0, replay)
    drive(mode, req, credentials=provider)
    (sent,) = turns(codex_backend)
    h = sent.headers
    assert h["originator"] == "llm-codex" and h["user-agent"].startswith("llm-codex/")
    assert h["session-id"] == h["thread-id"] == h["x-client-request-id"] == req.session_id
    assert h["chatgpt-account-id"] == "acct-test" and h["accept"] == "text/event-stream"
    assert "accept-encoding" not in h and "openai-beta" not in h
    assert h["version"] == "0.169.0"  # the protocol version we speak (lite spec §5)
    assert "x-openai-internal-codex-responses-lite" not in h
    assert sent.body["prompt_cache_key"] == req.session_id
    assert all("id" not in item for item in sent.body["input"])


def test_long_stream_is_coalesced_per_read(codex_backend, provider, mode):
    """A 5,000-delta answer arrives complete, in far fewer events than deltas."""
    codex_backend.enqueue_long(n_deltas=5000, delta="xy")
    events, err = drive(mode, user_request(), credentials=provider)
    assert err is None
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(d.text for d in deltas) == "xy" * 5000
    assert len(deltas) < 500
    assert events[-1].result.text == "xy" * 5000


def test_tool_call_is_streamed_and_assembled(codex_backend, provider, mode):
    """A function call shows its name early, streams its arguments and lands in tool_calls."""
    codex_backend.enqueue_tool_call(name="get_weather", arguments='{"city":"Oslo"}')
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather.",
        "strict": False,
        "parameters": {"type": "object", "properties": {}},
    }
    events, err = drive(mode, user_request(tools=[tool]), credentials=provider)
    assert err is None
    added = [e for e in events if isinstance(e, ItemAdded) and e.item["type"] == "function_call"]
    assert added and added[0].item["name"] == "get_weather"
    args = "".join(e.delta for e in events if isinstance(e, ToolArgumentsDelta))
    assert args == '{"city":"Oslo"}'
    (call,) = events[-1].result.tool_calls
    assert call["name"] == "get_weather" and call["arguments"] == '{"city":"Oslo"}'
    assert call["call_id"]
    assert any(isinstance(e, ItemDone) and e.item is call for e in events)


def test_server_error_then_success_is_retried(codex_backend, provider, mode, sleeps):
    """One 500 before the stream starts is retried after a short backoff; the user sees success."""
    codex_backend.enqueue_server_error(500)
    events, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert err is None and isinstance(events[-1], Completed)
    assert len(turns(codex_backend)) == 2
    assert len(sleeps) == 1 and 0.18 <= sleeps[0] <= 0.22


def test_server_errors_exhaust_three_attempts(codex_backend, provider, mode, sleeps):
    """Three 5xx answers give ServerError after exactly three requests."""
    codex_backend.enqueue_server_error(502, times=3)
    events, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert isinstance(err, ServerError) and err.status == 502 and events == []
    assert len(turns(codex_backend)) == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]
    assert err.request_id == turns(codex_backend)[-1].request_id and err.cf_ray


def test_retry_after_is_honoured(codex_backend, provider, mode, sleeps):
    """A 5xx with Retry-After waits what the server asked for."""
    codex_backend.enqueue_server_error(504, retry_after=3)
    _, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert err is None and sleeps == [3.0]


def test_overloaded_is_not_retried(codex_backend, provider, mode, sleeps):
    """503 server_is_overloaded fails at once with a 'try again later' error."""
    codex_backend.enqueue_server_error(503)
    _, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert isinstance(err, ServerOverloaded) and sleeps == []
    assert len(turns(codex_backend)) == 1


def test_usage_limit_is_never_retried(codex_backend, provider, mode, sleeps):
    """A usage limit is one request and a clear 'resets at' error."""
    codex_backend.enqueue_usage_limit(plan_type="pro", resets_in=3600)
    _, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert isinstance(err, UsageLimitReached) and err.plan_type == "pro"
    assert err.resets_at == pytest.approx(time.time() + 3600, abs=30)
    assert "pro plan" in str(err) and "resets at" in str(err)
    assert len(turns(codex_backend)) == 1 and sleeps == []


def test_usage_limit_reset_read_from_headers(codex_backend, provider, mode):
    """Without a reset time in the body, the exhausted window's header gives it."""
    codex_backend.enqueue_usage_limit(plan_type="plus", resets_in=7200, body_has_reset=False)
    _, err = drive(mode, user_request(), credentials=provider)
    assert isinstance(err, UsageLimitReached)
    assert err.resets_at == pytest.approx(time.time() + 7200, abs=30)


def test_usage_limit_carries_the_exhausted_windows(codex_backend, provider, mode):
    """The limit error keeps the answer's rate-limit snapshot, so usage can show the full window."""
    codex_backend.enqueue_usage_limit(plan_type="plus", resets_in=1800)
    _, err = drive(mode, user_request(), credentials=provider)
    assert isinstance(err, UsageLimitReached)
    windows = [w for family in err.rate_limits.families.values() for w in family]
    assert any(w.used_percent >= 100 for w in windows)


def test_cloudflare_block_is_reported_as_such(codex_backend, provider, mode, sleeps):
    """A Cloudflare challenge is one request and says 'blocked by Cloudflare'."""
    codex_backend.enqueue_cloudflare()
    _, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert isinstance(err, CloudflareBlocked) and "Cloudflare" in str(err) and err.cf_ray
    assert len(turns(codex_backend)) == 1 and sleeps == []


@pytest.mark.parametrize(
    ("status", "body", "cls", "needle"),
    [
        (
            400,
            {"detail": "Unsupported parameter: temperature"},
            BadRequest,
            "The backend rejected the request: Unsupported parameter: temperature",
        ),
        (404, {"detail": "Item with id 'rs_1' not found."}, NotFound, "rs_1"),
        (429, {"detail": "Too many requests"}, RateLimited, "Too many requests"),
        (
            429,
            {"error": {"type": "usage_not_included", "message": "Upgrade."}},
            QuotaExceeded,
            "Upgrade.",
        ),
    ],
)
def test_client_errors_are_not_retried(
    codex_backend, provider, mode, sleeps, status, body, cls, needle
):
    """4xx answers fail after one request with the backend's words in the message."""
    codex_backend.enqueue_server_error(status, body=body)
    _, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert type(err) is cls and needle in str(err) and err.status == status
    assert len(turns(codex_backend)) == 1 and sleeps == []


def test_unknown_model_is_model_not_supported(codex_backend, provider, mode):
    """Asking for a model the account cannot use names the problem."""
    _, err = drive(mode, user_request(model="gpt-4-nope"), credentials=provider)
    assert isinstance(err, ModelNotSupported) and "gpt-4-nope" in str(err)


def test_plain_429_with_short_retry_after_is_retried_once(codex_backend, provider, mode, sleeps):
    """A rate limit that asks for a 2 s pause is waited for once, then the turn succeeds."""
    codex_backend.enqueue_server_error(429, body={"detail": "Slow down"}, retry_after=2)
    events, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert err is None and isinstance(events[-1], Completed) and sleeps == [2.0]


def test_expired_token_is_refreshed_and_the_request_resent(codex_backend, mode):
    """A 401 makes the provider refresh once and the same turn is sent again, successfully."""
    old = codex_backend.issue_tokens()
    new = codex_backend.issue_tokens()
    codex_backend.expire_access_token(old["access_token"])
    provider = StaticCredentials(creds_from(old), refreshed=creds_from(new))
    events, err = drive(mode, user_request(), credentials=provider)
    assert err is None and isinstance(events[-1], Completed)
    assert [c.access_token for c in provider.unauthorized] == [old["access_token"]]
    first, second = turns(codex_backend)
    assert first.headers["authorization"] == f"Bearer {old['access_token']}"
    assert second.headers["authorization"] == f"Bearer {new['access_token']}"
    assert first.body == second.body


def test_second_401_asks_to_sign_in_again(codex_backend, mode, sleeps):
    """If the refreshed token is rejected too, the user is told to sign in again; no loop."""
    tokens = codex_backend.issue_tokens()
    codex_backend.expire_access_token(tokens["access_token"])
    stale = creds_from(tokens)
    provider = StaticCredentials(stale, refreshed=stale)
    _, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert isinstance(err, AuthenticationRequired) and "llm codex login" in str(err)
    assert len(turns(codex_backend)) == 2 and len(provider.unauthorized) == 1
    assert tokens["access_token"] not in str(err)


def test_refresh_failure_is_raised_as_is(codex_backend, mode):
    """When the provider cannot refresh, its AuthenticationRequired reaches the caller."""
    tokens = codex_backend.issue_tokens()
    codex_backend.expire_access_token(tokens["access_token"])
    provider = StaticCredentials(creds_from(tokens), refreshed=None)
    _, err = drive(mode, user_request(), credentials=provider)
    assert isinstance(err, AuthenticationRequired)
    assert len(turns(codex_backend)) == 1


def test_drop_after_text_is_not_retried_and_keeps_the_partial(
    codex_backend, provider, mode, sleeps
):
    """A connection lost mid-answer raises StreamClosedEarly with the text shown so far."""
    codex_backend.enqueue_drop(after_deltas=3)
    events, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert isinstance(err, StreamClosedEarly)
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown and err.partial.text == shown
    assert len(turns(codex_backend)) == 1 and sleeps == []
    assert err.request_id == turns(codex_backend)[0].request_id


def test_clean_eof_without_terminal_event(codex_backend, provider, mode):
    """A body that ends properly but without response.completed is still an early close."""
    codex_backend.enqueue_drop(after_deltas=2, clean=True)
    _, err = drive(mode, user_request(), credentials=provider)
    assert isinstance(err, StreamClosedEarly) and err.partial.text
    assert len(turns(codex_backend)) == 1


@pytest.mark.parametrize(
    ("code", "extra", "cls"),
    [
        ("context_length_exceeded", {}, ContextWindowExceeded),
        ("server_is_overloaded", {}, ServerOverloaded),
        (
            "usage_limit_reached",
            {"plan_type": "plus", "resets_at": 1_900_000_000},
            UsageLimitReached,
        ),
        ("cyber_policy", {}, ResponseFailed),
    ],
)
def test_failed_response_maps_and_is_not_retried(
    codex_backend, provider, mode, sleeps, code, extra, cls
):
    """response.failed inside a 200 stream raises the matching error after one request."""
    codex_backend.enqueue_failed(code, **extra)
    _, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert type(err) is cls
    assert len(turns(codex_backend)) == 1 and sleeps == []
    assert err.request_id == turns(codex_backend)[0].request_id


def test_incomplete_response_returns_what_arrived(codex_backend, provider, mode):
    """response.incomplete raises IncompleteResponse with the truncated text and reason."""
    codex_backend.enqueue_incomplete(reason="max_output_tokens", text="This answer was cut")
    events, err = drive(mode, user_request(), credentials=provider)
    assert isinstance(err, IncompleteResponse) and err.reason == "max_output_tokens"
    assert err.partial.text == "This answer was cut"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "This answer was cut"


def test_idle_timeout_before_any_event_is_retried(
    codex_backend, provider, mode, sleeps, monkeypatch
):
    """A backend silent for longer than the idle timeout is retried; the retry succeeds."""
    monkeypatch.setenv("LLM_CODEX_IDLE_TIMEOUT", "0.2")
    codex_backend.enqueue_slow(text="Slow.", delay=1.0)
    events, err = drive(mode, user_request(), credentials=provider, sleep=sleeps)
    assert err is None and isinstance(events[-1], Completed)
    assert len(turns(codex_backend)) == 2 and len(sleeps) == 1


def test_idle_timeout_is_raised_when_attempts_are_spent(codex_backend, provider, mode):
    """With no attempts left, a silent backend gives IdleTimeout."""
    codex_backend.enqueue_slow(text="Slow.", delay=1.0)
    _, err = drive(mode, user_request(), credentials=provider, max_attempts=1, idle_timeout=0.2)
    assert isinstance(err, IdleTimeout) and "0.2 s" in str(err)


ADDED = {
    "type": "response.output_item.added",
    "output_index": 0,
    "item": {"type": "message", "role": "assistant", "content": []},
}
COMPLETED = {
    "type": "response.completed",
    "response": {"id": "resp_raw", "status": "completed", "output": [], "usage": {}},
}


def text_event(delta: str) -> dict:
    return {"type": "response.output_text.delta", "output_index": 0, "delta": delta}


@pytest.fixture
def raw_server():
    """Start a RawServer with given replies; closed after the test."""
    servers = []

    def start(*replies):
        server = RawServer(list(replies))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_idle_timeout_after_text_keeps_the_partial(raw_server, mode, sleeps):
    """A stream that stalls after text was shown raises IdleTimeout with that text; no retry."""
    server = raw_server((sse_head(), [sse_events(ADDED, text_event("Hello")), 2.0]))
    provider = StaticCredentials(creds_from({"access_token": "t", "account_id": "a"}))
    events, err = drive(
        mode,
        user_request(),
        credentials=provider,
        sleep=sleeps,
        base_url=server.url,
        idle_timeout=0.2,
    )
    assert isinstance(err, IdleTimeout) and err.partial.text == "Hello"
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("Hello", 0)]
    assert len(server.requests) == 1 and sleeps == []


def test_eof_before_any_event_is_retried(raw_server, mode, sleeps):
    """A stream closed before anything reached the caller is sent again and succeeds."""
    server = raw_server(
        (sse_head(), [b'event: response.created\ndata: {"type":"response.created"}\n\n']),
        (sse_head(), [sse_events(ADDED, text_event("Hi"), COMPLETED)]),
    )
    provider = StaticCredentials(creds_from({"access_token": "t", "account_id": "a"}))
    events, err = drive(
        mode, user_request(), credentials=provider, sleep=sleeps, base_url=server.url
    )
    assert err is None and events[-1].result.response_id == "resp_raw"
    assert len(server.requests) == 2 and len(sleeps) == 1


def test_turn_state_is_echoed_on_the_retry(raw_server, mode, sleeps):
    """x-codex-turn-state from a failed attempt is sent back on the retry of the same turn."""
    server = raw_server(
        (sse_head(500, "x-codex-turn-state: ts-1\r\n"), [b'{"detail":"oops"}']),
        (sse_head(), [sse_events(COMPLETED)]),
    )
    provider = StaticCredentials(creds_from({"access_token": "t", "account_id": "a"}))
    _, err = drive(mode, user_request(), credentials=provider, sleep=sleeps, base_url=server.url)
    assert err is None
    assert server.header(0, "x-codex-turn-state") is None
    assert server.header(1, "x-codex-turn-state") == "ts-1"


def test_non_json_get_answer_is_an_api_error(raw_server, mode):
    """A GET that answers HTML instead of JSON gives one clear error."""
    from llm_codex.core.errors import APIError

    server = raw_server(
        (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n",
            [b"<html>hi</html>"],
        )
    )
    provider = StaticCredentials(creds_from({"access_token": "t", "account_id": "a"}))
    with pytest.raises(APIError, match="not JSON"):
        if mode == "sync":
            CodexClient(credentials=provider, base_url=server.url).get_json("/models")
        else:
            asyncio.run(
                AsyncCodexClient(credentials=provider, base_url=server.url).get_json("/models")
            )


def test_connection_refused_is_retried_then_reported(mode, sleeps):
    """An unreachable backend is tried three times, then one clear error names the host."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = StaticCredentials(creds_from({"access_token": "t", "account_id": "a"}))
    _, err = drive(
        mode,
        user_request(),
        credentials=provider,
        sleep=sleeps,
        base_url=f"http://127.0.0.1:{port}/backend-api/codex",
    )
    assert isinstance(err, ConnectionFailed) and f"127.0.0.1:{port}" in str(err)
    assert len(sleeps) == 2


def test_get_json_fetches_the_catalog_with_auth(codex_backend, provider, mode):
    """get_json sends the catalog headers and returns the JSON and the response headers."""
    if mode == "sync":
        data, headers = CodexClient(credentials=provider).get_json(
            "/models", params={"client_version": "0.169.0"}
        )
    else:

        async def go():
            return await AsyncCodexClient(credentials=provider).get_json(
                codex_backend.base_url + "/models", params={"client_version": "0.169.0"}
            )

        data, headers = asyncio.run(go())
    assert data["models"] and "content-type" in headers
    (sent,) = codex_backend.requests_to("/models")
    assert sent.query == {"client_version": "0.169.0"}
    assert sent.headers["accept"] == "*/*" and sent.headers["originator"] == "llm-codex"
    assert sent.headers["authorization"] == f"Bearer {provider.creds.access_token}"
    assert "session-id" not in sent.headers


def test_get_json_refreshes_once_after_401(codex_backend, mode):
    """The usage endpoint gets the same one-refresh rule as a turn."""
    from llm_codex import config

    old, new = codex_backend.issue_tokens(), codex_backend.issue_tokens()
    codex_backend.expire_access_token(old["access_token"])
    provider = StaticCredentials(creds_from(old), refreshed=creds_from(new))
    if mode == "sync":
        data, _ = CodexClient(credentials=provider).get_json(config.usage_url())
    else:

        async def go():
            return await AsyncCodexClient(credentials=provider).get_json(config.usage_url())

        data, _ = asyncio.run(go())
    assert "plan_type" in data and len(provider.unauthorized) == 1
    assert len(codex_backend.requests_to("/wham/usage")) == 2


def test_one_pooled_client_per_process(codex_backend, provider):
    """Consecutive turns share one HTTP client (connection reuse)."""
    a = CodexClient(credentials=provider)
    b = CodexClient(credentials=provider)
    assert a.http is b.http is shared_client()
    a.complete(user_request())
    b.complete(user_request())


def test_async_client_is_per_event_loop(codex_backend, provider):
    """Each event loop gets its own pooled async client; one loop reuses it."""

    async def clients():
        c = AsyncCodexClient(credentials=provider)
        first = c.http
        await c.complete(user_request())
        return first, c.http

    first, again = asyncio.run(clients())
    other, _ = asyncio.run(clients())
    assert first is again and other is not first


def test_async_aclose_releases_the_loop_pool(codex_backend, provider):
    """Closing the async client (server shutdown) closes its pool; a later turn reopens one."""

    async def go():
        c = AsyncCodexClient(credentials=provider)
        first = c.http
        await c.complete(user_request())
        await c.aclose()
        assert first.is_closed
        assert (await c.complete(user_request())).text
        second = c.http
        await c.aclose()
        return first is not second

    assert asyncio.run(go())


def test_caller_may_stop_reading_early(codex_backend, provider, mode):
    """Breaking out of the stream closes it cleanly; the next turn works."""
    codex_backend.enqueue_long(n_deltas=2000)
    if mode == "sync":
        client = CodexClient(credentials=provider)
        for _event in client.stream(user_request()):
            break
        assert client.complete(user_request()).text
    else:

        async def go():
            client = AsyncCodexClient(credentials=provider)
            stream = client.stream(user_request())
            async for _event in stream:
                break
            await stream.aclose()
            return await client.complete(user_request())

        assert asyncio.run(go()).text


def test_rate_limit_headers_are_parsed_into_the_result(codex_backend, provider, mode):
    """The passive x-codex-* headers of the answer end up in result.rate_limits."""
    codex_backend.set_rate_limit_headers({"x-codex-primary-used-percent": "42"})
    events, _ = drive(mode, user_request(), credentials=provider)
    snapshot = events[-1].result.rate_limits
    assert "42" in json.dumps(snapshot, default=lambda o: getattr(o, "__dict__", str(o)))


def test_a_client_made_without_rate_limits_skips_their_parse(codex_backend, provider, mode):
    """``rate_limits=False`` (the server's client): the same turn, no snapshot on the result."""
    codex_backend.set_rate_limit_headers({"x-codex-primary-used-percent": "42"})
    events, error = drive(mode, user_request(), credentials=provider, rate_limits=False)
    assert error is None
    assert events[-1].result.text
    assert events[-1].result.rate_limits is None
