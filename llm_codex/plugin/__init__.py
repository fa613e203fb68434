"""llm hooks: the ``openai-codex/*`` models and the ``llm codex`` commands.

This module is imported whenever ``llm`` starts, so it stays light: no network, no credential
reads, heavy imports deferred to the functions that need them. ``register_models`` reads the
cached model catalog (or the built-in list) only; ``llm --help`` and ``llm logs`` never call it.
"""

from __future__ import annotations

import llm


@llm.hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    """Register ``openai-codex/<slug>`` (sync and async) for every model in the catalog, and
    ``chatgpt/<slug>`` for the official route's cached list plus its built-in gpt-5.5."""
    from llm_codex.plugin.models import register_all
    from llm_codex.plugin.plan_models import register_plan_models

    register_all(register)
    register_plan_models(register)


@llm.hookimpl
def register_commands(cli):  # type: ignore[no-untyped-def]
    """Add the ``llm codex`` group."""
    from llm_codex.commands import codex

    cli.add_command(codex)
