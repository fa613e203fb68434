"""Properties of the official route's pure parts: the body allow-list, the error reading and
``earliest_refresh_at`` parsing."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from llm_codex.auth.siwc.files import parse_earliest_refresh_at
from llm_codex.core.errors import CodexError
from llm_codex.core.plan_route import PLAN_BODY_KEYS, build_plan_body, map_plan_http_error
from llm_codex.core.types import CodexRequest

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
items = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["message", "reasoning", "function_call", "function_call_output"]
            )
        },
        optional={
            "id": st.text(max_size=8),
            "role": st.sampled_from(["user", "assistant", "system", "developer"]),
            "content": json_values,
        },
    ),
    max_size=6,
)


@given(
    items=items,
    instructions=st.none() | st.text(max_size=20),
    effort=st.none() | st.sampled_from(["low", "high"]),
    summary=st.none() | st.sampled_from(["auto", "detailed"]),
    verbosity=st.none() | st.sampled_from(["low", "high"]),
    tier=st.none() | st.just("priority"),
    tools=st.lists(
        st.sampled_from(
            [{"type": "function", "name": "f", "parameters": {}}, {"type": "web_search"}]
        ),
        max_size=3,
    ),
)
def test_the_body_holds_only_allowed_fields_and_never_replays_ids_or_reasoning(
    items, instructions, effort, summary, verbosity, tier, tools
):
    req = CodexRequest(
        model="gpt-5.5",
        input=items,
        instructions=instructions,
        tools=tools,
        reasoning_effort=effort,
        reasoning_summary=summary,
        verbosity=verbosity,
        service_tier=tier,
        session_id="s",
    )
    body = build_plan_body(req)
    assert set(body) <= PLAN_BODY_KEYS
    assert body["store"] is False and body["stream"] is True
    assert isinstance(body["input"], list)
    for item in body["input"]:
        assert "id" not in item and item.get("type") != "reasoning"
        assert item.get("role") != "system"
    assert all(t["type"] != "function" for t in body.get("tools", []))
    assert "text" not in body or set(body["text"]) == {"format"}


@given(status=st.integers(300, 599), body=json_values)
def test_any_error_answer_reads_as_one_sentence(status, body):
    raw = json.dumps(body).encode()
    error = map_plan_http_error(status, {}, raw)
    assert isinstance(error, CodexError)
    message = str(error)
    assert message and "\n" not in message
    assert message.rstrip().endswith((".", ")"))


@given(st.integers(0, 4_000_000_000))
def test_earliest_refresh_at_in_seconds_milliseconds_and_rfc3339(seconds):
    assert parse_earliest_refresh_at(seconds) == seconds
    assert parse_earliest_refresh_at(seconds * 1000) == (
        seconds if seconds * 1000 > 1e12 else seconds * 1000
    )
    text = datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    assert parse_earliest_refresh_at(text) == seconds


@given(json_values)
def test_earliest_refresh_at_never_raises(value):
    result = parse_earliest_refresh_at(value)
    assert result is None or isinstance(result, float)
