"""Small truths on the command line (issue 14, items 11 and 12): invalid UTF-8 is one
sentence, hidden reasoning prints nothing, option values are refused by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .plugin_helpers import MODEL, assert_user_error, run_llm

LLM = str(Path(sys.executable).with_name("llm"))
NOT_UTF8 = "not valid UTF-8"


def _llm(*args: bytes | str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}  # a UTF-8 terminal's strictness
    return subprocess.run(
        [LLM, *args], input=stdin, capture_output=True, env=env, timeout=60, check=False
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX command lines are bytes")
def test_invalid_utf8_on_the_command_line_is_one_sentence(codex_backend, codex_login):
    done = _llm("-m", MODEL, "--no-log", b"hi \xff there")
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 1, err
    assert NOT_UTF8 in err and "Traceback" not in err and "codec" not in err
    assert codex_backend.requests_to("/responses") == []


def test_invalid_utf8_on_stdin_is_one_sentence(codex_backend, codex_login):
    done = _llm("-m", MODEL, "--no-log", stdin=b"hi \xff there")
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 1, err
    assert NOT_UTF8 in err and "Traceback" not in err and "codec" not in err
    assert codex_backend.requests_to("/responses") == []


def test_reasoning_summary_none_prints_no_stray_blank_line(codex_backend, codex_login):
    run = run_llm("-m", MODEL, "-o", "reasoning_summary", "none", "hi", "--no-log")
    assert run.exit_code == 0, run.output
    assert run.stderr == ""
    assert run.stdout.startswith("Hello from the fake Codex backend")


def test_a_refused_level_names_the_value_and_the_model(codex_backend, codex_login):
    run = run_llm("-m", "openai-codex/gpt-5.4-mini", "-o", "reasoning_effort", "xhigh", "hi")
    assert_user_error(run)
    assert "'xhigh' is not one of the reasoning levels of openai-codex/gpt-5.4-mini" in run.output


def test_service_tier_fast_is_priority(codex_backend, codex_login):
    run = run_llm("-m", MODEL, "-o", "service_tier", "fast", "hi", "--no-log")
    assert run.exit_code == 0, run.output
    (request,) = codex_backend.requests_to("/responses")
    assert request.json["service_tier"] == "priority"
