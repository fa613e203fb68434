"""The core-event -> llm StreamEvent translation, checked against llm's real part assembly."""

from __future__ import annotations

import json

import llm
from hypothesis import given
from hypothesis import strategies as st
from llm.parts import ReasoningPart, StreamEvent, TextPart, ToolCallPart, ToolResultPart

from llm_codex.core.types import (
    CodexResult,
    Completed,
    ItemAdded,
    ItemDone,
    ReasoningDelta,
    TextDelta,
    ToolArgumentsDelta,
    Usage,
)
from llm_codex.plugin.events import EventTranslator, parse_arguments, response_json_for

KEY = "openai-codex"


class _Snapshot:
    def to_json(self):
        return {"codex": {"primary": {"used_percent": 12.0}}}


def _completed(**kw) -> Completed:
    base = {
        "response_id": "resp_1",
        "model": "gpt-5.5",
        "usage": Usage(input_tokens=10, output_tokens=5, cached_tokens=3),
        "rate_limits": _Snapshot(),
        "request_id": "req_1",
    }
    base.update(kw)
    return Completed(CodexResult(**base))


class _Scripted(llm.Model):
    """Yields the translation of a fixed list of core events (no network involved)."""

    model_id = "scripted-codex"
    can_stream = True
    supports_tools = True

    def __init__(self, events, server_item_events=None):
        self.events = events
        self.server_item_events = server_item_events

    def execute(self, prompt, stream, response, conversation=None):
        tr = EventTranslator(
            response=response,
            metadata_key=KEY,
            model_slug="gpt-5.5",
            server_item_events=self.server_item_events,
        )
        for ev in self.events:
            if isinstance(ev, TextDelta):
                yield tr.text(ev)
            else:
                yield from tr.feed(ev)


def _run(events, **kw):
    response = _Scripted(events, **kw).prompt("hi")
    response.text()
    return response


def _reasoning_item(enc="gAAAA-1", text="Thinking"):
    summary = [{"type": "summary_text", "text": text}] if text else []
    return {"type": "reasoning", "id": "rs_1", "summary": summary, "encrypted_content": enc}


def _message_item(text, phase="final_answer"):
    return {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "phase": phase,
        "content": [{"type": "output_text", "text": text}],
    }


def test_text_and_reasoning_assemble_into_two_parts():
    """A streamed answer shows its summary as reasoning and keeps the encrypted blob for replay."""
    events = [
        ItemAdded({"type": "reasoning", "id": "rs_1"}, 0),
        ReasoningDelta("Think", 0),
        ReasoningDelta("ing", 0),
        ItemDone(_reasoning_item(), 0),
        ItemAdded({"type": "message", "id": "msg_1"}, 1),
        TextDelta("Hel", 1),
        TextDelta("lo", 1),
        ItemDone(_message_item("Hello"), 1),
        _completed(),
    ]
    response = _run(events)
    assert response.text() == "Hello"
    (message,) = response.messages()
    reasoning, text = message.parts
    assert isinstance(reasoning, ReasoningPart)
    assert reasoning.text == "Thinking\n"  # ends its line on the terminal
    assert reasoning.provider_metadata == {
        KEY: {
            "summary": [{"type": "summary_text", "text": "Thinking"}],
            "encrypted_content": "gAAAA-1",
        }
    }
    assert "id" not in reasoning.provider_metadata[KEY]
    assert isinstance(text, TextPart)
    assert text.text == "Hello"
    assert text.provider_metadata == {KEY: {"phase": "final_answer"}}


def test_usage_and_response_json_are_recorded():
    """Token usage (with cached and reasoning tokens) and rate limits are kept with the answer."""
    usage = Usage(input_tokens=10, output_tokens=5, cached_tokens=3, reasoning_tokens=2)
    response = _run([ItemDone(_reasoning_item(), 0), TextDelta("Hi", 1), _completed(usage=usage)])
    assert response.input_tokens == 10
    assert response.output_tokens == 5
    assert response.token_details == {"cached_tokens": 3, "reasoning_tokens": 2}
    assert response.response_json == {
        "id": "resp_1",
        "model": "gpt-5.5",
        "status": "completed",
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cached_tokens": 3,
            "reasoning_tokens": 2,
            "total_tokens": 0,
        },
        "rate_limits": {"codex": {"primary": {"used_percent": 12.0}}},
        "request_id": "req_1",
    }
    assert response.resolved_model is None


def test_resolved_model_is_recorded_when_the_server_used_another():
    """When the backend reports a different model, llm logs it as the resolved model."""
    response = _run([TextDelta("Hi", 0), _completed(model="gpt-5.5-2026-09-01")])
    assert response.resolved_model == "gpt-5.5-2026-09-01"


def test_two_reasoning_items_in_a_row_stay_two_parts():
    """Each reasoning item keeps its own encrypted content, even when two follow each other."""
    events = [
        ItemAdded({"type": "reasoning"}, 0),
        ReasoningDelta("First", 0),
        ItemDone(_reasoning_item("enc-A", "First"), 0),
        ItemAdded({"type": "reasoning"}, 1),
        ReasoningDelta("Second", 1),
        ItemDone(_reasoning_item("enc-B", "Second"), 1),
        TextDelta("Answer", 2),
        _completed(),
    ]
    parts = _run(events).messages()[0].parts
    assert [type(p) for p in parts] == [ReasoningPart, ReasoningPart, TextPart]
    assert [p.text for p in parts[:2]] == ["First\n", "\nSecond\n"]  # a blank line between
    assert [p.provider_metadata[KEY]["encrypted_content"] for p in parts[:2]] == ["enc-A", "enc-B"]


def test_reasoning_without_summary_is_replayed_without_showing_anything():
    """Hidden reasoning (no summary requested) yields no empty reasoning event (llm would print
    a stray blank line for it) yet is replayed, before the answer, on the next turn."""
    from llm_codex.plugin.messages import build_input

    events = [
        ItemAdded({"type": "reasoning"}, 0),
        ItemDone(_reasoning_item("enc-only", None), 0),
        TextDelta("Answer", 1),
        _completed(),
    ]
    response = _run(events)
    assert [e.type for e in response._stream_events] == ["text"]
    message = response.messages()[0]
    (text,) = message.parts
    assert text.text == "Answer"
    history = [llm.Message(role="user", parts=[TextPart(text="hi")]), message]
    _, items = build_input(history)
    assert [i.get("type", "message") for i in items] == ["message", "reasoning", "message"]
    assert items[1] == {"type": "reasoning", "summary": [], "encrypted_content": "enc-only"}


def test_hidden_reasoning_with_nothing_after_it_is_its_own_part():
    events = [ItemDone(_reasoning_item("enc-last", None), 0), _completed()]
    (part,) = _run(events).messages()[0].parts
    assert isinstance(part, ReasoningPart) and part.text == ""
    assert part.provider_metadata[KEY]["encrypted_content"] == "enc-last"


def test_summary_paragraphs_are_separated():
    """Several summary paragraphs of one reasoning item read as separate paragraphs."""
    events = [
        ReasoningDelta("One", 0, 0),
        ReasoningDelta("Two", 0, 1),
        ItemDone(_reasoning_item("e", "OneTwo"), 0),
        _completed(),
    ]
    (part,) = _run(events).messages()[0].parts
    assert part.text == "One\n\nTwo\n"


def test_summary_that_did_not_stream_is_taken_from_the_final_item():
    """A summary that only arrives in the finished item is still shown."""
    events = [ItemDone(_reasoning_item("e", "Late summary"), 0), _completed()]
    (part,) = _run(events).messages()[0].parts
    assert part.text == "Late summary\n"


def test_function_call_is_streamed_and_added_once():
    """A tool call streams its name and arguments and reaches llm's chain loop exactly once."""
    events = [
        ItemAdded({"type": "function_call", "call_id": "call_1", "name": "get_weather"}, 0),
        ToolArgumentsDelta('{"city":', 0),
        ToolArgumentsDelta('"Oslo"}', 0),
        ItemDone(
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Oslo"}',
            },
            0,
        ),
        _completed(),
    ]
    response = _run(events)
    (call,) = response.tool_calls()
    assert (call.name, call.arguments, call.tool_call_id) == (
        "get_weather",
        {"city": "Oslo"},
        "call_1",
    )
    (part,) = response.messages()[0].parts
    assert isinstance(part, ToolCallPart)
    assert (part.name, part.arguments, part.tool_call_id) == (
        "get_weather",
        {"city": "Oslo"},
        "call_1",
    )


def test_function_call_without_streamed_arguments_uses_the_final_item():
    """A call whose arguments arrive only in the finished item is complete in the log."""
    item = {
        "type": "function_call",
        "call_id": "call_9",
        "name": "lookup",
        "arguments": '{"q":"x"}',
        "namespace": "tools_ns",
    }
    response = _run([ItemDone(item, 0), _completed()])
    (part,) = response.messages()[0].parts
    assert part.arguments == {"q": "x"}
    assert part.tool_call_id == "call_9"
    assert part.provider_metadata == {KEY: {"namespace": "tools_ns"}}
    assert response.tool_calls()[0].arguments == {"q": "x"}


def test_parallel_calls_interleaved_stay_apart():
    """Two calls streamed in parallel become two tool calls with the right arguments."""
    events = [
        ItemAdded({"type": "function_call", "call_id": "c1", "name": "a"}, 0),
        ItemAdded({"type": "function_call", "call_id": "c2", "name": "b"}, 1),
        ToolArgumentsDelta('{"x":', 0),
        ToolArgumentsDelta('{"y":', 1),
        ToolArgumentsDelta("1}", 0),
        ToolArgumentsDelta("2}", 1),
        ItemDone(
            {"type": "function_call", "call_id": "c1", "name": "a", "arguments": '{"x":1}'}, 0
        ),
        ItemDone(
            {"type": "function_call", "call_id": "c2", "name": "b", "arguments": '{"y":2}'}, 1
        ),
        _completed(),
    ]
    response = _run(events)
    assert [(c.name, c.arguments, c.tool_call_id) for c in response.tool_calls()] == [
        ("a", {"x": 1}, "c1"),
        ("b", {"y": 2}, "c2"),
    ]
    parts = response.messages()[0].parts
    assert [(p.name, p.arguments) for p in parts] == [("a", {"x": 1}), ("b", {"y": 2})]


def test_arguments_that_are_not_json_are_kept_raw():
    """Arguments that are not a JSON object reach the tool as {"_raw": text}, not a crash."""
    assert parse_arguments("not json") == {"_raw": "not json"}
    assert parse_arguments("[1, 2]") == {"_raw": "[1, 2]"}
    assert parse_arguments("") == {}
    assert parse_arguments('{"a": 1}') == {"a": 1}


def test_text_that_did_not_stream_is_taken_from_the_final_item():
    """An assistant message that only arrives complete is still shown."""
    response = _run([ItemDone(_message_item("Complete text"), 0), _completed()])
    assert response.text() == "Complete text"


def test_two_message_items_become_two_messages():
    """A commentary preamble and the final answer are kept as two assistant messages."""
    events = [
        ItemAdded({"type": "message"}, 0),
        TextDelta("Let me check.", 0),
        ItemDone(_message_item("Let me check.", "commentary"), 0),
        ItemAdded({"type": "message"}, 1),
        TextDelta("Done", 1),
        TextDelta(" now.", 1),
        ItemDone(_message_item("Done now.", "final_answer"), 1),
        _completed(),
    ]
    response = _run(events)
    assert response.text() == "Let me check.Done now."
    first, second = response.messages()
    assert first.parts[0].text == "Let me check."
    assert first.parts[0].provider_metadata == {KEY: {"phase": "commentary"}}
    assert second.parts[0].text == "Done now."


def test_reasoning_tokens_without_reasoning_item_mark_hidden_reasoning():
    """When the model reasoned but sent no reasoning item, llm still records that it reasoned."""
    usage = Usage(output_tokens=5, reasoning_tokens=2)
    parts = _run([TextDelta("Hi", 0), _completed(usage=usage)]).messages()[0].parts
    assert isinstance(parts[0], ReasoningPart)
    assert parts[0].redacted


def test_server_tool_items_use_the_translator_events():
    """Hosted web-search items show up as server-executed tool parts."""

    def server_item_events(item, *, response, message_index=0):
        return [
            StreamEvent(
                type="tool_call_name",
                chunk="web_search",
                tool_call_id=item["id"],
                server_executed=True,
            ),
            StreamEvent(
                type="tool_call_args",
                chunk=json.dumps(item["action"]),
                tool_call_id=item["id"],
                server_executed=True,
            ),
            StreamEvent(
                type="tool_result",
                chunk="done",
                tool_call_id=item["id"],
                tool_name="web_search",
                server_executed=True,
            ),
        ]

    item = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"query": "q"},
    }
    events = [
        TextDelta("Searching.", 0),
        ItemDone(item, 1),
        TextDelta("Found it.", 2),
        _completed(usage=Usage()),
    ]
    response = _run(events, server_item_events=server_item_events)
    parts = [p for m in response.messages() for p in m.parts]
    assert [type(p) for p in parts] == [TextPart, ToolCallPart, ToolResultPart, TextPart]
    assert parts[1].server_executed and parts[1].arguments == {"query": "q"}
    assert response.tool_calls() == []


def test_response_json_never_contains_a_token():
    """What is logged carries ids and usage, never credentials."""
    result = CodexResult(response_id="r", model="m", rate_limits=None)
    data = response_json_for(result)
    assert "rate_limits" not in data
    assert not any("token" in key and key != "usage" for key in data)


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=40))
def test_any_chunking_of_text_gives_one_text_part(chunks):
    """However the text is split into deltas, the answer is the exact concatenation."""
    events = [TextDelta(c, 0) for c in chunks] + [_completed(usage=Usage())]
    response = _run(events)
    assert response.text() == "".join(chunks)
    (part,) = response.messages()[0].parts
    assert part.text == "".join(chunks)


_piece = st.text(alphabet="abc xyz.", min_size=1, max_size=6)
_item_spec = st.one_of(
    st.tuples(st.just("reasoning"), st.lists(_piece, max_size=4)),
    st.tuples(st.just("message"), st.lists(_piece, min_size=1, max_size=5)),
    st.tuples(st.just("call"), st.lists(_piece, max_size=3)),
)


@given(st.lists(_item_spec, min_size=1, max_size=6))
def test_any_sequence_of_items_gives_one_part_per_item(specs):
    """Whatever items a turn holds, each becomes exactly one part with its own content, in order
    (messages after the first start new llm messages)."""
    events = []
    expected = []
    reasoning_shown = False
    for oi, (kind, pieces) in enumerate(specs):
        text = "".join(pieces)
        if kind == "reasoning":
            events.append(ItemAdded({"type": "reasoning"}, oi))
            events += [ReasoningDelta(p, oi) for p in pieces]
            events.append(ItemDone(_reasoning_item(f"enc-{oi}", text or None), oi))
            shown = ("\n" if reasoning_shown else "") + text + "\n" if text else ""
            reasoning_shown = reasoning_shown or bool(text)
            expected.append(("reasoning", shown, f"enc-{oi}"))
        elif kind == "message":
            events.append(ItemAdded({"type": "message"}, oi))
            events += [TextDelta(p, oi) for p in pieces]
            events.append(ItemDone(_message_item(text), oi))
            expected.append(("text", text, None))
        else:
            args = json.dumps({"v": text})
            call_id = f"call_{oi}"
            events.append(ItemAdded({"type": "function_call", "call_id": call_id, "name": "f"}, oi))
            events += [ToolArgumentsDelta(args[i : i + 5], oi) for i in range(0, len(args), 5)]
            events.append(
                ItemDone(
                    {"type": "function_call", "call_id": call_id, "name": "f", "arguments": args},
                    oi,
                )
            )
            expected.append(("call", {"v": text}, call_id))
    events.append(_completed(usage=Usage()))
    response = _run(events)
    parts = [p for m in response.messages() for p in m.parts]
    got = []
    for part in parts:
        # reasoning that showed nothing rides on the part after it (no empty reasoning event)
        for carried in (part.provider_metadata or {}).get(KEY + "/reasoning-before", []):
            got.append(("reasoning", "", carried["encrypted_content"]))
        if isinstance(part, ReasoningPart):
            got.append(("reasoning", part.text, part.provider_metadata[KEY]["encrypted_content"]))
        elif isinstance(part, TextPart):
            got.append(("text", part.text, None))
        else:
            got.append(("call", part.arguments, part.tool_call_id))
    assert got == expected
    n_messages = sum(1 for kind, _ in specs if kind == "message")
    assert len(response.messages()) == max(n_messages, 1)
    assert [c.tool_call_id for c in response.tool_calls()] == [
        e[2] for e in expected if e[0] == "call"
    ]


def test_what_is_emitted_replays_as_the_original_items():
    """The parts recorded for a turn go back to the backend as the same items, without ids."""
    from llm_codex.core.catalog import find_model
    from llm_codex.plugin.request import build_codex_request

    reasoning = _reasoning_item("enc-round-trip", "Checking units")
    message = _message_item("Four.", "final_answer")
    events = [
        ItemAdded({"type": "reasoning", "id": "rs_1"}, 0),
        ReasoningDelta("Checking units", 0),
        ItemDone(reasoning, 0),
        ItemAdded({"type": "message", "id": "msg_1"}, 1),
        TextDelta("Four.", 1),
        ItemDone(message, 1),
        _completed(usage=Usage()),
    ]
    answer = _run(events).messages()
    model = llm.get_model("openai-codex/gpt-5.5")
    prompt = llm.Prompt(
        None,
        model=model,
        messages=[llm.user("2+2?"), *answer, llm.user("And 3+3?")],
        options=model.Options(),
    )
    request = build_codex_request(prompt, model=find_model("gpt-5.5"))
    replayed = request.input[1:3]
    assert replayed[0] == {k: v for k, v in reasoning.items() if k != "id"}
    assert replayed[1]["role"] == "assistant"
    assert replayed[1]["content"][0]["text"] == "Four."
    assert replayed[1].get("phase") == "final_answer"
    assert all("id" not in item for item in request.input)
