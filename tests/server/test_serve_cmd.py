"""The ``llm codex serve`` command: safe defaults, startup line, graceful stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx2
import pytest
from click.testing import CliRunner
from llm.cli import cli

from llm_codex.commands.serve_cmd import parse_size


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10"])
def test_refuses_public_bind_without_api_key(host):
    """Listening on a non-loopback address without --api-key is refused with one sentence."""
    result = CliRunner().invoke(cli, ["codex", "serve", "--host", host])
    assert result.exit_code == 1
    assert f"Refusing to listen on {host} without an API key" in result.output
    assert "Traceback" not in result.output


def test_bad_max_body_is_a_usage_error():
    """A malformed --max-body is reported as a usage error."""
    result = CliRunner().invoke(cli, ["codex", "serve", "--max-body", "lots"])
    assert result.exit_code == 2
    assert "is not a size" in result.output


@pytest.mark.parametrize("alias", ["claude-sonnet", "=gpt-5.5", "claude-sonnet="])
def test_bad_anthropic_alias_is_a_usage_error(alias):
    """An --anthropic-alias that is not NAME=MODEL is reported as a usage error."""
    result = CliRunner().invoke(cli, ["codex", "serve", "--anthropic-alias", alias])
    assert result.exit_code == 2
    assert "NAME=MODEL" in result.output
    assert "Traceback" not in result.output


def test_parse_size():
    """Sizes accept plain bytes and K/M/G suffixes."""
    assert parse_size("20MB") == 20 * 1024 * 1024
    assert parse_size("512K") == 512 * 1024
    assert parse_size("1048576") == 1048576


def test_serve_prints_sdk_hint_logs_and_stops_gracefully(codex_backend, codex_login):
    """`llm codex serve` prints the URL and the OpenAI SDK variables, serves, logs, stops."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm", "codex", "serve", "--port", "0", "--api-key", "k3y"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        url = None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "export OPENAI_BASE_URL=" in line:
                url = line.split("OPENAI_BASE_URL=")[1].split()[0]
                break
        assert url, "".join(lines)
        assert "(HTTP stack: " in "".join(lines)  # says which loop and HTTP parser serve
        assert "OPENAI_API_KEY=<your --api-key>" in lines[-1]
        r = httpx2.post(
            url + "/chat/completions",
            json={"model": "gpt-5.5", "messages": [{"role": "user", "content": "cli"}]},
            headers={"Authorization": "Bearer k3y"},
        )
        assert r.status_code == 200
        assert r.json()["choices"][0]["message"]["content"].endswith("You said: cli")
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0
    assert '"POST /v1/chat/completions" 200 model=gpt-5.5' in rest
    assert "k3y" not in rest
    assert codex_login["access_token"] not in rest


def test_store_options_are_validated_and_documented():
    """--store-size and --store-ttl appear in --help; a negative size is a usage error."""
    help_text = CliRunner().invoke(cli, ["codex", "serve", "--help"]).output
    assert all(o in help_text for o in ("--store-size", "--store-ttl", "--store-memory"))
    result = CliRunner().invoke(cli, ["codex", "serve", "--store-size", "-1"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
