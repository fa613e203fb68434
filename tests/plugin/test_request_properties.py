"""Property tests: whatever history llm hands over, the input obeys the backend's rules."""

from __future__ import annotations

import llm
from hypothesis import given, settings
from hypothesis import strategies as st
from llm.parts import Message, ReasoningPart, TextPart, ToolCallPart, ToolResultPart

from llm_codex.plugin.messages import METADATA_KEY, build_input

_ids = st.sampled_from(["call_a", "call_b", "call_c", "call_d", None])
_text = st.text(min_size=0, max_size=8)
_meta = st.sampled_from(
    [
        None,
        {METADATA_KEY: {"encrypted_content": "enc", "summary": [], "id": "rs_1"}},
        {"openai": {"encrypted_content": "other", "id": "rs_2"}},
        {METADATA_KEY: {"namespace": "ns", "phase": "commentary"}},
    ]
)

_part = st.one_of(
    st.builds(TextPart, text=_text, provider_metadata=_meta),
    st.builds(ReasoningPart, text=_text, redacted=st.booleans(), provider_metadata=_meta),
    st.builds(
        ToolCallPart,
        name=st.sampled_from(["f", "g"]),
        arguments=st.dictionaries(st.sampled_from(["x", "y"]), st.integers()),
        tool_call_id=_ids,
        server_executed=st.booleans(),
        provider_metadata=_meta,
    ),
    st.builds(
        ToolResultPart,
        name=st.sampled_from(["f", "g"]),
        output=_text,
        tool_call_id=_ids,
        server_executed=st.booleans(),
    ),
)
_message = st.builds(
    Message,
    role=st.sampled_from(["system", "user", "assistant", "tool"]),
    parts=st.lists(_part, max_size=4),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(_message, max_size=8))
def test_translated_input_obeys_backend_rules(messages):
    """No system role, no ids, every output after its call and every call answered exactly once."""
    instructions, items = build_input(messages)
    assert instructions is None or instructions.strip()
    calls_seen: set[str] = set()
    outputs: dict[str, int] = {}
    for item in items:
        assert "id" not in item
        assert "_name" not in item
        if item["type"] == "message":
            assert item["role"] in ("user", "assistant", "developer")
            assert item["content"]
        elif item["type"] == "function_call":
            assert isinstance(item["arguments"], str)
            assert item["call_id"] not in calls_seen
            calls_seen.add(item["call_id"])
        elif item["type"] == "function_call_output":
            assert item["call_id"] in calls_seen
            outputs[item["call_id"]] = outputs.get(item["call_id"], 0) + 1
        elif item["type"] == "reasoning":
            assert item["encrypted_content"] == "enc"
        else:
            raise AssertionError(item)
    assert set(outputs) == calls_seen
    assert all(count == 1 for count in outputs.values())


@settings(max_examples=100, deadline=None)
@given(st.lists(_text.filter(str.strip), min_size=1, max_size=4))
def test_user_texts_survive_in_order(texts):
    """User text reaches the backend unchanged and in order."""
    messages = [llm.user(t) for t in texts]
    _, items = build_input(messages)
    sent = [p["text"] for item in items for p in item["content"]]
    assert sent == texts
