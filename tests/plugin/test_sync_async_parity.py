"""The sync and async llm models are twins: on the same scenario they stream the same chunks,
end with the same text, usage, tool calls and logged JSON, fail with the same sentence, and send
the same requests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import llm
import pytest

from ..parity import plain
from .plugin_helpers import MODEL

#: "resets at 04:09, in 59 min": two runs a minute boundary apart word it differently.
_RESET_PHRASE = re.compile(r"resets at \d\d:\d\d, in (\d+ h )?\d+ min")


def add(a: int, b: int) -> int:
    "Add two numbers."
    return a + b


def _sync_run(prompt: str, tools: list) -> dict[str, Any]:
    chunks: list[str] = []
    responses: list[Any] = []
    error = None
    try:
        for response in llm.get_model(MODEL).chain(prompt, tools=tools).responses():
            responses.append(response)
            for chunk in response:
                chunks.append(chunk)
    except llm.ModelError as exc:
        error = str(exc)
    # Tool calls are asked of finished responses only (asking a failed one would run it again).
    kept = [_response(r, [] if error else r.tool_calls()) for r in responses]
    return {"chunks": chunks, "error": error, "responses": kept}


async def _async_run(prompt: str, tools: list) -> dict[str, Any]:
    chunks: list[str] = []
    responses: list[Any] = []
    error = None
    try:
        async for response in llm.get_async_model(MODEL).chain(prompt, tools=tools).responses():
            responses.append(response)
            async for chunk in response:
                chunks.append(chunk)
    except llm.ModelError as exc:
        error = str(exc)
    kept = [_response(r, [] if error else await r.tool_calls()) for r in responses]
    return {"chunks": chunks, "error": error, "responses": kept}


def _response(response: Any, tool_calls: list) -> dict[str, Any]:
    """What a finished (or failed) response kept: its logged JSON, usage and tool calls."""
    return {
        "response_json": plain(response.response_json),
        "usage": [response.input_tokens, response.output_tokens, response.token_details],
        "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in tool_calls],
    }


SCENARIOS: dict[str, tuple[Callable[[Any], None], list]] = {
    "text with reasoning": (lambda f: f.enqueue_text("Hi.", reasoning_summary="Hmm."), []),
    "tool chain": (
        lambda f: (f.enqueue_tool_call("add", '{"a": 2, "b": 3}'), f.enqueue_text("Five.")),
        [add],
    ),
    "usage limit": (lambda f: f.enqueue_usage_limit(), []),
    "cut mid-stream": (lambda f: f.enqueue_drop(after_deltas=2, text="one two three"), []),
    "incomplete": (lambda f: f.enqueue_incomplete("max_output_tokens", text="Half"), []),
    "failed": (lambda f: f.enqueue_failed("context_length_exceeded"), []),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_sync_and_async_models_behave_the_same(codex_backend, codex_login, scenario):
    """Chunks, error sentence, logged JSON, usage, tool calls and requests are identical."""
    setup, tools = SCENARIOS[scenario]
    outcomes = []
    for run in ("sync", "async"):
        codex_backend.clear_requests()
        setup(codex_backend)
        prompt = f"parity {run}"  # its own conversation: the fake's cache must not tell them apart
        if run == "sync":
            outcome = _sync_run(prompt, tools)
        else:
            outcome = asyncio.run(_async_run(prompt, tools))
        bodies = [r.json for r in codex_backend.requests_to("/responses")]
        for body in bodies:  # the prompt text is the one intended difference
            body["input"][0]["content"][0]["text"] = "parity"
        outcome["requests"] = plain(bodies)
        outcomes.append(outcome)
    for outcome in outcomes:  # a reset time is worded from the clock at each run's failure
        if outcome["error"]:
            outcome["error"] = _RESET_PHRASE.sub("resets at <time>", outcome["error"])
    sync, async_ = outcomes
    assert sync == async_
    assert sync["chunks"] or sync["error"]
    if tools:  # the chain ran the tool and answered after it
        assert sync["responses"][0]["tool_calls"] and len(sync["requests"]) == 2
