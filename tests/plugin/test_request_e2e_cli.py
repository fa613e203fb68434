"""End to end through the `llm` CLI and the fake backend: tools, hosted tools, images, schemas."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .plugin_helpers import MODEL, run_llm
from .request_support import PNG

FUNCTIONS = """
def get_weather(city: str) -> str:
    "Current weather for a city."
    return f"Sunny in {city}"
"""


def _bodies(backend):
    return [r.json for r in backend.requests_to("/responses")]


def test_functions_chain_then_continue(codex_backend, codex_login):
    """`llm --functions` runs the tool; `llm -c` afterwards replays the whole chain validly."""
    codex_backend.enqueue_tool_call("get_weather", '{"city": "Oslo"}', call_id="call_w1")
    codex_backend.enqueue_text("It is sunny in Oslo.")
    run = run_llm("-m", MODEL, "--functions", FUNCTIONS, "Weather in Oslo?")
    assert run.exit_code == 0, run.output
    assert "It is sunny in Oslo." in run.stdout
    run = run_llm("-c", "And tomorrow?")
    assert run.exit_code == 0, run.output
    first, _second, third = _bodies(codex_backend)
    assert first["tools"][0]["name"] == "get_weather"
    assert first["tools"][0]["strict"] is False
    kinds = [i.get("type") for i in third["input"]]
    assert kinds.count("function_call") == 1
    assert kinds.count("function_call_output") == 1
    assert kinds.index("function_call") < kinds.index("function_call_output")
    output = next(i for i in third["input"] if i.get("type") == "function_call_output")
    assert output["call_id"] == "call_w1" and output["output"] == "Sunny in Oslo"


def test_parallel_calls_through_the_cli(codex_backend, codex_login):
    """Two tool calls in one turn are both run and both answered."""
    codex_backend.enqueue_tool_calls(
        [("get_weather", '{"city": "Oslo"}'), ("get_weather", '{"city": "Rome"}')]
    )
    codex_backend.enqueue_text("Both sunny.")
    run = run_llm("-m", MODEL, "--functions", FUNCTIONS, "Oslo and Rome?")
    assert run.exit_code == 0, run.output
    second = _bodies(codex_backend)[1]["input"]
    outputs = sorted(i["output"] for i in second if i.get("type") == "function_call_output")
    assert outputs == ["Sunny in Oslo", "Sunny in Rome"]


def test_image_attachment_and_continue_replays_it(codex_backend, codex_login, tmp_path):
    """`-a pelican.png` sends the image inline, and `llm -c` sends it again with the history."""
    path = tmp_path / "pelican.png"
    path.write_bytes(PNG)
    run = run_llm("-m", MODEL, "-a", str(path), "What is this?")
    assert run.exit_code == 0, run.output
    assert run_llm("-c", "What colour is it?").exit_code == 0
    first, second = _bodies(codex_backend)
    for body in (first, second):
        images = [
            p
            for item in body["input"]
            if item.get("type") == "message"
            for p in item["content"]
            if p["type"] == "input_image"
        ]
        assert len(images) == 1
        assert images[0]["image_url"].startswith("data:image/png;base64,")


def test_schema_through_the_cli(codex_backend, codex_login):
    """`--schema 'name, age int'` is sent as a strict json_schema format."""
    codex_backend.enqueue_text('{"name": "Pelly", "age": 3}')
    run = run_llm("-m", MODEL, "--schema", "name, age int", "invent a pelican")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout) == {"name": "Pelly", "age": 3}
    fmt = _bodies(codex_backend)[0]["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["strict"] is True
    assert fmt["schema"]["additionalProperties"] is False
    assert sorted(fmt["schema"]["required"]) == ["age", "name"]


def test_unusable_schema_is_refused_before_sending(codex_backend, codex_login):
    """A schema strict mode cannot express fails with one sentence and sends nothing."""
    schema = json.dumps({"type": "object", "properties": {"a": {"type": "string", "minLength": 3}}})
    run = run_llm("-m", MODEL, "--schema", schema, "hi")
    assert run.exit_code == 1
    assert "Traceback" not in run.output
    assert "'minLength' at $.a is not supported in strict mode" in run.output
    assert codex_backend.requests_to("/responses") == []


def test_web_search_tool(codex_backend, codex_login):
    """`-T WebSearch` sends the hosted tool, prints the answer and records the search."""
    codex_backend.enqueue_web_search(
        query="pelican facts",
        text="Pelicans have big beaks.",
        sources=[{"url": "https://birds.example/pelican", "title": "Pelicans"}],
    )
    run = run_llm("-m", MODEL, "-T", "WebSearch", "Tell me about pelicans")
    assert run.exit_code == 0, run.output
    assert "Pelicans have big beaks." in run.stdout
    assert run.stdout.endswith("\n\nSources:\n- Pelicans: https://birds.example/pelican\n")
    body = _bodies(codex_backend)[0]
    assert {"type": "web_search"} in body["tools"]
    assert run_llm("-c", "More?").exit_code == 0
    replay = _bodies(codex_backend)[1]["input"]
    assert all(i.get("type") not in ("function_call", "function_call_output") for i in replay)


def test_image_generation_tool(codex_backend, codex_login):
    """`-T ImageGeneration` saves the image as a PNG and prints where."""
    codex_backend.enqueue_image_generation(png_bytes=PNG, revised_prompt="A pelican")
    run = run_llm("-m", MODEL, "-T", "ImageGeneration", "Draw a pelican")
    assert run.exit_code == 0, run.output
    match = re.search(r"Image saved to (\S+\.png)", run.stdout)
    assert match, run.output
    assert Path(match.group(1)).read_bytes() == PNG
    body = _bodies(codex_backend)[0]
    assert {"type": "image_generation", "output_format": "png"} in body["tools"]
