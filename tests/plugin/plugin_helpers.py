"""Helpers for the plugin's tests: run the real ``llm`` CLI in-process and read its logs."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

MODEL = "openai-codex/gpt-5.5"


@dataclass
class Run:
    """What one ``llm`` invocation produced."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


_logs_template: bytes | None = None


def _premigrated_logs_db() -> None:
    """Give a fresh llm user dir an already-migrated ``logs.db`` (llm's migrations of an empty
    database take about a second; the result is the same for every test)."""
    global _logs_template
    from llm_codex import config

    target = config.llm_user_dir() / "logs.db"
    if target.exists():
        return
    if _logs_template is None:
        import sqlite_utils
        from llm.migrations import migrate

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "logs.db"
            db = sqlite_utils.Database(path)
            migrate(db)
            db.close()
            _logs_template = path.read_bytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_logs_template)


def run_llm(*args: str, input: str | None = None) -> Run:
    """Run ``llm <args>`` through llm's real click entry point (plugins loaded as installed)."""
    from llm.cli import cli

    _premigrated_logs_db()
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=True)
    return Run(result.exit_code, result.stdout, result.stderr, result.exception)


def assert_user_error(run: Run, *needles: str) -> None:
    """A failure shown as one 'Error: ...' line, exit code 1, no traceback."""
    assert run.exit_code == 1, run.output
    # a ClickException ends the command with SystemExit(1); anything else is an unhandled crash
    assert isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in run.output
    assert "Error: " in run.stderr, run.output
    for needle in needles:
        assert needle in run.stderr, run.output


def logs_json(*args: str) -> list[dict]:
    """``llm logs --json`` as Python objects."""
    run = run_llm("logs", "--json", *args)
    assert run.exit_code == 0, run.output
    return json.loads(run.stdout)
