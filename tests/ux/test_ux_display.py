"""What the user sees on the terminal: reasoning, usage tables, no tokens anywhere."""

from __future__ import annotations

import os
import sqlite3

from llm_codex import config

from ..plugin.plugin_helpers import MODEL, run_llm
from .helpers import run_on_terminal


def test_reasoning_reads_as_paragraphs_apart_from_the_answer(codex_backend, codex_login):
    """Reasoning paragraphs are separated by blank lines and end before the answer starts."""
    codex_backend.enqueue_text("Answer.", reasoning_summary=["**A**\n\nfirst", "**B**\n\nsecond"])
    run = run_llm("-m", MODEL, "hi")
    assert run.exit_code == 0, run.output
    assert run.stdout == "Answer.\n"
    # llm adds one newline between reasoning and text; the reasoning's own one makes a blank line
    assert run.stderr == "**A**\n\nfirst\n\n**B**\n\nsecond\n\n"


def test_reasoning_of_a_tool_chain_is_not_glued_together(codex_backend, codex_login, tmp_path):
    """In a tool chain, each response's reasoning starts on a line of its own."""
    functions = tmp_path / "fns.py"
    functions.write_text("def add(a: int, b: int) -> int:\n    'Add.'\n    return a + b\n")
    codex_backend.enqueue_tool_call("add", '{"a": 2, "b": 3}')
    codex_backend.enqueue_text("Five.", reasoning_summary="Second thought")
    run = run_llm("-m", MODEL, "--functions", str(functions), "add")
    assert run.exit_code == 0, run.output
    assert run.stdout == "Five.\n"
    assert "reply.Second" not in run.stderr and "\nSecond thought\n" in run.stderr


def test_hidden_reasoning_prints_nothing_on_stderr(codex_backend, codex_login):
    """`-R` leaves stderr empty."""
    run = run_llm("-m", MODEL, "-R", "hi")
    assert run.exit_code == 0, run.output
    assert run.stderr == ""


def test_usage_fits_a_narrow_terminal(codex_backend, codex_login):
    """On a 50-column terminal, `llm codex usage --cached` wraps to fit."""
    assert run_llm("-m", MODEL, "hi").exit_code == 0
    env = dict(os.environ, COLUMNS="50", NO_COLOR="1")
    code, screen = run_on_terminal("codex", "usage", "--cached", env=env)
    assert code == 0, screen
    lines = screen.replace("\r\n", "\n").splitlines()
    assert any("5-hour window" in line for line in lines), screen
    assert max(len(line) for line in lines) <= 50, screen
    assert "\x1b[" not in screen


def test_usage_is_coloured_on_a_terminal_only_without_no_color(codex_backend, codex_login):
    """A terminal gets colour; NO_COLOR turns it off."""
    assert run_llm("-m", MODEL, "hi").exit_code == 0
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    code, screen = run_on_terminal("codex", "usage", "--cached", env=env)
    assert code == 0 and "\x1b[" in screen


def test_nothing_shows_or_logs_a_token(codex_backend, codex_login):
    """No command output and no logged row contains an access, refresh or id token."""
    codex_backend.set_rate_limit_headers({"x-codex-primary-used-percent": 95})
    outputs = []
    for args in (
        ["-m", MODEL, "hi"],
        ["-c", "again", "-u"],
        ["logs", "--json"],
        ["logs", "-u"],
        ["codex", "status"],
        ["codex", "status", "--json"],
        ["codex", "usage"],
        ["codex", "usage", "--json"],
        ["codex", "models", "--refresh"],
    ):
        run = run_llm(*args)
        assert run.exit_code == 0, (args, run.output)
        outputs.append(run.output)
    conn = sqlite3.connect(config.llm_user_dir() / "logs.db")
    try:
        rows = [repr(row) for row in conn.execute("select * from responses")]
    finally:
        conn.close()
    everything = "\n".join(outputs + rows)
    for name in ("access_token", "refresh_token", "id_token"):
        assert codex_login[name] not in everything, name
        assert codex_login[name][-24:] not in everything, name


def test_high_usage_warning_starts_on_its_own_line_on_a_terminal(codex_backend, codex_login):
    """On a terminal the 90% warning is printed once, on its own line, after the answer."""
    codex_backend.set_rate_limit_headers({"x-codex-primary-used-percent": 95})
    code, screen = run_on_terminal("-m", MODEL, "-R", "hi")
    assert code == 0, screen
    lines = screen.replace("\r\n", "\n").split("\n")
    assert lines[0] == "Hello from the fake Codex backend. You said: hi", screen
    assert lines[1].startswith("llm-codex: 95% of your 5-hour window used"), screen
    code, screen = run_on_terminal("-m", MODEL, "-R", "again")
    assert code == 0 and "llm-codex:" not in screen
