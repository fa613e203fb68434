"""/v1/responses through the real OpenAI SDK, against the fake backend."""

from __future__ import annotations

import json

import openai
import pytest

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def _last_body(fake):
    return fake.requests_to("/responses")[-1].body


def test_text_response_has_assembled_output(client, codex_login, codex_backend):
    """A non-stream response carries the output items the backend streamed, and usage."""
    r = client.responses.create(model="gpt-5.5", input="hello pelican", instructions="Be brief.")
    assert r.status == "completed"
    assert r.output_text.endswith("You said: hello pelican")
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    body = _last_body(codex_backend)
    assert body["instructions"] == "Be brief."
    assert body["store"] is False


def test_stream_events_in_order(client, codex_login, codex_backend):
    """Streaming relays the turn as Responses events; completed carries the full output."""
    codex_backend.enqueue_text("Hi there friend", reasoning_summary="Pondering", chunks=None)
    with client.responses.stream(
        model="gpt-5.5", input="hi", reasoning={"effort": "low", "summary": "auto"}
    ) as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert types.index("response.output_text.delta") > types.index("response.content_part.added")
    assert types.index("response.reasoning_summary_text.delta") < types.index(
        "response.output_text.delta"
    )
    assert final.output_text == "Hi there friend"
    kinds = [item.type for item in final.output]
    assert kinds == ["reasoning", "message"]
    assert final.output[0].summary[0].text == "Pondering"


async def test_async_stream_raw_events(aclient, codex_login):
    """The async SDK's raw event stream ends with response.completed carrying output."""
    stream = await aclient.responses.create(model="gpt-5.5", input="async", stream=True)
    events = [event async for event in stream]
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text.endswith("You said: async")
    seqs = [e.sequence_number for e in events]
    assert seqs == sorted(seqs)


def test_tool_call_and_replay_with_ids(client, codex_login, codex_backend):
    """Function calls come back as items; replaying the output (ids and all) works."""
    codex_backend.enqueue_tool_call(name="get_weather", arguments='{"city":"Oslo"}')
    history: list = [{"role": "user", "content": "Weather in Oslo?"}]
    r = client.responses.create(
        model="gpt-5.5",
        input=history,
        tools=[WEATHER_TOOL],
        reasoning={"effort": "medium"},
    )
    call = next(item for item in r.output if item.type == "function_call")
    assert json.loads(call.arguments) == {"city": "Oslo"}
    history += [item.model_dump(exclude_none=True) for item in r.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "4 C"})
    r2 = client.responses.create(model="gpt-5.5", input=history, tools=[WEATHER_TOOL])
    assert r2.status == "completed"
    sent = _last_body(codex_backend)["input"]
    assert all("id" not in item for item in sent)
    assert [i["type"] for i in sent][-2:] == ["function_call", "function_call_output"]


def test_system_messages_become_instructions(client, codex_login, codex_backend):
    """A leading system message becomes instructions; a later one a developer message."""
    client.responses.create(
        model="gpt-5.5",
        input=[
            {"role": "system", "content": "Rule one."},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "Rule two."},
        ],
    )
    body = _last_body(codex_backend)
    assert body["instructions"] == "Rule one."
    assert [i["role"] for i in body["input"]] == ["user", "developer"]


def test_sampling_params_dropped_with_header(client, codex_login, codex_backend):
    """temperature/max_output_tokens are dropped and listed in the warning header."""
    raw = client.responses.with_raw_response.create(
        model="gpt-5.5", input="hi", temperature=0.5, max_output_tokens=100, top_p=0.5
    )
    assert raw.headers["x-llm-codex-dropped-params"] == "max_output_tokens,temperature,top_p"
    body = _last_body(codex_backend)
    assert not {"temperature", "max_output_tokens", "top_p"} & set(body)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"background": True}, "background"),
        ({"conversation": "conv_123"}, "conversation"),
    ],
)
def test_semantic_params_refused(client, codex_login, codex_backend, extra, param):
    """Parameters that would change the meaning of the request are refused with a 400."""
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="hi", **extra)
    assert info.value.body["param"] == param
    assert codex_backend.requests_to("/responses") == []


def test_incomplete_response_is_reported(client, codex_login, codex_backend):
    """A truncated turn answers status 'incomplete' with its reason and partial output."""
    codex_backend.enqueue_incomplete(reason="max_output_tokens", text="partial")
    r = client.responses.create(model="gpt-5.5", input="long")
    assert r.status == "incomplete"
    assert r.incomplete_details.reason == "max_output_tokens"
    assert r.output_text == "partial"


def test_failed_stream_ends_with_response_failed(client, codex_login, codex_backend):
    """A response.failed from the backend is relayed as response.failed in the stream."""
    codex_backend.enqueue_failed(code="server_is_overloaded")
    codex_backend.enqueue_text("x")
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="gpt-5.5", input="x", stream=True)
    assert info.value.status_code == 503
    codex_backend.clear_scenarios()


def test_models_list(client, codex_backend):
    """GET /v1/models lists the catalog in OpenAI's shape (no login needed)."""
    models = client.models.list()
    ids = [m.id for m in models]
    assert "gpt-5.5" in ids
    assert client.models.retrieve("gpt-5.5").id == "gpt-5.5"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_streamed_incomplete_ends_with_response_incomplete(client, codex_login, codex_backend):
    """A truncated streamed turn ends with response.incomplete carrying the partial output."""
    codex_backend.enqueue_incomplete(reason="max_output_tokens", text="cut here")
    events = list(client.responses.create(model="gpt-5.5", input="long", stream=True))
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details.reason == "max_output_tokens"
    assert last.response.output_text == "cut here"


def test_client_disconnect_mid_stream_leaves_server_healthy(client, codex_login, codex_backend):
    """A client that hangs up mid-stream does not disturb the next request."""
    codex_backend.enqueue_slow(text="slow words arriving one by one", delay=0.05)
    stream = client.responses.create(model="gpt-5.5", input="slow", stream=True)
    for event in stream:
        if event.type == "response.output_text.delta":
            break
    stream.close()
    r = client.responses.create(model="gpt-5.5", input="after")
    assert r.output_text.endswith("You said: after")
