"""The fake rejects requests the way the real backend does (protocol §3.2) and checks tokens."""

from __future__ import annotations

import base64

import pytest

from llm_codex.testing import tiny_png

from .fake_helpers import turn


@pytest.mark.parametrize(
    "field",
    [
        "temperature",
        "top_p",
        "max_output_tokens",
        "max_tokens",
        "max_completion_tokens",
        "metadata",
        "previous_response_id",
        "truncation",
        "background",
        "frequency_penalty",
    ],
)
def test_unsupported_parameters(client, field):
    """Sampling, length and state parameters answer 400 Unsupported parameter."""
    response = client.post(turn(**{field: 1}))
    assert response.status_code == 400
    assert response.json() == {"detail": f"Unsupported parameter: {field}"}


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        ({"stream": False}, "Stream must be set to true"),
        ({"stream": None}, "Stream must be set to true"),
        ({"store": True}, "Store must be set to false"),
        ({"store": None}, "Store must be set to false"),
        ({"instructions": ""}, "Instructions are required"),
        ({"instructions": None}, "Instructions are required"),
        (
            {"model": "gpt-4o"},
            "The 'gpt-4o' model is not supported when using Codex with a ChatGPT account.",
        ),
    ],
)
def test_detail_rejections(client, overrides, detail):
    """Top-level rule violations answer 400 with the backend's detail text."""
    body = turn()
    for key, value in overrides.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = client.post(body)
    assert response.status_code == 400
    assert response.json() == {"detail": detail}


def test_instructions_check_is_switchable(client):
    """With require_instructions off, a request without instructions streams normally."""
    body = turn()
    del body["instructions"]
    client.fake.require_instructions = False
    assert client.post(body).status_code == 200


def test_system_messages_rejected(client):
    """A role=system input item answers 400 System messages are not allowed."""
    body = turn()
    body["input"].insert(0, {"type": "message", "role": "system", "content": "be nice"})
    response = client.post(body)
    assert response.status_code == 400
    assert response.json() == {"detail": "System messages are not allowed"}


@pytest.mark.parametrize(
    "item",
    [
        {"type": "reasoning", "id": "rs_68ab12cd", "summary": []},
        {
            "type": "message",
            "id": "msg_68ab12cd34ef",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "x"}],
        },
        {"type": "function_call", "id": "fc_1234", "call_id": "c1", "name": "f", "arguments": "{}"},
        {
            "type": "message",
            "id": "item-1",
            "role": "user",
            "content": [{"type": "input_text", "text": "x"}],
        },
    ],
)
def test_server_style_ids_answer_404(client, item):
    """Replayed server ids (and any non-client id) answer the store=false 404."""
    body = turn()
    body["input"].insert(0, item)
    response = client.post(body)
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert message.startswith(f"Item with id '{item['id']}' not found.")
    assert "Items are not persisted when `store` is set to false" in message


def test_client_generated_message_ids_accepted(client):
    """The Codex CLI's msg_<uuid> message ids are accepted."""
    body = turn()
    body["input"][0]["id"] = "msg_01a21287-b1ee-75e1-9701-95c13a8ffcd4"
    assert client.post(body).status_code == 200


def test_reasoning_without_id_accepted(client):
    """A reasoning item replayed without id and without encrypted content is accepted."""
    body = turn()
    body["input"].insert(
        0, {"type": "reasoning", "summary": [{"type": "summary_text", "text": "x"}]}
    )
    assert client.post(body).status_code == 200


def test_orphan_function_call_output(client):
    """A function_call_output without its function_call answers an OpenAI-style 400."""
    body = turn()
    body["input"].append({"type": "function_call_output", "call_id": "call_x", "output": "4"})
    response = client.post(body)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "No tool call found for function call output with call_id call_x.",
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        }
    }


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"reasoning": {"effort": "minimal"}}, "reasoning.effort"),
        ({"model": "gpt-5.4-mini", "reasoning": {"effort": "xhigh"}}, "reasoning.effort"),
        ({"reasoning": {"effort": "low", "summary": "verbose"}}, "reasoning.summary"),
        ({"model": "gpt-5.4-mini", "text": {"verbosity": "low"}}, "text.verbosity"),
        ({"text": {"verbosity": "loud"}}, "text.verbosity"),
        ({"service_tier": "flex"}, "service_tier"),
        ({"model": "gpt-5.4-mini", "service_tier": "priority", "text": {}}, "service_tier"),
    ],
)
def test_model_capability_rejections(client, overrides, param):
    """Options outside the model's catalog capabilities answer 400 naming the parameter."""
    response = client.post(turn(**overrides))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_capabilities_within_catalog_accepted(client):
    """Allowed effort, verbosity and tier are accepted."""
    assert (
        client.post(turn(reasoning={"effort": "xhigh"}, service_tier="priority")).status_code == 200
    )
    mini = turn(model="gpt-5.4-mini", reasoning={"effort": "high", "summary": "auto"})
    del mini["text"]
    assert client.post(mini).status_code == 200


def _image_turn(url: str, detail: str = "auto", **overrides):
    body = turn(**overrides)
    body["input"][0]["content"].append({"type": "input_image", "image_url": url, "detail": detail})
    return body


PNG_URL = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()


def test_valid_image_accepted(client):
    """A real PNG data URL is accepted, detail original too on a model that supports it."""
    assert client.post(_image_turn(PNG_URL)).status_code == 200
    assert client.post(_image_turn(PNG_URL, "original")).status_code == 200


def test_detail_original_needs_support(client):
    """detail original on a model without supports_image_detail_original answers 400."""
    body = _image_turn(PNG_URL, "original", model="gpt-5.4-mini", text={})
    response = client.post(body)
    assert response.status_code == 400
    assert "original" not in response.json()["error"]["message"].split("values are:")[1]


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png;base64,aGVsbG8gd29ybGQ=",
        "data:image/png;base64,!!!not base64",
        "data:image/png,rawtext",
    ],
)
def test_invalid_image_data(client, url):
    """Image data that is not an image answers the CLI-recognised 400 text."""
    response = client.post(_image_turn(url))
    assert response.status_code == 400
    assert "The image data you provided does not represent a valid image" in response.text


def test_image_on_text_only_model(client):
    """An image sent to a text-only model answers 400."""
    body = _image_turn(PNG_URL, model="gpt-5.3-codex-spark", text={})
    assert client.post(body).status_code == 400


def test_hidden_model_is_callable(client):
    """A model hidden from the list (visibility hide) still answers."""
    body = turn(model="gpt-5.3-codex-spark")
    del body["text"]
    assert client.post(body).status_code == 200


def test_capture_extra_fields_allowed(client):
    """client_metadata and service_tier (when allowed) are accepted fields."""
    body = turn(client_metadata={"turn_id": "t"})
    assert client.post(body).status_code == 200


def test_non_json_body(client):
    """A body that is not a JSON object answers 400."""
    response = client.http.post(
        client.fake.base_url + "/responses",
        content=b"not json",
        headers={**client.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 400


# --- authentication ------------------------------------------------------------------------


def test_missing_and_unknown_tokens_unauthorized(client):
    """No token or a token the fake never issued answers 401 {"detail":"Unauthorized"}."""
    url = client.fake.base_url + "/responses"
    assert client.http.post(url, json=turn()).json() == {"detail": "Unauthorized"}
    response = client.http.post(url, json=turn(), headers={"authorization": "Bearer abc.def.ghi"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_token_from_another_fake_rejected(client):
    """A JWT minted by a different fake instance is not accepted."""
    from llm_codex.testing import FakeCodexBackend

    with FakeCodexBackend() as other:
        foreign = other.issue_tokens()["access_token"]
    response = client.http.post(
        client.fake.base_url + "/responses",
        json=turn(),
        headers={"authorization": f"Bearer {foreign}"},
    )
    assert response.status_code == 401


def test_expired_token(client):
    """An expired access token answers 401 with code token_expired."""
    tokens = client.fake.issue_tokens(access_ttl=-1)
    response = client.http.post(
        client.fake.base_url + "/responses",
        json=turn(),
        headers={"authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"
    client.fake.expire_access_token(client.tokens["access_token"])
    assert client.post(turn()).json()["error"]["code"] == "token_expired"


def test_invalidated_token(client):
    """A server-side invalidated token answers 401 token_invalidated."""
    client.fake.invalidate_access_token(client.tokens["access_token"])
    response = client.post(turn())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalidated"
    assert response.json()["status"] == 401


def test_missing_account_id_accepted_but_recorded(client):
    """A request without chatgpt-account-id works and is listed for assertions."""
    response = client.http.post(
        client.fake.base_url + "/responses",
        json=turn(),
        headers={"authorization": f"Bearer {client.tokens['access_token']}"},
    )
    assert response.status_code == 200
    assert len(client.fake.requests_without_account_id) == 1
    client.post(turn())
    assert len(client.fake.requests_without_account_id) == 1


def test_scenario_waits_for_an_accepted_request(client):
    """A queued scenario is not consumed by a 401 or a 400; the next valid request gets it."""
    client.fake.enqueue_text("queued")
    client.http.post(client.fake.base_url + "/responses", json=turn())
    client.post(turn(temperature=1))
    assert client.fake.pending_scenarios == 1
    assert "queued" in client.post(turn()).text


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"include": ["reasoning.everything"]}, "include"),
        ({"tools": [{"name": "f"}]}, "tools[0].type"),
        ({"tools": [{"type": "function"}]}, "tools[0].name"),
        (
            {"tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "function"}]}]},
            "tools[0].tools[0].name",
        ),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
    ],
)
def test_shape_rejections(client, overrides, param):
    """Malformed include values, tools, tool_choice and text.format answer 400 naming the param."""
    response = client.post(turn(**overrides))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_expire_all_access_tokens(client):
    """expire_access_token() without an argument expires every token issued so far."""
    client.fake.expire_access_token()
    assert client.post(turn()).json()["error"]["code"] == "token_expired"
    fresh = client.fake.issue_tokens()
    client.tokens = fresh
    assert client.post(turn()).status_code == 200
