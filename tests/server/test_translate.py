"""Pure translation tests: OpenAI requests -> core requests, core events -> OpenAI answers."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from llm_codex.core import errors as core
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
from llm_codex.server.chat import ChatEncoder, translate_chat_request
from llm_codex.server.common import split_system
from llm_codex.server.errors import RequestRefused, error_info
from llm_codex.server.responses import (
    ResponsesEncoder,
    normalise_input,
    translate_responses_request,
)

texts = st.text(max_size=40)
roles = st.sampled_from(["system", "developer", "user", "assistant"])
chat_messages = st.lists(
    st.fixed_dictionaries({"role": roles, "content": texts}), min_size=1, max_size=8
)


def _chat(**body):
    body.setdefault("model", "gpt-5.5")
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return translate_chat_request(body)


# --- chat requests -------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(chat_messages)
def test_chat_never_sends_system_role_and_keeps_order(messages):
    """No system message ever reaches the backend; leading ones become the instructions."""
    tr = _chat(messages=messages)
    items = tr.request.input
    assert all(item.get("role") != "system" for item in items)
    kept = [m for m in messages if m["role"] != "assistant" or m["content"]]
    leading = []
    for m in kept:
        if m["role"] not in ("system", "developer"):
            break
        leading.append(m)
    expected = "\n\n".join(m["content"] for m in leading if m["content"])
    assert (tr.request.instructions or "") == expected
    assert [i["role"] for i in items] == [
        "developer" if m["role"] == "system" else m["role"] for m in kept[len(leading) :]
    ]


@settings(max_examples=50, deadline=None)
@given(chat_messages, st.lists(st.fixed_dictionaries({"role": roles, "content": texts})))
def test_session_id_is_stable_across_turns(first, later):
    """Every turn of a conversation gets the same prompt-cache key, so the cache is hit."""
    assume(any(m["role"] == "user" for m in first))
    one = _chat(messages=first)
    two = _chat(messages=first + later)
    assert one.request.session_id == two.request.session_id


def test_session_id_differs_between_conversations_and_honours_explicit_key():
    """Different first messages use different caches; an explicit prompt_cache_key wins."""
    a = _chat(messages=[{"role": "user", "content": "a"}]).request.session_id
    b = _chat(messages=[{"role": "user", "content": "b"}]).request.session_id
    assert a != b
    k1 = _chat(prompt_cache_key="my-conv").request.session_id
    k2 = _chat(prompt_cache_key="my-conv", messages=[{"role": "user", "content": "x"}])
    assert k1 == k2.request.session_id
    assert _chat(user="alice").request.session_id != _chat(user="bob").request.session_id


def test_chat_tools_and_tool_results_become_function_items():
    """Assistant tool_calls and tool results are replayed as function_call / _output items."""
    tr = _chat(
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 4}'},
        ],
        tools=[
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": {"type": "object"}},
            }
        ],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    req = tr.request
    assert req.input[1] == {
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city":"Oslo"}',
    }
    assert req.input[2] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": '{"temp": 4}',
    }
    assert req.tools == [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object"},
            "strict": False,
        }
    ]
    assert req.tool_choice == {"type": "function", "name": "get_weather"}


def test_chat_images_and_response_formats():
    """Images pass as input_image; json_schema/json_object become text.format."""
    tr = _chat(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
                ],
            }
        ],
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": {}}},
    )
    parts = tr.request.input[0]["content"]
    assert parts[1] == {
        "type": "input_image",
        "image_url": "data:image/png;base64,AAAA",
        "detail": "auto",
    }
    assert parts[2]["detail"] == "low"
    assert tr.request.text_format == {
        "type": "json_schema",
        "name": "n",
        "schema": {},
        "strict": True,
    }
    obj = _chat(response_format={"type": "json_object"}).request.text_format
    assert obj == {"type": "json_object"}
    with pytest.raises(RequestRefused):
        _chat(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}],
                }
            ]
        )


def test_chat_sampling_params_dropped_and_semantic_ones_refused():
    """temperature & co are dropped (named in the header); n>1, stop, logprobs are refused."""
    tr = _chat(temperature=0.2, top_p=0.9, max_tokens=10, seed=1, reasoning_effort="low")
    assert tr.dropped == ["temperature", "top_p", "max_tokens", "seed"]
    assert tr.headers() == {"x-llm-codex-dropped-params": "max_tokens,seed,temperature,top_p"}
    assert tr.request.reasoning_effort == "low"
    for bad in ({"n": 2}, {"stop": ["\n"]}, {"logprobs": True}, {"store": True}):
        with pytest.raises(RequestRefused) as info:
            _chat(**bad)
        assert info.value.status == 400
        assert info.value.param == next(iter(bad))


def test_reasoning_summary_is_opt_in():
    """Reasoning summaries are requested only with the explicit reasoning_summary field."""
    assert _chat().request.reasoning_summary is None
    tr = _chat(reasoning_summary="auto")
    assert tr.request.reasoning_summary == "auto"
    assert tr.reasoning_content


# --- responses requests --------------------------------------------------------------------------


def test_responses_input_normalised_ids_stripped():
    """Ids are stripped, strings become parts, leading system goes to instructions."""
    items = normalise_input(
        [
            {"role": "system", "content": "Be terse."},
            {"id": "msg_1", "role": "user", "content": "hi"},
            {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "x"},
            {"role": "system", "content": "Later rule."},
        ]
    )
    assert all("id" not in item for item in items)
    instructions, rest = split_system(items, "Base.")
    assert instructions == "Base.\n\nBe terse."
    assert rest[0]["content"] == [{"type": "input_text", "text": "hi"}]
    assert rest[-1]["role"] == "developer"


def test_responses_refusals_and_drops():
    """background and unresolved item references are refused; temperature is dropped;
    store:true is accepted (the store resolves previous_response_id before translation)."""
    base = {"model": "openai-codex/gpt-5.5", "input": "hi"}
    tr = translate_responses_request({**base, "temperature": 1, "max_output_tokens": 5})
    assert tr.model == "gpt-5.5"
    assert tr.dropped == ["temperature", "max_output_tokens"]
    assert translate_responses_request({**base, "store": True}).echo["store"] is True
    for bad in (
        {"background": True},
        {"input": [{"type": "item_reference", "id": "x"}]},
    ):
        with pytest.raises(RequestRefused):
            translate_responses_request({**base, **bad})
    assert translate_responses_request({**base, "store": False}).dropped == []


# --- encoders ------------------------------------------------------------------------------------


def _call_events(index, call_id, name, args, pieces):
    events = [ItemAdded({"type": "function_call", "call_id": call_id, "name": name}, index)]
    events += [ToolArgumentsDelta(p, index) for p in pieces]
    events.append(
        ItemDone(
            {"type": "function_call", "call_id": call_id, "name": name, "arguments": args}, index
        )
    )
    return events


@st.composite
def turns(draw):
    """A plausible core event sequence: optional reasoning, text, then tool calls."""
    events = []
    items = []
    index = 0
    if draw(st.booleans()):
        summary = draw(st.text(min_size=1, max_size=10))
        events.append(ItemAdded({"type": "reasoning", "id": "rs_a"}, index))
        events.append(ReasoningDelta(summary, index, 0))
        item = {
            "type": "reasoning",
            "id": "rs_a",
            "summary": [{"type": "summary_text", "text": summary}],
        }
        events.append(ItemDone(item, index))
        items.append(item)
        index += 1
    pieces = draw(st.lists(st.text(min_size=1, max_size=6), max_size=5))
    if pieces:
        events.append(ItemAdded({"type": "message", "id": "msg_a", "role": "assistant"}, index))
        events += [TextDelta(p, index) for p in pieces]
        item = {
            "type": "message",
            "id": "msg_a",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "".join(pieces)}],
        }
        events.append(ItemDone(item, index))
        items.append(item)
        index += 1
    calls = draw(st.lists(st.lists(st.text(min_size=1, max_size=5), max_size=3), max_size=3))
    for n, arg_pieces in enumerate(calls):
        args = "".join(arg_pieces)
        events += _call_events(
            index, f"call_{n}", f"fn{n}", args, arg_pieces[: len(arg_pieces) // 2]
        )
        items.append({"type": "function_call", "call_id": f"call_{n}", "arguments": args})
        index += 1
    result = CodexResult(items=items, usage=Usage(input_tokens=3, output_tokens=4))
    events.append(Completed(result))
    return events, "".join(pieces), calls


@settings(max_examples=60, deadline=None)
@given(turns(), st.booleans())
def test_chat_stream_has_one_finish_and_reassembles(turn, include_usage):
    """Chunks carry the role first, exactly one finish_reason, and reassemble text and calls."""
    events, text, calls = turn
    enc = ChatEncoder(
        completion_id="c",
        created=0,
        model="m",
        include_usage=include_usage,
        reasoning_content=False,
    )
    chunks = enc.start()
    for event in events:
        chunks += enc.feed(event)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    finishes = [f for f in finishes if f]
    assert finishes == ["tool_calls" if calls else "stop"]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == text
    assembled: dict[int, str] = {}
    for c in chunks:
        for tc in (c["choices"][0]["delta"].get("tool_calls") or []) if c["choices"] else []:
            assembled[tc["index"]] = assembled.get(tc["index"], "") + tc["function"]["arguments"]
    assert assembled == {n: "".join(p) for n, p in enumerate(calls)}
    if include_usage:
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 7
    assert all(
        "reasoning_content" not in (c["choices"][0]["delta"] if c["choices"] else {})
        for c in chunks
    )


@settings(max_examples=50, deadline=None)
@given(turns())
def test_responses_stream_is_consistent(turn):
    """Every content event follows its item's output_item.added; completed carries the output."""
    events, text, _calls = turn
    tr = translate_responses_request({"model": "gpt-5.5", "input": "hi"})
    enc = ResponsesEncoder(tr.request, response_id="resp_x", created_at=0)
    out = enc.start()
    for event in events:
        out += enc.feed(event)
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert out[0]["type"] == "response.created"
    added = set()
    for e in out:
        if e["type"] == "response.output_item.added":
            added.add(e["output_index"])
        elif "output_index" in e:
            assert e["output_index"] in added
    final = out[-1]
    assert final["type"] == "response.completed"
    assert len(final["response"]["output"]) == sum(1 for e in events if isinstance(e, ItemDone))
    deltas = "".join(e["delta"] for e in out if e["type"] == "response.output_text.delta")
    assert deltas == text


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (
            core.UsageLimitReached(plan_type="plus", resets_at=1000.0, now=0),
            429,
            "usage_limit_reached",
        ),
        (core.NotSignedIn(), 401, "not_signed_in"),
        (core.AuthenticationRequired("sign in again"), 401, "authentication_required"),
        (core.CloudflareBlocked(), 502, "cloudflare_blocked"),
        (core.BadRequest("Unsupported parameter: x", status=400), 400, None),
        (core.ModelNotSupported("not supported", status=400), 404, "model_not_found"),
        (core.ServerError("boom", status=500), 502, "upstream_error"),
        (core.ServerOverloaded("busy", status=503), 503, "server_overloaded"),
        (core.ContextWindowExceeded("too long"), 400, "context_length_exceeded"),
        (core.StreamClosedEarly("closed"), 502, "stream_error"),
        (core.IdleTimeout("idle"), 504, "upstream_timeout"),
        (core.ConnectionFailed("down"), 502, "upstream_unreachable"),
        (ValueError("secret-ish"), 500, "internal_error"),
    ],
)
def test_error_mapping(exc, status, code):
    """Each core error answers with the status and code OpenAI clients understand."""
    info = error_info(exc, now=0)
    assert info.status == status
    assert info.code == code
    body = json.loads(json.dumps(info.body()))
    assert set(body["error"]) == {"message", "type", "code", "param"}
    assert "secret-ish" not in info.message


def test_usage_limit_retry_after_from_reset_time():
    """A usage limit tells the client when to come back (Retry-After in seconds)."""
    info = error_info(core.UsageLimitReached(plan_type="plus", resets_at=1000.0, now=0), now=400)
    assert info.headers == {"Retry-After": "600"}


def test_responses_stream_failure_events():
    """A failure after output started ends the stream with response.failed or an error event."""
    tr = translate_responses_request({"model": "gpt-5.5", "input": "hi"})
    enc = ResponsesEncoder(tr.request, response_id="resp_x", created_at=0)
    enc.start()
    enc.feed(TextDelta("partial", 0))
    failure = core.ResponseFailed("The backend failed the response.", code="boom")
    # the core attaches the turn so far to every failure
    failure.partial = CodexResult(
        items=[{"type": "message", "content": [{"type": "output_text", "text": "partial"}]}]
    )
    failed = enc.fail(failure)
    assert failed[0]["type"] == "response.failed"
    # a code outside OpenAI's ResponseErrorCode enum is mapped, the original kept in the message
    assert failed[0]["response"]["error"]["code"] == "server_error"
    assert failed[0]["response"]["error"]["message"].endswith("(backend code: boom)")
    assert failed[0]["response"]["output"][0]["content"][0]["text"] == "partial"
    error = enc.fail(core.StreamClosedEarly("closed"))
    assert error[0]["type"] == "error" and error[0]["code"] == "stream_error"


def test_chat_stream_failure_is_an_error_object():
    """A chat stream that breaks ends with an OpenAI error object (the SDK raises it)."""
    enc = ChatEncoder(
        completion_id="c", created=0, model="m", include_usage=False, reasoning_content=False
    )
    enc.start()
    out = enc.fail(core.UsageLimitReached(plan_type="pro", resets_at=None))
    assert out == [error_info(core.UsageLimitReached(plan_type="pro", resets_at=None)).body()]
    assert out[0]["error"]["code"] == "usage_limit_reached"


@settings(max_examples=60, deadline=None)
@given(
    turns(),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["m", "gpt-5.5", "é\n\"'"]),
    st.integers(0, 2**40),
)
def test_chat_stream_bytes_from_templates_are_the_chunk_objects_bytes(
    turn, include_usage, reasoning, model, created
):
    """Head, deltas and end written from the turn's templates are byte for byte the
    serialised chunk objects of the general path."""
    events, _text, _calls = turn

    def encoder() -> ChatEncoder:
        return ChatEncoder(
            completion_id="chatcmpl-ü1",
            created=created,
            model=model,
            include_usage=include_usage,
            reasoning_content=reasoning,
        )

    fast, slow = encoder(), encoder()
    got = fast.head_bytes() + b"".join(fast.encode([event]) for event in events)
    want = b"".join(slow.frame(c) for c in slow.start())
    want += b"".join(slow.frame(c) for event in events for c in slow.feed(event))
    assert got == want
    assert fast.finished and fast.result is slow.result


@settings(max_examples=40, deadline=None)
@given(
    st.fixed_dictionaries(
        {"model": st.just("gpt-5.5"), "input": st.text(max_size=8)},
        optional={
            "instructions": st.text(max_size=12),
            "temperature": st.floats(0, 2),
            "tool_choice": st.sampled_from(["auto", "none"]),
            "metadata": st.dictionaries(st.text(max_size=4), st.text(max_size=6), max_size=2),
            "store": st.booleans(),
        },
    ),
    st.integers(0, 2**40),
)
def test_responses_head_bytes_are_the_start_events_bytes(body, created_at):
    """The two opening events, their response serialised once, are byte for byte the
    serialised event objects of the general path."""
    tr = translate_responses_request(body)

    def encoder() -> ResponsesEncoder:
        return ResponsesEncoder(
            tr.request, response_id="resp_é", created_at=created_at, echo=tr.echo
        )

    fast, slow = encoder(), encoder()
    assert fast.head_bytes() == b"".join(slow.frame(event) for event in slow.start())
    assert fast._seq == slow._seq == 2
