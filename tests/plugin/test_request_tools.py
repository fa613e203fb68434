"""Function tools, hosted tools (web search, image generation) and what their output becomes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import llm
import pytest

from llm_codex import config
from llm_codex.core.errors import ConfigurationError
from llm_codex.plugin.hosted_tools import (
    ImageGeneration,
    WebSearch,
    citations_text,
    server_item_events,
    server_side_tools_for,
)

from .request_support import GPT55, MINI, PNG, TEXT_ONLY, StubModel, build


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return "sunny"


def test_function_tools_are_sent_non_strict():
    """An llm tool goes out as a function with its JSON schema and strict false."""
    req = build(tools=[get_weather])
    (tool,) = req.tools
    assert tool["type"] == "function"
    assert tool["name"] == "get_weather"
    assert tool["description"] == "Current weather for a city."
    assert tool["strict"] is False
    assert tool["parameters"]["properties"] == {"city": {"type": "string"}}
    assert req.tool_choice == "auto"
    assert req.parallel_tool_calls is True


def test_tool_without_parameters_gets_an_empty_object_schema():
    """A tool with no arguments still sends an object schema."""
    tool = llm.Tool(name="now", description="Time", input_schema={})
    assert build(tools=[tool]).tools[0]["parameters"] == {"type": "object", "properties": {}}


def test_bad_tool_name_is_refused():
    """A tool name the backend would reject is refused locally."""
    tool = llm.Tool(name="bad name!", description="x", input_schema={})
    with pytest.raises(ConfigurationError, match="letters, digits"):
        build(tools=[tool])


def test_server_side_tools_follow_the_catalog():
    """WebSearch is offered only where the catalog lists web search; raw specs always."""
    assert server_side_tools_for(GPT55) == (WebSearch, ImageGeneration, llm.ServerSideTool)
    assert server_side_tools_for(TEXT_ONLY) == (llm.ServerSideTool,)


def test_web_search_spec_with_options():
    """-T 'WebSearch({...})' sends the hosted tool with the options given."""
    tool = WebSearch(
        allowed_domains=["python.org"],
        search_context_size="low",
        external_web_access=False,
        search_content_types=["text", "image"],
    )
    req = build(tools=[tool])
    assert req.tools == [
        {
            "type": "web_search",
            "filters": {"allowed_domains": ["python.org"]},
            "search_context_size": "low",
            "external_web_access": False,
            "search_content_types": ["text", "image"],
        }
    ]
    assert build(tools=[WebSearch()]).tools == [{"type": "web_search"}]


def test_image_search_refused_on_text_only_web_search():
    """Image search on a model whose web search is text-only is refused."""
    with pytest.raises(ConfigurationError, match="cannot search for images"):
        build(MINI, tools=[WebSearch(search_content_types=["image"])])


def test_server_tool_on_a_model_without_it_is_refused():
    """WebSearch on a model that lacks web search fails clearly before sending."""
    prompt = llm.Prompt("hi", StubModel(GPT55), tools=[WebSearch()])
    prompt.model = StubModel(TEXT_ONLY)
    from llm_codex.plugin.request import build_codex_request

    with pytest.raises(ConfigurationError, match="does not support server-side tool 'web_search'"):
        build_codex_request(prompt, model=TEXT_ONLY)


def test_image_generation_spec():
    """-T ImageGeneration sends the hosted image tool asking for PNG."""
    assert build(tools=[ImageGeneration(size="1024x1024")]).tools == [
        {"type": "image_generation", "output_format": "png", "size": "1024x1024"}
    ]


def test_raw_server_side_tool_spec_passes_through():
    """-T 'ServerSideTool({"spec": {...}})' sends the raw spec."""
    assert build(tools=[llm.ServerSideTool({"type": "web_search"})]).tools == [
        {"type": "web_search"}
    ]


def test_cli_tool_spec_strings_build_our_tools():
    """llm's -T parser finds WebSearch and ImageGeneration by name for Codex models."""
    from llm.cli import _gather_tools

    model = StubModel(GPT55)
    (tool,) = _gather_tools(['WebSearch({"search_context_size": "high"})'], [], model=model)
    assert isinstance(tool, WebSearch) and tool.search_context_size == "high"
    (image,) = _gather_tools(["ImageGeneration"], [], model=model)
    assert isinstance(image, ImageGeneration)


def test_web_search_item_becomes_server_executed_events():
    """A web_search_call item is recorded as a server-executed call and result."""
    item = {
        "id": "ws_1",
        "type": "web_search_call",
        "status": "completed",
        "action": {
            "type": "search",
            "query": "pelicans",
            "sources": [{"type": "url", "url": "https://a.example"}],
        },
    }
    events = server_item_events(item, response=None)
    assert [e.type for e in events] == ["tool_call_name", "tool_call_args", "tool_result"]
    assert all(e.server_executed and e.tool_call_id == "ws_1" for e in events)
    assert json.loads(events[1].chunk)["query"] == "pelicans"
    assert json.loads(events[2].chunk) == [{"type": "url", "url": "https://a.example"}]


def test_image_generation_item_is_saved_and_path_shown():
    """A generated image is saved as a PNG and its path printed and recorded."""

    class Response:
        id = "01jresponse"

    item = {
        "id": "ig_1",
        "type": "image_generation_call",
        "status": "completed",
        "revised_prompt": "A pelican",
        "result": base64.b64encode(PNG).decode(),
    }
    events = server_item_events(item, response=Response())
    expected = config.state_dir() / "images" / "01jresponse-1.png"
    assert Path(expected).read_bytes() == PNG
    result = next(e for e in events if e.type == "tool_result")
    assert result.chunk == f"Image saved to {expected}"
    assert result.server_executed
    text = next(e for e in events if e.type == "text")
    assert text.chunk.startswith(f"Image saved to {expected}")
    second = server_item_events(item, response=Response())
    assert any(str(expected).replace("-1.png", "-2.png") in e.chunk for e in second)


def test_other_items_produce_no_events():
    """Items that are not hosted-tool calls are left to the runtime."""
    assert server_item_events({"type": "message"}, response=None) == []


def test_citations_footer_lists_each_source_once():
    """Web-search citations become a Sources footer, one line per URL."""
    item = {
        "type": "message",
        "role": "assistant",
        "content": [
            {
                "type": "output_text",
                "text": "Pelicans fly.",
                "annotations": [
                    {
                        "type": "url_citation",
                        "url": "https://a.example",
                        "title": "A",
                        "start_index": 0,
                        "end_index": 3,
                    },
                    {
                        "type": "url_citation",
                        "url": "https://b.example",
                        "title": "",
                        "start_index": 4,
                        "end_index": 6,
                    },
                    {
                        "type": "url_citation",
                        "url": "https://a.example",
                        "title": "A",
                        "start_index": 7,
                        "end_index": 9,
                    },
                ],
            }
        ],
    }
    assert citations_text(item) == "\n\nSources:\n- A: https://a.example\n- https://b.example"
    assert (
        citations_text({"type": "message", "content": [{"type": "output_text", "text": "x"}]}) == ""
    )
