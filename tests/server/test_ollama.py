"""The Ollama API through the official ``ollama`` Python client, against the fake backend."""

from __future__ import annotations

import base64
import json

import httpx2
import ollama
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_codex.server.errors import RequestRefused
from llm_codex.server.ollama import messages_to_items, ollama_model, translate_chat

from . import json_values

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def add_two_numbers(a: int, b: int) -> int:
    """
    Add two numbers.

    Args:
      a: The first number
      b: The second number

    Returns:
      int: The sum
    """
    return a + b


@pytest.fixture
def oclient(server) -> ollama.Client:
    return ollama.Client(host=server.url)


def _sent(fake):
    return fake.requests_to("/responses")[-1].body


def test_probe_version_tags_show_ps(oclient, server, codex_backend):
    """The discovery calls clients make before chatting (no login needed, no upstream call)."""
    assert httpx2.get(server.url + "/").text == "Ollama is running"
    assert oclient.list().models[0].model  # the client reads ``model``, not ``name``
    slugs = [m.model for m in oclient.list().models]
    assert "gpt-5.5" in slugs
    info = oclient.show("gpt-5.5")
    assert info.modelinfo["gpt.context_length"] > 0
    assert {"completion", "tools"} <= set(info.capabilities)
    assert any(m.model == "gpt-5.5" for m in oclient.ps().models)
    version = httpx2.get(server.url + "/api/version").json()["version"]
    assert [int(x) for x in version.split(".")] >= [0, 5, 0]
    with pytest.raises(ollama.ResponseError) as info:
        oclient.show("no-such-model")
    assert info.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as info:
        oclient.pull("llama3.2")
    assert info.value.status_code == 404 and "/api/tags" in info.value.error
    assert codex_backend.requests_to("/responses") == []


def test_chat_non_stream(oclient, codex_login, codex_backend):
    """A plain chat answers in Ollama's shape with token counts; system -> instructions."""
    r = oclient.chat(
        model="gpt-5.5:latest",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello llama"},
        ],
        options={"temperature": 0.2, "num_ctx": 4096},
        keep_alive="5m",
    )
    assert r.message.role == "assistant"
    assert r.message.content.endswith("You said: hello llama")
    assert r.done and r.done_reason == "stop"
    assert r.prompt_eval_count > 0 and r.eval_count > 0
    body = _sent(codex_backend)
    assert body["model"] == "gpt-5.5"
    assert body["instructions"] == "Be brief."
    assert "temperature" not in body


def test_chat_stream_with_thinking(oclient, codex_login, codex_backend):
    """Streaming: NDJSON parts whose contents join to the answer; think -> message.thinking."""
    codex_backend.enqueue_text("Streaming words for you", reasoning_summary="Mulling it over")
    parts = list(
        oclient.chat(
            model="gpt-5.5", messages=[{"role": "user", "content": "hi"}], stream=True, think="high"
        )
    )
    assert "".join(p.message.content or "" for p in parts) == "Streaming words for you"
    assert "".join(p.message.thinking or "" for p in parts) == "Mulling it over"
    assert [p.done for p in parts].count(True) == 1 and parts[-1].done
    assert parts[-1].done_reason == "stop" and parts[-1].eval_count > 0
    assert _sent(codex_backend)["reasoning"] == {"effort": "high", "summary": "auto"}


def test_chat_tool_round_trip(oclient, codex_login, codex_backend):
    """Tools from a Python function; arguments come back as an object; the result goes back."""
    codex_backend.enqueue_tool_call(name="add_two_numbers", arguments='{"a":2,"b":3}')
    messages: list = [{"role": "user", "content": "What is 2 + 3?"}]
    r = oclient.chat(model="gpt-5.5", messages=messages, tools=[add_two_numbers], think=True)
    call = r.message.tool_calls[0]
    assert call.function.name == "add_two_numbers"
    assert call.function.arguments == {"a": 2, "b": 3}
    tool = _sent(codex_backend)["tools"][0]
    assert tool["name"] == "add_two_numbers" and "a" in tool["parameters"]["properties"]
    messages.append(r.message)
    result = add_two_numbers(**call.function.arguments)
    messages.append({"role": "tool", "content": str(result), "tool_name": call.function.name})
    final = oclient.chat(model="gpt-5.5", messages=messages, tools=[add_two_numbers], think=True)
    assert final.message.content
    sent = _sent(codex_backend)["input"]
    kinds = [i["type"] for i in sent]
    assert kinds[-2:] == ["function_call", "function_call_output"]
    assert sent[-1]["call_id"] == sent[-2]["call_id"] and sent[-1]["output"] == "5"
    assert json.loads(sent[-2]["arguments"]) == {"a": 2, "b": 3}
    # the client drops call ids; the call's reasoning is found by conversation, name, arguments
    assert kinds == ["message", "reasoning", "function_call", "function_call_output"]
    assert codex_backend.replayed_reasoning[-1]


def test_chat_tool_round_trip_on_a_lite_model(oclient, codex_login, codex_backend):
    """A Responses Lite model gets the lite form from the Ollama face too, and its namespaced
    call is echoed back with the namespace, so the fake's lane rules accept the second turn."""
    lite = "gpt-5.6-terra"
    codex_backend.enqueue_tool_call(name="add_two_numbers", arguments='{"a":2,"b":3}')
    messages: list = [{"role": "user", "content": "What is 2 + 3?"}]
    r = oclient.chat(model=lite, messages=messages, tools=[add_two_numbers])
    call = r.message.tool_calls[0]
    assert call.function.arguments == {"a": 2, "b": 3}
    first = codex_backend.requests_to("/responses")[-1]
    assert first.headers.get("x-openai-internal-codex-responses-lite") == "true"
    assert "tools" not in first.body and first.body["parallel_tool_calls"] is False
    messages.append(r.message)
    messages.append({"role": "tool", "content": "5", "tool_name": call.function.name})
    final = oclient.chat(model=lite, messages=messages, tools=[add_two_numbers])
    assert final.message.content
    replayed = [i for i in _sent(codex_backend)["input"] if i.get("type") == "function_call"]
    assert replayed and replayed[-1].get("namespace") == "functions"


def test_chat_stream_tool_call(oclient, codex_login, codex_backend):
    """A streamed tool call arrives as one part with the whole call."""
    codex_backend.enqueue_tool_call(name="add_two_numbers", arguments='{"a":1,"b":1}')
    parts = list(
        oclient.chat(
            model="gpt-5.5",
            messages=[{"role": "user", "content": "1+1?"}],
            tools=[add_two_numbers],
            stream=True,
        )
    )
    calls = [c for p in parts for c in (p.message.tool_calls or [])]
    assert [c.function.arguments for c in calls] == [{"a": 1, "b": 1}]
    assert parts[-1].done


def test_chat_images(oclient, codex_login, codex_backend):
    """message.images (raw bytes in the client) reach the backend as an inline data URL."""
    oclient.chat(
        model="gpt-5.5", messages=[{"role": "user", "content": "what is this?", "images": [PNG]}]
    )
    content = _sent(codex_backend)["input"][-1]["content"]
    assert content[1]["type"] == "input_image"
    assert content[1]["image_url"].startswith("data:image/png;base64,iVBOR")


def test_generate_stream_and_non_stream(oclient, codex_login, codex_backend):
    """/api/generate: prompt and system; streamed parts join to the same answer."""
    r = oclient.generate(model="gpt-5.5", prompt="tell me", system="Terse.")
    assert r.response.endswith("You said: tell me") and r.done
    assert _sent(codex_backend)["instructions"] == "Terse."
    parts = list(oclient.generate(model="gpt-5.5", prompt="again", stream=True))
    assert "".join(p.response for p in parts).endswith("You said: again")
    assert parts[-1].done and parts[-1].done_reason == "stop"


def test_empty_generate_only_loads(oclient, codex_backend):
    """An empty prompt is Ollama's 'load the model': answered without an upstream call."""
    r = oclient.generate(model="gpt-5.5")
    assert r.done and r.done_reason == "load"
    assert oclient.chat(model="gpt-5.5", keep_alive=0).done_reason == "unload"
    assert codex_backend.requests_to("/responses") == []


def test_errors_in_ollama_shape(oclient, server, codex_login, codex_backend):
    """Upstream errors keep the shared mapping's status, in Ollama's {"error"} shape."""
    codex_backend.enqueue_usage_limit()
    with pytest.raises(ollama.ResponseError) as info:
        oclient.chat(model="gpt-5.5", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 429
    assert "limit" in str(info.value.error).lower()
    codex_backend.enqueue_drop(after_deltas=2)
    with pytest.raises(ollama.ResponseError):
        list(
            oclient.chat(model="gpt-5.5", messages=[{"role": "user", "content": "x"}], stream=True)
        )
    bad = httpx2.post(server.url + "/api/chat", content=b"{not json")
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]


def test_unknown_fields_are_accepted(server, codex_login, codex_backend):
    """Fields we do not know (from newer clients) never cause a 400."""
    r = httpx2.post(
        server.url + "/api/chat",
        json={
            "model": "gpt-5.5",
            "messages": [{"role": "user", "content": "hi", "whatever": 1}],
            "stream": False,
            "logprobs": True,
            "shiny_new_field": {"x": 1},
        },
    )
    assert r.status_code == 200, r.text


def test_host_check_and_api_key(serve, codex_login, codex_backend, monkeypatch):
    """A keyless server refuses foreign Host names; with a key, OLLAMA_API_KEY gets in."""
    keyless = serve()
    evil = httpx2.get(keyless.url + "/api/tags", headers={"Host": "evil.example"})
    assert evil.status_code == 403
    keyed = serve(api_key="s3cret")
    with pytest.raises(ollama.ResponseError) as info:
        ollama.Client(host=keyed.url).list()
    assert info.value.status_code == 401
    monkeypatch.setenv("OLLAMA_API_KEY", "s3cret")
    assert ollama.Client(host=keyed.url).list().models


async def test_async_client_stream(server, codex_login):
    """The async client streams too."""
    client = ollama.AsyncClient(host=server.url)
    parts = [
        p
        async for p in await client.chat(
            model="gpt-5.5", messages=[{"role": "user", "content": "async"}], stream=True
        )
    ]
    assert "".join(p.message.content for p in parts).endswith("You said: async")


# --- translation ---------------------------------------------------------------------------------


def test_tool_results_pair_by_id_then_name_then_order():
    """Results find their call by tool_call_id, else tool_name, else order; orphans are text."""
    items = messages_to_items(
        [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"function": {"name": "a", "arguments": {}}},
                    {"id": "given", "function": {"name": "b", "arguments": {"x": 1}}},
                ],
            },
            {"role": "tool", "tool_name": "b", "content": "B"},
            {"role": "tool", "content": "A"},
            {"role": "tool", "content": "stray"},
        ]
    )
    outputs = [(i["call_id"], i["output"]) for i in items if i["type"] == "function_call_output"]
    calls = [i["call_id"] for i in items if i["type"] == "function_call"]
    assert outputs == [("given", "B"), (calls[0], "A")]
    assert items[-1]["role"] == "user"


@pytest.mark.parametrize(
    ("think", "reasoning"),
    [(None, (None, None)), (False, (None, None)), (True, (None, "auto")), ("low", ("low", "auto"))],
)
def test_think_maps_to_reasoning(think, reasoning):
    """think: true asks for summaries; a level also sets the effort."""
    tr = translate_chat({"model": "gpt-5.5", "messages": [], "think": think})
    assert (tr.request.reasoning_effort, tr.request.reasoning_summary) == reasoning


def test_model_names():
    """Ollama-style tags are accepted."""
    assert ollama_model("gpt-5.5:latest") == "gpt-5.5"
    assert ollama_model("openai-codex/gpt-5.5") == "gpt-5.5"


_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", "odd"])},
    optional={
        "content": json_values,
        "images": json_values,
        "tool_calls": json_values,
        "tool_name": json_values,
        "tool_call_id": json_values,
        "extra": json_values,
    },
)


@given(
    st.fixed_dictionaries(
        {"model": st.just("gpt-5.5"), "messages": st.lists(_message | json_values, max_size=4)},
        optional={
            "think": json_values,
            "format": json_values,
            "tools": json_values,
            "options": json_values,
            "x": json_values,
        },
    )
)
def test_any_chat_body_translates_or_is_refused(body):
    """Whatever a client sends, the translator answers a request or a clear refusal."""
    try:
        tr = translate_chat(body)
    except RequestRefused as exc:
        assert exc.message.endswith(".")
    else:
        assert all("id" not in item for item in tr.request.input)


def test_format_schema_and_json(oclient, codex_login, codex_backend):
    """format: a JSON schema becomes structured output (non-strict, as Ollama means it)."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    r = oclient.chat(
        model="gpt-5.5", messages=[{"role": "user", "content": "a city"}], format=schema
    )
    assert "city" in json.loads(r.message.content)
    sent = _sent(codex_backend)["text"]["format"]
    assert sent == {"type": "json_schema", "name": "output", "schema": schema, "strict": False}
    oclient.generate(model="gpt-5.5", prompt="json please", format="json")
    assert _sent(codex_backend)["text"]["format"] == {"type": "json_object"}


@given(st.lists(st.text(), max_size=6), st.lists(st.text(), max_size=3), st.booleans())
def test_stream_lines_are_json_and_join_to_the_text(texts, thoughts, chat):
    """Every NDJSON line parses (quotes, newlines, any Unicode) and the parts join to the text."""
    from llm_codex.core.types import CodexResult, Completed, ReasoningDelta, TextDelta
    from llm_codex.server.ollama import OllamaEncoder

    encoder = OllamaEncoder(
        kind="chat" if chat else "generate", model='m"1', thinking=True, started_ns=0
    )
    events = [ReasoningDelta(t) for t in thoughts] + [TextDelta(t, 1) for t in texts]
    data = b"".join(encoder.encode([e]) for e in [*events, Completed(CodexResult())])
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert lines[-1]["done"] is True and all(not line["done"] for line in lines[:-1])
    assert all(line["model"] == 'm"1' for line in lines)
    part = (lambda line: line["message"]) if chat else (lambda line: line)
    assert "".join(part(line).get("content" if chat else "response", "") for line in lines) == (
        "".join(texts)
    )
    assert "".join(part(line).get("thinking", "") for line in lines) == "".join(thoughts)


NEW_ROUTES = [
    ("GET", "/api/version"),
    ("GET", "/api/tags"),
    ("GET", "/api/ps"),
    ("POST", "/api/show"),
    ("POST", "/api/chat"),
    ("POST", "/api/generate"),
    ("POST", "/api/pull"),
    ("GET", "/v1/responses/resp_x"),
    ("DELETE", "/v1/responses/resp_x"),
    ("GET", "/v1/responses/resp_x/input_items"),
]


def test_new_routes_sit_behind_the_same_checks(serve, codex_login, codex_backend):
    """Every route this feature adds needs the key when one is set and refuses foreign Hosts."""
    keyed = serve(api_key="k")
    with httpx2.Client(base_url=keyed.url) as http:
        for method, path in NEW_ROUTES:
            assert http.request(method, path, json={}).status_code == 401, path
            evil = http.request(method, path, json={}, headers={"Host": "evil.example"})
            assert evil.status_code == 403, path
            ok = http.request(method, path, json={}, headers={"Authorization": "Bearer k"})
            assert ok.status_code not in (401, 403), path
        # the root is a keyless probe (Claude Code sends HEAD, Ollama clients GET), Host-checked
        assert http.get("/").text == "Ollama is running"
        assert http.head("/").status_code == 200
        assert http.get("/", headers={"Host": "evil.example"}).status_code == 403
    assert codex_backend.requests_to("/responses") == []


@given(
    st.lists(st.text(), min_size=1, max_size=4),
    st.booleans(),
    st.sampled_from(["gpt-5.5", 'm"1', "é\n"]),
)
def test_delta_lines_from_templates_are_the_general_lines(pieces, chat, model):
    """A text or thinking delta's line, from the templates kept per model, is byte for byte
    the line the general path serialises."""
    from llm_codex.core.types import ReasoningDelta, TextDelta
    from llm_codex.server.ollama import OllamaEncoder, _delta_line

    kind = "chat" if chat else "generate"
    key = "content" if chat else "response"
    for _ in range(2):  # the second answer reuses the templates of the first
        encoder = OllamaEncoder(kind=kind, model=model, thinking=True, started_ns=0)
        at = encoder.created_at
        for piece in pieces:
            want = _delta_line(kind, model, at, {key: piece}) if piece else b""
            assert encoder.encode([TextDelta(piece)]) == want
            want = _delta_line(kind, model, at, {key: "", "thinking": piece}) if piece else b""
            assert encoder.encode([ReasoningDelta(piece)]) == want
    quiet = OllamaEncoder(kind=kind, model=model, thinking=False, started_ns=0)
    assert quiet.encode([ReasoningDelta("hidden")]) == b""
