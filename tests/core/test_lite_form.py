"""The Responses Lite request form (lite spec §2–§5) and the pin on every other request."""

from __future__ import annotations

import pytest

from llm_codex.core import identity
from llm_codex.core.errors import ConfigurationError, NotFound
from llm_codex.core.lite import additional_tools_item, restore_namespaces
from llm_codex.core.request import build_body, build_get_headers, build_headers, encode_body
from llm_codex.core.types import CodexRequest, Credentials

from ..captures import nonlite_golden
from .helpers import drive, user_request
from .nonlite_cases import PNG_URL, cases

GOLDEN = nonlite_golden()
LITE = "gpt-5.6-sol"
TOOL = {
    "type": "function",
    "name": "add",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
    "strict": False,
    "description": "Add",
}


def lite_request(**options) -> CodexRequest:
    return user_request(model=options.pop("model", LITE), responses_lite=True, **options)


# --- non-lite requests are unchanged --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN["bodies"]))
def test_non_lite_bodies_are_byte_for_byte_as_before(name):
    """Every non-lite body is exactly what the client sent before the lite form existed."""
    assert encode_body(build_body(cases()[name])).decode() == GOLDEN["bodies"][name]


def test_non_lite_headers_only_gain_version():
    """Non-lite headers are as before plus ``version``; no lite header."""
    ua = {"User-Agent": identity.user_agent()}
    before = GOLDEN["headers"] | ua
    after = build_headers(Credentials("tok", "acct"), session_id="sid", turn_state="ts")
    assert after == before | {"version": "0.169.0"}
    assert [name for name in after if name != "version"] == list(before)
    get_before = GOLDEN["get_headers"] | ua
    assert build_get_headers(Credentials("tok", "acct")) == get_before | {"version": "0.169.0"}


def test_version_header_follows_the_configured_client_version(monkeypatch):
    """``version`` is LLM_CODEX_CLIENT_VERSION, the same value the catalog request claims."""
    monkeypatch.setenv("LLM_CODEX_CLIENT_VERSION", "0.170.1")
    assert build_headers(Credentials("t"), session_id="s")["version"] == "0.170.1"


# --- the lite body ----------------------------------------------------------------------------


def test_lite_body_is_the_cli_form():
    """Exactly the form of lite spec §2, in the CLI's key order."""
    req = lite_request(
        instructions="Answer briefly.",
        tools=[dict(TOOL)],
        reasoning_effort="low",
        verbosity="low",
        session_id="0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11",
    )
    body = build_body(req)
    assert body == {
        "model": LITE,
        "stream": True,
        "input": [
            {
                "type": "additional_tools",
                "role": "developer",
                "tools": [
                    {"type": "namespace", "name": "functions", "description": "", "tools": [TOOL]}
                ],
            },
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Answer briefly."}],
            },
            req.input[0],
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "low", "context": "all_turns"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11",
        "text": {"verbosity": "low"},
    }
    assert list(body) == [
        "model",
        "stream",
        "input",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "store",
        "include",
        "prompt_cache_key",
        "text",
    ]


def test_lite_body_without_tools_or_effort_keeps_the_item_and_the_context():
    """No tools: the item still goes with ``tools: []``; no effort: reasoning still has context;
    no system prompt: the default one as the developer message."""
    body = build_body(lite_request(parallel_tool_calls=True))
    assert body["input"][0] == {"type": "additional_tools", "role": "developer", "tools": []}
    assert body["input"][1]["content"][0]["text"] == "You are a helpful assistant."
    assert body["reasoning"] == {"context": "all_turns"}
    assert body["parallel_tool_calls"] is False
    assert "instructions" not in body and "tools" not in body


def test_lite_strips_image_detail_and_keeps_namespaces_and_reasoning():
    """``detail`` goes (messages and tool outputs), call namespaces and encrypted reasoning stay,
    and the caller's items are not modified."""
    image = {"type": "input_image", "image_url": PNG_URL, "detail": "high"}
    items = [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "x"}, image],
        },
        {"type": "reasoning", "summary": [], "encrypted_content": "enc"},
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "add",
            "arguments": "{}",
            "namespace": "functions",
        },
        {"type": "function_call_output", "call_id": "c1", "output": [dict(image)]},
    ]
    items[0]["content"].append(image)
    req = CodexRequest(model=LITE, input=items, tools=[dict(TOOL)], responses_lite=True)
    sent = build_body(req)["input"][2:]
    assert sent[0]["content"][1] == {"type": "input_image", "image_url": PNG_URL}
    assert sent[1] == items[1] and sent[2] == items[2]
    assert sent[3]["output"] == [{"type": "input_image", "image_url": PNG_URL}]
    assert items[0]["content"][1]["detail"] == "high"  # untouched


def test_additional_tools_item_is_stable_across_a_conversation():
    """The same tools give the same item on every turn (prompt-cache prefix)."""
    first = build_body(lite_request(tools=[dict(TOOL)]))
    later = lite_request(tools=[dict(TOOL)])
    later.input += [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "b"}]},
    ]
    assert build_body(later)["input"][:3] == first["input"][:3]


def test_namespaced_and_other_lane_tools_keep_their_place():
    """Plain tools gather in one functions namespace; a namespace of the caller stays as is."""
    ns = {"type": "namespace", "name": "image_gen", "description": "d", "tools": [dict(TOOL)]}
    other = dict(TOOL, name="sub")
    item = additional_tools_item([dict(TOOL), ns, other])
    assert item["tools"] == [
        {"type": "namespace", "name": "functions", "description": "", "tools": [TOOL, other]},
        ns,
    ]


@pytest.mark.parametrize(
    ("tool", "needle"),
    [
        ({"type": "web_search"}, "cannot use web search: it takes only function tools; gpt-5.5"),
        ({"type": "image_generation"}, "cannot use image generation"),
        ({"type": "code_interpreter"}, "cannot use the hosted code_interpreter tool"),
    ],
)
def test_hosted_tools_are_refused_naming_a_model_that_has_them(tool, needle):
    """A hosted tool on a lite model never leaves the client."""
    with pytest.raises(ConfigurationError, match=needle):
        build_body(lite_request(tools=[tool]))


@pytest.mark.parametrize("choice", ["required", "none", {"type": "function", "name": "add"}])
def test_a_forced_tool_choice_is_refused(choice):
    """Only ``auto`` exists on the lite lane."""
    with pytest.raises(ConfigurationError, match="cannot be forced to call a tool"):
        build_body(lite_request(tools=[dict(TOOL)], tool_choice=choice))


def test_restore_namespaces_only_fills_our_plain_tools():
    """A call without a namespace to one of our function tools gets ``functions``; others not."""
    items = [
        {"type": "function_call", "call_id": "a", "name": "add", "arguments": "{}"},
        {"type": "function_call", "call_id": "b", "name": "zzz", "arguments": "{}"},
        {
            "type": "function_call",
            "call_id": "c",
            "name": "add",
            "arguments": "{}",
            "namespace": "x",
        },
    ]
    out = restore_namespaces(items, [dict(TOOL)])
    assert [i.get("namespace") for i in out] == ["functions", None, "x"]
    assert "namespace" not in items[0]


# --- on the wire, against the fake ------------------------------------------------------------


def test_lite_turn_against_the_fake(codex_backend, provider, mode):
    """Header, body and answer of a lite turn, sync and async."""
    events, error = drive(mode, lite_request(instructions="Be brief."), credentials=provider)
    assert error is None
    assert events[-1].result.text.endswith("hello pelican")
    (sent,) = codex_backend.requests_to("/responses")
    assert sent.headers["x-openai-internal-codex-responses-lite"] == "true"
    assert sent.headers["version"] == "0.169.0"
    assert sent.body["input"][1]["content"][0]["text"] == "Be brief."


def test_lite_model_without_the_lite_form_is_not_found(codex_backend, provider, mode):
    """The fake answers a lite model asked in the old form with 404, as reported live."""
    _events, error = drive(mode, user_request(model="gpt-5.6-luna"), credentials=provider)
    assert isinstance(error, NotFound) and error.status == 404


def test_the_official_route_has_no_lite_lane():
    """The lite header and form belong to the Codex backend; the official route ignores them."""
    from llm_codex.core.plan_route import PLAN_ROUTE
    from llm_codex.core.route import CODEX_ROUTE

    creds = Credentials("tok", "acct")
    codex = CODEX_ROUTE.headers(creds, session_id="s", turn_state=None, responses_lite=True)
    assert codex["x-openai-internal-codex-responses-lite"] == "true"
    plan = PLAN_ROUTE.headers(creds, session_id="s", turn_state=None, responses_lite=True)
    assert "x-openai-internal-codex-responses-lite" not in plan
    body, _ = PLAN_ROUTE.encode(lite_request())
    assert b"additional_tools" not in body and b"all_turns" not in body
