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


@pytest.fixture
def siwc_backend(request, tmp_path_factory, monkeypatch) -> Any:
    """A running fake of the official route (issuer + public API), with ``LLM_CODEX_AUTH_URL``
    and ``LLM_CODEX_API_URL`` pointing at it. Combined with ``codex_backend`` (request both),
    the Codex fake answers every other path, so one issuer URL serves both routes; otherwise
    ``LLM_USER_PATH`` and ``CODEX_HOME`` are isolated here."""
    from llm_codex.testing.siwc_fake import FakeSiwc

    fallback = None
    if "codex_backend" in request.fixturenames:
        fallback = request.getfixturevalue("codex_backend")._app
    else:
        home = tmp_path_factory.mktemp("siwc-fake")
        (home / "llm-user").mkdir()
        (home / "codex-home").mkdir()
        monkeypatch.setenv("LLM_USER_PATH", str(home / "llm-user"))
        monkeypatch.setenv("CODEX_HOME", str(home / "codex-home"))
    fake = FakeSiwc(fallback=fallback).start()
    monkeypatch.setenv("LLM_CODEX_AUTH_URL", fake.url)
    monkeypatch.setenv("LLM_CODEX_API_URL", fake.api_url)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def siwc_login(siwc_backend) -> dict[str, Any]:
    """Signed in through the official route (``official.json`` with plan usage enabled and the
    notice already shown); returns the token answer, with ``client_id`` and ``sub``."""
    from llm_codex import config
    from llm_codex.testing.siwc_fake import write_official_login

    return write_official_login(config.state_dir(), siwc_backend)
