"""Responses Lite models through the real `llm` CLI against the fake (which serves them only in
the lite form): everything a gpt-5.5 user has, on a lite model."""

from __future__ import annotations

import json
import re

from .plugin_helpers import assert_user_error, logs_json, run_llm
from .request_support import PNG

LITE = "openai-codex/gpt-5.6-sol"
FUNCTIONS = """
def get_weather(city: str) -> str:
    "Current weather for a city."
    return f"Sunny in {city}"
"""
DEFAULT_REPLY = "Hello from the fake Codex backend. You said: "


def _bodies(backend):
    return [r.json for r in backend.requests_to("/responses")]


def test_plain_prompt_system_prompt_and_continue(codex_backend, codex_login):
    """`-s` becomes the developer message after the tools item; `-c` replays the encrypted
    reasoning; every request carries the lite header; usage lands in the logs."""
    run = run_llm("-m", LITE, "-s", "Be brief.", "hi")
    assert run.exit_code == 0, run.output
    assert run.stdout == DEFAULT_REPLY + "hi\n"
    assert run_llm("-c", "again").exit_code == 0
    first, second = _bodies(codex_backend)
    for body in (first, second):
        assert body["input"][0] == {"type": "additional_tools", "role": "developer", "tools": []}
        assert body["input"][1]["content"] == [{"type": "input_text", "text": "Be brief."}]
        assert body["reasoning"]["context"] == "all_turns"
        assert "instructions" not in body and "tools" not in body
    assert first["reasoning"]["effort"] == "low"  # the catalog's default for gpt-5.6-sol
    assert [i["type"] for i in second["input"]].count("reasoning") == 1
    assert codex_backend.replayed_reasoning[-1]
    assert all(
        r.headers["x-openai-internal-codex-responses-lite"] == "true"
        for r in codex_backend.requests_to("/responses")
    )
    entry = logs_json("-n", "1")[0]
    assert entry["input_tokens"] > 0 and entry["output_tokens"] > 0
    assert entry["response_json"]["rate_limits"]  # the snapshot of the x-codex-* headers
    assert "Reading the request" in run.stderr  # the reasoning summary, as for gpt-5.5
    assert first["reasoning"]["summary"] == "auto"
    usage = run_llm("-m", LITE, "-u", "-s", "Be brief.", "hi")
    cached = re.search(r'"cached_tokens": (\d+)', usage.stderr)
    assert cached and int(cached.group(1)) > 0  # the stable prefix hits the prompt cache


def test_functions_chain_keeps_the_namespace_through_continue(codex_backend, codex_login):
    """The call comes back with `namespace: "functions"`; the chain and a later `llm -c` echo it
    (the fake refuses a replay that drops it), and `--td` shows the call."""
    codex_backend.enqueue_tool_call("get_weather", '{"city": "Oslo"}', call_id="call_w1")
    codex_backend.enqueue_text("It is sunny in Oslo.")
    run = run_llm("-m", LITE, "--functions", FUNCTIONS, "--td", "Weather in Oslo?")
    assert run.exit_code == 0, run.output
    assert "It is sunny in Oslo." in run.stdout
    assert "get_weather" in run.output
    run = run_llm("-c", "And tomorrow?")
    assert run.exit_code == 0, run.output
    first, second, third = _bodies(codex_backend)
    (namespace,) = first["input"][0]["tools"]
    assert namespace["name"] == "functions"
    assert namespace["tools"][0]["name"] == "get_weather"
    assert first["parallel_tool_calls"] is False
    for body in (second, third):
        (call,) = [i for i in body["input"] if i.get("type") == "function_call"]
        assert call["namespace"] == "functions" and call["call_id"] == "call_w1"
    assert second["input"][0] == first["input"][0]  # the same tools item within the chain


def test_a_call_without_namespace_is_echoed_without_one(codex_backend, codex_login):
    """Calls that come back without a namespace work too, replayed unchanged."""
    codex_backend.enqueue_tool_call("get_weather", '{"city": "Rome"}', namespace="")
    codex_backend.enqueue_text("Sunny.")
    run = run_llm("-m", LITE, "--functions", FUNCTIONS, "Rome?")
    assert run.exit_code == 0, run.output
    (call,) = [i for i in _bodies(codex_backend)[1]["input"] if i.get("type") == "function_call"]
    assert "namespace" not in call


def test_levels_come_from_the_catalog(codex_backend, codex_login):
    """`ultra` works where the catalog lists it and is refused, before sending, where not."""
    assert run_llm("-m", LITE, "-o", "reasoning_effort", "ultra", "hi").exit_code == 0
    reasoning = _bodies(codex_backend)[0]["reasoning"]
    assert (reasoning["effort"], reasoning["context"]) == ("ultra", "all_turns")
    run = run_llm("-m", "openai-codex/gpt-5.6-luna", "-o", "reasoning_effort", "ultra", "hi")
    assert run.exit_code == 1 and "Traceback" not in run.output
    assert "max" in run.stderr
    assert len(codex_backend.requests_to("/responses")) == 1


def test_options_schema_fast_and_images(codex_backend, codex_login, tmp_path):
    """`--schema`, `-o fast 1`, `-o verbosity` and an image (sent without `detail`) all work."""
    codex_backend.enqueue_text('{"name": "Pelly", "age": 3}')
    options = ("-o", "fast", "1", "-o", "verbosity", "high")
    run = run_llm("-m", LITE, "--schema", "name, age int", *options, "invent")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout) == {"name": "Pelly", "age": 3}
    body = _bodies(codex_backend)[0]
    assert body["text"]["format"]["type"] == "json_schema"
    assert body["text"]["verbosity"] == "high" and body["service_tier"] == "priority"
    path = tmp_path / "pelican.png"
    path.write_bytes(PNG)
    assert run_llm("-m", LITE, "-a", str(path), "What is this?").exit_code == 0
    parts = _bodies(codex_backend)[1]["input"][2]["content"]
    (image,) = [p for p in parts if p["type"] == "input_image"]
    assert "detail" not in image
    run = run_llm("-m", LITE, "-o", "image_detail", "high", "hi")
    assert run.exit_code == 1 and "no image detail setting" in run.stderr


def test_hosted_tools_are_not_offered_on_lite_models(codex_backend, codex_login):
    """`llm tools -m` lists none; `-T WebSearch` fails before anything is sent."""
    listed = json.loads(run_llm("tools", "list", "-m", LITE, "--json").stdout)
    assert listed.get("server_side_tools", []) == []
    gpt55 = json.loads(run_llm("tools", "list", "-m", "openai-codex/gpt-5.5", "--json").stdout)
    assert "WebSearch" in {t["name"] for t in gpt55["server_side_tools"]}
    run = run_llm("-m", LITE, "-T", "WebSearch", "news?")
    assert_user_error(run, "WebSearch")
    assert codex_backend.requests_to("/responses") == []


def test_errors_are_one_sentence_on_lite_models(codex_backend, codex_login):
    """A usage limit on a lite model reads as on any other model."""
    codex_backend.enqueue_usage_limit()
    run = run_llm("-m", LITE, "hi")
    assert_user_error(run, "Usage limit reached")
