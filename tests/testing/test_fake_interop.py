"""Real clients against the fake: the Codex CLI's recorded request and the openai SDK."""

from __future__ import annotations

import json

import pytest

from ..captures import codex_cli_exec
from .fake_helpers import done_items, parse_sse, text_of, turn


def test_replay_codex_cli_capture_turn(client):
    """Request #2 of the Codex CLI 0.169.0 capture (no instructions) gets a well-formed stream."""
    entry = codex_cli_exec()[2]
    assert entry["path"] == "/backend-api/codex/responses"
    client.fake.require_instructions = False
    headers = {
        k: v
        for k, v in entry["headers"].items()
        if k not in ("host", "content-length", "authorization", "chatgpt-account-id")
    }
    response = client.http.post(
        client.fake.base_url + "/responses",
        content=json.dumps(entry["body"]).encode(),
        headers={**headers, **client.headers()},
    )
    assert response.status_code == 200, response.text
    frames = parse_sse(response.text)
    events = [d for _, d in frames]
    assert [d["sequence_number"] for d in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"] == []
    assert text_of(events).endswith("You said: hello pelican")
    reasoning = done_items(events)[0]
    assert reasoning["summary"] and reasoning["encrypted_content"]
    recorded = client.fake.requests_to("/responses")[-1]
    assert recorded.headers["originator"] == "codex_exec"
    assert recorded.body["prompt_cache_key"] == entry["body"]["prompt_cache_key"]


def test_capture_without_instructions_rejected_by_default(client):
    """With the default require_instructions, the CLI's instruction-less request gets 400."""
    body = codex_cli_exec()[2]["body"]
    response = client.post(body)
    assert response.status_code == 400
    assert response.json() == {"detail": "Instructions are required"}


def test_capture_refresh_body_shape_is_accepted(client):
    """Request #0's refresh body shape (JSON with refresh_reason) works against the fake."""
    body = dict(codex_cli_exec()[0]["body"])
    body["refresh_token"] = client.tokens["refresh_token"]
    response = client.http.post(client.fake.url + "/oauth/token", json=body)
    assert response.status_code == 200


def test_openai_sdk_parses_stream(client):
    """The real openai SDK streams a turn from the fake without errors."""
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(
        base_url=client.fake.base_url,
        api_key=client.tokens["access_token"],
        default_headers={"chatgpt-account-id": client.tokens["account_id"]},
        max_retries=0,
    )
    body = turn("from the SDK")
    body.pop("stream")
    stream = sdk.responses.create(stream=True, **body)
    events = list(stream)
    types = [e.type for e in events]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Hello from the fake Codex backend. You said: from the SDK"
    completed = events[-1].response
    assert completed.output == []
    assert completed.usage.input_tokens > 0
    items = [e.item for e in events if e.type == "response.output_item.done"]
    assert items[0].type == "reasoning"
    assert items[0].encrypted_content
    assert items[1].content[0].text == text
    sdk.close()


def test_openai_sdk_tool_call_and_web_search(client):
    """The SDK also parses function calls, web search and image generation items."""
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(base_url=client.fake.base_url, api_key=client.tokens["access_token"])
    client.fake.enqueue_tool_calls([("a", "{}"), ("b", '{"x":1}')])
    client.fake.enqueue_web_search(query="q", text="found")
    client.fake.enqueue_image_generation(text="done")
    tools = [
        {"type": "function", "name": "a", "parameters": {"type": "object"}, "strict": False},
        {"type": "function", "name": "b", "parameters": {"type": "object"}, "strict": False},
        {"type": "web_search"},
        {"type": "image_generation"},
    ]
    kinds = []
    for _ in range(3):
        body = turn(tools=tools)
        body.pop("stream")
        events = list(sdk.responses.create(stream=True, **body))
        assert events[-1].type == "response.completed"
        kinds.append([e.item.type for e in events if e.type == "response.output_item.done"])
    assert kinds == [
        ["reasoning", "function_call", "function_call"],
        ["reasoning", "web_search_call", "message"],
        ["reasoning", "image_generation_call", "message"],
    ]
    sdk.close()


def test_openai_sdk_sees_backend_errors(client):
    """The SDK raises BadRequestError on the fake's 400 detail body."""
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(base_url=client.fake.base_url, api_key=client.tokens["access_token"])
    body = turn(temperature=0.5)
    body.pop("stream")
    with pytest.raises(openai.BadRequestError) as info:
        sdk.responses.create(stream=True, **body)
    assert info.value.status_code == 400
    info.value.response.read()
    assert info.value.response.json() == {"detail": "Unsupported parameter: temperature"}
    sdk.close()
