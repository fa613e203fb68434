"""Fixtures of the core-client tests."""

from __future__ import annotations

import pytest

from .helpers import Sleeps, StaticCredentials, creds_from


@pytest.fixture(params=["sync", "async"])
def mode(request) -> str:
    """Every client test runs against both twins."""
    return request.param


@pytest.fixture
def provider(codex_backend) -> StaticCredentials:
    """Credentials the fake accepts (refreshing to another valid token after a 401)."""
    return StaticCredentials(
        creds_from(codex_backend.issue_tokens()),
        refreshed=creds_from(codex_backend.issue_tokens()),
    )


@pytest.fixture
def sleeps() -> Sleeps:
    """Backoff sleeps, recorded rather than slept."""
    return Sleeps()
