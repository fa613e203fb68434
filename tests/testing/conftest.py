"""Fixtures for the fake backend's own tests: a started fake and a client bound to it."""

from __future__ import annotations

import pytest

from llm_codex.testing import FakeCodexBackend

from .fake_helpers import Client


@pytest.fixture
def fake():
    with FakeCodexBackend() as backend:
        yield backend


@pytest.fixture
def client(fake):
    c = Client(fake)
    yield c
    c.http.close()
