"""``llm codex usage``: the plan's usage windows, live from ``/wham/usage`` or from the cache.

Live mode makes one authenticated GET (the token is refreshed only if it needs to be); ``--cached``
shows the snapshot last seen in a model response and makes no request at all.
"""

from __future__ import annotations

import json
import os
import sys
import time

import click

__all__ = ["usage"]


def _use_colour() -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _width() -> int:
    """Columns to fit: 80, or fewer on a narrower terminal (never below 40)."""
    try:
        if not sys.stdout.isatty():
            return 80
    except (AttributeError, ValueError):
        return 80
    import shutil

    columns = shutil.get_terminal_size((80, 24)).columns
    return max(40, min(80, columns))


def _now() -> float:
    """The clock (a seam for tests of the rendered output)."""
    return time.time()


def _fetch_live(now: float):  # type: ignore[no-untyped-def]
    """``GET /wham/usage`` through the shared client; returns a RateLimitSnapshot."""
    from llm_codex import config
    from llm_codex.auth import default_auth_manager
    from llm_codex.core.client import CodexClient
    from llm_codex.core.errors import CodexError
    from llm_codex.core.ratelimits import parse_usage_payload

    client = CodexClient(credentials=default_auth_manager())
    data, _headers = client.get_json(config.usage_url())
    snapshot = parse_usage_payload(data, now=now)
    if snapshot is None:
        raise CodexError("The usage answer from the backend was not understood.")
    return snapshot


@click.command(name="usage")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--cached",
    is_flag=True,
    help="Show the usage last seen in a model response; makes no request.",
)
def usage(as_json: bool, cached: bool) -> None:
    """Show your plan's usage windows (5-hour, weekly, others) and when they reset.

    Without --cached this asks ChatGPT for the current figures. Warnings are also printed after
    a prompt once a window is 90% used; set LLM_CODEX_USAGE_WARNING to another percentage, or to
    'off' to silence them.
    """
    from llm_codex.commands.official_cmds import USAGE_LINE, official_signed_in
    from llm_codex.commands.usage_view import render_usage, usage_json
    from llm_codex.core.errors import CodexError, NotSignedIn
    from llm_codex.core.ratelimits import load_snapshot

    now = _now()
    official = official_signed_in()
    if official and not as_json:
        # The official route publishes no usage windows (siwc.md §13.5, §15): no request.
        click.echo(USAGE_LINE)
    passive = load_snapshot()
    if cached:
        if passive is None:
            raise click.ClickException(
                "No usage has been seen yet: run a prompt with an openai-codex model, "
                "or run 'llm codex usage' without --cached to ask ChatGPT."
            )
        snapshot = passive
    else:
        try:
            snapshot = _fetch_live(now)
        except NotSignedIn as error:
            if official and not as_json:
                return  # only the official login: its line above is the whole answer
            raise click.ClickException(str(error)) from None
        except CodexError as error:
            raise click.ClickException(str(error)) from None

    if as_json:
        data = usage_json(snapshot, now=now, passive=passive, cached=cached)
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        render_usage(
            snapshot,
            now=now,
            passive=passive,
            cached=cached,
            colour=_use_colour(),
            width=_width(),
        )
    )
