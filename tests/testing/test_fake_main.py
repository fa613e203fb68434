"""``python -m llm_codex.testing``: the fake as a standalone server."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys

import httpx2 as httpx
import pytest


@pytest.mark.skipif(sys.platform == "win32" or not shutil.which("bash"), reason="POSIX shell")
def test_standalone_server(tmp_path):
    """It prints the environment, writes a CLI auth.json it accepts, and stops on Ctrl-C."""
    home = tmp_path / "codex"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_codex.testing", "--port", "0", "--codex-home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:  # (older fakes printed it without the "#")
                break
        out = "".join(lines)
        base = re.search(r"export LLM_CODEX_BASE_URL=(\S+)", out).group(1)
        auth = re.search(r"export LLM_CODEX_AUTH_URL=(\S+)", out).group(1)
        api = re.search(r"export LLM_CODEX_API_URL=(\S+)", out).group(1)
        assert base.endswith("/backend-api/codex")
        # one issuer for both routes: the official route's discovery, and the Codex route's
        # token endpoint handed on to the Codex fake
        assert api == auth + "/v1"
        assert httpx.get(auth + "/.well-known/openid-configuration").json()["issuer"] == auth
        refused = httpx.post(auth + "/oauth/token", json={"grant_type": "refresh_token"})
        assert refused.status_code != 404
        assert f"export CODEX_HOME={home.resolve()}" in out
        assert "#   [model_providers.llm-codex-fake]" in out
        assert f'#   base_url = "{base}"' in out
        assert "#   requires_openai_auth = true" in out
        # The whole printout pasted into a shell sets the environment and runs nothing else,
        # including its own LLM_USER_PATH so a trial stays out of the real logs.db.
        pasted = subprocess.run(
            ["bash", "-euc", out + "\nenv"], capture_output=True, text=True, timeout=30
        )
        assert pasted.returncode == 0 and pasted.stderr == "", pasted.stderr
        env = dict(line.split("=", 1) for line in pasted.stdout.splitlines() if "=" in line)
        assert env["LLM_CODEX_BASE_URL"] == base and env["CODEX_HOME"] == str(home.resolve())
        assert env["LLM_USER_PATH"] and env["LLM_USER_PATH"] != os.environ.get("LLM_USER_PATH")
        data = json.loads((home / "auth.json").read_text())
        token = data["tokens"]["access_token"]
        body = {
            "model": "gpt-5.5",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            "stream": True,
            "store": False,
        }
        response = httpx.post(
            base + "/responses",
            json=body,
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 200
        assert "You said: hi" in response.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "# Stopped." in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_port_in_use_is_one_clear_error():
    """A busy port gives one sentence on stderr and exit code 1."""
    from llm_codex.testing import FakeCodexBackend

    with FakeCodexBackend() as fake:
        port = fake.port
        result = subprocess.run(
            [sys.executable, "-m", "llm_codex.testing", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"Cannot listen on 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
