"""The pytest fixtures: codex_backend, codex_login, codex_cli_login."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from llm_codex import config
from llm_codex.testing import decode_claims


def test_codex_backend_points_environment_at_fake(codex_backend, tmp_path):
    """codex_backend sets the backend and auth URLs and isolates the user dirs."""
    assert config.backend_base_url() == codex_backend.base_url
    assert config.auth_base_url() == codex_backend.url
    assert config.usage_url() == codex_backend.url + "/backend-api/wham/usage"
    assert config.llm_user_dir().is_dir()
    assert config.codex_home().is_dir()
    assert not config.own_auth_path().exists()
    assert not config.codex_cli_auth_path().exists()


def test_codex_login_writes_our_credentials(codex_login, codex_backend):
    """codex_login writes our own auth.json (0600 in a 0700 dir) with tokens the fake accepts."""
    path = config.own_auth_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data["auth_mode"] == "chatgpt"
    assert data["OPENAI_API_KEY"] is None
    assert data["tokens"] == {
        "id_token": codex_login["id_token"],
        "access_token": codex_login["access_token"],
        "refresh_token": codex_login["refresh_token"],
        "account_id": "acct-test",
    }
    assert data["last_refresh"].endswith("Z")
    assert decode_claims(data["tokens"]["id_token"])["email"] == "user@example.com"
    assert codex_backend.tokens.check_access(f"Bearer {codex_login['access_token']}").ok
    assert not config.codex_cli_auth_path().exists()


def test_codex_cli_login_writes_codex_home(codex_cli_login):
    """codex_cli_login writes $CODEX_HOME/auth.json only."""
    data = json.loads(config.codex_cli_auth_path().read_text())
    assert data["tokens"]["access_token"] == codex_cli_login["access_token"]
    assert not config.own_auth_path().exists()


def test_plugin_import_is_cheap():
    """Importing the pytest plugin does not load the server modules."""
    code = (
        "import sys, llm_codex.testing.pytest_plugin;"
        "print(any(m.startswith('llm_codex.testing.') and m != 'llm_codex.testing.pytest_plugin'"
        " for m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr
