"""``llm codex serve``: a local OpenAI-compatible server on your ChatGPT plan.

Safe by default: it listens on 127.0.0.1 only; listening on any other address needs an API key
(``--api-key`` or ``LLM_CODEX_SERVER_KEY``), which every request must then carry.
"""

from __future__ import annotations

import re
import sys

import click

from llm_codex.server.response_store import (
    DEFAULT_STORE_MEMORY,
    DEFAULT_STORE_SIZE,
    DEFAULT_STORE_TTL,
)
from llm_codex.server.settings import DEFAULT_MAX_BODY, DEFAULT_PORT

__all__ = ["parse_size", "serve"]

#: Shorter API keys are accepted with a warning.
MIN_KEY_LENGTH = 16
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3}


def parse_size(value: str | int) -> int:
    """``20MB``, ``512K``, ``1048576`` -> bytes (binary units)."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", value)
    unit = match.group(2).upper() if match else None
    if match is None or unit not in _UNITS:
        raise click.BadParameter(f"{value!r} is not a size such as 20MB, 512K or 1048576.")
    return int(match.group(1)) * _UNITS[unit]


def _startup_message(url: str, api_key: str | None, signed_in: bool, stack: str = "") -> str:
    key = "<your --api-key>" if api_key else "anything"
    lines = [
        f"llm-codex: serving your ChatGPT plan's Codex models at {url}/v1"
        + (f" ({stack})" if stack else ""),
        "Point the OpenAI SDK (or any OpenAI-compatible tool) at it:",
        f"  export OPENAI_BASE_URL={url}/v1 OPENAI_API_KEY={key}",
        "Claude Code (Anthropic Messages API):",
        f"  export ANTHROPIC_BASE_URL={url} ANTHROPIC_AUTH_TOKEN={key}",
        "Ollama clients (Open WebUI, the ollama library…):",
        f"  export OLLAMA_HOST={url}" + (f" OLLAMA_API_KEY={key}" if api_key else ""),
    ]
    if not signed_in:
        lines.append(
            "Warning: not signed in yet; requests will fail with 401 until you run "
            "'llm codex login'."
        )
    lines.append("Press Ctrl+C to stop.")
    return "\n".join(lines)


def _signed_in() -> bool:
    try:
        from llm_codex.auth import default_auth_manager

        return default_auth_manager().status().source is not None
    except Exception:
        return False


def _official_signed_in() -> bool:
    """Whether an official (SIWC) login exists; the server never reads its tokens."""
    try:
        from llm_codex.auth.siwc.files import read_official

        login = read_official()
    except Exception:
        return False
    return login is not None and login.tokens is not None


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port (0: any).")
@click.option(
    "--api-key",
    envvar="LLM_CODEX_SERVER_KEY",
    default=None,
    help="Require 'Authorization: Bearer <key>' on every request (env LLM_CODEX_SERVER_KEY). "
    "Needed to listen on a non-loopback address.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Allow browser requests from this origin (repeatable). No CORS without it.",
)
@click.option(
    "--allow-host",
    "allowed_hosts",
    multiple=True,
    help="Accept requests whose Host header is this name (repeatable), besides localhost "
    "and the bound address.",
)
@click.option(
    "--max-body",
    default=str(DEFAULT_MAX_BODY // (1024 * 1024)) + "MB",
    show_default=True,
    help="Largest request body accepted (e.g. 20MB, 512K).",
)
@click.option(
    "--anthropic-alias",
    "anthropic_aliases",
    multiple=True,
    metavar="NAME=MODEL",
    help="A Claude-style model name for Anthropic clients (repeatable), e.g. "
    "claude-sonnet=gpt-5.5. Default: claude-opus and claude-sonnet=gpt-5.5, "
    "claude-haiku=gpt-5.4-mini.",
)
@click.option(
    "--store-size",
    default=DEFAULT_STORE_SIZE,
    show_default=True,
    type=click.IntRange(min=0),
    help="Responses kept in memory for previous_response_id, item references and "
    "GET /v1/responses/{id} (0: keep none).",
)
@click.option(
    "--store-ttl",
    default=DEFAULT_STORE_TTL,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds a response is kept in memory.",
)
@click.option(
    "--store-memory",
    default=str(DEFAULT_STORE_MEMORY // (1024 * 1024)) + "MB",
    show_default=True,
    help="Roughly how much memory stored responses may take (e.g. 256MB); oldest go first.",
)
@click.option(
    "--graceful-timeout",
    default=30.0,
    show_default=True,
    type=float,
    help="Seconds open streams may take to finish on shutdown.",
)
def serve(
    host: str,
    port: int,
    api_key: str | None,
    cors_origins: tuple[str, ...],
    allowed_hosts: tuple[str, ...],
    max_body: str,
    anthropic_aliases: tuple[str, ...],
    store_size: int,
    store_ttl: float,
    store_memory: str,
    graceful_timeout: float,
) -> None:
    """Run a local OpenAI-compatible server on your ChatGPT plan.

    Endpoints: /v1/chat/completions, /v1/responses, /v1/messages (Anthropic),
    /v1/models, /health, and the Ollama API under /api (chat, generate, tags, show, ps,
    version).
    It listens on 127.0.0.1 only, unless --host is given together with --api-key.

    \b
    Example:
        llm codex serve
        OPENAI_BASE_URL=http://127.0.0.1:8765/v1 OPENAI_API_KEY=x python my_script.py
    """
    from llm_codex.config import environment_problems
    from llm_codex.server.anthropic.models import parse_alias
    from llm_codex.server.middleware import is_loopback_host
    from llm_codex.server.runner import (
        BindError,
        base_url,
        bind_socket,
        configure_access_log,
        describe_stack,
        http_stack,
        make_server,
        settle_collector,
    )
    from llm_codex.server.settings import ServerSettings

    api_key = api_key or None
    if not is_loopback_host(host) and not api_key:
        raise click.ClickException(
            f"Refusing to listen on {host} without an API key: anyone who can reach it could "
            "use your ChatGPT plan. Set --api-key (or LLM_CODEX_SERVER_KEY), or keep the "
            "default --host 127.0.0.1."
        )
    if not 0 <= port <= 65535:
        raise click.BadParameter("must be between 0 and 65535.", param_hint="--port")
    try:
        aliases = tuple(parse_alias(text) for text in anthropic_aliases)
    except Exception as exc:
        raise click.BadParameter(str(exc), param_hint="--anthropic-alias") from None
    if parse_size(max_body) < 1:
        raise click.BadParameter("must be at least 1 byte (e.g. 20MB).", param_hint="--max-body")
    if graceful_timeout < 0:
        raise click.BadParameter("must be 0 or more seconds.", param_hint="--graceful-timeout")
    problems = environment_problems()
    if problems:
        raise click.ClickException(" ".join(problems))
    if api_key and len(api_key) < MIN_KEY_LENGTH:
        click.echo(
            f"Warning: the API key is only {len(api_key)} characters long and easy to guess; "
            f"use at least {MIN_KEY_LENGTH} random characters.",
            err=True,
        )
    settings = ServerSettings(
        host=host,
        port=port,
        api_key=api_key,
        cors_origins=tuple(cors_origins),
        allowed_hosts=tuple(allowed_hosts),
        max_body=parse_size(max_body),
        anthropic_aliases=aliases,
        store_size=store_size,
        store_ttl=store_ttl,
        store_memory=parse_size(store_memory),
    )
    configure_access_log()
    signed_in = _signed_in()
    if not signed_in and _official_signed_in():
        raise click.ClickException(
            "llm codex serve needs a Codex login (llm codex login); your ChatGPT plan sign-in "
            "(--official) may only be used by llm itself."
        )

    stack = http_stack()

    def announce(bound_port: int) -> None:
        settle_collector()
        url = base_url(host, bound_port)
        click.echo(_startup_message(url, api_key, signed_in, describe_stack(stack)), err=True)

    def waiting(streams: int) -> None:
        click.echo(
            f"llm-codex: waiting for {streams} open request{'s' if streams != 1 else ''} to "
            f"finish (at most {graceful_timeout:g} s); press Ctrl+C again to end them now.",
            err=True,
        )

    try:
        sock = bind_socket(host, port)  # binding here gives the true reason of a failure
    except BindError as exc:
        raise click.ClickException(str(exc)) from None
    server = make_server(
        settings,
        graceful_timeout=graceful_timeout,
        on_started=announce,
        on_waiting=waiting,
        stack=stack,
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl+C it handled, after shutting down
        pass
    finally:
        sock.close()
    if server.force_exit:  # a second Ctrl+C ended open requests: the usual status for SIGINT
        sys.exit(130)
