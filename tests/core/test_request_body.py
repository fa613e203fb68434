"""The request body and headers: an allow-list, no item ids, no system role, honest identity."""

from __future__ import annotations

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_codex.core import identity
from llm_codex.core.request import (
    ALLOWED_BODY_KEYS,
    DEFAULT_INSTRUCTIONS,
    build_body,
    build_get_headers,
    build_headers,
    derive_session_id,
    encode_body,
    session_id_for,
)
from llm_codex.core.types import CodexRequest, Credentials

from .helpers import user_request

_json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_items = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "reasoning", "function_call", "function_call_output"]),
        "role": st.sampled_from(["user", "assistant", "developer", "system"]),
        "id": st.text(max_size=12),
        "content": _json_values,
        "call_id": st.text(max_size=8),
        "encrypted_content": st.text(max_size=8),
    },
).flatmap(
    lambda base: st.dictionaries(st.text(max_size=10), _json_values, max_size=3).map(
        lambda extra: {**extra, **base}
    )
)
_requests = st.builds(
    CodexRequest,
    model=st.text(min_size=1, max_size=12),
    input=st.lists(_items, max_size=5),
    instructions=st.none() | st.text(max_size=30),
    tools=st.lists(st.dictionaries(st.text(max_size=6), _json_values, max_size=3), max_size=2),
    tool_choice=st.sampled_from(["auto", "none", "required"]),
    parallel_tool_calls=st.booleans(),
    reasoning_effort=st.none() | st.sampled_from(["none", "low", "medium", "high", "xhigh"]),
    reasoning_summary=st.none() | st.sampled_from(["auto", "concise", "detailed"]),
    verbosity=st.none() | st.sampled_from(["low", "medium", "high"]),
    text_format=st.none() | st.just({"type": "json_schema", "name": "x", "schema": {}}),
    service_tier=st.none() | st.sampled_from(["priority", "flex"]),
    session_id=st.none() | st.uuids().map(str),
    include_encrypted_reasoning=st.booleans(),
)


@settings(max_examples=80, deadline=None)
@given(_requests)
def test_body_never_carries_a_rejected_field_an_item_id_or_a_system_message(req):
    """Whatever the caller builds, the body holds only allowed fields, no ids, no system role."""
    before = copy.deepcopy(req.input)
    body = build_body(req)
    assert set(body) <= ALLOWED_BODY_KEYS
    assert body["stream"] is True
    assert body["store"] is False
    assert isinstance(body["instructions"], str) and body["instructions"].strip()
    assert isinstance(body["input"], list) and len(body["input"]) == len(req.input)
    for item in body["input"]:
        assert "id" not in item
        assert item.get("role") != "system"
    assert req.input == before  # the caller's items are untouched
    assert body["prompt_cache_key"] == session_id_for(req)
    if "reasoning" in body:
        assert body["reasoning"] and set(body["reasoning"]) <= {"effort", "summary"}
        assert body["include"] == ["reasoning.encrypted_content"]
    json.loads(encode_body(body))  # always serialisable


def test_minimal_body_matches_the_recommended_profile():
    """A plain prompt is sent exactly as protocol §13.1 recommends, in the capture's field order."""
    req = user_request("Hello", session_id="0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11")
    body = build_body(req)
    assert list(body) == [
        "model",
        "instructions",
        "stream",
        "input",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "store",
        "include",
        "prompt_cache_key",
    ]
    assert body["instructions"] == DEFAULT_INSTRUCTIONS
    assert body["tools"] == [] and body["tool_choice"] == "auto"
    assert body["prompt_cache_key"] == "0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11"


def test_options_are_sent_only_when_set():
    """Reasoning, verbosity, structured output and tier appear only with their set keys."""
    req = user_request(
        instructions="Be terse.",
        reasoning_effort="high",
        verbosity="low",
        text_format={"type": "json_schema", "name": "s", "schema": {}, "strict": True},
        service_tier="priority",
    )
    body = build_body(req)
    assert body["instructions"] == "Be terse."
    assert body["reasoning"] == {"effort": "high"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["text"] == {
        "verbosity": "low",
        "format": {"type": "json_schema", "name": "s", "schema": {}, "strict": True},
    }
    assert body["service_tier"] == "priority"
    summary_only = build_body(user_request(reasoning_summary="auto"))
    assert summary_only["reasoning"] == {"summary": "auto"}
    bare = build_body(user_request(include_encrypted_reasoning=False))
    assert "reasoning" not in bare and "include" not in bare and "text" not in bare


def test_blank_instructions_fall_back_to_the_default():
    """An empty or whitespace system prompt still sends non-empty instructions."""
    assert build_body(user_request(instructions="  \n"))["instructions"] == DEFAULT_INSTRUCTIONS


def test_replayed_items_lose_their_ids_and_system_becomes_developer():
    """Replayed reasoning and messages are sent without server ids; system text as developer."""
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"}
    system = {"type": "message", "role": "system", "content": "Be kind.", "id": "msg_0"}
    req = CodexRequest(model="gpt-5.5", input=[system, reasoning])
    body = build_body(req)
    assert body["input"] == [
        {"type": "message", "role": "developer", "content": "Be kind."},
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAA"},
    ]
    assert reasoning["id"] == "rs_1" and system["role"] == "system"


def test_one_off_prompts_get_a_stable_cache_key():
    """Without a conversation id, the same prompt gets the same prompt_cache_key each time."""
    a = session_id_for(user_request("same"))
    assert a == session_id_for(user_request("same"))
    assert a != session_id_for(user_request("different"))
    assert len(a) == 36


def test_one_session_rule_for_every_face():
    """An explicit key wins (a UUID as is, any other string mapped stably); the end user and
    the first user message separate conversations; later turns keep the key."""
    first = [{"type": "message", "role": "user", "content": "hi"}]
    later = [*first, {"type": "message", "role": "assistant", "content": "yo"}]
    key = derive_session_id(instructions="s", input=first)
    assert key == derive_session_id(instructions="s", input=later)
    assert key == session_id_for(CodexRequest(model="m", input=later, instructions="s"))
    assert key != derive_session_id(instructions="s", input=first, user="alice")
    explicit = "0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11"
    assert derive_session_id(instructions="s", input=first, explicit=explicit) == explicit
    mapped = derive_session_id(instructions="s", input=first, explicit="my-conv")
    assert mapped == derive_session_id(instructions="t", input=later, explicit="my-conv")
    assert mapped != key and len(mapped) == 36


def test_turn_headers_are_exactly_the_recommended_set():
    """POST headers: auth, account, identity, SSE accept, JSON type and the conversation id."""
    creds = Credentials("tok", "acct-1")
    headers = build_headers(creds, session_id="sid")
    assert headers == {
        "Authorization": "Bearer tok",
        "chatgpt-account-id": "acct-1",
        "originator": "llm-codex",
        "User-Agent": identity.user_agent(),
        "version": "0.169.0",
        "Accept": "text/event-stream",
        "Content-Type": "application/json",
        "session-id": "sid",
        "thread-id": "sid",
        "x-client-request-id": "sid",
    }
    echoed = build_headers(Credentials("tok"), session_id="sid", turn_state="ts-1")
    assert echoed["x-codex-turn-state"] == "ts-1"
    assert "chatgpt-account-id" not in echoed


def test_get_headers_match_the_catalog_request():
    """GET headers: auth, account, identity and Accept */* (protocol §2.2), nothing per-turn."""
    headers = build_get_headers(Credentials("tok", "acct-1"))
    assert headers == {
        "Authorization": "Bearer tok",
        "chatgpt-account-id": "acct-1",
        "originator": "llm-codex",
        "User-Agent": identity.user_agent(),
        "version": "0.169.0",
        "Accept": "*/*",
    }
