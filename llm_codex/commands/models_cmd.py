"""``llm codex models``: the Codex models llm-codex offers and what each accepts.

Lists the cached catalog (or the built-in list) with no network; ``--refresh`` fetches the
catalog of your plan first (refreshing the token only if it needs to be) and reports what changed.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from llm_codex.core.catalog import MODEL_PREFIX

__all__ = ["models", "render_models"]


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _model_lines(info: Any) -> list[str]:
    """One block per model: slug and name, then capabilities on short lines."""
    head = f"{info.slug}  {info.display_name}" if info.display_name != info.slug else info.slug
    notes = []
    if info.hidden:
        notes.append("hidden from ChatGPT's list, callable")
    if info.use_responses_lite:
        notes.append("Responses Lite: function tools only")
    if notes:
        head += f"  ({'; '.join(notes)})"
    lines = [head]
    if info.reasoning_levels:
        reasoning = ", ".join(info.reasoning_levels)
        if info.default_reasoning_level:
            reasoning += f" (default: {info.default_reasoning_level})"
        if info.supports_reasoning_summaries:
            reasoning += "; summaries"
    else:
        reasoning = "none"
    lines.append(f"  reasoning: {reasoning}")
    verbosity = _yes_no(info.supports_verbosity)
    if info.supports_verbosity and info.default_verbosity:
        verbosity += f" (default: {info.default_verbosity})"
    search = "no"
    if info.supports_web_search:
        search = (info.web_search_tool_type or "yes").replace("_", " ")
    lines.append(
        f"  verbosity: {verbosity}   image input: {_yes_no(info.supports_images)}"
        f"   fast tier: {_yes_no(info.supports_fast)}"
    )
    context = f"{info.context_window:,} tokens" if info.context_window else "unknown"
    if info.max_context_window and info.max_context_window != info.context_window:
        context += f" (max {info.max_context_window:,})"
    lines.append(
        f"  web search: {search}   image generation: {_yes_no(info.supports_image_generation)}"
    )
    lines.append(f"  context window: {context}")
    return lines


def render_models(catalog: Any, *, now: float) -> str:
    """The text of ``llm codex models`` for a :class:`~llm_codex.core.catalog.Catalog`."""
    from llm_codex.core.timefmt import describe_duration

    if catalog.source == "cache":
        age = (
            f"fetched {describe_duration(max(now - catalog.fetched_at, 0))} ago"
            if catalog.fetched_at is not None
            else "of unknown age"
        )
        head = f"Models from the cached catalog ({age}):"
    else:
        head = "Built-in model list (run 'llm codex models --refresh' to fetch your plan's):"
    out = [head]
    for info in catalog.models:
        out.append("")
        out.extend(_model_lines(info))
    out.append("")
    out.append(f'Use one with: llm -m {MODEL_PREFIX}<slug> "your prompt"')
    return "\n".join(out)


def _catalog_json(catalog: Any) -> dict[str, Any]:
    return {
        "source": catalog.source,
        "fetched_at": catalog.fetched_at,
        "client_version": catalog.client_version,
        "models": [
            {"model_id": MODEL_PREFIX + info.slug, **info.to_dict()} for info in catalog.models
        ],
    }


def _refresh() -> tuple[list[str], list[str]]:
    from llm_codex.auth import default_auth_manager
    from llm_codex.core.catalog import refresh_cache
    from llm_codex.core.client import CodexClient

    client = CodexClient(credentials=default_auth_manager())
    return refresh_cache(client)


@click.command(name="models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--refresh", is_flag=True, help="Fetch your plan's model catalog from ChatGPT first.")
def models(as_json: bool, refresh: bool) -> None:
    """List the Codex models and their options (reasoning, verbosity, images, fast tier, web
    search, image generation, context window). Without --refresh this makes no request."""
    from llm_codex.commands.official_cmds import (
        official_models_json,
        official_models_lines,
        official_signed_in,
        refresh_official_models,
    )
    from llm_codex.core.catalog import load_catalog
    from llm_codex.core.errors import CodexError, NotSignedIn

    changes: tuple[list[str], list[str]] | None = None
    failures: list[str] = []
    if refresh:
        # Each route that has a login is refreshed; a failure of one does not hide the other.
        official = official_signed_in()
        try:
            changes = _refresh()
        except NotSignedIn as error:
            if not official:
                raise click.ClickException(str(error)) from None
        except CodexError as error:
            if not official:
                raise click.ClickException(str(error)) from None
            failures.append(str(error))
        if official:
            try:
                refresh_official_models()
            except CodexError as error:
                failures.append(f"chatgpt/ models: {error}")
    catalog = load_catalog()

    if as_json:
        data = _catalog_json(catalog)
        if changes is not None:
            data["added"], data["removed"] = changes
        data["official"] = official_models_json()
        click.echo(json.dumps(data, indent=2))
        _fail_after(failures)
        return

    if changes is not None:
        added, removed = changes
        if added:
            click.echo(f"Added: {', '.join(added)}")
        if removed:
            click.echo(f"Removed: {', '.join(removed)}")
        if not added and not removed:
            click.echo(f"No changes ({len(catalog.models)} models).")
        click.echo("")
    click.echo(render_models(catalog, now=time.time()))
    click.echo("")
    click.echo("\n".join(official_models_lines()))
    _fail_after(failures)


def _fail_after(failures: list[str]) -> None:
    """After the listing: the refresh failures, one sentence each, and exit 1."""
    if not failures:
        return
    for failure in failures[:-1]:
        click.echo(f"Error: {failure}", err=True)
    raise click.ClickException(failures[-1])
