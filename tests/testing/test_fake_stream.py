"""The fake's /responses streams look like the real backend's (protocol §6)."""

from __future__ import annotations

import base64

from .fake_helpers import done_items, parse_sse, text_of, turn


def test_default_reply_event_sequence(client):
    """A plain turn streams reasoning, then the message, then response.completed."""
    response = client.post(turn("hello pelican"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = parse_sse(response.text)
    types = [data["type"] for _, data in frames]
    assert all(event == data["type"] for event, data in frames)
    assert [data["sequence_number"] for _, data in frames] == list(range(len(frames)))
    assert types[:3] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]
    assert types[3] == "response.reasoning_summary_part.added"
    assert "response.reasoning_summary_text.delta" in types
    message_start = types.index("response.content_part.added")
    assert types[message_start - 1] == "response.output_item.added"
    tail = [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert types[-4:] == tail
    assert set(types[message_start + 1 : -4]) == {"response.output_text.delta"}


def test_default_reply_text_and_items(client):
    """The default answer quotes the last user text and ends with an empty output list."""
    events = client.events(turn("hello pelican"))
    expected = "Hello from the fake Codex backend. You said: hello pelican"
    assert text_of(events) == expected
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert max(len(d) for d in deltas) <= 5
    reasoning, message = done_items(events)
    assert reasoning["type"] == "reasoning"
    assert reasoning["id"].startswith("rs_")
    assert reasoning["summary"][0]["type"] == "summary_text"
    assert reasoning["encrypted_content"]
    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert message["phase"] == "final_answer"
    assert message["content"][0]["text"] == expected
    completed = events[-1]["response"]
    assert completed["status"] == "completed"
    assert completed["output"] == []
    usage = completed["usage"]
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] >= usage["output_tokens_details"]["reasoning_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_tokens_details"]["cached_tokens"] == 0


def test_summary_only_when_requested(client):
    """Without reasoning.summary the reasoning item has no summary text."""
    events = client.events(turn(reasoning={"effort": "low"}))
    assert not any(e["type"].startswith("response.reasoning_summary") for e in events)
    assert done_items(events)[0]["summary"] == []


def test_no_encrypted_content_without_include(client):
    """Without include=reasoning.encrypted_content the reasoning item carries none."""
    body = turn()
    del body["include"]
    reasoning = done_items(client.events(body))[0]
    assert "encrypted_content" not in reasoning


def test_no_reasoning_item_when_reasoning_is_null(client):
    """A request with reasoning null gets only the message."""
    body = turn(reasoning=None)
    del body["include"]
    items = done_items(client.events(body))
    assert [i["type"] for i in items] == ["message"]
    assert client.fake.requests_to("/responses")[-1].status == 200


def test_rate_limit_and_request_id_headers(client):
    """Every /responses answer carries x-request-id and the x-codex-* headers."""
    response = client.post(turn())
    assert response.headers["x-request-id"]
    assert client.fake.requests[-1].request_id == response.headers["x-request-id"]
    assert response.headers["x-codex-primary-used-percent"] == "12.0"
    assert response.headers["x-codex-primary-window-minutes"] == "300"
    assert int(response.headers["x-codex-primary-reset-at"]) > 0
    assert response.headers["x-codex-secondary-window-minutes"] == "10080"
    assert response.headers["x-codex-credits-has-credits"] in ("True", "False")
    assert response.headers["x-codex-plan-type"] == "plus"
    bad = client.post(turn(temperature=0.2))
    assert bad.status_code == 400
    assert bad.headers["x-codex-primary-used-percent"] == "12.0"


def test_rate_limit_headers_can_be_overridden(client):
    """set_rate_limit_headers changes what the next answers carry; None removes a header."""
    client.fake.set_rate_limit_headers(
        {"x-codex-primary-used-percent": 87.5, "x-codex-secondary-used-percent": None}
    )
    client.fake.set_rate_limit_headers({"x-codex-credits-unlimited": True})
    response = client.post(turn())
    assert response.headers["x-codex-primary-used-percent"] == "87.5"
    assert "x-codex-secondary-used-percent" not in response.headers
    assert response.headers["x-codex-credits-unlimited"] == "True"
    client.fake.set_rate_limit_headers({"x-codex-primary-used-percent": "1"}, replace=True)
    response = client.post(turn())
    assert [h for h in response.headers if h.startswith("x-codex-")] == [
        "x-codex-primary-used-percent"
    ]


def test_cached_tokens_on_repeated_prefix(client):
    """A second turn with the same prompt_cache_key and prefix reports cached tokens."""
    first = client.events(turn("same start"))[-1]["response"]["usage"]
    body = turn("same start")
    body["input"] = [
        *body["input"],
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "ok"}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "more"}]},
    ]
    second = client.events(body)[-1]["response"]["usage"]
    assert first["input_tokens_details"]["cached_tokens"] == 0
    cached = second["input_tokens_details"]["cached_tokens"]
    assert 0 < cached < second["input_tokens"]
    assert cached >= first["input_tokens"]


def test_no_cache_hit_without_key_or_with_other_key(client):
    """Without a prompt_cache_key, or under a different one, nothing is cached."""
    body = turn()
    del body["prompt_cache_key"]
    client.events(body)
    assert (
        client.events(body)[-1]["response"]["usage"]["input_tokens_details"]["cached_tokens"] == 0
    )
    client.events(turn(prompt_cache_key="a"))
    usage = client.events(turn(prompt_cache_key="b"))[-1]["response"]["usage"]
    assert usage["input_tokens_details"]["cached_tokens"] == 0


def test_encrypted_reasoning_replay_is_recognised(client):
    """Reasoning replayed without id and with the fake's encrypted_content is accepted."""
    events = client.events(turn("first"))
    reasoning, message = done_items(events)
    response_id = events[0]["response"]["id"]
    assert client.fake.decode_encrypted(reasoning["encrypted_content"]) == response_id
    replay = {k: v for k, v in reasoning.items() if k != "id"}
    answer = {k: v for k, v in message.items() if k not in ("id", "status")}
    body = turn("first")
    body["input"] += [
        replay,
        answer,
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "again"}]},
    ]
    assert text_of(client.events(body)).endswith("You said: again")
    assert client.fake.replayed_reasoning[-1] == [response_id]


def test_unknown_encrypted_content_is_rejected(client):
    """Reasoning with encrypted content the fake never issued answers 400."""
    body = turn()
    body["input"].insert(
        0, {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAAbogus"}
    )
    response = client.post(body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_encrypted_content"


def test_enqueue_text_with_chunks_and_summary(client):
    """enqueue_text controls the answer, its deltas and the reasoning summary."""
    client.fake.enqueue_text(
        "Hi there!", chunks=["Hi", " there", "!"], reasoning_summary="**Plan**"
    )
    events = client.events(turn())
    assert [e["delta"] for e in events if e["type"] == "response.output_text.delta"] == [
        "Hi",
        " there",
        "!",
    ]
    summary = "".join(
        e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta"
    )
    assert summary == "**Plan**"
    assert client.fake.pending_scenarios == 0
    assert text_of(client.events(turn("next"))).endswith("You said: next")


def test_multi_paragraph_summary(client):
    """A list summary gives one summary part per paragraph."""
    client.fake.enqueue_text("ok", reasoning_summary=["**One**", "**Two**"])
    reasoning = done_items(client.events(turn()))[0]
    assert [s["text"] for s in reasoning["summary"]] == ["**One**", "**Two**"]


def test_single_tool_call(client):
    """enqueue_tool_call streams a function_call with name first and arguments in deltas."""
    client.fake.enqueue_tool_call("get_weather", '{"city":"Oslo"}', call_id="call_abc")
    events = client.events(turn(tools=[{"type": "function", "name": "get_weather"}]))
    added = [e for e in events if e["type"] == "response.output_item.added"][-1]["item"]
    assert added["type"] == "function_call"
    assert added["name"] == "get_weather"
    assert added["arguments"] == ""
    args = "".join(
        e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"
    )
    assert args == '{"city":"Oslo"}'
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["arguments"] == '{"city":"Oslo"}'
    call = done_items(events)[-1]
    assert call["type"] == "function_call"
    assert call["call_id"] == "call_abc"
    assert call["id"].startswith("fc_")
    assert call["arguments"] == '{"city":"Oslo"}'
    assert events[-1]["type"] == "response.completed"


def test_tool_call_with_preamble_and_namespace(client):
    """also_text adds a commentary message before the call; namespace is carried on the call."""
    client.fake.enqueue_tool_call("imagegen", "{}", also_text="Let me draw.", namespace="image_gen")
    items = done_items(client.events(turn()))
    assert [i["type"] for i in items] == ["reasoning", "message", "function_call"]
    assert items[1]["phase"] == "commentary"
    assert items[2]["namespace"] == "image_gen"
    assert items[2]["call_id"].startswith("call_")


def test_parallel_tool_calls(client):
    """enqueue_tool_calls makes several calls with distinct call ids in one turn."""
    client.fake.enqueue_tool_calls([("a", '{"x":1}'), ("b", '{"y":2}')])
    calls = [i for i in done_items(client.events(turn())) if i["type"] == "function_call"]
    assert [(c["name"], c["arguments"]) for c in calls] == [("a", '{"x":1}'), ("b", '{"y":2}')]
    assert len({c["call_id"] for c in calls}) == 2


def test_tool_result_turn_is_accepted(client):
    """A follow-up turn with the call and its output (ids stripped) is accepted."""
    client.fake.enqueue_tool_call("get_weather", '{"city":"Oslo"}')
    call = done_items(client.events(turn()))[-1]
    body = turn()
    body["input"] += [
        {k: v for k, v in call.items() if k not in ("id", "status")},
        {"type": "function_call_output", "call_id": call["call_id"], "output": '{"temp_c":4}'},
    ]
    assert client.post(body).status_code == 200


def test_web_search_with_citations(client):
    """With the web_search tool, the turn has a web_search_call and url_citation annotations."""
    client.fake.enqueue_web_search(
        query="pelicans",
        text="Pelicans are big.",
        sources=[{"url": "https://example.org/p", "title": "Pelicans"}],
    )
    events = client.events(turn(tools=[{"type": "web_search", "external_web_access": False}]))
    search, message = done_items(events)[1:]
    assert search["type"] == "web_search_call"
    assert search["status"] == "completed"
    assert search["action"] == {
        "type": "search",
        "query": "pelicans",
        "sources": [{"type": "url", "url": "https://example.org/p"}],
    }
    part = message["content"][0]
    citation = part["annotations"][0]
    assert citation["type"] == "url_citation"
    assert citation["url"] == "https://example.org/p"
    assert part["text"][citation["start_index"] : citation["end_index"]] == "[Pelicans]"
    assert any(e["type"] == "response.output_text.annotation.added" for e in events)


def test_web_search_needs_the_tool(client):
    """Without a web_search tool the model answers without searching."""
    client.fake.enqueue_web_search(text="No search.")
    items = done_items(client.events(turn()))
    assert [i["type"] for i in items] == ["reasoning", "message"]


def test_image_generation(client):
    """With the image_generation tool, the turn has an image_generation_call with a PNG."""
    client.fake.enqueue_image_generation(revised_prompt="a pelican", text="Here it is.")
    items = done_items(client.events(turn(tools=[{"type": "image_generation"}])))
    image = items[1]
    assert image["type"] == "image_generation_call"
    assert image["revised_prompt"] == "a pelican"
    assert base64.b64decode(image["result"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert items[2]["content"][0]["text"] == "Here it is."


def test_image_generation_custom_bytes(client):
    """enqueue_image_generation sends the given PNG bytes."""
    from llm_codex.testing import tiny_png

    png = tiny_png(2, 3)
    client.fake.enqueue_image_generation(png)
    image = done_items(client.events(turn(tools=[{"type": "image_generation"}])))[1]
    assert base64.b64decode(image["result"]) == png


def test_failed_stream(client):
    """enqueue_failed ends a 200 stream with response.failed and the error code."""
    client.fake.enqueue_failed()
    events = client.events(turn())
    last = events[-1]
    assert last["type"] == "response.failed"
    assert last["response"]["status"] == "failed"
    assert last["response"]["error"]["code"] == "context_length_exceeded"
    assert "context window" in last["response"]["error"]["message"]
    assert not any(e["type"] == "response.completed" for e in events)


def test_failed_stream_extra_fields(client):
    """Extra error fields (e.g. plan_type, resets_at) are carried in response.failed."""
    client.fake.enqueue_failed("usage_limit_reached", "Limit.", plan_type="pro", resets_at=123)
    error = client.events(turn())[-1]["response"]["error"]
    assert error == {
        "code": "usage_limit_reached",
        "message": "Limit.",
        "type": "server_error",
        "plan_type": "pro",
        "resets_at": 123,
    }


def test_incomplete_stream(client):
    """enqueue_incomplete ends with response.incomplete and its reason after some text."""
    client.fake.enqueue_incomplete("max_output_tokens", text="Cut off")
    events = client.events(turn())
    assert text_of(events) == "Cut off"
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert events[-1]["response"]["usage"]["output_tokens"] > 0


def test_long_stream(client):
    """enqueue_long streams n identical deltas and completes."""
    client.fake.enqueue_long(n_deltas=20000, delta="x")
    events = client.events(turn())
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert len(deltas) == 20000
    assert {e["delta"] for e in deltas} == {"x"}
    numbers = [e["sequence_number"] for e in events]
    assert numbers == list(range(len(events)))
    assert done_items(events)[-1]["content"][0]["text"] == "x" * 20000
    assert events[-1]["type"] == "response.completed"


def test_recorded_requests(client):
    """Each request is recorded with method, path, query, lower-case headers and parsed body."""
    client.post(turn("record me"), **{"Session-Id": "abc"})
    request = client.fake.requests_to("/responses")[-1]
    assert request.method == "POST"
    assert request.path == "/backend-api/codex/responses"
    assert request.headers["session-id"] == "abc"
    assert request.body["input"][0]["content"][0]["text"] == "record me"
    assert request.status == 200
    assert client.fake.requests_to("/responses", method="GET") == []
    client.fake.clear_requests()
    assert client.fake.requests == []


def test_structured_output_default_is_schema_valid_json(client):
    """With a json_schema text format the default answer is JSON matching the schema."""
    import json

    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "kind": {"enum": ["cat", "dog"]},
        },
        "required": ["name", "age", "tags", "kind"],
        "additionalProperties": False,
    }
    text = {"verbosity": "low", "format": {"type": "json_schema", "name": "pet", "schema": schema}}
    answer = json.loads(text_of(client.events(turn(text=text))))
    assert answer == {"name": "example", "age": 0, "tags": ["example"], "kind": "cat"}


def test_turn_state_and_models_etag_headers(client):
    """Streams carry x-models-etag (the catalog ETag) and, when set, x-codex-turn-state."""
    response = client.post(turn())
    assert response.headers["x-models-etag"] == client.fake.models_etag
    assert "x-codex-turn-state" not in response.headers
    client.fake.turn_state = "ts-123"
    assert client.post(turn()).headers["x-codex-turn-state"] == "ts-123"
