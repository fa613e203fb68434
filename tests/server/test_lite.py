"""Responses Lite models through `llm codex serve` with the real OpenAI SDK (chat completions and
Responses), against the fake, which answers them only in the lite form."""

from __future__ import annotations

import base64
import json

import anthropic
import openai
import pytest

from llm_codex.server.common import DROPPED_HEADER

LITE = "gpt-5.6-terra"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CHAT_TOOL = {"type": "function", "function": WEATHER}
RESPONSES_TOOL = {"type": "function", **WEATHER}


def _bodies(fake):
    return [r.body for r in fake.requests_to("/responses")]


def test_chat_completion_in_the_lite_form(client, codex_login, codex_backend):
    """A plain chat completion on a lite model: header, tools item, developer message."""
    r = client.chat.completions.create(
        model=LITE,
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}],
    )
    assert r.choices[0].message.content.endswith("You said: hi")
    (sent,) = codex_backend.requests_to("/responses")
    assert sent.headers["x-openai-internal-codex-responses-lite"] == "true"
    assert sent.body["input"][0]["type"] == "additional_tools"
    assert sent.body["input"][1]["content"][0]["text"] == "Be terse."
    assert "instructions" not in sent.body


def test_chat_tool_round_trip_restores_the_namespace(client, codex_login, codex_backend):
    """Chat completions cannot carry a call's namespace; the server gives it back, so the fake
    (which refuses a replay that drops it) accepts the second turn."""
    codex_backend.enqueue_tool_call(name="get_weather", arguments='{"city":"Oslo"}')
    r = client.chat.completions.create(
        model=LITE,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[CHAT_TOOL],
        parallel_tool_calls=True,
    )
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    r2 = client.chat.completions.with_raw_response.create(
        model=LITE,
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            r.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "4 C"},
        ],
        tools=[CHAT_TOOL],
    )
    assert r2.parse().choices[0].finish_reason == "stop"
    first, second = _bodies(codex_backend)
    assert first["parallel_tool_calls"] is False
    (replayed,) = [i for i in second["input"] if i["type"] == "function_call"]
    assert replayed["namespace"] == "functions"


def test_parallel_tool_calls_asked_for_are_named_as_dropped(client, codex_login, codex_backend):
    """Parallel calls asked of a lite model: no error; the header says they were not sent."""
    raw = client.chat.completions.with_raw_response.create(
        model=LITE, messages=[{"role": "user", "content": "x"}], parallel_tool_calls=True
    )
    assert "parallel_tool_calls" in raw.headers[DROPPED_HEADER]


def test_responses_tool_round_trip_keeps_the_namespace(client, codex_login, codex_backend):
    """Responses output items carry the namespace; replaying them as they came works."""
    codex_backend.enqueue_tool_call(name="get_weather", arguments='{"city":"Oslo"}')
    history: list = [{"role": "user", "content": "Weather in Oslo?"}]
    r = client.responses.create(model=LITE, input=history, tools=[RESPONSES_TOOL])
    call = next(item for item in r.output if item.type == "function_call")
    assert call.model_dump()["namespace"] == "functions"
    assert json.loads(call.arguments) == {"city": "Oslo"}
    history += [item.model_dump(exclude_none=True) for item in r.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "4 C"})
    r2 = client.responses.create(model=LITE, input=history, tools=[RESPONSES_TOOL])
    assert r2.status == "completed"
    sent = _bodies(codex_backend)[-1]["input"]
    (replayed,) = [i for i in sent if i["type"] == "function_call"]
    assert replayed["namespace"] == "functions"


async def test_async_responses_stream(aclient, codex_login, codex_backend):
    """Streaming Responses events on a lite model, with reasoning effort from its levels."""
    stream = await aclient.responses.create(
        model=LITE, input="count", stream=True, reasoning={"effort": "ultra"}
    )
    kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.completed"
    assert _bodies(codex_backend)[0]["reasoning"] == {"effort": "ultra", "context": "all_turns"}


@pytest.mark.parametrize(
    "choice",
    ["required", {"type": "function", "function": {"name": "get_weather"}}],
)
def test_forced_tool_choice_is_refused_naming_the_model(client, codex_login, codex_backend, choice):
    """A forced tool_choice on a lite model: 400 naming the model, nothing sent upstream."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=LITE,
            messages=[{"role": "user", "content": "x"}],
            tools=[CHAT_TOOL],
            tool_choice=choice,
        )
    error = caught.value.body
    assert f"The model '{LITE}' cannot be forced to call a tool" in error["message"]
    assert error["param"] == "tool_choice" and error["code"] == "unsupported_value"
    assert codex_backend.requests_to("/responses") == []


def test_hosted_tools_are_refused_naming_a_model_that_has_them(client, codex_login, codex_backend):
    """web_search (Responses tools or chat web_search_options) on a lite model: 400."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=LITE, input="news?", tools=[{"type": "web_search"}])
    assert caught.value.body["message"] == (
        f"The model '{LITE}' cannot use web search: it takes only function tools; "
        "gpt-5.5 offers web search."
    )
    assert caught.value.body["param"] == "tools"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=LITE, messages=[{"role": "user", "content": "x"}], web_search_options={}
        )
    assert codex_backend.requests_to("/responses") == []


def test_non_lite_model_is_untouched(client, codex_login, codex_backend):
    """gpt-5.5 through the server keeps the ordinary form."""
    client.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "x"}])
    (sent,) = codex_backend.requests_to("/responses")
    assert "x-openai-internal-codex-responses-lite" not in sent.headers
    assert sent.body["tools"] == [] and sent.body["instructions"]


def test_chat_image_is_sent_without_detail(client, codex_login, codex_backend):
    """An image with ``detail`` reaches a lite model without it (the lite form strips it)."""
    from llm_codex.testing import tiny_png

    url = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    client.chat.completions.create(
        model=LITE,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is it?"},
                    {"type": "image_url", "image_url": {"url": url, "detail": "high"}},
                ],
            }
        ],
    )
    parts = _bodies(codex_backend)[0]["input"][2]["content"]
    (image,) = [p for p in parts if p["type"] == "input_image"]
    assert image == {"type": "input_image", "image_url": url}


# --- the Anthropic Messages face ------------------------------------------------------------------

ANTHROPIC_WEATHER = {
    "name": "get_weather",
    "description": "Weather",
    "input_schema": WEATHER["parameters"],
}


@pytest.fixture
def claude(server) -> anthropic.Anthropic:
    """The real anthropic SDK pointed at the server."""
    return anthropic.Anthropic(base_url=server.url, api_key="anything", max_retries=0)


def test_anthropic_tool_use_round_trip_on_a_lite_model(claude, codex_login, codex_backend):
    """tool_use / tool_result on a lite model: the lite form, the namespace restored on the
    replayed call (tool_use blocks cannot carry it), Anthropic's web search dropped (a lite
    model has no hosted tools) and named in the header."""
    codex_backend.enqueue_tool_call("get_weather", '{"city": "Paris"}')
    raw = claude.messages.with_raw_response.create(
        model=LITE,
        max_tokens=100,
        tools=[ANTHROPIC_WEATHER, {"type": "web_search_20250305", "name": "web_search"}],
        messages=[{"role": "user", "content": "weather in Paris?"}],
    )
    assert "tools.web_search_20250305" in raw.headers[DROPPED_HEADER]
    first = raw.parse()
    call = first.content[-1]
    assert first.stop_reason == "tool_use" and call.name == "get_weather"
    second = claude.messages.with_raw_response.create(
        model=LITE,
        max_tokens=100,
        tools=[ANTHROPIC_WEATHER],
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
            },
        ],
    )
    assert second.parse().stop_reason == "end_turn"
    bodies = _bodies(codex_backend)
    (namespace,) = bodies[0]["input"][0]["tools"]
    assert [t["name"] for t in namespace["tools"]] == ["get_weather"]
    (replayed,) = [i for i in bodies[1]["input"] if i["type"] == "function_call"]
    assert replayed["namespace"] == "functions"


def test_anthropic_forced_tool_is_refused_naming_the_model(claude, codex_login, codex_backend):
    """tool_choice any / tool on a lite model: a 400 in Anthropic's shape, nothing sent."""
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(
            model=LITE,
            max_tokens=100,
            tools=[ANTHROPIC_WEATHER],
            tool_choice={"type": "any"},
            messages=[{"role": "user", "content": "x"}],
        )
    assert f"The model '{LITE}' cannot be forced to call a tool" in str(caught.value)
    assert codex_backend.requests_to("/responses") == []
