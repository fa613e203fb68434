"""The ``llm codex serve`` command: safe defaults, startup line, graceful stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
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


# --- start-up refusals and bind failures ---------------------------------------------------------


def test_max_body_zero_is_refused():
    """``--max-body 0`` would refuse every request: it is refused at start instead."""
    result = CliRunner().invoke(cli, ["codex", "serve", "--max-body", "0"])
    assert result.exit_code == 2
    assert "--max-body" in result.output and "at least 1 byte" in result.output


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LLM_CODEX_BASE_URL", "localhost:8080"),
        ("LLM_CODEX_AUTH_URL", "ftp://auth.example"),
        ("LLM_CODEX_IDLE_TIMEOUT", "soon"),
        ("LLM_CODEX_USAGE_WARNING", "lots"),
        ("LLM_CODEX_CLIENT_VERSION", "latest"),
    ],
)
def test_malformed_environment_is_refused_at_start(name, value):
    """A malformed ``LLM_CODEX_*`` value is named in one sentence, not silently ignored."""
    result = CliRunner().invoke(cli, ["codex", "serve", "--port", "0"], env={name: value})
    assert result.exit_code == 1
    assert f"{name}={value!r}" in result.output
    assert "Traceback" not in result.output


def test_port_in_use_is_said_in_one_line():
    """A port in use is reported as such, once, with exit status 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["codex", "serve", "--port", str(port), "--api-key", "short"]
        )
    assert result.exit_code == 1
    assert "Warning: the API key is only 5 characters long" in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert errors == [f"Error: Cannot listen on 127.0.0.1:{port}: port {port} is already in use "
                      "(try another --port, or 0)."]  # fmt: skip


def test_unresolvable_host_is_not_called_port_in_use():
    """Reproduced: an unresolvable --host was reported as "is the port in use?"."""
    result = CliRunner().invoke(
        cli,
        ["codex", "serve", "--host", "no-such-host.invalid", "--api-key", "x" * 20],
    )
    assert result.exit_code == 1
    assert "the host name 'no-such-host.invalid' does not resolve" in result.output
    assert "in use" not in result.output
    assert len(result.output.strip().splitlines()) == 1


# --- Ctrl+C with open streams --------------------------------------------------------------------


def _start_serve() -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm", "codex", "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    for _ in range(50):
        line = proc.stderr.readline()
        if "export OPENAI_BASE_URL=" in line:
            return proc, line.split("OPENAI_BASE_URL=")[1].split()[0]
        if not line:
            break
    proc.kill()
    raise AssertionError("llm codex serve did not start")


def _open_stream(url: str, received: list[str], started: threading.Event) -> None:
    body = {"model": "gpt-5.5", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    try:
        with httpx2.stream("POST", url + "/chat/completions", json=body, timeout=60) as answer:
            for text in answer.iter_text():
                received.append(text)
                started.set()
    except httpx2.HTTPError as exc:
        received.append(f"<{type(exc).__name__}>")
    finally:
        started.set()


def _wait_for_line(proc: subprocess.Popen, needle: str) -> str:
    seen = []
    for _ in range(200):
        line = proc.stderr.readline()
        seen.append(line)
        if needle in line or not line:
            break
    return "".join(seen)


def test_second_ctrl_c_ends_open_streams_without_tracebacks(codex_backend, codex_login):
    """First Ctrl+C: a line saying it waits for the 2 open streams. Second: they end at once,
    no traceback, exit status 130."""
    for _ in range(2):
        codex_backend.enqueue_slow(" ".join(["word"] * 200), delay=0.2)  # 40 s if left alone
    proc, url = _start_serve()
    streams = []
    try:
        for _ in range(2):
            received: list[str] = []
            started = threading.Event()
            thread = threading.Thread(target=_open_stream, args=(url, received, started))
            thread.start()
            assert started.wait(30)
            streams.append((thread, received))
        proc.send_signal(signal.SIGINT)
        before = _wait_for_line(proc, "press Ctrl+C again")
        assert "waiting for 2 open requests to finish" in before
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
    finally:
        proc.kill()
    for thread, _ in streams:
        thread.join(30)
        assert not thread.is_alive()
    assert proc.returncode == 130
    assert "Traceback" not in before + rest
    assert "Error" not in before + rest


def test_first_ctrl_c_lets_open_stream_finish(codex_backend, codex_login):
    """After one Ctrl+C an open stream still ends with [DONE]; the exit status is 0."""
    codex_backend.enqueue_slow("one two three four five six", delay=0.3)
    proc, url = _start_serve()
    received: list[str] = []
    started = threading.Event()
    thread = threading.Thread(target=_open_stream, args=(url, received, started))
    try:
        thread.start()
        assert started.wait(30)
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
    finally:
        proc.kill()
    thread.join(30)
    assert "".join(received).rstrip().endswith("data: [DONE]")
    assert proc.returncode == 0
    assert "waiting for 1 open request to finish" in rest
    assert "Traceback" not in rest
