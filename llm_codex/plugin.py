"""llm hooks: the ``openai-codex/*`` models and the ``llm codex`` commands.

This module is imported whenever ``llm`` starts, so it stays light: no network, no credential
reads, heavy imports deferred to the functions that need them.
"""

from __future__ import annotations

import llm


@llm.hookimpl
def register_commands(cli):  # type: ignore[no-untyped-def]
    """Add the ``llm codex`` group."""
    from llm_codex.cli import codex

    cli.add_command(codex)
