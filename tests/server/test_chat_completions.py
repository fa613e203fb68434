"""/v1/chat/completions through the real OpenAI SDK, against the fake backend."""

from __future__ import annotations

import base64
import json

import openai
import pytest

from llm_codex.testing import tiny_png

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def _last_body(fake):
    return fake.requests_to("/responses")[-1].body


def test_text_completion_with_usage(client, codex_login, codex_backend):
    """A plain chat completion answers text with OpenAI-shaped usage."""
    r = client.chat.completions.create(
        model="gpt-5.5",
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "hello pelican"},
        ],
    )
    assert r.object == "chat.completion"
    assert r.choices[0].message.content.endswith("You said: hello pelican")
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    assert r.usage.completion_tokens_details.reasoning_tokens is not None
    body = _last_body(codex_backend)
    assert body["instructions"] == "Be terse."
    assert body["store"] is False and body["stream"] is True
    assert all(item.get("role") != "system" for item in body["input"])


def test_streaming_chunks(client, codex_login, codex_backend):
    """Streaming gives the role first, content deltas, one finish chunk, then usage."""
    codex_backend.enqueue_text("one two three four", chunks=["one ", "two ", "three ", "four"])
    stream = client.chat.completions.create(
        model="gpt-5.5",
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert [f for f in finishes if f] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


async def test_async_streaming(aclient, codex_login):
    """The async SDK streams too."""
    stream = await aclient.chat.completions.create(
        model="gpt-5.5", messages=[{"role": "user", "content": "async hi"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.endswith("You said: async hi")


async def test_async_non_stream(aclient, codex_login):
    """The async SDK gets a complete answer."""
    r = await aclient.chat.completions.create(
        model="gpt-5.5", messages=[{"role": "user", "content": "async once"}]
    )
    assert r.choices[0].message.content.endswith("You said: async once")


def test_images_are_sent_as_input_image(client, codex_login, codex_backend):
    """An image_url data URL reaches the backend as an input_image part."""
    url = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    client.chat.completions.create(
        model="gpt-5.5",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    )
    parts = _last_body(codex_backend)["input"][0]["content"]
    assert parts[1] == {"type": "input_image", "image_url": url, "detail": "auto"}


def test_unsupported_image_scheme_is_refused(client, codex_login):
    """A file: image URL is refused with a clear 400 before anything is sent."""
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="gpt-5.5",
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "file:///x.png"}}],
                }
            ],
        )
    assert "data: or http(s)" in info.value.message


def test_tools_across_two_turns(client, codex_login, codex_backend):
    """A tool call comes back as tool_calls; its result goes back as function_call_output."""
    codex_backend.enqueue_tool_call(name="get_weather", arguments='{"city":"Oslo"}')
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    r = client.chat.completions.create(model="gpt-5.5", messages=messages, tools=[WEATHER_TOOL])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 4}'})
    r2 = client.chat.completions.create(model="gpt-5.5", messages=messages, tools=[WEATHER_TOOL])
    assert r2.choices[0].finish_reason == "stop"
    body = _last_body(codex_backend)
    kinds = [item["type"] for item in body["input"]]
    assert kinds == ["message", "function_call", "function_call_output"]
    assert body["input"][2]["call_id"] == call.id
    assert body["tools"][0]["name"] == "get_weather"


def test_streamed_parallel_tool_calls(client, codex_login, codex_backend):
    """Parallel tool calls stream with stable indexes and one tool_calls finish."""
    codex_backend.enqueue_tool_calls(
        [("get_weather", '{"city":"Oslo"}'), ("get_weather", '{"city":"Paris"}')]
    )
    stream = client.chat.completions.create(
        model="gpt-5.5",
        messages=[{"role": "user", "content": "Oslo and Paris?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    calls: dict[int, dict] = {}
    finishes = []
    for chunk in stream:
        choice = chunk.choices[0]
        if choice.finish_reason:
            finishes.append(choice.finish_reason)
        for tc in choice.delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": None, "name": None, "args": ""})
            entry["id"] = entry["id"] or tc.id
            entry["name"] = entry["name"] or (tc.function.name if tc.function else None)
            entry["args"] += (tc.function.arguments or "") if tc.function else ""
    assert finishes == ["tool_calls"]
    assert [json.loads(calls[i]["args"])["city"] for i in sorted(calls)] == ["Oslo", "Paris"]
    assert all(c["id"] and c["name"] == "get_weather" for c in calls.values())


def test_json_schema_response_format(client, codex_login, codex_backend):
    """response_format json_schema becomes the backend's strict text.format."""
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    codex_backend.enqueue_text('{"name": "Pelican"}')
    r = client.chat.completions.create(
        model="gpt-5.5",
        messages=[{"role": "user", "content": "name a bird"}],
        response_format={"type": "json_schema", "json_schema": {"name": "bird", "schema": schema}},
    )
    assert json.loads(r.choices[0].message.content) == {"name": "Pelican"}
    fmt = _last_body(codex_backend)["text"]["format"]
    assert fmt == {"type": "json_schema", "name": "bird", "schema": schema, "strict": True}


def test_reasoning_content_only_when_asked(client, codex_login, codex_backend):
    """Reasoning summaries appear as reasoning_content only with reasoning_summary set."""
    r = client.chat.completions.create(
        model="gpt-5.5", messages=[{"role": "user", "content": "think"}]
    )
    assert "reasoning_content" not in r.choices[0].message.model_dump()
    assert "reasoning" not in (_last_body(codex_backend).get("reasoning") or {}).get("summary", "")
    codex_backend.enqueue_text("Answer.", reasoning_summary="Thinking about it")
    stream = client.chat.completions.create(
        model="gpt-5.5",
        messages=[{"role": "user", "content": "think"}],
        stream=True,
        extra_body={"reasoning_summary": "auto", "reasoning_effort": "high"},
    )
    chunks = list(stream)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert reasoning == "Thinking about it"
    assert content == "Answer."
    assert _last_body(codex_backend)["reasoning"] == {"effort": "high", "summary": "auto"}


def test_dropped_params_are_named_in_a_header(client, codex_login, codex_backend):
    """temperature and max_tokens are not sent; the answer says which were dropped."""
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-5.5",
        messages=[{"role": "user", "content": "hi"}],
        temperature=0.3,
        max_tokens=50,
    )
    assert raw.headers["x-llm-codex-dropped-params"] == "max_tokens,temperature"
    assert raw.parse().choices[0].message.content
    body = _last_body(codex_backend)
    assert "temperature" not in body and "max_tokens" not in body


def test_n_greater_than_one_is_refused(client, codex_login, codex_backend):
    """n=2 is refused with a 400 naming the parameter, without calling the backend."""
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="gpt-5.5", messages=[{"role": "user", "content": "hi"}], n=2
        )
    assert info.value.body["param"] == "n"
    assert codex_backend.requests_to("/responses") == []


def test_conversation_hits_the_prompt_cache(client, codex_login, codex_backend):
    """Turns of one conversation share a prompt_cache_key, so the second is cached."""
    messages = [
        {"role": "system", "content": "You are a careful assistant. " * 20},
        {"role": "user", "content": "first question"},
    ]
    r1 = client.chat.completions.create(model="gpt-5.5", messages=messages)
    messages += [
        {"role": "assistant", "content": r1.choices[0].message.content},
        {"role": "user", "content": "second question"},
    ]
    r2 = client.chat.completions.create(model="gpt-5.5", messages=messages)
    keys = [req.body["prompt_cache_key"] for req in codex_backend.requests_to("/responses")]
    assert keys[0] == keys[1]
    sessions = [req.headers.get("session-id") for req in codex_backend.requests_to("/responses")]
    assert sessions[0] == sessions[1] == keys[0]
    assert r2.usage.prompt_tokens_details.cached_tokens > 0


def test_truncated_answer_finishes_with_length(client, codex_login, codex_backend):
    """A response cut short by the backend finishes with finish_reason 'length'."""
    codex_backend.enqueue_incomplete(reason="max_output_tokens", text="partial ans")
    r = client.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "x"}])
    assert r.choices[0].finish_reason == "length"
    assert r.choices[0].message.content == "partial ans"


def test_streamed_truncation_finishes_with_length(client, codex_login, codex_backend):
    """A streamed turn cut short by the backend ends with one 'length' finish chunk."""
    codex_backend.enqueue_incomplete(reason="max_output_tokens", text="partial ans")
    chunks = list(
        client.chat.completions.create(
            model="gpt-5.5", messages=[{"role": "user", "content": "x"}], stream=True
        )
    )
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert [f for f in finishes if f] == ["length"]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "partial ans"
