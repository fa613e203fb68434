"""The sync and async clients are twins: on the same scenario they yield the same events, raise
the same error with the same partial result, wait the same number of times and send the same
requests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ..parity import plain
from .helpers import Sleeps, StaticCredentials, creds_from, drive, user_request


def _outcome(codex_backend, mode: str, *, refresh: bool) -> dict[str, Any]:
    # A conversation of its own per run, so the fake's prompt cache cannot tell the runs apart.
    req = user_request("parity please", session_id=str(uuid.uuid4()))
    codex_backend.clear_requests()
    tokens = codex_backend.issue_tokens()
    if refresh:
        codex_backend.expire_access_token(tokens["access_token"])
    provider = StaticCredentials(
        creds_from(tokens), refreshed=creds_from(codex_backend.issue_tokens())
    )
    sleeps = Sleeps()
    events, err = drive(mode, req, credentials=provider, sleep=sleeps, max_attempts=3)
    return {
        "events": [plain(e) for e in events],
        "error": None
        if err is None
        else {
            "class": type(err).__name__,
            "message": str(err),
            "status": getattr(err, "status", None),
            "code": getattr(err, "code", None),
            "retry_after": getattr(err, "retry_after", None),
            "partial": plain(getattr(err, "partial", None)),
        },
        "sleeps": len(sleeps),
        "refreshes": len(provider.unauthorized),
        "requests": [plain(r.body) for r in codex_backend.requests_to("/responses")],
    }


SCENARIOS: dict[str, Callable[[Any], None]] = {
    "text with reasoning": lambda f: f.enqueue_text("Hello there.", reasoning_summary="Think."),
    "tool call": lambda f: f.enqueue_tool_call("get_weather", '{"city":"Oslo"}', also_text="On it"),
    "parallel tool calls": lambda f: f.enqueue_tool_calls([("a", "{}"), ("b", '{"x":1}')]),
    "usage limit": lambda f: f.enqueue_usage_limit(),
    "server error then text": lambda f: (f.enqueue_server_error(500), f.enqueue_text("ok")),
    "overloaded": lambda f: f.enqueue_server_error(503),
    "cloudflare": lambda f: f.enqueue_cloudflare(),
    "cut mid-stream": lambda f: f.enqueue_drop(after_deltas=3, text="one two three four five"),
    "failed": lambda f: f.enqueue_failed("context_length_exceeded"),
    "error event": lambda f: f.enqueue_stream_error("server_error", "Something broke."),
    "incomplete": lambda f: f.enqueue_incomplete("max_output_tokens", text="partial answer"),
    "bad request": lambda f: f.enqueue_http_error(400, {"detail": "Unsupported parameter: x"}),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_sync_and_async_clients_behave_the_same(codex_backend, scenario):
    """Events, error (class, message, partial), retries and requests are identical."""
    outcomes = []
    for mode in ("sync", "async"):
        SCENARIOS[scenario](codex_backend)
        outcomes.append(_outcome(codex_backend, mode, refresh=False))
    sync, async_ = outcomes
    assert sync == async_
    assert sync["events"] or sync["error"]  # the scenario did something


def test_sync_and_async_clients_refresh_the_same_way(codex_backend):
    """A 401 refreshes once and resends once, in both twins alike."""
    outcomes = []
    for mode in ("sync", "async"):
        codex_backend.enqueue_text("after refresh")
        outcomes.append(_outcome(codex_backend, mode, refresh=True))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0]["refreshes"] == 1 and outcomes[0]["error"] is None
