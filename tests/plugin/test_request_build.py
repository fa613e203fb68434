"""build_codex_request: history, reasoning replay, tool pairing, options, session ids."""

from __future__ import annotations

import dataclasses
import uuid

import llm
import pytest
from llm.parts import ReasoningPart, TextPart, ToolCallPart, ToolResultPart

from llm_codex.core.errors import ConfigurationError
from llm_codex.plugin.messages import METADATA_KEY, NOT_EXECUTED
from llm_codex.plugin.request import build_codex_request

from .request_support import GPT55, MINI, TEXT_ONLY, build, make_prompt


def test_simple_prompt_becomes_one_user_message_and_instructions():
    """A prompt with a system prompt sends it as instructions and the text as a user message."""
    req = build(text="Hi there", system="Be terse.")
    assert req.model == "gpt-5.5"
    assert req.instructions == "Be terse."
    assert req.input == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi there"}]}
    ]
    assert req.tool_choice == "auto"
    assert req.tools == []


def test_no_system_prompt_leaves_instructions_to_the_core():
    """Without a system prompt, instructions stay None so the core supplies its neutral default."""
    assert build(text="Hi").instructions is None


def test_later_system_message_becomes_developer_message_in_place():
    """A system message mid-conversation is kept, in place, as a developer message."""
    messages = [
        llm.system("First rules."),
        llm.user("one"),
        llm.assistant("two"),
        llm.system("New rules."),
        llm.user("three"),
    ]
    req = build(text=None, messages=messages)
    assert req.instructions == "First rules."
    roles = [item.get("role") for item in req.input]
    assert roles == ["user", "assistant", "developer", "user"]
    assert req.input[2]["content"] == [{"type": "input_text", "text": "New rules."}]
    assert all(item.get("role") != "system" for item in req.input)


def test_several_leading_system_messages_are_joined():
    """Two system messages before the conversation are both kept in instructions."""
    req = build(text=None, messages=[llm.system("A."), llm.system("B."), llm.user("hi")])
    assert req.instructions == "A.\n\nB."


def test_assistant_text_replays_as_output_text_with_phase():
    """Earlier assistant answers replay as output_text, echoing the phase the server gave them."""
    answer = llm.assistant(
        TextPart("Paris.", provider_metadata={METADATA_KEY: {"phase": "final_answer"}})
    )
    req = build(text=None, messages=[llm.user("Capital?"), answer, llm.user("And Spain?")])
    assert req.input[1] == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Paris."}],
        "phase": "final_answer",
    }


def test_preamble_and_final_answer_stay_separate_messages():
    """Commentary text and the final answer replay as two assistant messages with their phases."""
    answer = llm.assistant(
        TextPart("Let me check.", provider_metadata={METADATA_KEY: {"phase": "commentary"}}),
        TextPart("It is 4.", provider_metadata={METADATA_KEY: {"phase": "final_answer"}}),
    )
    req = build(text=None, messages=[llm.user("2+2?"), answer, llm.user("thanks")])
    assert [item.get("phase") for item in req.input] == [None, "commentary", "final_answer", None]


def test_reasoning_replays_without_id_before_the_output():
    """Encrypted reasoning is replayed without an id, before the answer it produced."""
    reasoning = ReasoningPart(
        "thinking",
        provider_metadata={
            METADATA_KEY: {
                "encrypted_content": "gAAAA-blob",
                "summary": [{"type": "summary_text", "text": "thinking"}],
                "id": "rs_123",
            }
        },
    )
    messages = [llm.user("q"), llm.assistant(reasoning, "answer"), llm.user("next")]
    req = build(text=None, messages=messages)
    assert req.input[1] == {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "thinking"}],
        "encrypted_content": "gAAAA-blob",
    }
    assert req.input[2]["role"] == "assistant"
    assert all("id" not in item for item in req.input)


@pytest.mark.parametrize(
    "metadata",
    [None, {"openai": {"encrypted_content": "x", "id": "rs_1"}}, {METADATA_KEY: {"summary": []}}],
)
def test_reasoning_without_our_blob_is_dropped(metadata):
    """Old transcripts and other providers' reasoning do not fail: the reasoning is left out."""
    messages = [
        llm.user("q"),
        llm.assistant(ReasoningPart("t", redacted=True, provider_metadata=metadata), "a"),
        llm.user("again"),
    ]
    req = build(text=None, messages=messages)
    assert [item["type"] for item in req.input] == ["message", "message", "message"]


def _tool_chain(call_meta=None):
    return [
        llm.user("Weather in Oslo?"),
        llm.assistant(
            ToolCallPart(
                name="get_weather",
                arguments={"city": "Oslo"},
                tool_call_id="call_1",
                provider_metadata=call_meta,
            )
        ),
        llm.tool_message(
            ToolResultPart(name="get_weather", output='{"temp": 4}', tool_call_id="call_1")
        ),
    ]


def test_tool_call_and_result_replay_as_function_items():
    """A tool call and its result replay as function_call / function_call_output items."""
    req = build(text=None, messages=_tool_chain())
    assert req.input[1] == {
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city": "Oslo"}',
    }
    assert req.input[2] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": '{"temp": 4}',
    }


def test_tool_call_namespace_is_echoed():
    """A namespaced call keeps its namespace when replayed."""
    req = build(text=None, messages=_tool_chain({METADATA_KEY: {"namespace": "image_gen"}}))
    assert req.input[1]["namespace"] == "image_gen"


def test_server_executed_parts_are_skipped():
    """Hosted web-search calls and results are not replayed as function calls."""
    messages = [
        llm.user("search"),
        llm.assistant(
            ToolCallPart(
                name="web_search", arguments={}, tool_call_id="ws_1", server_executed=True
            ),
            ToolResultPart(
                name="web_search", output="[]", tool_call_id="ws_1", server_executed=True
            ),
            "Found it.",
        ),
        llm.user("thanks"),
    ]
    req = build(text=None, messages=messages)
    assert [item["type"] for item in req.input] == ["message", "message", "message"]


def test_orphan_tool_result_is_sent_as_user_text():
    """A tool result whose call is missing is sent as text instead of a rejected orphan output."""
    messages = [
        llm.user("hi"),
        llm.tool_message(ToolResultPart(name="lookup", output="42", tool_call_id="call_gone")),
    ]
    req = build(text=None, messages=messages)
    assert all(item["type"] != "function_call_output" for item in req.input)
    assert req.input[-1] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Result of lookup:\n42"}],
    }


def test_unanswered_tool_call_gets_a_not_executed_output():
    """A call that never got a result (chain limit, new question) is answered as not executed."""
    messages = [
        llm.user("q"),
        llm.assistant(ToolCallPart(name="f", arguments={}, tool_call_id="call_x")),
        llm.user("never mind"),
    ]
    req = build(text=None, messages=messages)
    assert req.input[1]["type"] == "function_call"
    assert req.input[2] == {
        "type": "function_call_output",
        "call_id": "call_x",
        "output": NOT_EXECUTED,
    }


def test_tool_error_without_output_reports_the_exception():
    """A tool that raised is reported to the model with its error text."""
    messages = _tool_chain()
    messages[2] = llm.tool_message(
        ToolResultPart(
            name="get_weather", output="", tool_call_id="call_1", exception="KeyError: x"
        )
    )
    req = build(text=None, messages=messages)
    assert req.input[2]["output"] == "Error: KeyError: x"


def test_legacy_tool_results_without_their_call_still_send():
    """tool_results= alone (llm's legacy form, no call in history) is sent as text, not a 400."""
    prompt = make_prompt(
        text=None,
        tool_results=[llm.ToolResult(name="get_weather", output="sunny", tool_call_id="call_1")],
    )
    req = build_codex_request(prompt, model=GPT55)
    assert req.input == [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Result of get_weather:\nsunny"}],
        }
    ]


def test_empty_prompt_is_refused():
    """A prompt with no text, image or tool result is refused instead of sending empty input."""
    with pytest.raises(ConfigurationError, match="nothing to send"):
        build(text=None)


# --- options -----------------------------------------------------------------------------------


def test_defaults_come_from_the_catalog():
    """Effort and verbosity default to the catalog's values; a summary 'auto' is requested."""
    req = build()
    assert req.reasoning_effort == "medium"
    assert req.verbosity == "low"
    assert req.reasoning_summary == "auto"
    assert req.service_tier is None
    assert req.parallel_tool_calls is True
    assert req.include_encrypted_reasoning is True


def test_options_reach_the_request():
    """-o reasoning_effort/verbosity/reasoning_summary/fast are sent as given."""
    req = build(
        options={
            "reasoning_effort": "xhigh",
            "verbosity": "high",
            "reasoning_summary": "detailed",
            "fast": True,
            "parallel_tool_calls": False,
        }
    )
    assert (req.reasoning_effort, req.verbosity, req.reasoning_summary) == (
        "xhigh",
        "high",
        "detailed",
    )
    assert req.service_tier == "priority"
    assert req.parallel_tool_calls is False


def test_hide_reasoning_requests_no_summary():
    """-R/--hide-reasoning means no reasoning summary is requested."""
    assert build(hide_reasoning=True).reasoning_summary is None
    assert build(options={"reasoning_summary": "none"}).reasoning_summary is None


def test_model_without_summaries_or_verbosity_sends_neither():
    """Models whose catalog lacks summaries or verbosity never get those fields."""
    assert build(TEXT_ONLY).reasoning_summary is None
    assert build(MINI).verbosity is None
    assert build(TEXT_ONLY).parallel_tool_calls is False


def test_service_tier_not_in_catalog_is_refused():
    """A tier the model does not list is refused before anything is sent."""
    prompt = make_prompt(MINI)
    prompt.options = make_prompt(GPT55, options={"service_tier": "priority"}).options
    with pytest.raises(ConfigurationError, match="does not offer the 'priority' service tier"):
        build_codex_request(prompt, model=MINI)


def test_responses_lite_model_gets_the_lite_form():
    """A model that needs the Responses Lite form gets it, one call at a time."""
    lite = dataclasses.replace(GPT55, slug="gpt-5.6-sol", use_responses_lite=True)
    req = build(lite)
    assert req.responses_lite and not req.parallel_tool_calls
    assert not build(GPT55).responses_lite


# --- session ids -------------------------------------------------------------------------------


def test_conversation_session_id_is_a_stable_uuid():
    """Every turn of a conversation carries the same UUID session id (prompt caching): later
    turns replay the same instructions and first input, which is what the key is made of."""
    first = build(text=None, messages=[llm.system("S."), llm.user("Capital?")]).session_id
    answer = llm.assistant("Paris.")
    later = build(
        text=None,
        messages=[llm.system("S."), llm.user("Capital?"), answer, llm.user("And Spain?")],
    ).session_id
    other = build(text=None, messages=[llm.system("S."), llm.user("Another")]).session_id
    assert first == later != other
    uuid.UUID(first)


def test_one_off_session_id_depends_on_instructions_and_first_input():
    """Repeating a one-off prompt reuses its cache key; a different prompt gets another."""
    a = build(text="same", system="s").session_id
    b = build(text="same", system="s").session_id
    c = build(text="different", system="s").session_id
    d = build(text="same", system="t").session_id
    assert a == b
    assert len({a, c, d}) == 3
    assert uuid.UUID(a).version == 4
