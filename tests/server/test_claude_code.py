"""Cross-check with the real Claude Code CLI: one ``claude -p`` turn with a tool call, through
``llm codex serve`` against the fake backend.

Claude Code comes from npm (``@anthropic-ai/claude-code``, installed once into a cache folder:
``$LLM_CODEX_TEST_CACHE`` or ``~/.cache/llm-codex-tests``); the test is skipped only when npm is
missing. The fake, the server and Claude Code all run inside a network namespace of their own
with only loopback up (``unshare --net``), so nothing Claude Code tries can leave the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("claude_code_driver.py")
PACKAGE = "@anthropic-ai/claude-code"


def _cache() -> Path:
    base = os.environ.get("LLM_CODEX_TEST_CACHE") or Path.home() / ".cache" / "llm-codex-tests"
    return Path(base) / "claude-code"


def _claude_executable() -> Path:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    folder = _cache()
    claude = folder / "node_modules" / ".bin" / "claude"
    if not claude.exists():
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", PACKAGE],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"npm install {PACKAGE} failed: {done.stderr[-2000:]}"
    return claude


def _namespace_prefix() -> list[str]:
    probe = subprocess.run(
        ["unshare", "--net", "sh", "-c", "ip link set lo up"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a private network namespace here: {probe.stderr.strip()}")
    return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def test_claude_code_completes_tool_turns(tmp_path):
    """Claude Code reads a file through its Read tool and answers with what it found, then
    searches the web through its WebSearch tool; the backend sees our translation: tools, the
    tool result, the reasoning replayed, the hosted web search."""
    claude = _claude_executable()
    prefix = _namespace_prefix()
    run = subprocess.run(
        [*prefix, sys.executable, str(DRIVER), str(claude), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    for done in report["runs"]:
        assert done["returncode"] == 0, done["stderr"] + report["server_log"]
    read, search = (json.loads(done["stdout"]) for done in report["runs"])
    assert read["is_error"] is False and "pelican-42" in read["result"]
    assert search["is_error"] is False
    assert report["pending_scenarios"] == 0

    bodies = [r["body"] for r in report["backend_requests"]]
    first, second = bodies[:2]
    assert first["model"] == "gpt-5.5"  # ANTHROPIC_MODEL=claude-sonnet, the default alias
    assert "Read" in {t.get("name") for t in first["tools"]}
    assert first["store"] is False and "max_output_tokens" not in first
    assert not first["instructions"].startswith("x-anthropic-billing-header")
    assert first["prompt_cache_key"] == second["prompt_cache_key"]
    outputs = [i for i in second["input"] if i["type"] == "function_call_output"]
    assert outputs and outputs[0]["call_id"] == "call_read1"
    assert "pelican-42" in outputs[0]["output"]
    assert any(i["type"] == "reasoning" and i.get("encrypted_content") for i in second["input"])

    # WebSearch: the sub-request offers only the hosted web search, and its result (the
    # source URL from the web_search_tool_result block) reaches the main loop's next turn
    sub, final = bodies[3], bodies[4]
    assert sub["tools"] == [{"type": "web_search"}]
    ws_outputs = [i for i in final["input"] if i["type"] == "function_call_output"]
    assert ws_outputs[-1]["call_id"] == "call_ws1"
    assert "https://example.com/pelicans" in ws_outputs[-1]["output"]
    assert '"POST /v1/messages" 200' in report["server_log"]
