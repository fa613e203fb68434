"""llm hooks: the ``openai-codex/*`` models and the ``llm codex`` commands.

This module is imported whenever ``llm`` starts, so it stays light: no network, no credential
reads, heavy imports deferred to the functions that need them. ``register_models`` reads the
cached model catalog (or the built-in list) only; ``llm --help`` and ``llm logs`` never call it.
"""

from __future__ import annotations

import sys

import llm


def _let_invalid_utf8_reach_us() -> None:
    """Read standard input as Python reads the command line: bytes that are not UTF-8 become
    lone surrogates (``surrogateescape``) instead of a raw codec traceback inside llm, so the
    request builder can refuse them with one sentence."""
    stdin = sys.stdin
    if stdin is None or getattr(stdin, "errors", None) != "strict":
        return
    if (getattr(stdin, "encoding", "") or "").lower().replace("-", "") != "utf8":
        return
    reconfigure = getattr(stdin, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="surrogateescape")
        except (ValueError, OSError):  # already read from, or not a text stream
            pass


_let_invalid_utf8_reach_us()


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
