"""pytest fixtures for llm-codex, auto-loaded through the ``pytest11`` entry point.

- ``codex_backend``: a running :class:`~llm_codex.testing.backend.FakeCodexBackend`, with
  ``LLM_CODEX_BASE_URL`` / ``LLM_CODEX_AUTH_URL`` pointing at it and ``LLM_USER_PATH`` /
  ``CODEX_HOME`` isolated in fresh temporary directories; stopped after the test.
- ``codex_login``: signed in — our own credential file (``config.own_auth_path()``, Codex
  ``auth.json`` shape, dir 0700, file 0600) holds tokens the fake accepts; returns the tokens.
- ``codex_cli_login``: a Codex CLI login — ``$CODEX_HOME/auth.json`` instead; returns the tokens.

This module is imported in every pytest run of every user of the package, so it imports nothing
heavy at module level: the server loads inside the fixtures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from llm_codex.testing.backend import FakeCodexBackend


@pytest.fixture
def codex_backend(tmp_path_factory, monkeypatch) -> Any:
    """A running fake Codex backend and auth issuer, with the environment pointed at it."""
    from llm_codex.testing.backend import FakeCodexBackend

    home = tmp_path_factory.mktemp("codex-fake")
    llm_user = home / "llm-user"
    codex_home = home / "codex-home"
    llm_user.mkdir()
    codex_home.mkdir()
    fake = FakeCodexBackend().start()
    monkeypatch.setenv("LLM_CODEX_BASE_URL", fake.base_url)
    monkeypatch.setenv("LLM_CODEX_AUTH_URL", fake.url)
    monkeypatch.setenv("LLM_USER_PATH", str(llm_user))
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def codex_login(codex_backend: FakeCodexBackend) -> dict[str, Any]:
    """Signed in with llm-codex's own credential file; returns the tokens written."""
    from llm_codex import config
    from llm_codex.testing.authfile import write_auth_file

    tokens = codex_backend.issue_tokens()
    write_auth_file(config.own_auth_path(), tokens)
    return tokens


@pytest.fixture
def codex_cli_login(codex_backend: FakeCodexBackend) -> dict[str, Any]:
    """Signed in with the Codex CLI (``$CODEX_HOME/auth.json``); returns the tokens written."""
    from llm_codex import config
    from llm_codex.testing.authfile import write_auth_file

    tokens = codex_backend.issue_tokens()
    write_auth_file(config.codex_cli_auth_path(), tokens, private_dir=False)
    return tokens
