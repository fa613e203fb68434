"""Helpers for the UX tests: the real ``llm`` CLI in-process, or as a process on a terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from ..plugin.plugin_helpers import Run

LLM_EXE = str(Path(sys.executable).parent / "llm")


def assert_one_error_line(run: Run, *needles: str) -> str:
    """The run failed with exit code 1 and exactly one ``Error: ...`` line, no traceback."""
    assert run.exit_code == 1, run.output
    assert isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in run.output
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, run.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def run_on_terminal(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, str]:
    """Run the installed ``llm`` with stdout and stderr on one pseudo-terminal, as a user sees
    it; returns the exit code and everything the terminal showed (``\\r\\n`` line ends)."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [LLM_EXE, *args],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=dict(os.environ if env is None else env),
        close_fds=True,
    )
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    data = os.read(primary, 65536)
                except OSError:  # the terminal closed: the process is done
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
    return code, b"".join(chunks).decode("utf-8", "replace")
