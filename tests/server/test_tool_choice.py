"""``tool_choice`` through the real OpenAI SDK: mapped conservatively for the Codex backend.

The Codex CLI only ever sends ``"auto"``; the server sends ``"none"`` as no tools at all,
passes ``"required"`` and named functions (the backend resolves names among function tools),
refuses choices that cannot work before anything is sent, and sends ``"auto"`` with a warning
header for hosted-tool choices (which the backend refuses).
"""

from __future__ import annotations

import openai
import pytest

from llm_codex.server.common import resolve_tool_choice
from llm_codex.server.errors import RequestRefused

CHAT_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CHAT_TOOL_2 = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
RESP_TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
USER = [{"role": "user", "content": "Weather in Oslo?"}]


def _last_body(fake):
    return fake.requests_to("/responses")[-1].body


def _chat(client, **kw):
    return client.chat.completions.with_raw_response.create(model="gpt-5.5", messages=USER, **kw)


def test_chat_tool_choice_none_sends_no_tools(client, codex_login, codex_backend):
    """'none' means the model may call nothing: no tools are offered, tool_choice is auto."""
    raw = _chat(client, tools=[CHAT_TOOL], tool_choice="none")
    assert raw.parse().choices[0].finish_reason == "stop"
    body = _last_body(codex_backend)
    assert not body.get("tools")
    assert body["tool_choice"] == "auto"
    assert "x-llm-codex-dropped-params" not in raw.headers


def test_chat_tool_choice_required_and_named(client, codex_login, codex_backend):
    """'required' passes as is; a named function becomes the Responses shape."""
    _chat(client, tools=[CHAT_TOOL, CHAT_TOOL_2], tool_choice="required")
    assert _last_body(codex_backend)["tool_choice"] == "required"
    choice = {"type": "function", "function": {"name": "get_time"}}
    _chat(client, tools=[CHAT_TOOL, CHAT_TOOL_2], tool_choice=choice)
    body = _last_body(codex_backend)
    assert body["tool_choice"] == {"type": "function", "name": "get_time"}
    assert [t["name"] for t in body["tools"]] == ["get_weather", "get_time"]


@pytest.mark.parametrize(
    ("tools", "choice"),
    [
        ([CHAT_TOOL], {"type": "function", "function": {"name": "nope"}}),
        ([], "required"),
        ([CHAT_TOOL], "sometimes"),
    ],
)
def test_chat_tool_choice_that_cannot_work_is_refused(
    client, codex_login, codex_backend, tools, choice
):
    """An unknown function name, 'required' without tools, an unknown value: 400, not sent."""
    kw = {"tools": tools} if tools else {}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-5.5", messages=USER, tool_choice=choice, **kw)
    assert info.value.body["param"] == "tool_choice"
    assert codex_backend.requests_to("/responses") == []


def test_chat_allowed_tools_narrows_the_tools(client, codex_login, codex_backend):
    """allowed_tools sends only the listed tools, with its mode as tool_choice."""
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "required",
            "tools": [{"type": "function", "function": {"name": "get_time"}}],
        },
    }
    _chat(client, tools=[CHAT_TOOL, CHAT_TOOL_2], tool_choice=choice)
    body = _last_body(codex_backend)
    assert body["tool_choice"] == "required"
    assert [t["name"] for t in body["tools"]] == ["get_time"]


def test_responses_tool_choice_none_is_echoed_as_sent(client, codex_login, codex_backend):
    """The response object shows the client's tool_choice and tools, not the upstream mapping."""
    r = client.responses.create(model="gpt-5.5", input="hi", tools=[RESP_TOOL], tool_choice="none")
    assert r.tool_choice == "none"
    assert [t.name for t in r.tools] == ["get_weather"]
    body = _last_body(codex_backend)
    assert not body.get("tools") and body["tool_choice"] == "auto"
    with client.responses.stream(
        model="gpt-5.5", input="hi", tools=[RESP_TOOL], tool_choice="none"
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.tool_choice == "none"


def test_responses_named_function_and_hosted_tool_choice(client, codex_login, codex_backend):
    """A named function passes; a hosted-tool choice is sent as auto and named in the header."""
    choice = {"type": "function", "name": "get_weather"}
    client.responses.create(model="gpt-5.5", input="hi", tools=[RESP_TOOL], tool_choice=choice)
    assert _last_body(codex_backend)["tool_choice"] == choice
    raw = client.responses.with_raw_response.create(
        model="gpt-5.5",
        input="hi",
        tools=[{"type": "web_search"}],
        tool_choice={"type": "web_search"},
    )
    assert raw.headers["x-llm-codex-dropped-params"] == "tool_choice"
    body = _last_body(codex_backend)
    assert body["tool_choice"] == "auto"
    assert body["tools"] == [{"type": "web_search"}]
    assert raw.http_response.json()["tool_choice"] == {"type": "web_search"}
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model="gpt-5.5",
            input="hi",
            tools=[RESP_TOOL],
            tool_choice={"type": "function", "name": "missing"},
        )
    assert info.value.body["param"] == "tool_choice"


def test_resolve_tool_choice_table():
    """The mapping itself, including both allowed_tools shapes."""
    tools = [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}]
    assert resolve_tool_choice(None, tools) == ("auto", tools, False)
    assert resolve_tool_choice("auto", tools) == ("auto", tools, False)
    assert resolve_tool_choice("none", tools) == ("auto", [], False)
    assert resolve_tool_choice("required", tools) == ("required", tools, False)
    named = resolve_tool_choice({"type": "function", "name": "b"}, tools)
    assert named == ({"type": "function", "name": "b"}, tools, False)
    flat = {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "a"}]}
    assert resolve_tool_choice(flat, tools) == ("auto", tools[:1], False)
    assert resolve_tool_choice({"type": "image_generation"}, tools) == ("auto", tools, True)
    for bad in ("required", {"type": "function", "name": "a"}):
        with pytest.raises(RequestRefused):
            resolve_tool_choice(bad, [])
    with pytest.raises(RequestRefused):
        resolve_tool_choice({"type": "allowed_tools", "mode": "auto", "tools": []}, tools)
