"""The official route's parts of ``llm codex`` (siwc.md §13): ``login --official``,
``logout --official``, its section of ``status``, ``models`` and ``usage``.

Every failure is one sentence on stderr and exit code 1; the one-time plan notice goes to
stderr only. Status and the model list read files only.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import click

from llm_codex.core.errors import CodexError

__all__ = [
    "USAGE_LINE",
    "official_login",
    "official_logout",
    "official_models_json",
    "official_models_lines",
    "official_signed_in",
    "official_status_json",
    "official_status_lines",
    "refresh_official_models",
]

MANAGE = "https://chatgpt.com/settings/usage"
USING_PLAN = f"Using ChatGPT plan — Manage usage: {MANAGE}"
USAGE_LINE = f"ChatGPT plan usage: no usage data is available to apps; see {MANAGE}"


def official_login(*, no_browser: bool, port: int | None) -> None:
    """``llm codex login --official`` (§13.1)."""
    from llm_codex.auth.siwc.login import official_login as run
    from llm_codex.plugin.plan_models import NOTICE

    try:
        result = run(port=port, open_browser=not no_browser, echo=click.echo)
    except CodexError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        raise click.ClickException("Sign-in cancelled.") from None
    who = result.email or "your ChatGPT account"
    if not result.plan_usage:
        raise click.ClickException(
            f"Signed in as {who}, but ChatGPT plan usage was not enabled. Run `llm codex login "
            "--official` again and allow it to use chatgpt/ models."
        )
    click.echo(f"Signed in to ChatGPT as {who}; ChatGPT plan usage is enabled for chatgpt/ models.")
    if result.show_notice:
        click.echo(NOTICE, err=True)
    try:
        refresh_official_models()
    except CodexError as exc:
        click.echo(f"Warning: the chatgpt/ model list was not refreshed: {exc}", err=True)


def official_logout() -> None:
    """``llm codex logout --official`` (§8.7)."""
    from llm_codex.auth.siwc.login import official_logout as run

    try:
        result = run()
    except CodexError as exc:
        raise click.ClickException(str(exc)) from None
    if not result.signed_in:
        click.echo("Not signed in with --official.")
    elif result.revoked:
        click.echo("Signed out of ChatGPT plan usage (revocation confirmed).")
    else:
        click.echo(
            "Signed out locally; OpenAI did not confirm the revocation. Disconnect llm-codex "
            "in ChatGPT Settings to be sure."
        )


def official_status_json() -> dict[str, Any]:
    """The official section of ``status --json`` (no tokens, no network)."""
    from llm_codex.auth.siwc.provider import official_status

    return official_status()


def official_signed_in() -> bool:
    """Whether an official login with tokens exists (files only; unusable file: False)."""
    try:
        return bool(official_status_json()["signed_in"])
    except CodexError:
        return False


def _local(iso: str | None) -> str:
    if not iso:
        return "unknown"
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def official_status_lines(data: dict[str, Any]) -> list[str]:
    """The "ChatGPT plan (official)" section of ``llm codex status``."""
    head = "ChatGPT plan (official):"
    if data.get("error"):
        return [head, f"  {data['error']}"]
    if not data.get("signed_in"):
        return [head, "  not signed in; run 'llm codex login --official' for chatgpt/ models."]
    flags = [
        name
        for name, on in (
            ("needs sign-in", data.get("needs_sign_in")),
            ("possibly spent", data.get("possibly_spent")),
            ("expired", data.get("expired")),
        )
        if on
    ]
    rows = [
        ("Email", data.get("email") or "unknown"),
        ("Plan usage", "enabled" if data.get("plan_usage") else "disabled"),
        ("Client id", data.get("client_id") or "unknown"),
        ("Host id", data.get("host_id") or "unknown"),
        ("Access token expires", _local(data.get("expires_at"))),
        ("Renewable from", _local(data.get("earliest_refresh_at"))),
        ("Last refresh", _local(data.get("last_refresh"))),
        ("Flags", ", ".join(flags) or "none"),
    ]
    width = max(len(label) for label, _ in rows) + 1
    lines = [head]
    lines.extend(f"  {label + ':':<{width}} {value}" for label, value in rows)
    lines.append(f"  {USING_PLAN}")
    return lines


def refresh_official_models() -> tuple[list[str], list[str]]:
    """Fetch ``GET {api}/models`` for the official login and save the cache."""
    from llm_codex.auth.siwc.provider import OfficialAuth
    from llm_codex.core.client import CodexClient
    from llm_codex.core.plan_catalog import refresh_plan_cache
    from llm_codex.core.plan_route import PLAN_ROUTE

    client = CodexClient(credentials=OfficialAuth(), route=PLAN_ROUTE, max_attempts=2)
    return refresh_plan_cache(client)


def official_models_lines(now: float | None = None) -> list[str]:
    """The "ChatGPT plan" block of ``llm codex models``."""
    from llm_codex.core.plan_catalog import load_plan_catalog
    from llm_codex.core.timefmt import describe_duration

    catalog = load_plan_catalog()
    now = time.time() if now is None else now
    if catalog.source == "cache" and catalog.fetched_at is not None:
        age = describe_duration(max(now - catalog.fetched_at, 0))
        head = f"chatgpt/ models (Using ChatGPT plan; list fetched {age} ago):"
    else:
        head = "chatgpt/ models (Using ChatGPT plan; built-in list):"
    lines = [head]
    for info in catalog.models:
        name = f"  chatgpt/{info.slug}"
        if info.display_name != info.slug:
            name += f"  {info.display_name}"
        lines.append(name)
    if not official_signed_in():
        lines.append("Sign in for these with: llm codex login --official")
    lines.append(f"Manage usage: {MANAGE}")
    return lines


def official_models_json() -> dict[str, Any]:
    """The ``official`` part of ``llm codex models --json``."""
    from llm_codex.core.plan_catalog import load_plan_catalog

    catalog = load_plan_catalog()
    return {
        "source": catalog.source,
        "fetched_at": catalog.fetched_at,
        "models": [{"model_id": "chatgpt/" + m.slug, **m.to_dict()} for m in catalog.models],
    }
