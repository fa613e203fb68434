"""The fake driven from the command line by prompt words (issue 14, item 10; README
"Try it offline"): every behaviour a new user may want to see, without writing Python."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llm_codex.testing.prompt_words import PROMPT_WORDS

from ..plugin.plugin_helpers import MODEL, assert_user_error, run_llm


def test_every_prompt_word_is_in_the_readme():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Try it offline", 1)[1].split("\n## ", 1)[0]
    for word in PROMPT_WORDS:
        assert f"`{word}`" in section


def test_fake_tool_calls_a_declared_tool_once(codex_backend, codex_login):
    run = run_llm("-m", MODEL, "-T", "llm_version", "fake-tool please", "--no-log")
    assert run.exit_code == 0, run.output
    _first, second = codex_backend.requests_to("/responses")
    assert second.json["input"][-1]["type"] == "function_call_output"
    assert "You said: fake-tool please" in run.stdout


def test_fake_tools_makes_parallel_calls(codex_backend, codex_login):
    run = run_llm("-m", MODEL, "-T", "llm_version", "fake-tools", "--no-log", "--td")
    assert run.exit_code == 0, run.output
    assert run.output.count("Tool call: llm_version") == 2


def test_fake_search_lists_sources(codex_backend, codex_login):
    run = run_llm("-m", MODEL, "-T", "WebSearch", "fake-search pelicans", "--no-log")
    assert run.exit_code == 0, run.output
    assert "https://example.com/pelicans" in run.stdout


def test_fake_image_saves_an_image(codex_backend, codex_login):
    run = run_llm("-m", MODEL, "-T", "ImageGeneration", "fake-image", "--no-log")
    assert run.exit_code == 0, run.output
    saved = re.search(r"Image saved to (\S+\.png)", run.stdout + run.stderr)
    assert saved and Path(saved.group(1)).read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("word", "needle"),
    [
        ("fake-limit", "Usage limit reached"),
        ("fake-cloudflare", "Cloudflare"),
        ("fake-drop", "closed before the response was complete"),
    ],
)
def test_failure_words_show_their_failure(word, needle, codex_backend, codex_login):
    run = run_llm("-m", MODEL, word, "--no-log")
    assert_user_error(run, needle)


def test_fake_slow_still_answers(codex_backend, codex_login):
    run = run_llm("-m", MODEL, "fake-slow", "--no-log")
    assert run.exit_code == 0, run.output
    assert "Slow and steady" in run.stdout


def test_prompt_words_can_be_switched_off(codex_backend, codex_login):
    codex_backend.prompt_words = False
    run = run_llm("-m", MODEL, "fake-limit", "--no-log")
    assert run.exit_code == 0, run.output
