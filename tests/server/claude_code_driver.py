"""Runs one Claude Code turn through ``llm codex serve`` against the fake backend.

Meant to run inside a network namespace with only loopback up (see ``test_claude_code.py``):
it starts the fake backend in this process, signs in with a token the fake issued, starts
``llm codex serve`` as a real subprocess, runs ``claude -p`` against it and prints one JSON
object: Claude Code's exit code and output for each run (a Read tool turn, then a WebSearch
turn), the server's log, and every request the fake saw.

Usage: python claude_code_driver.py <claude executable> <work dir>
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from llm_codex.testing import FakeCodexBackend
from llm_codex.testing.authfile import write_auth_file

PORT = 8765  # a fresh network namespace has every port free
SECRET = "pelican-42"


def main() -> None:
    claude, work = sys.argv[1], Path(sys.argv[2])
    home = work / "home"
    project = work / "project"
    for folder in (home, project, work / "llm-user", work / "codex-home"):
        folder.mkdir(parents=True, exist_ok=True)
    notes = project / "notes.txt"
    notes.write_text(f"The secret word is {SECRET}.\n")

    fake = FakeCodexBackend().start()
    env = dict(os.environ)
    env.update(
        LLM_CODEX_BASE_URL=fake.base_url,
        LLM_CODEX_AUTH_URL=fake.url,
        LLM_USER_PATH=str(work / "llm-user"),
        CODEX_HOME=str(work / "codex-home"),
    )
    os.environ.update(env)
    from llm_codex import config

    write_auth_file(config.own_auth_path(), fake.issue_tokens())
    # Run 1: the main loop's first turn reads the file; the next turn answers with text.
    fake.enqueue_tool_call("Read", json.dumps({"file_path": str(notes)}), call_id="call_read1")
    fake.enqueue_text(f"The file says the secret word is {SECRET}.")
    # Run 2: WebSearch, which Claude Code runs as a sub-request with Anthropic's web_search
    # server tool; then the main loop answers (the fake's default reply).
    fake.enqueue_tool_call("WebSearch", json.dumps({"query": "pelican facts"}), call_id="call_ws1")
    fake.enqueue_web_search(
        query="pelican facts",
        text="Pelicans have big bills.",
        sources=[{"url": "https://example.com/pelicans", "title": "Pelicans"}],
    )

    server_log = work / "server.log"
    with open(server_log, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "llm", "codex", "serve", "--port", str(PORT)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"http://127.0.0.1:{PORT}/health", timeout=1)
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("llm codex serve did not start") from None
                time.sleep(0.1)
        claude_env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{PORT}",
            "ANTHROPIC_AUTH_TOKEN": "llm-codex",
            "ANTHROPIC_MODEL": "claude-sonnet",
            "ANTHROPIC_SMALL_FAST_MODEL": "claude-haiku",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
        }
        runs = [
            subprocess.run(
                [
                    claude,
                    "-p",
                    prompt,
                    "--allowedTools",
                    tool,
                    "--output-format",
                    "json",
                    "--max-turns",
                    "4",
                ],
                cwd=project,
                env=claude_env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            for prompt, tool in (
                ("Read notes.txt and tell me the secret word.", "Read"),
                ("Search the web for pelican facts.", "WebSearch"),
            )
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
        fake.stop()
    print(
        json.dumps(
            {
                "runs": [
                    {"returncode": r.returncode, "stdout": r.stdout, "stderr": r.stderr[-4000:]}
                    for r in runs
                ],
                "server_log": server_log.read_text(errors="replace")[-8000:],
                "backend_requests": [
                    {"path": r.path, "status": r.status, "body": r.body}
                    for r in fake.requests_to("/responses")
                ],
                "pending_scenarios": fake.pending_scenarios,
            }
        )
    )


if __name__ == "__main__":
    main()
