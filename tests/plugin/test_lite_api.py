"""Responses Lite models through llm's Python API, sync and async, against the fake."""

from __future__ import annotations

import llm
import pytest

from llm_codex.plugin.hosted_tools import ImageGeneration, WebSearch

LITE = "openai-codex/gpt-6-sol"
DEFAULT_REPLY = "Hello from the fake Codex backend. You said: "


class Maths(llm.Toolbox):
    """A toolbox: its methods become tools."""

    def add(self, a: int, b: int) -> int:
        "Add two numbers."
        return a + b


def test_conversation_and_toolbox_chain(codex_backend, codex_login):
    """A toolbox chain echoes the call's namespace; a later conversation turn replays it all."""
    codex_backend.enqueue_tool_call("Maths_add", '{"a": 2, "b": 3}')
    codex_backend.enqueue_text("Five.")
    conversation = llm.get_model(LITE).conversation(tools=[Maths()])
    assert conversation.chain("2+3?").text() == "Five."
    assert conversation.prompt("thanks").text() == DEFAULT_REPLY + "thanks"
    first, second, third = (r.json for r in codex_backend.requests_to("/responses"))
    assert first["input"][0]["tools"][0]["tools"][0]["name"] == "Maths_add"
    for body in (second, third):
        (call,) = [i for i in body["input"] if i.get("type") == "function_call"]
        assert call["namespace"] == "functions"
        assert body["input"][0] == first["input"][0]
    assert third["prompt_cache_key"] == first["prompt_cache_key"]
    assert [i["type"] for i in third["input"]].count("reasoning") == 2


async def test_async_tool_chain_and_conversation(codex_backend, codex_login):
    """The async model runs a lite tool chain, then continues the conversation."""

    def add(a: int, b: int) -> int:
        "Add two numbers."
        return a + b

    codex_backend.enqueue_tool_call("add", '{"a": 2, "b": 3}')
    codex_backend.enqueue_text("Five.")
    conversation = llm.get_async_model(LITE).conversation(tools=[add])
    assert await conversation.chain("2+3?").text() == "Five."
    assert await conversation.prompt("more").text() == DEFAULT_REPLY + "more"
    bodies = [r.json for r in codex_backend.requests_to("/responses")]
    assert len(bodies) == 3
    output = next(i for i in bodies[1]["input"] if i.get("type") == "function_call_output")
    assert output["output"] == "5"
    assert all(b["parallel_tool_calls"] is False for b in bodies)


@pytest.mark.parametrize(
    "tool", [WebSearch(), ImageGeneration(), llm.ServerSideTool({"spec": {"type": "web_search"}})]
)
def test_hosted_tools_are_refused_before_sending(codex_backend, codex_login, tool):
    """A lite model claims no hosted tool, so llm refuses one in a sentence naming the model."""
    with pytest.raises(ValueError, match="'openai-codex/gpt-6-sol' does not support server-side"):
        llm.get_model(LITE).prompt("news?", tools=[tool]).text()
    assert codex_backend.requests_to("/responses") == []


async def test_async_schema_and_options(codex_backend, codex_login):
    """Schema and options on the async model, with the catalog's levels."""
    codex_backend.enqueue_text('{"n": 1}')
    model = llm.get_async_model(LITE)
    response = model.prompt(
        "one",
        schema={"type": "object", "properties": {"n": {"type": "integer"}}},
        reasoning_effort="max",
    )
    assert await response.text() == '{"n": 1}'
    body = codex_backend.requests_to("/responses")[0].json
    assert body["reasoning"]["effort"] == "max" and body["reasoning"]["context"] == "all_turns"
    assert body["text"]["format"]["type"] == "json_schema"
    assert (await response.usage()).input > 0
