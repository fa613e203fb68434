"""/v1/messages through the official anthropic SDK, against the fake backend."""

from __future__ import annotations

import base64
import json
import time

import anthropic
import httpx2
import pytest

from llm_codex.testing import tiny_png

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def claude(server) -> anthropic.Anthropic:
    """The real anthropic SDK (key in x-api-key) pointed at the server."""
    return anthropic.Anthropic(base_url=server.url, api_key="anything", max_retries=0)


def _last_body(fake):
    return fake.requests_to("/responses")[-1].body


def test_plain_message(claude, codex_login, codex_backend):
    """A plain message: text, end_turn, usage; system prompt as instructions; max_tokens,
    metadata and unknown fields never reach the backend."""
    msg = claude.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=1024,
        system=[{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "hello pelican"}],
        metadata={"user_id": "user_1"},
        extra_body={"context_management": {"edits": []}, "some_future_field": 1},
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14,unknown-beta"},
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.model == "claude-sonnet-4-6"
    assert msg.content[0].type == "text"
    assert msg.content[0].text.endswith("You said: hello pelican")
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    body = _last_body(codex_backend)
    assert body["model"] == "gpt-5.5"
    assert body["instructions"] == "Be terse."
    assert "max_output_tokens" not in body and "metadata" not in body
    assert "reasoning" not in body  # no thinking asked: the model's default level


def test_bearer_key_and_query(serve, codex_login, codex_backend):
    """With --api-key, both x-api-key and Authorization: Bearer work; ?beta=true is ignored."""
    server = serve(api_key="sekrit")
    by_header = anthropic.Anthropic(base_url=server.url, api_key="sekrit", max_retries=0)
    assert by_header.messages.create(
        model="gpt-5.5", max_tokens=10, messages=[{"role": "user", "content": "a"}]
    ).content
    bearer = anthropic.Anthropic(base_url=server.url, auth_token="sekrit", max_retries=0)
    r = bearer.messages.with_raw_response.create(
        model="gpt-5.5",
        max_tokens=10,
        messages=[{"role": "user", "content": "b"}],
        extra_query={"beta": "true"},
    )
    assert r.http_response.status_code == 200
    assert httpx2.head(server.url + "/").status_code == 200  # Claude Code probes it keyless
    wrong = anthropic.Anthropic(base_url=server.url, api_key="nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        wrong.messages.create(
            model="gpt-5.5", max_tokens=10, messages=[{"role": "user", "content": "c"}]
        )


def test_streaming_events(claude, codex_login, codex_backend):
    """Streaming: message_start, one text block with deltas, message_delta, message_stop."""
    codex_backend.enqueue_text("one two three", chunks=["one ", "two ", "three"])
    with claude.messages.stream(
        model="gpt-5.5", max_tokens=100, messages=[{"role": "user", "content": "count"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert kinds.count("content_block_start") == 1 and kinds.count("content_block_stop") == 1
    assert final.content[0].text == "one two three"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_tool_use_round_trip(claude, codex_login, codex_backend):
    """A tool call streams as tool_use with input_json_delta; its tool_result (with an image and
    is_error) goes back as a function_call_output."""
    codex_backend.enqueue_tool_call("get_weather", '{"city": "Paris"}', call_id="call_w1")
    with claude.messages.stream(
        model="gpt-5.5",
        max_tokens=100,
        tools=[{**WEATHER, "defer_loading": True}],
        tool_choice={"type": "auto"},
        messages=[{"role": "user", "content": "weather in Paris?"}],
    ) as stream:
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use"
    call = first.content[-1]
    assert (
        call.type == "tool_use" and call.name == "get_weather" and call.input == {"city": "Paris"}
    )
    tools = _last_body(codex_backend)["tools"]
    assert tools[0]["name"] == "get_weather" and tools[0]["parameters"]["required"] == ["city"]

    png = base64.b64encode(tiny_png()).decode()
    second = claude.messages.create(
        model="gpt-5.5",
        max_tokens=100,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": call.id,
                        "content": [
                            {"type": "text", "text": "sunny"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": png,
                                },
                            },
                        ],
                    },
                    {"type": "text", "text": "thanks"},
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    items = _last_body(codex_backend)["input"]
    kinds = [i["type"] for i in items]
    assert kinds[-3:] == ["function_call", "function_call_output", "message"]
    output = items[-2]["output"]
    assert output[0] == {"type": "input_text", "text": "sunny"}
    assert output[1]["image_url"].startswith("data:image/png;base64,")
    assert json.loads(items[-3]["arguments"]) == {"city": "Paris"}

    claude.messages.create(
        model="gpt-5.5",
        max_tokens=100,
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": call.id,
                        "content": "boom",
                        "is_error": True,
                    }
                ],
            },
        ],
    )
    assert _last_body(codex_backend)["input"][-1]["output"] == "Error: boom"


def test_tool_choice_mapping(claude, codex_login, codex_backend):
    """any -> required, tool -> the named function, none -> no tools at all."""
    base = dict(model="gpt-5.5", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    claude.messages.create(**base, tools=[WEATHER], tool_choice={"type": "any"})
    assert _last_body(codex_backend)["tool_choice"] == "required"
    claude.messages.create(
        **base,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
    )
    body = _last_body(codex_backend)
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert body["parallel_tool_calls"] is False
    claude.messages.create(**base, tools=[WEATHER], tool_choice={"type": "none"})
    assert _last_body(codex_backend)["tools"] == []
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(**base, tools=[WEATHER], tool_choice={"type": "tool", "name": "x"})


def test_thinking_signature_replay(claude, codex_login, codex_backend):
    """Thinking arrives with a signature; sent back, it becomes the backend's reasoning item
    again (continuity). A forged or foreign signature is dropped, never a 400."""
    codex_backend.enqueue_tool_call("get_weather", '{"city": "Oslo"}', call_id="call_t1")
    with claude.messages.stream(
        model="claude-opus-4-1",
        max_tokens=20000,
        thinking={"type": "enabled", "budget_tokens": 10000},
        tools=[WEATHER],
        messages=[{"role": "user", "content": "weather in Oslo?"}],
    ) as stream:
        kinds = {getattr(e, "delta", None).type for e in stream if e.type == "content_block_delta"}
        first = stream.get_final_message()
    assert {"thinking_delta", "signature_delta", "input_json_delta"} <= kinds
    assert _last_body(codex_backend)["reasoning"] == {"effort": "medium", "summary": "auto"}
    thinking = first.content[0]
    assert thinking.type == "thinking" and thinking.thinking and thinking.signature
    history = [b.model_dump() for b in first.content]
    turn = [
        {"role": "user", "content": "weather in Oslo?"},
        {"role": "assistant", "content": history},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "call_t1", "content": "cold"}],
        },
    ]
    claude.messages.create(
        model="gpt-5.5", max_tokens=100, thinking={"type": "adaptive"}, messages=turn
    )
    assert len(codex_backend.replayed_reasoning[-1]) == 1
    reasoning = [i for i in _last_body(codex_backend)["input"] if i["type"] == "reasoning"]
    assert reasoning and "id" not in reasoning[0]

    # another model does not get this model's encrypted reasoning
    claude.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=turn)
    assert not [i for i in _last_body(codex_backend)["input"] if i["type"] == "reasoning"]

    forged = json.loads(json.dumps(turn))
    sig = forged[1]["content"][0]["signature"]
    forged[1]["content"][0]["signature"] = sig[:-3] + ("AAA" if sig[-3:] != "AAA" else "BBB")
    forged[1]["content"].insert(0, {"type": "redacted_thinking", "data": "EqQBCkYIARgCKkA"})
    forged[1]["content"].insert(0, {"type": "thinking", "thinking": "x", "signature": "Eu8B"})
    msg = claude.messages.create(model="gpt-5.5", max_tokens=100, messages=forged)
    assert msg.stop_reason == "end_turn"
    assert not [i for i in _last_body(codex_backend)["input"] if i["type"] == "reasoning"]


def test_thinking_levels_and_omitted_display(claude, codex_login, codex_backend):
    """output_config.effort and budgets pick catalog levels; display omitted asks no summary
    but still returns the signature; disabled shows no thinking."""
    base = dict(max_tokens=100, messages=[{"role": "user", "content": "x"}])
    msg = claude.messages.create(
        model="claude-haiku-4-5",
        thinking={"type": "adaptive", "display": "omitted"},
        extra_body={"output_config": {"effort": "max"}},
        **base,
    )
    body = _last_body(codex_backend)
    assert body["model"] == "gpt-5.4-mini"
    assert body["reasoning"] == {"effort": "high"}  # the mini model's top level
    assert msg.content[0].type == "thinking" and msg.content[0].thinking == ""
    assert msg.content[0].signature
    claude.messages.create(
        model="gpt-5.5", thinking={"type": "enabled", "budget_tokens": 64000}, **base
    )
    assert _last_body(codex_backend)["reasoning"]["effort"] == "xhigh"
    msg = claude.messages.create(model="gpt-5.5", thinking={"type": "disabled"}, **base)
    assert _last_body(codex_backend)["reasoning"] == {"effort": "low"}
    assert [b.type for b in msg.content] == ["text"]


def test_images_base64_and_url(claude, codex_login, codex_backend):
    """Image blocks become input_image parts (base64 as a data: URL, url as is)."""
    png = base64.b64encode(tiny_png()).decode()
    claude.messages.create(
        model="gpt-5.5",
        max_tokens=100,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": png},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/a.png"},
                    },
                    {"type": "text", "text": "what is this?"},
                ],
            }
        ],
    )
    parts = _last_body(codex_backend)["input"][0]["content"]
    assert parts[0]["image_url"] == f"data:image/png;base64,{png}"
    assert parts[1]["image_url"] == "https://example.com/a.png"
    assert parts[2] == {"type": "input_text", "text": "what is this?"}


def test_system_messages_inside_messages(claude, codex_login, codex_backend):
    """role: system inside messages (as Claude Code sends) joins the instructions."""
    claude.messages.create(
        model="gpt-5.5",
        max_tokens=10,
        system="Top.",
        messages=[
            {"role": "system", "content": "Inner."},
            {"role": "user", "content": "hi"},
        ],
    )
    body = _last_body(codex_backend)
    assert body["instructions"] == "Top.\n\nInner."
    assert [i["role"] for i in body["input"]] == ["user"]


def test_stop_sequences(claude, codex_login, codex_backend):
    """A stop sequence cuts the text before it, in both forms."""
    codex_backend.enqueue_text("alpha beta STOP gamma", chunks=["alpha be", "ta ST", "OP gamma"])
    with claude.messages.stream(
        model="gpt-5.5",
        max_tokens=100,
        stop_sequences=["STOP"],
        messages=[{"role": "user", "content": "x"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "alpha beta "
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == "STOP"
    codex_backend.enqueue_text("one END two")
    msg = claude.messages.create(
        model="gpt-5.5",
        max_tokens=100,
        stop_sequences=["END"],
        messages=[{"role": "user", "content": "x"}],
    )
    assert msg.content[0].text == "one " and msg.stop_reason == "stop_sequence"


def test_count_tokens(claude, codex_login, codex_backend):
    """count_tokens counts locally (o200k) and never calls the backend."""
    small = claude.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hello world"}]
    )
    big = claude.messages.count_tokens(
        model="claude-sonnet-4-5",
        system="You are a helpful assistant. " * 20,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "hello world " * 50}],
    )
    assert 0 < small.input_tokens < 20
    assert big.input_tokens > small.input_tokens + 150
    assert codex_backend.requests_to("/responses") == []


def test_errors_in_anthropic_envelope(claude, codex_login, codex_backend, server):
    """Context overflow -> 400 'prompt is too long'; usage limit -> 429 with the reset time and
    no retry; a bad request -> 400; an unknown model -> an Anthropic-shaped error."""
    codex_backend.enqueue_failed("context_length_exceeded")
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(
            model="gpt-5.5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert info.value.body["error"]["message"].startswith("prompt is too long")

    codex_backend.enqueue_usage_limit(resets_in=3600)
    with pytest.raises(anthropic.RateLimitError) as info:
        claude.messages.create(
            model="gpt-5.5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.response.headers["x-should-retry"] == "false"
    assert 3500 < int(info.value.response.headers["retry-after"]) <= 3600
    assert "reset" in info.value.body["error"]["message"].lower()

    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model="gpt-5.5", max_tokens=10, messages=[])
    assert info.value.body["type"] == "error"

    r = httpx2.post(
        server.url + "/v1/messages",
        content=b"{not json",
        headers={"anthropic-version": "2023-06-01"},
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_error_inside_stream(claude, codex_login, codex_backend):
    """A failure after the stream started arrives as `event: error` in Anthropic's envelope."""
    codex_backend.enqueue_drop(after_deltas=2)
    with pytest.raises(anthropic.APIStatusError) as info:
        with claude.messages.stream(
            model="gpt-5.5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            for _ in stream:
                pass
    assert info.value.body["error"]["type"] in ("api_error", "overloaded_error")


def test_models_in_anthropic_shape(claude, server):
    """With anthropic-version, /v1/models lists the claude aliases first; HEAD / answers."""
    page = claude.models.list()
    ids = [m.id for m in page.data]
    assert ids[:3] == ["claude-opus", "claude-sonnet", "claude-haiku"]
    assert "gpt-5.5" in ids
    assert claude.models.retrieve("claude-sonnet").display_name.startswith("claude-sonnet")
    haiku = claude.models.retrieve("claude-haiku-4-5")
    assert haiku.display_name.endswith("(gpt-5.4-mini on ChatGPT)")
    assert claude.models.retrieve("gpt-5.5").display_name == "GPT-5.5"
    with pytest.raises(anthropic.NotFoundError):
        claude.models.retrieve("gpt-0")
    assert httpx2.head(server.url + "/").status_code == 200
    openai_shape = httpx2.get(server.url + "/v1/models").json()
    assert openai_shape["object"] == "list"


def test_configured_aliases(serve, codex_login, codex_backend):
    """--anthropic-alias replaces the defaults; family words match dated names."""
    server = serve(anthropic_aliases=(("claude-sonnet", "gpt-5.4-mini"),))
    claude = anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0)
    claude.messages.create(
        model="claude-3-7-sonnet-latest", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    assert _last_body(codex_backend)["model"] == "gpt-5.4-mini"
    assert claude.models.list().data[0].id == "claude-sonnet"


def test_ping_during_silence(serve, codex_login, codex_backend):
    """While the backend is silent, the stream carries ping events; the SDK still reads it."""
    server = serve(ping_interval=0.03)
    codex_backend.enqueue_slow(text="slow", delay=0.12)
    body = {
        "model": "gpt-5.5",
        "max_tokens": 5,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    headers = {"anthropic-version": "2023-06-01"}
    with httpx2.stream(
        "POST", server.url + "/v1/messages?beta=true", json=body, headers=headers, timeout=30
    ) as r:
        raw = r.read().decode()
    events = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert "ping" in events
    codex_backend.enqueue_slow(text="slow", delay=0.05)
    claude = anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0)
    with claude.messages.stream(**{k: v for k, v in body.items() if k != "stream"}) as stream:
        assert stream.get_final_message().content[0].text == "slow"


def test_truncated_turn_is_max_tokens(claude, codex_login, codex_backend):
    """A turn the backend cut short ends with stop_reason max_tokens, streamed or not."""
    codex_backend.enqueue_incomplete(text="partial answer")
    msg = claude.messages.create(
        model="gpt-5.5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    assert msg.stop_reason == "max_tokens" and msg.content[0].text == "partial answer"
    codex_backend.enqueue_incomplete(text="partial answer")
    with claude.messages.stream(
        model="gpt-5.5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens" and final.content[0].text == "partial answer"


def test_streams_reuse_the_backend_connection(claude, codex_login, codex_backend, patient_drain):
    """Streamed messages read the backend's stream to its end, so one pooled connection serves
    every turn (leaving early would cost a new TLS connection per turn)."""
    body = dict(model="gpt-5.5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with claude.messages.stream(**body) as stream:
        stream.get_final_message()
    time.sleep(0.2)  # the hand-back happens just after the last byte was sent
    before = codex_backend.connections_accepted
    for _ in range(3):
        with claude.messages.stream(**body) as stream:
            stream.get_final_message()
        time.sleep(0.2)
    assert codex_backend.connections_accepted == before


def test_web_search_server_tool(claude, codex_login, codex_backend):
    """Anthropic's web_search server tool runs as the backend's hosted web search; the answer
    has server_tool_use and web_search_tool_result blocks, streamed or not."""
    sources = [{"url": "https://example.com/pelicans", "title": "Pelicans"}]
    search_tool = {
        "type": "web_search_20250305",
        "name": "web_search",
        "max_uses": 3,
        "allowed_domains": ["example.com"],
    }
    base = dict(
        model="gpt-5.5",
        max_tokens=100,
        tools=[search_tool],
        tool_choice={"type": "tool", "name": "web_search"},
        messages=[{"role": "user", "content": "Perform a web search for: pelicans"}],
    )
    codex_backend.enqueue_web_search(query="pelicans", text="Pelicans fly.", sources=sources)
    msg = claude.messages.create(**base)
    body = _last_body(codex_backend)
    assert body["tools"] == [
        {"type": "web_search", "filters": {"allowed_domains": ["example.com"]}}
    ]
    assert body["tool_choice"] == "auto"
    kinds = [b.type for b in msg.content]
    assert kinds[:2] == ["server_tool_use", "web_search_tool_result"] and kinds[-1] == "text"
    assert msg.content[0].input == {"query": "pelicans"}
    assert msg.content[1].tool_use_id == msg.content[0].id
    assert msg.content[1].content[0].url == "https://example.com/pelicans"
    assert msg.stop_reason == "end_turn"
    codex_backend.enqueue_web_search(query="pelicans", text="Pelicans fly.", sources=sources)
    with claude.messages.stream(**base) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == kinds


def test_structured_output(claude, codex_login, codex_backend):
    """output_config.format json_schema becomes the backend's text.format; the text is JSON."""
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    msg = claude.messages.create(
        model="gpt-5.5",
        max_tokens=100,
        messages=[{"role": "user", "content": "a pelican's name"}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}},
    )
    fmt = _last_body(codex_backend)["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"] == schema
    assert isinstance(json.loads(msg.content[0].text)["name"], str)
