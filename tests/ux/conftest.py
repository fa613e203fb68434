"""UX tests: each test starts with fresh process-wide clients and catalog memo."""

from __future__ import annotations

import pytest


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
