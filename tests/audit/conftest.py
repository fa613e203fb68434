"""Audit tests reuse the plugin tests' helpers and their fresh-state fixture."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugin"))


@pytest.fixture(autouse=True)
def _fresh_plugin_state():
    """Each test starts with new process-wide clients and no catalog refresh done yet."""
    from llm_codex import llm_models
    from llm_codex.core import catalog

    llm_models.reset_clients()
    catalog.clear_memo()
    yield
    llm_models.reset_clients()
    catalog.clear_memo()
