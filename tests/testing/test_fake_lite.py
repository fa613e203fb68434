"""The fake's Responses Lite lane (lite spec §2–§4), written from the spec and the captures."""

from __future__ import annotations

import json

import pytest

from ..captures import lite_turn_request
from .fake_helpers import done_items, parse_sse, text_of, turn

LITE_HEADER = {"x-openai-internal-codex-responses-lite": "true"}
ADD = {
    "type": "function",
    "name": "add",
    "description": "Add",
    "strict": False,
    "parameters": {"type": "object", "properties": {}},
}
LANE = "X-OpenAI-Internal-Codex-Responses-Lite"


def lite_turn(prompt: str = "hello", *, functions=None, **overrides):
    """A lite body in the CLI's form (lite spec §2)."""
    body = {
        "model": "gpt-5.6-sol",
        "stream": True,
        "input": [
            {
                "type": "additional_tools",
                "role": "developer",
                "tools": [
                    {
                        "type": "namespace",
                        "name": "functions",
                        "description": "",
                        "tools": functions,
                    }
                ]
                if functions
                else [],
            },
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Be brief."}],
            },
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": prompt}],
            },
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "low", "context": "all_turns"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11",
        "text": {"verbosity": "low"},
    }
    body.update(overrides)
    return body


def post(client, body, lite=True):
    return client.post(body, **(LITE_HEADER if lite else {}))


@pytest.mark.parametrize("name", ["lite-plain", "lite-image"])
def test_replay_of_the_real_cli_lite_turn_is_answered(client, name):
    """The Codex CLI 0.169.0's own lite requests (header, ``at_`` id, namespaces of custom and
    function tools, no instructions) get a complete stream."""
    entry = lite_turn_request(name)
    skip = {"host", "content-length", "authorization", "chatgpt-account-id"}
    headers = {k: v for k, v in entry["headers"].items() if k not in skip}
    response = client.http.post(
        client.fake.base_url + "/responses",
        content=json.dumps(entry["body"]).encode(),
        headers={**headers, **client.headers()},
    )
    assert response.status_code == 200, response.text
    events = [d for _, d in parse_sse(response.text)]
    assert events[-1]["type"] == "response.completed"
    assert done_items(events)[0]["encrypted_content"]
    assert text_of(events)


def test_lite_form_is_answered_without_instructions(client):
    """The lite lane takes the system prompt in ``input``: no ``instructions`` needed."""
    assert client.fake.require_instructions
    events = [d for _, d in parse_sse(post(client, lite_turn("hi")).text)]
    assert text_of(events).endswith("You said: hi")


def test_lite_model_without_the_header_is_not_found(client):
    """A lite model asked without the lite form: 404 "Model not supported" (as reported)."""
    response = post(client, lite_turn(), lite=False)
    assert response.status_code == 404
    assert response.json() == {"detail": "Model not supported"}


@pytest.mark.parametrize(
    ("change", "param", "message"),
    [
        (
            {"reasoning": {"effort": "low"}},
            "reasoning",
            f"{LANE} requires `reasoning.context` to be `all_turns`.",
        ),
        (
            {"tools": [{"type": "web_search"}]},
            "tools",
            f"{LANE} only supports function tools, custom tools, and client-executed tool search.",
        ),
        ({"parallel_tool_calls": True}, "parallel_tool_calls", None),
        ({"tool_choice": "required"}, "tool_choice", None),
    ],
)
def test_lane_refusals(client, change, param, message):
    """What the lane refuses: 400 invalid_request_error / unsupported_value."""
    response = post(client, lite_turn(functions=[ADD], **change))
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "unsupported_value",
        param,
    )
    if message:
        assert error["message"] == message


def test_hosted_tool_inside_additional_tools_is_refused(client):
    """A hosted tool in the ``additional_tools`` item is refused like a top-level one."""
    body = lite_turn()
    body["input"][0]["tools"] = [{"type": "image_generation"}]
    assert post(client, body).json()["error"]["param"] == "tools"


def test_nested_tool_without_type_is_a_missing_parameter(client):
    """As reported: ``Missing required parameter: 'input[0].tools[0].tools[0].type'``."""
    body = lite_turn(functions=[{"name": "add"}])
    error = post(client, body).json()["error"]
    assert error["message"] == "Missing required parameter: 'input[0].tools[0].tools[0].type'."


def _call_round_trip(client, *, namespace_kept: bool, enqueue_namespace=None):
    client.fake.enqueue_tool_call("add", '{"a":1}', namespace=enqueue_namespace)
    first = lite_turn("add", functions=[ADD])
    events = [d for _, d in parse_sse(post(client, first).text)]
    call = next(i for i in done_items(events) if i["type"] == "function_call")
    replay = {k: v for k, v in call.items() if k not in ("id", "status")}
    if not namespace_kept:
        replay.pop("namespace", None)
    second = lite_turn("add", functions=[ADD])
    second["input"] += [replay, {"type": "function_call_output", "call_id": call["call_id"]}]
    second["input"][-1]["output"] = "2"
    return call, post(client, second)


def test_calls_to_namespaced_tools_carry_the_namespace_and_must_keep_it(client):
    """A call to a tool offered in ``functions`` comes back with ``namespace: "functions"``;
    a replay that drops it is refused with the reported sentence."""
    call, response = _call_round_trip(client, namespace_kept=False)
    assert call["namespace"] == "functions"
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(
        "Missing namespace for function_call 'add'. It does not exist in the default namespace."
    )
    _call, kept = _call_round_trip(client, namespace_kept=True)
    assert kept.status_code == 200


def test_a_call_sent_without_namespace_replays_without_one(client):
    """``namespace=""`` makes the fake answer without a namespace (seen in the captures)."""
    call, response = _call_round_trip(client, namespace_kept=True, enqueue_namespace="")
    assert "namespace" not in call
    assert response.status_code == 200, response.text


def test_non_lite_models_ignore_the_lane(client):
    """gpt-5.5 in the ordinary form is unaffected (and still needs its instructions)."""
    assert client.post(turn("hi")).status_code == 200
    assert client.post(turn("hi", instructions=None)).status_code == 400
