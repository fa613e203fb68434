"""The ``llm codex`` command group: login, logout, status, models, usage, serve.

Subcommands are imported only when they run, so ``llm --help`` and every other ``llm`` command
pay nothing for them.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["codex"]

#: subcommand name -> (module, attribute, one-line help shown by ``llm codex --help``)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "login": ("llm_codex.commands.auth_cmds", "login", "Sign in with your ChatGPT account."),
    "logout": ("llm_codex.commands.auth_cmds", "logout", "Sign out and revoke llm-codex's tokens."),
    "status": ("llm_codex.commands.auth_cmds", "status", "Show which login is used (no network)."),
    "models": (
        "llm_codex.commands.models_cmd",
        "models",
        "List the Codex models and what each accepts.",
    ),
    "usage": ("llm_codex.commands.usage_cmd", "usage", "Show your plan's usage windows."),
    "serve": (
        "llm_codex.commands.serve_cmd",
        "serve",
        "Run a local OpenAI-compatible server on your plan.",
    ),
}


class _LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = _COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, attribute, _ = spec
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, spec[2]) for name, spec in _COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, invoke_without_command=True)
@click.version_option(package_name="llm-codex", prog_name="llm-codex")
@click.pass_context
def codex(ctx: click.Context) -> None:
    """Use your ChatGPT plan's Codex models (GPT-5.5 and successors).

    Sign in once with 'llm codex login' (or reuse a Codex CLI login), then prompt with
    'llm -m openai-codex/gpt-5.5 "..."'.
    """
    if ctx.invoked_subcommand is None:  # plain 'llm codex': the help, as a normal answer
        click.echo(ctx.get_help())
