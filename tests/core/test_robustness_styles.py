"""Whole turns through the real client against the fake writing SSE like other servers would.

``fake.sse_style`` re-writes each stream (protocol §6.1 variants); the user must see the same text,
reasoning, tool calls and usage as with the backend's own formatting, sync and async.
"""

from __future__ import annotations

import pytest

from llm_codex.core.types import Completed, ReasoningDelta, TextDelta, ToolArgumentsDelta

from .helpers import drive, user_request

STYLES = {
    "no-event-lines": {"event_lines": False},
    "no-space-crlf": {"data_space": False, "newline": "\r\n"},
    "cr-only": {"newline": "\r"},
    "spaced-json": {"separators": (", ", ": ")},
    "shuffled-extra": {
        "shuffle_keys": True,
        "extra_fields": {"obfuscation": "aZ9", "logprobs": []},
        "seed": 3,
    },
    "no-seq-no-index": {"drop_fields": ["sequence_number", "output_index"]},
    "multiline-comments": {"multiline": True, "comments": True},
    "tiny-chunks": {"chunk_size": 7, "newline": "\r\n"},
    "no-created": {"drop_types": ["response.created", "response.in_progress"]},
    "full-output": {"completed_output": "full"},
    "full-output-only": {
        "completed_output": "full",
        "drop_types": ["response.output_item.done"],
    },
    "bytes-after-terminal": {"after_terminal": b'data: {"type":"error"}\n\n', "hold_open": 30},
}


def _turn(mode, fake, provider, style, *, tool: bool):
    fake.sse_style = style
    if tool:
        fake.enqueue_tool_call(name="get_weather", arguments='{"city":"Oslo"}', also_text="Sure.")
    else:
        fake.enqueue_text('Héllo wörld 😀 {braces} "quoted"\nline', reasoning_summary="Hmm.")
    events, err = drive(
        mode,
        user_request(reasoning_effort="medium", reasoning_summary="auto"),
        credentials=provider,
        idle_timeout=20,
    )
    assert err is None, err
    assert isinstance(events[-1], Completed)
    result = events[-1].result
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    thinking = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    args = "".join(e.delta for e in events if isinstance(e, ToolArgumentsDelta))
    calls = [(c["name"], c["arguments"]) for c in result.tool_calls]
    return {
        "text": result.text,
        "streamed": streamed,
        "thinking": thinking,
        "args": args,
        "calls": calls,
        "types": [i.get("type") for i in result.items],
        # cached_tokens differ between the two turns: the second one hits the prompt cache
        "usage": (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens),
    }


@pytest.mark.parametrize("tool", [False, True], ids=["text", "tool"])
@pytest.mark.parametrize("name", list(STYLES))
def test_other_sse_formatting_gives_the_same_turn(mode, codex_backend, provider, name, tool):
    """Any conformant SSE formatting yields the same text, reasoning, tool calls and usage."""
    baseline = _turn(mode, codex_backend, provider, None, tool=tool)
    styled = _turn(mode, codex_backend, provider, STYLES[name], tool=tool)
    if name == "full-output-only":
        # Items come from response.completed alone; streaming still shows the deltas.
        assert styled["types"] == baseline["types"]
    assert styled == baseline
    assert baseline["text"]
