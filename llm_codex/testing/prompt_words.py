"""Prompt words that drive the fake from the command line, without writing Python.

When nothing is queued, a turn whose last user message contains one of these words behaves as
if the matching ``enqueue_*`` call had been made (README "Try it offline")::

    llm -m openai-codex/gpt-5.5 'fake-limit'       # the usage limit
    llm -m openai-codex/gpt-5.5 -T llm_version 'fake-tool'

==================  ============================================================
``fake-tool``       one call of the first function the request declares
                    (``get_weather`` when it declares none)
``fake-tools``      two parallel calls of it
``fake-search``     a hosted web search with two sources (needs ``-o web_search 1``)
``fake-image``      a generated image (needs ``-o image_generation 1``)
``fake-limit``      429 usage limit reached, resetting in 1 h
``fake-cloudflare`` Cloudflare's 403 challenge page
``fake-drop``       the stream stops after a few deltas, without a terminal event
``fake-slow``       half a second before the first event and between events
==================  ============================================================
"""

from __future__ import annotations

import json
import re
from typing import Any

from llm_codex.testing._util import tiny_png
from llm_codex.testing.planner import Scenario, example_for_schema, last_user_text

__all__ = ["PROMPT_WORDS", "scenario_from_prompt"]

PROMPT_WORDS = (
    "fake-tool",
    "fake-tools",
    "fake-search",
    "fake-image",
    "fake-limit",
    "fake-cloudflare",
    "fake-drop",
    "fake-slow",
)

_WORD = re.compile(
    r"(?<![\w-])(fake-(?:tools|tool|search|image|limit|cloudflare|drop|slow))(?![\w-])"
)


def _first_function(body: dict[str, Any]) -> tuple[str, str]:
    """The name of the first declared function tool and arguments that fit its schema."""
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == "function" and tool.get("name"):
            example = example_for_schema(tool.get("parameters") or {})
            args = example if isinstance(example, dict) else {}
            return str(tool["name"]), json.dumps(args)
    return "get_weather", json.dumps({"city": "Oslo"})


def scenario_from_prompt(body: dict[str, Any]) -> Scenario | None:
    """The scenario a prompt word in the last user message asks for, or ``None``.

    Only a turn that ends with the user's message counts, so a tool call is made once and the
    turn carrying its result gets a normal answer.
    """
    input_items = body.get("input")
    items = input_items if isinstance(input_items, list) else []
    last = items[-1] if items else None
    if not (isinstance(last, dict) and last.get("role") == "user"):
        return None  # e.g. the turn that carries tool results: answer it normally
    text = last_user_text(items)
    match = _WORD.search(text.lower())
    if match is None:
        return None
    word = match.group(1)
    if word in ("fake-tool", "fake-tools"):
        name, arguments = _first_function(body)
        count = 2 if word == "fake-tools" else 1
        return Scenario(
            "tools", {"calls": [(name, arguments, None, None)] * count, "also_text": None}
        )
    if word == "fake-search":
        sources = [
            {"url": "https://example.com/pelicans", "title": "All about pelicans"},
            {"url": "https://example.org/bicycles", "title": "Bicycles explained"},
        ]
        return Scenario(
            "web_search",
            {"query": text[:100], "text": "Here is what I found.", "sources": sources},
        )
    if word == "fake-image":
        return Scenario(
            "image",
            {"png": tiny_png(4, 4), "revised_prompt": text[:100], "text": "Here is your image."},
        )
    if word == "fake-limit":
        return Scenario(
            "usage_limit",
            {"plan_type": "plus", "resets_in": 3600, "body_has_reset": True, "window": "primary"},
        )
    if word == "fake-cloudflare":
        return Scenario("cloudflare", {})
    if word == "fake-drop":
        return Scenario("drop", {"after_deltas": 3, "text": None, "clean": False})
    return Scenario("slow", {"text": "Slow and steady, as asked.", "delay": 0.5})
