"""Test-suite wide isolation: no test can touch the user's real files or the real backend."""

from __future__ import annotations

import pytest

_OUR_ENV = (
    "LLM_CODEX_BASE_URL",
    "LLM_CODEX_AUTH_URL",
    "LLM_CODEX_API_URL",
    "LLM_CODEX_LOGIN_TIMEOUT",
    "LLM_CODEX_CLIENT_VERSION",
    "LLM_CODEX_SERVER_KEY",
    "LLM_CODEX_USAGE_WARNING",
    "LLM_CODEX_IDLE_TIMEOUT",
    "LLM_RAISE_ERRORS",
    "NO_COLOR",
)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    """Every test gets its own llm user dir and Codex home, and a backend URL that cannot answer.

    Tests that need a backend use the ``codex_backend`` fixture, which points these variables at
    the fake; anything else that tries the network fails at once on a closed local port instead
    of reaching chatgpt.com.
    """
    for name in _OUR_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("isolated")
    monkeypatch.setenv("LLM_USER_PATH", str(home / "llm"))
    monkeypatch.setenv("CODEX_HOME", str(home / "codex"))
    monkeypatch.setenv("LLM_CODEX_BASE_URL", "http://127.0.0.1:9/backend-api/codex")
    monkeypatch.setenv("LLM_CODEX_AUTH_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LLM_CODEX_API_URL", "http://127.0.0.1:9/v1")


@pytest.fixture(autouse=True)
def _fresh_plugin_state():
    """Each test starts with new process-wide clients and no catalog memo or refresh done yet."""
    from llm_codex.core import catalog, plan_catalog
    from llm_codex.plugin import models as llm_models
    from llm_codex.plugin import plan_models

    for reset in (llm_models.reset_clients, plan_models.reset_plan_clients):
        reset()
    catalog.clear_memo()
    plan_catalog.clear_plan_memo()
    yield
    for reset in (llm_models.reset_clients, plan_models.reset_plan_clients):
        reset()
    catalog.clear_memo()
    plan_catalog.clear_plan_memo()


@pytest.fixture
def patient_drain(monkeypatch):
    """Give a finished stream's last bytes 5 s instead of 0.25 s to arrive before its
    connection is given up. The fake backend shares this process (and its GIL) with the code
    under test, so on a loaded machine its final bytes can lag; tests of connection reuse
    are about reading to the end, not about that budget."""
    from llm_codex.core import client

    monkeypatch.setattr(client, "DRAIN_SECONDS", 5.0)
