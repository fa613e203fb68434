"""Property test: every request the plugin can build for a Responses Lite model passes the fake's
lane rules (an independent implementation of lite spec §2–§4) and has the CLI's form."""

from __future__ import annotations

import llm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llm.parts import Message, ReasoningPart, TextPart, ToolCallPart, ToolResultPart

from llm_codex.core.catalog import BUILTIN_MODELS
from llm_codex.core.request import build_body, encode_body
from llm_codex.plugin.messages import METADATA_KEY
from llm_codex.plugin.request import build_codex_request
from llm_codex.testing.catalog import default_models
from llm_codex.testing.validation import validate

from .request_support import PNG, make_prompt

LITE_MODELS = [m for m in BUILTIN_MODELS if m.use_responses_lite]
FAKE_MODELS = default_models()

_name = st.sampled_from(["add", "lookup", "get-weather", "x_1"])
_tool = st.builds(
    llm.Tool,
    name=_name,
    description=st.one_of(st.none(), st.text(max_size=10)),
    input_schema=st.sampled_from(
        [{}, {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}]
    ),
)
_meta = st.sampled_from(
    [
        None,
        {METADATA_KEY: {"namespace": "functions"}},
        {METADATA_KEY: {"encrypted_content": "enc", "summary": []}},
    ]
)
_call_id = st.sampled_from(["call_a", "call_b"])
_part = st.one_of(
    st.builds(TextPart, text=st.text(max_size=8)),
    st.builds(ReasoningPart, text=st.text(max_size=4), provider_metadata=_meta),
    st.builds(
        ToolCallPart,
        name=_name,
        arguments=st.dictionaries(st.sampled_from(["a"]), st.integers()),
        tool_call_id=_call_id,
        provider_metadata=_meta,
    ),
    st.builds(ToolResultPart, name=_name, output=st.text(max_size=6), tool_call_id=_call_id),
)
_history = st.lists(
    st.builds(
        Message,
        role=st.sampled_from(["system", "user", "assistant", "tool"]),
        parts=st.lists(_part, max_size=3),
    ),
    max_size=5,
)


@st.composite
def lite_prompts(draw):
    info = draw(st.sampled_from(LITE_MODELS))
    options = {}
    if draw(st.booleans()):
        options["reasoning_effort"] = draw(st.sampled_from(info.reasoning_levels))
    if draw(st.booleans()):
        options["reasoning_summary"] = draw(st.sampled_from(["auto", "concise", "none"]))
    if draw(st.booleans()):
        options["verbosity"] = draw(st.sampled_from(["low", "medium", "high"]))
    if draw(st.booleans()):
        options["fast"] = True
    tools = draw(st.lists(_tool, max_size=3, unique_by=lambda t: t.name))
    attachments = [llm.Attachment(type="image/png", content=PNG)] if draw(st.booleans()) else []
    schema = draw(
        st.sampled_from(
            [None, {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}]
        )
    )
    history = draw(_history)
    system = draw(st.one_of(st.none(), st.text(min_size=1, max_size=8)))
    text = draw(st.text(min_size=1, max_size=10))
    extra: dict = {"system": system, "attachments": attachments}
    if history:  # messages= is the whole conversation, as llm builds it
        head = [llm.system(system)] if system else []
        extra = {"messages": [*head, *history, llm.user(text, *attachments)]}
    prompt = make_prompt(
        info,
        text,
        options=options,
        tools=tools,
        schema=schema,
        hide_reasoning=draw(st.booleans()),
        **extra,
    )
    return info, prompt


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lite_prompts())
def test_every_lite_request_passes_the_lane(case):
    """Whatever the prompt, tools, attachments, options and history, the body is accepted by the
    fake's lite lane and is the CLI's form: tools item first, developer message second, no
    top-level tools or instructions, no image detail, context all_turns, one call at a time."""
    info, prompt = case
    req = build_codex_request(prompt, model=info)
    body = build_body(req)
    assert validate(body, models=FAKE_MODELS, lite_header=True) is None, body
    tools_item, developer, *history = body["input"]
    assert tools_item["type"] == "additional_tools" and tools_item["role"] == "developer"
    assert all(t["type"] == "namespace" for t in tools_item["tools"])
    assert {t["name"] for ns in tools_item["tools"] for t in ns["tools"]} == {
        t.name for t in prompt.tools
    }
    assert developer["role"] == "developer" and developer["content"][0]["text"].strip()
    assert "tools" not in body and "instructions" not in body
    assert body["parallel_tool_calls"] is False and body["tool_choice"] == "auto"
    assert body["reasoning"]["context"] == "all_turns"
    assert b'"detail"' not in encode_body(body)
    assert all("id" not in item for item in history)
