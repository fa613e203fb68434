"""Stateful clients: previous_response_id, store, item references, GET/DELETE, chat reasoning.

Driven with the real OpenAI SDK against the fake backend, which must still see a stateless,
id-free request with ``store: false``.
"""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_codex.server.errors import RequestRefused
from llm_codex.server.response_store import ResponseStore

from . import json_values

#: A non-strict tool, as the Agents SDK sends for plain Python functions.
TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


def _sent(fake):
    return fake.requests_to("/responses")[-1].body


def _texts(items):
    out = []
    for item in items:
        for part in item.get("content") or []:
            if isinstance(part, dict) and "text" in part:
                out.append(part["text"])
    return out


def test_previous_response_id_prepends_the_stored_history(client, codex_login, codex_backend):
    """A chained turn sends the earlier input and output, without ids, with store false."""
    first = client.responses.create(model="gpt-5.5", input="my name is Ada", store=True)
    assert first.store is True
    second = client.responses.create(
        model="gpt-5.5", input="what is my name?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    body = _sent(codex_backend)
    assert body["store"] is False
    assert all("id" not in item for item in body["input"])
    assert _texts(body["input"]) == ["my name is Ada", first.output_text, "what is my name?"]
    third = client.responses.create(model="gpt-5.5", input="again", previous_response_id=second.id)
    assert third.status == "completed"
    assert len(_sent(codex_backend)["input"]) == 5


def test_tool_loop_by_previous_response_id_replays_reasoning(client, codex_login, codex_backend):
    """The Agents SDK's server-side chaining: the call's reasoning goes back encrypted."""
    codex_backend.enqueue_tool_call(name="get_weather", arguments='{"city":"Oslo"}')
    first = client.responses.create(
        model="gpt-5.5", input="Weather in Oslo?", tools=[TOOL], reasoning={"effort": "low"}
    )
    call = next(item for item in first.output if item.type == "function_call")
    second = client.responses.create(
        model="gpt-5.5",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "4 C"}],
        tools=[TOOL],
    )
    assert second.status == "completed"
    body = _sent(codex_backend)
    kinds = [item["type"] for item in body["input"]]
    assert kinds == ["message", "reasoning", "function_call", "function_call_output"]
    assert codex_backend.replayed_reasoning[-1], "the fake did not recognise the reasoning"


def test_streamed_response_is_stored_too(client, codex_login, codex_backend):
    """A streamed response can be chained and retrieved like a non-stream one."""
    with client.responses.stream(model="gpt-5.5", input="streamed hello") as stream:
        final = stream.get_final_response()
    got = client.responses.retrieve(final.id)
    assert got.output_text == final.output_text
    client.responses.create(model="gpt-5.5", input="next", previous_response_id=final.id)
    assert _texts(_sent(codex_backend)["input"])[0] == "streamed hello"


def test_item_references_and_id_only_reasoning_are_expanded(client, codex_login, codex_backend):
    """item_reference inputs and reasoning items sent as a bare id become the stored items."""
    codex_backend.enqueue_tool_call(name="get_weather", arguments='{"city":"Rome"}')
    first = client.responses.create(
        model="gpt-5.5", input="Weather in Rome?", tools=[TOOL], reasoning={"effort": "low"}
    )
    reasoning = next(item for item in first.output if item.type == "reasoning")
    call = next(item for item in first.output if item.type == "function_call")
    client.responses.create(
        model="gpt-5.5",
        input=[
            {"role": "user", "content": "Weather in Rome?"},
            {"type": "reasoning", "id": reasoning.id, "summary": []},
            {"type": "item_reference", "id": call.id},
            {"type": "function_call_output", "call_id": call.call_id, "output": "20 C"},
        ],
        tools=[TOOL],
    )
    body = _sent(codex_backend)
    assert [i["type"] for i in body["input"]] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert body["input"][2]["arguments"] == '{"city":"Rome"}'
    assert body["input"][1]["encrypted_content"]
    assert all("id" not in item for item in body["input"])


def test_unknown_previous_response_is_a_clear_400(client, codex_login, codex_backend):
    """A miss answers 400 previous_response_not_found; nothing is sent upstream."""
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="hi", previous_response_id="resp_gone")
    assert info.value.body["code"] == "previous_response_not_found"
    assert info.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model="gpt-5.5", input=[{"type": "item_reference", "id": "msg_unknown"}]
        )
    assert info.value.body["code"] == "item_not_found"
    assert codex_backend.requests_to("/responses") == []


def test_get_input_items_and_delete(client, codex_login, codex_backend):
    """GET returns the stored response; input items are listed; DELETE forgets it."""
    r = client.responses.create(model="gpt-5.5", input="keep me")
    got = client.responses.retrieve(r.id)
    assert got.id == r.id and got.output_text == r.output_text
    items = client.responses.input_items.list(r.id)
    assert [i.type for i in items.data] == ["message"]
    assert items.data[0].id  # ids are assigned, so they can be referenced
    client.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.5", input="x", previous_response_id=r.id)


def test_store_false_keeps_nothing(client, codex_login, codex_backend):
    """store: false (what the Codex CLI sends) is not kept."""
    r = client.responses.create(model="gpt-5.5", input="forget me", store=False)
    assert r.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)


def test_store_size_zero_disables_it(serve, codex_login, codex_backend):
    """--store-size 0: nothing is kept, chaining is a clear 400."""
    server = serve(store_size=0)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    r = client.responses.create(model="gpt-5.5", input="hi")
    assert r.store is False
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="hi", previous_response_id=r.id)
    assert info.value.body["code"] == "previous_response_not_found"
    assert "--store-size 0" in info.value.body["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_chat_tool_loop_keeps_reasoning_by_call_id(client, codex_login, codex_backend, stream):
    """Chat Completions: echoing the tool call id brings the turn's reasoning back."""
    codex_backend.enqueue_tool_call(name="get_weather", arguments='{"city":"Oslo"}')
    tools = [
        {"type": "function", "function": {"name": TOOL["name"], "parameters": TOOL["parameters"]}}
    ]
    messages: list = [{"role": "user", "content": "Weather in Oslo?"}]
    kw = {"model": "gpt-5.5", "tools": tools, "reasoning_effort": "low"}
    if stream:
        calls: dict = {}
        for chunk in client.chat.completions.create(messages=messages, stream=True, **kw):
            for d in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
                entry = calls.setdefault(d.index, {"id": d.id, "name": "", "args": ""})
                entry["name"] += d.function.name or ""
                entry["args"] += d.function.arguments or ""
        call = calls[0]
        call_id, name, args = call["id"], call["name"], call["args"]
    else:
        r = client.chat.completions.create(messages=messages, **kw)
        tc = r.choices[0].message.tool_calls[0]
        call_id, name, args = tc.id, tc.function.name, tc.function.arguments
    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "4 C"},
    ]
    client.chat.completions.create(messages=messages, **kw)
    sent = _sent(codex_backend)["input"]
    assert [i["type"] for i in sent] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert codex_backend.replayed_reasoning[-1]


# --- the store itself --------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _put(store: ResponseStore, rid: str, item_id: str) -> None:
    item = {"id": item_id, "type": "message", "role": "user", "content": []}
    store.put(rid, response={"id": rid}, input_items=[item], output_items=[])


def test_store_evicts_oldest_and_expires_by_age():
    """The store keeps at most N turns and forgets them after their age; items go with them."""
    clock = _Clock()
    store = ResponseStore(max_entries=2, max_age=10, clock=clock)
    _put(store, "r1", "i1")
    _put(store, "r2", "i2")
    _put(store, "r3", "i3")
    assert store.get("r1") is None and store.item("i1") is None
    assert store.get("r2") is not None and store.item("i2") is not None
    clock.now = 11
    assert store.get("r3") is None and store.item("i3") is None
    assert len(store) == 0


def test_history_items_survive_while_a_later_turn_holds_them():
    """An item that a later turn's input repeats stays referable after the first turn goes."""
    store = ResponseStore(max_entries=1, max_age=100)
    shared = {"id": "msg_a", "type": "message", "role": "user", "content": []}
    store.put("r1", response={"id": "r1"}, input_items=[shared], output_items=[])
    store.put("r2", response={"id": "r2"}, input_items=[shared], output_items=[])
    assert store.get("r1") is None
    assert store.item("msg_a") is shared


@given(st.lists(st.sampled_from(["r1", "r2", "r3", "r4"]), max_size=30), st.integers(1, 3))
def test_store_never_exceeds_its_size(ids, size):
    """Whatever is stored, the store holds at most ``size`` turns and every index entry
    points at a turn still held."""
    store = ResponseStore(max_entries=size, max_age=1e9)
    for n, rid in enumerate(ids):
        _put(store, rid, f"item{n}")
    assert len(store) <= size
    for owner, _ in store._items.values():
        assert store.get(owner) is not None


def test_missing_previous_response_message_names_the_limits():
    """The 400 explains why (memory only, size, age) and what to do instead."""
    store = ResponseStore(max_entries=5, max_age=60)
    with pytest.raises(RequestRefused) as info:
        store.resolve_input({"previous_response_id": "resp_x", "input": "hi"})
    assert "send the whole conversation" in info.value.message
    assert info.value.code == "previous_response_not_found"


def test_restore_reasoning_goes_before_the_assistant_text_of_its_turn():
    """Restored reasoning precedes the turn's assistant message and its calls, once."""
    store = ResponseStore()
    reasoning = {"id": "rs_1", "type": "reasoning", "encrypted_content": "blob", "summary": []}
    calls = [
        {"type": "function_call", "call_id": f"c{n}", "name": "f", "arguments": "{}"}
        for n in (1, 2)
    ]
    store.remember_calls("t1", [reasoning, *calls])
    items = [
        {"type": "message", "role": "user", "content": []},
        {"type": "message", "role": "assistant", "content": []},
        *calls,
    ]
    kinds = [i["type"] for i in store.restore_reasoning(items)]
    assert kinds == ["message", "reasoning", "message", "function_call", "function_call"]
    assert "id" not in store.restore_reasoning(items)[1]
    assert json.dumps(items)  # the input list itself is left untouched
    assert [i["type"] for i in items][1] == "message"


_item = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "reasoning", "item_reference", "function_call"])
        | json_values,
        "id": st.sampled_from(["msg_a", "rs_b", "fc_c", "zz"]) | json_values,
        "role": json_values,
        "encrypted_content": json_values,
    },
)


@given(st.lists(_item | json_values, max_size=5) | json_values, json_values)
def test_resolve_input_answers_or_refuses(value, previous):
    """Any input resolves to a list or a clear refusal (never another exception)."""
    store = ResponseStore()
    store.put(
        "resp_1",
        response={"id": "resp_1"},
        input_items=[{"id": "msg_a", "type": "message", "role": "user", "content": []}],
        output_items=[{"id": "rs_b", "type": "reasoning", "encrypted_content": "e", "summary": []}],
    )
    try:
        items = store.resolve_input({"input": value, "previous_response_id": previous})
    except RequestRefused:
        return
    assert isinstance(items, list)
    assert not any(isinstance(i, dict) and i.get("type") == "item_reference" for i in items)


def test_store_keeps_within_its_memory_budget():
    """Large turns (images) push the oldest out; history shared with later turns counts once."""
    store = ResponseStore(max_entries=100, max_age=100, max_bytes=50_000)
    image = {"type": "input_image", "image_url": "data:image/png;base64," + "A" * 20_000}
    for n in range(5):
        item = {"id": f"msg_{n}", "type": "message", "role": "user", "content": [image]}
        store.put(f"r{n}", response={"id": f"r{n}"}, input_items=[item], output_items=[])
    assert len(store) == 2 and store.get("r4") is not None and store.get("r0") is None
    chained = ResponseStore(max_entries=100, max_age=100, max_bytes=50_000)
    history: list = []
    for n in range(5):
        history = [*history, {"id": f"msg_{n}", "type": "message", "role": "user", "content": []}]
        chained.put(f"r{n}", response={"id": f"r{n}"}, input_items=history, output_items=[])
    assert len(chained) == 5


async def test_a_streamed_turn_is_stored_before_its_last_bytes():
    """The store hook runs before the stream's last bytes go out: a client that goes on the
    moment its stream ends (the SDK stops at ``[DONE]`` and opens a new connection) finds the
    turn stored, although the server may still be draining the backend's connection."""
    from llm_codex.core.types import CodexResult, Completed, TextDelta
    from llm_codex.server.chat import ChatEncoder
    from llm_codex.server.streaming import EventStreamResponse

    order: list[str] = []

    async def batches():
        yield [Completed(CodexResult())]

    async def receive():
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.body" and not message.get("more_body"):
            order.append("last bytes")

    encoder = ChatEncoder(
        completion_id="c", created=0, model="m", include_usage=False, reasoning_content=False
    )
    response = EventStreamResponse(
        encoder,
        [TextDelta("hi")],
        batches(),
        on_finish=lambda enc: order.append("stored"),
        on_close=lambda enc: order.append("closed"),
    )
    await response({"type": "http"}, receive, send)
    assert order == ["stored", "last bytes", "closed"]
