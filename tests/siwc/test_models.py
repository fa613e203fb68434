"""``chatgpt/<slug>`` models through the real llm CLI and Python API, against the fake API:
the conservative body, tools in a namespace, conversations, schemas, usage, and every error."""

from __future__ import annotations

import json

import llm
import pytest

from llm_codex import config
from llm_codex.core.plan_route import CODE_MESSAGES, PLAN_BODY_KEYS
from llm_codex.testing.siwc_fake import write_official_login

from ..plugin.plugin_helpers import assert_user_error, logs_json, run_llm
from ..plugin.request_support import PNG
from .helpers import PLAN_MODEL

FUNCTIONS = """
def get_weather(city: str) -> str:
    "Current weather for a city."
    return f"Sunny in {city}"
"""
NOTICE = "You're using your ChatGPT plan"


def bodies(fake):
    return [r.body for r in fake.api.requests]


def test_gpt_5_5_is_listed_without_a_login_and_says_how_to_sign_in():
    run = run_llm("models")
    assert "chatgpt/gpt-5.5" in run.stdout
    assert_user_error(
        run_llm("-m", PLAN_MODEL, "hi"),
        "Not signed in for ChatGPT plan usage; run `llm codex login --official`.",
    )


def test_a_prompt_sends_only_documented_fields_and_headers(siwc_backend, siwc_login):
    run = run_llm("-m", PLAN_MODEL, "-s", "Be brief.", "Hello")
    assert run.exit_code == 0, run.output
    assert run.stdout == "Hello from your ChatGPT plan.\n"
    assert NOTICE not in run.output  # the fixture's login already showed it
    record = siwc_backend.api.requests[0]
    assert record.body == {
        "model": "gpt-5.5",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello"}],
            }
        ],
        "store": False,
        "stream": True,
        "instructions": "Be brief.",
    }
    headers = record.headers
    assert headers["authorization"] == "Bearer " + siwc_login["access_token"]
    assert headers["user-agent"].startswith("llm-codex/")
    for banned in ("originator", "chatgpt-account-id", "session-id", "session_id", "openai-beta"):
        assert banned not in headers
    [log] = logs_json()
    assert log["model"] == PLAN_MODEL
    assert log["input_tokens"] == 12 and log["output_tokens"] == 7


def test_no_system_prompt_means_no_instructions(siwc_backend, siwc_login):
    assert run_llm("-m", PLAN_MODEL, "Hi").exit_code == 0
    assert "instructions" not in bodies(siwc_backend)[0]


def test_conversation_replays_history_without_ids_or_reasoning(siwc_backend, siwc_login):
    assert run_llm("-m", PLAN_MODEL, "-o", "reasoning_effort", "high", "One").exit_code == 0
    run = run_llm("-c", "Two")
    assert run.exit_code == 0, run.output
    first, second = bodies(siwc_backend)
    assert first["reasoning"] == {"effort": "high"}
    items = second["input"]
    assert [i.get("role") for i in items] == ["user", "assistant", "user"]
    assert all("id" not in i and i.get("type") != "reasoning" for i in items)
    assert items[1]["content"][0]["text"] == "Hello from your ChatGPT plan."
    assert set(second) <= PLAN_BODY_KEYS


def test_tools_go_in_one_llm_namespace_and_calls_round_trip(siwc_backend, siwc_login):
    siwc_backend.api.queue("tools", calls=[("get_weather", '{"city": "Oslo"}')])
    siwc_backend.api.queue("text", text="Sunny in Oslo today.")
    run = run_llm("-m", PLAN_MODEL, "--functions", FUNCTIONS, "Weather in Oslo?")
    assert run.exit_code == 0, run.output
    assert "Sunny in Oslo today." in run.stdout
    first, second = bodies(siwc_backend)
    [namespace] = first["tools"]
    assert namespace["type"] == "namespace" and namespace["name"] == "llm"
    assert namespace["tools"][0]["name"] == "get_weather"
    assert "tool_choice" not in first and "parallel_tool_calls" not in first
    call = next(i for i in second["input"] if i.get("type") == "function_call")
    assert call["namespace"] == "llm" and "id" not in call
    output = next(i for i in second["input"] if i.get("type") == "function_call_output")
    assert output["output"] == "Sunny in Oslo"


def test_schema_image_and_web_search_are_sent_as_allowed(siwc_backend, siwc_login, tmp_path):
    path = tmp_path / "p.png"
    path.write_bytes(PNG)
    siwc_backend.api.queue("text", text='{"name": "pelican"}')
    run = run_llm(
        "-m", PLAN_MODEL, "--schema", "name, age int", "-a", str(path), "-T", "WebSearch", "What?"
    )
    assert run.exit_code == 0, run.output
    body = bodies(siwc_backend)[0]
    assert body["text"]["format"]["type"] == "json_schema"
    assert body["tools"] == [{"type": "web_search"}]
    parts = body["input"][0]["content"]
    assert any(p["type"] == "input_image" for p in parts)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("-o", "temperature", "0.2"), "temperature"),
        (("-o", "reasoning_effort", "extreme"), "reasoning_effort"),
        (("-T", "ImageGeneration"), "ImageGeneration"),
    ],
)
def test_refused_locally_before_anything_is_sent(siwc_backend, siwc_login, args, needle):
    run = run_llm("-m", PLAN_MODEL, *args, "hi")
    assert run.exit_code != 0
    assert needle in run.output and "Traceback" not in run.output
    assert siwc_backend.api.requests == []


@pytest.mark.parametrize("code", sorted(CODE_MESSAGES))
def test_every_documented_error_code_is_one_sentence(siwc_backend, siwc_login, code):
    status = {"subscription_sharing_usage_limit_exceeded": 429}.get(code, 403)
    siwc_backend.api.queue("http_error", status=status, code=code, param="tools")
    run = run_llm("-m", PLAN_MODEL, "hi")
    expected = CODE_MESSAGES[code].format(param="tools")
    assert_user_error(run, expected)
    assert len(siwc_backend.api.requests) == 1  # never retried


def test_usage_limit_mid_stream_keeps_the_text_and_never_falls_back(siwc_backend, siwc_login):
    siwc_backend.api.queue(
        "failed", code="subscription_sharing_usage_limit_exceeded", text="Partial answer"
    )
    run = run_llm("-m", PLAN_MODEL, "hi")
    assert_user_error(run, "ChatGPT plan usage limit reached", "https://chatgpt.com/settings/usage")
    assert "Partial answer" in run.stdout
    assert "resets" not in run.stderr
    assert len(siwc_backend.api.requests) == 1


@pytest.mark.parametrize(
    ("kind", "params", "needle"),
    [
        ("incomplete", {"reason": "max_output_tokens"}, "The response is incomplete"),
        ("drop", {"after_deltas": 2}, "The response was interrupted before it finished."),
        ("error_event", {"code": "subscription_sharing_usage_unavailable"}, "could not be checked"),
        ("http_error", {"status": 403, "detail": "region"}, "refused by policy (region)"),
        ("http_error", {"status": 400, "detail": "Unsupported service_tier: flex"}, "rejected"),
        ("http_error", {"status": 418, "code": "teapot"}, "ChatGPT plan request failed (418"),
        ("http_error", {"status": 307, "detail": "moved"}, "Unexpected redirect from the API"),
    ],
)
def test_stream_and_admission_failures(siwc_backend, siwc_login, kind, params, needle):
    siwc_backend.api.queue(kind, **params)
    assert_user_error(run_llm("-m", PLAN_MODEL, "hi"), needle)


def test_a_503_is_retried_once_then_explained(siwc_backend, siwc_login):
    siwc_backend.api.queue("http_error", status=503, detail="direct routing unavailable")
    siwc_backend.api.queue("http_error", status=503, detail="direct routing unavailable")
    run = run_llm("-m", PLAN_MODEL, "hi")
    assert_user_error(run, "ChatGPT plan usage is temporarily unavailable; try again later.")
    assert len(siwc_backend.api.requests) == 2


def test_the_notice_is_printed_once_for_a_copied_login(siwc_backend):
    write_official_login(config.state_dir(), siwc_backend, notice_shown=False)
    first = run_llm("-m", PLAN_MODEL, "hi")
    assert first.exit_code == 0
    assert NOTICE in first.stderr and NOTICE not in first.stdout
    second = run_llm("-m", PLAN_MODEL, "hi")
    assert NOTICE not in second.output


def test_python_api_sync_and_async(siwc_backend, siwc_login):
    model = llm.get_model(PLAN_MODEL)
    assert model.prompt("Hi", stream=False).text() == "Hello from your ChatGPT plan."

    async def run() -> str:
        amodel = llm.get_async_model(PLAN_MODEL)
        chunks = [c async for c in amodel.prompt("Hi")]
        return "".join(chunks)

    import asyncio

    assert asyncio.run(run()) == "Hello from your ChatGPT plan."
    assert len(siwc_backend.api.requests) == 2


def test_the_model_list_comes_from_the_cache_for_this_account(siwc_backend, siwc_login):
    run = run_llm("codex", "models", "--refresh")
    assert run.exit_code == 0, run.output
    assert "chatgpt/gpt-5.4-mini" in run.stdout and "gpt-internal" not in run.stdout
    [models_call] = siwc_backend.api.model_requests
    assert "authorization" in models_call.headers
    listed = run_llm("models").stdout
    assert "chatgpt/gpt-5.4-mini" in listed and "chatgpt/gpt-internal" not in listed
    # a cache fetched for another account is ignored
    path = config.official_models_path()
    cache = json.loads(path.read_text())
    cache["subject"] = "someone-else"
    path.write_text(json.dumps(cache))
    assert "chatgpt/gpt-5.4-mini" not in run_llm("models").stdout


def test_a_json_answer_with_status_200_is_an_error_not_a_stream(siwc_backend, siwc_login):
    siwc_backend.api.queue(
        "json_200", body={"error": {"code": "subscription_sharing_user_unavailable"}}
    )
    assert_user_error(
        run_llm("-m", PLAN_MODEL, "hi"), "Your ChatGPT account information is temporarily"
    )


def test_a_stream_without_content_type_is_still_read(siwc_backend, siwc_login):
    siwc_backend.api.queue("text", text="No header needed.", content_type=None)
    run = run_llm("-m", PLAN_MODEL, "hi")
    assert run.exit_code == 0 and run.stdout == "No header needed.\n"


def test_local_refusals_name_the_chatgpt_model(siwc_backend, siwc_login):
    images = 'WebSearch(search_content_types=["text", "image"])'
    run = run_llm("-m", PLAN_MODEL, "-T", images, "hi")
    assert_user_error(run, "chatgpt/gpt-5.5 cannot search for images")
    assert "openai-codex/" not in run.output
    assert siwc_backend.api.requests == []


def test_an_idle_stream_is_given_up_in_this_route_s_words(siwc_backend, siwc_login, monkeypatch):
    monkeypatch.setenv("LLM_CODEX_IDLE_TIMEOUT", "0.3")
    siwc_backend.api.queue("text", initial_delay=3)
    run = run_llm("-m", PLAN_MODEL, "hi")
    assert_user_error(run, "No data from the ChatGPT plan API for 0.3 s; giving up.")
    assert len(siwc_backend.api.requests) == 1  # not retried
