"""The models through llm's Python API (sync and async), against the fake backend."""

from __future__ import annotations

import llm
import pytest
from llm.parts import ReasoningPart, TextPart

from llm_codex.plugin.models import AsyncCodexModel, CodexModel, CodexModelError

from .plugin_helpers import MODEL

DEFAULT_REPLY = "Hello from the fake Codex backend. You said: "


def test_get_model_and_get_async_model():
    """Both llm.get_model and llm.get_async_model know the Codex models."""
    model = llm.get_model(MODEL)
    async_model = llm.get_async_model(MODEL)
    assert isinstance(model, CodexModel)
    assert isinstance(async_model, AsyncCodexModel)
    assert str(model) == "OpenAI Codex: openai-codex/gpt-5.5"
    assert model.needs_key is None
    assert model.can_stream and model.supports_tools and model.supports_schema


def test_registration_reads_no_credentials(codex_backend, monkeypatch):
    """Registering models never asks for credentials."""
    from llm_codex.auth import manager

    def boom(*a, **k):
        raise AssertionError("credentials read during registration")

    monkeypatch.setattr(manager.AuthManager, "current", boom)
    monkeypatch.setattr(manager.AuthManager, "load", boom)
    assert any(m.model_id == MODEL for m in llm.get_models())
    assert codex_backend.requests == []


def test_sync_streaming_chunks(codex_backend, codex_login):
    """Iterating a response yields the answer piece by piece."""
    codex_backend.enqueue_text("one two three four", chunks=["one ", "two ", "three ", "four"])
    response = llm.get_model(MODEL).prompt("count")
    chunks = list(response)
    assert "".join(chunks) == "one two three four"
    assert response.usage().input > 0


async def test_async_streaming(codex_backend, codex_login):
    """The async model streams the same answer."""
    model = llm.get_async_model(MODEL)
    response = model.prompt("async hello")
    chunks = [chunk async for chunk in response]
    assert "".join(chunks) == DEFAULT_REPLY + "async hello"
    usage = await response.usage()
    assert usage.output > 0


async def test_async_error_is_a_model_error(codex_backend, codex_login):
    """Async failures arrive as llm.ModelError with the same sentence."""
    codex_backend.enqueue_usage_limit(plan_type="pro")
    response = llm.get_async_model(MODEL).prompt("hi")
    with pytest.raises(llm.ModelError, match="pro plan") as info:
        await response.text()
    assert info.value.__cause__ is None


def test_sync_error_keeps_the_core_error(codex_backend, codex_login):
    """Python callers can inspect the underlying error (e.g. the reset time)."""
    from llm_codex.core.errors import UsageLimitReached

    codex_backend.enqueue_usage_limit(plan_type="plus", resets_in=600)
    response = llm.get_model(MODEL).prompt("hi")
    with pytest.raises(CodexModelError) as info:
        response.text()
    assert isinstance(info.value.codex_error, UsageLimitReached)
    assert info.value.codex_error.resets_at


def test_reasoning_summary_is_a_reasoning_part(codex_backend, codex_login):
    """Reasoning summaries arrive as reasoning, separate from the answer text."""
    codex_backend.enqueue_text("The answer.", reasoning_summary="Pondering")
    model = llm.get_model(MODEL)
    fields = model.Options.model_fields
    options = {"reasoning_summary": "auto"} if "reasoning_summary" in fields else {}
    response = model.prompt("think", options=options)
    assert response.text() == "The answer."
    parts = response.messages()[0].parts
    reasoning = [p for p in parts if isinstance(p, ReasoningPart)]
    assert len(reasoning) == 1
    assert reasoning[0].provider_metadata["openai-codex"]["encrypted_content"]
    assert isinstance(parts[-1], TextPart)


def test_conversation_replays_history(codex_backend, codex_login):
    """A Python conversation sends earlier turns back, with one cache key throughout."""
    conversation = llm.get_model(MODEL).conversation()
    assert conversation.prompt("first").text() == DEFAULT_REPLY + "first"
    assert conversation.prompt("second").text() == DEFAULT_REPLY + "second"
    first, second = codex_backend.requests_to("/responses")
    assert second.json["prompt_cache_key"] == first.json["prompt_cache_key"]
    texts = [
        part.get("text")
        for item in second.json["input"]
        if item.get("type") == "message"
        for part in item["content"]
    ]
    assert texts == ["first", DEFAULT_REPLY + "first", "second"]


def test_tool_chain_runs_the_tool_and_sends_the_result(codex_backend, codex_login):
    """A tool call is executed by llm and its result goes back with the same call id."""
    calls = []

    def get_weather(city: str) -> str:
        "Weather for a city."
        calls.append(city)
        return f"Sunny in {city}"

    codex_backend.enqueue_tool_call("get_weather", '{"city":"Oslo"}', call_id="call_abc")
    codex_backend.enqueue_text("It is sunny in Oslo.")
    chain = llm.get_model(MODEL).chain("weather in Oslo?", tools=[get_weather])
    assert chain.text() == "It is sunny in Oslo."
    assert calls == ["Oslo"]
    first, second = codex_backend.requests_to("/responses")
    assert first.json["tools"][0]["name"] == "get_weather"
    items = second.json["input"]
    call = next(i for i in items if i.get("type") == "function_call")
    output = next(i for i in items if i.get("type") == "function_call_output")
    assert call["call_id"] == output["call_id"] == "call_abc"
    assert "Sunny in Oslo" in str(output["output"])


def test_parallel_tool_calls(codex_backend, codex_login):
    """Several calls in one turn are all run and all answered."""
    seen = []

    def lookup(q: str) -> str:
        "Look something up."
        seen.append(q)
        return q.upper()

    codex_backend.enqueue_tool_calls([("lookup", '{"q":"a"}'), ("lookup", '{"q":"b"}')])
    codex_backend.enqueue_text("Done.")
    chain = llm.get_model(MODEL).chain("look up a and b", tools=[lookup])
    assert chain.text() == "Done."
    assert sorted(seen) == ["a", "b"]
    second = codex_backend.requests_to("/responses")[1].json["input"]
    outputs = [i for i in second if i.get("type") == "function_call_output"]
    calls = [i for i in second if i.get("type") == "function_call"]
    assert {o["call_id"] for o in outputs} == {c["call_id"] for c in calls}
    assert len(outputs) == 2


async def test_async_tool_chain(codex_backend, codex_login):
    """The async model runs tool chains too."""

    def add(a: int, b: int) -> int:
        "Add two numbers."
        return a + b

    codex_backend.enqueue_tool_call("add", '{"a": 2, "b": 3}')
    codex_backend.enqueue_text("Five.")
    chain = llm.get_async_model(MODEL).chain("2+3?", tools=[add])
    assert await chain.text() == "Five."
    second = codex_backend.requests_to("/responses")[1].json["input"]
    output = next(i for i in second if i.get("type") == "function_call_output")
    assert "5" in str(output["output"])


def test_schema_prompt(codex_backend, codex_login):
    """A schema prompt goes out as structured output."""
    codex_backend.enqueue_text('{"name": "Pelican"}')
    response = llm.get_model(MODEL).prompt(
        "a bird", schema={"type": "object", "properties": {"name": {"type": "string"}}}
    )
    assert response.text() == '{"name": "Pelican"}'
    body = codex_backend.requests_to("/responses")[0].json
    assert body["text"]["format"]["type"] == "json_schema"


def test_incomplete_answer_keeps_what_arrived(codex_backend, codex_login):
    """A cut-off answer raises, but the Python caller still has the partial text and usage."""
    codex_backend.enqueue_incomplete("max_output_tokens", text="Half an answer")
    response = llm.get_model(MODEL).prompt("hi")
    chunks = []
    with pytest.raises(llm.ModelError, match=r"cut off .*truncated: max_output_tokens"):
        for chunk in response:
            chunks.append(chunk)
    assert "".join(chunks) == "Half an answer"
    assert response.response_json["status"] == "incomplete"
    assert response.response_json["incomplete_reason"] == "max_output_tokens"
