"""``llm codex login``, ``llm codex logout`` and ``llm codex status``.

Every failure is one sentence on stderr and exit code 1 (``click.ClickException``); no
traceback, and credential files are never left half-written.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import click

from llm_codex.core.errors import CodexError

__all__ = ["login", "logout", "status"]


def _fail(exc: CodexError) -> click.ClickException:
    return click.ClickException(str(exc))


@click.command()
@click.option(
    "--official",
    is_flag=True,
    help=(
        "Sign in with ChatGPT's official app sign-in instead, for the chatgpt/ models "
        "(ChatGPT plan usage through the public API)."
    ),
)
@click.option(
    "--device-code",
    is_flag=True,
    help="Sign in with a code shown here, on any device (for SSH sessions and servers).",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Do not open a browser: print the URL, and accept the final URL pasted here.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help=(
        "Port of the local sign-in listener (default 1455, else 1457: the ports ChatGPT's "
        "sign-in sends the browser back to)."
    ),
)
def login(official: bool, device_code: bool, no_browser: bool, port: int | None) -> None:
    """Sign in with your ChatGPT account.

    Opens ChatGPT's sign-in page in your browser and waits for it to come back to
    http://localhost:1455. On a machine without a browser use --no-browser (then paste the URL
    your browser ended on) or --device-code. The login is stored in llm-codex's own file and
    never changes the Codex CLI's login.
    """
    if official:
        if device_code:
            raise click.ClickException(
                "--device-code is not available with --official; use --no-browser instead."
            )
        from llm_codex.commands.official_cmds import official_login

        official_login(no_browser=no_browser, port=port)
        return
    from llm_codex.auth.login import browser_login, device_login

    try:
        if device_code:
            saved = device_login(echo=click.echo)
        else:
            saved = browser_login(
                port=port,
                open_browser=not no_browser,
                accept_paste=no_browser,
                echo=click.echo,
            )
    except CodexError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise click.ClickException("Sign-in cancelled.") from None
    who = saved.claims.email or saved.account_id
    plan = f" ({saved.plan_type} plan)" if saved.plan_type else ""
    click.echo(f"Signed in as {who}{plan}. Credentials saved to {saved.path}.")


@click.command()
@click.option(
    "--official", is_flag=True, help="Sign out of the official sign-in (chatgpt/ models) instead."
)
def logout(official: bool) -> None:
    """Sign out: revoke llm-codex's tokens and delete its credential file.

    The Codex CLI's own login is never touched; use 'codex logout' for that. Without
    --official the official sign-in is left alone, and the other way round.
    """
    if official:
        from llm_codex.commands.official_cmds import official_logout

        official_logout()
        return
    from llm_codex.auth.login import logout as do_logout

    try:
        result = do_logout()
    except CodexError as exc:
        raise _fail(exc) from None
    if not result.removed:
        if result.codex_cli_login is not None:
            click.echo(
                "llm-codex has no login of its own; it is using the Codex CLI's login at "
                f"{result.codex_cli_login}, which it leaves alone. Run 'codex logout' to sign "
                "out of that one."
            )
        else:
            click.echo("Not signed in; nothing to do.")
        return
    if result.revoked is True:
        click.echo("Signed out; the tokens were revoked on the server.")
    elif result.revoked is False:
        click.echo("Signed out; server-side revocation could not be confirmed.")
    else:
        click.echo("Signed out (the credential file was unreadable, so nothing was revoked).")
    if result.codex_cli_login is not None:
        click.echo(
            f"A Codex CLI login remains at {result.codex_cli_login}; llm-codex will use it "
            "until you run 'codex logout'."
        )


def _describe_expiry(
    expires_at: float | None, now: float, *, needs_login: bool = False, blocked: bool = False
) -> str:
    if expires_at is None:
        return "unknown (the access token has no readable expiry)"
    from llm_codex.core.timefmt import describe_duration

    local = datetime.fromtimestamp(expires_at).strftime("%Y-%m-%d %H:%M")
    if expires_at <= now:
        if needs_login or blocked:
            return f"{local} (expired)"
        return f"{local} (expired), renewed automatically on next use"
    return f"{local} (in {describe_duration(expires_at - now)})"


def _describe_last_refresh(when: datetime | None, now: float) -> str:
    if when is None:
        return "unknown"
    from llm_codex.core.timefmt import describe_duration

    local = when.astimezone().strftime("%Y-%m-%d %H:%M")
    age = now - when.timestamp()
    if age < 0:
        return local
    return f"{local} ({describe_duration(age)} ago)"


_SOURCE_NAMES = {
    "llm-codex": "llm-codex's own login",
    "codex-cli": "the Codex CLI's login, borrowed",
}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Show which ChatGPT login is used and when its token expires.

    Reads the credential files only: no network request and no token refresh.
    """
    from llm_codex.auth.manager import default_auth_manager
    from llm_codex.commands.official_cmds import official_status_json, official_status_lines

    try:
        official = official_status_json()
    except CodexError as exc:  # an unusable official file must not hide the Codex login
        official = {"signed_in": False, "registered": False, "error": str(exc)}
    try:
        info = default_auth_manager().status()
    except CodexError as exc:
        raise _fail(exc) from None
    if as_json:
        # The Codex login's fields stay at the top level for existing scripts.
        data = {**info.to_json(), "codex": info.to_json(), "official": official}
        click.echo(json.dumps(data, indent=2))
        if not info.signed_in and not official["signed_in"]:
            raise SystemExit(1)
        return
    if not info.signed_in:
        if official["signed_in"]:
            click.echo("Codex login: not signed in; run 'llm codex login' for openai-codex/.")
            click.echo("")
            for line in official_status_lines(official):
                click.echo(line)
            return
        raise click.ClickException(
            "Not signed in to ChatGPT: run 'llm codex login' (or sign in with the Codex CLI)."
        )
    now = time.time()
    rows = [
        ("Using", f"{_SOURCE_NAMES.get(info.source or '', info.source)} ({info.path})"),
        ("Account", info.account_id or "unknown"),
        ("Email", info.email or "unknown"),
        ("Plan", info.plan_type or "unknown"),
        (
            "Access token expires",
            _describe_expiry(
                info.expires_at,
                now,
                needs_login=bool(info.needs_login),
                blocked=info.renewal_blocked is not None,
            ),
        ),
        ("Last refresh", _describe_last_refresh(info.last_refresh, now)),
    ]
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        click.echo(f"{label + ':':<{width}} {value}")
    if info.note:
        click.echo(info.note)
    if info.unused_codex_cli_login is not None:
        click.echo(f"A Codex CLI login at {info.unused_codex_cli_login} is present but not used.")
    click.echo("")
    for line in official_status_lines(official):
        click.echo(line)
