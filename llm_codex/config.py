"""The configuration contract: where the backend, the auth issuer and the credentials are.

Every value is read from the environment when asked for (never cached at import), so tests and
users can point llm-codex elsewhere by setting a variable:

- ``LLM_CODEX_BASE_URL``: backend base, default ``https://chatgpt.com/backend-api/codex``;
  the usage endpoint is derived by replacing the final ``/codex`` with ``/wham/usage``.
- ``LLM_CODEX_AUTH_URL``: auth issuer of both routes, default ``https://auth.openai.com``.
- ``LLM_CODEX_API_URL``: the public API base of the official "Sign in with ChatGPT" route,
  default ``https://api.openai.com/v1`` (siwc.md §3).
- ``CODEX_HOME``: where an existing Codex CLI login (``auth.json``) is found, default ``~/.codex``.
- ``LLM_USER_PATH``: llm's own user directory; our files live in its ``llm-codex`` folder.
- ``LLM_CODEX_CLIENT_VERSION``: the Codex version claimed to the catalog endpoint.

This module does not import ``llm``: it computes ``llm.user_dir()`` the same way llm does.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "CLIENT_ID",
    "DEFAULT_API_URL",
    "DEFAULT_AUTH_URL",
    "DEFAULT_BASE_URL",
    "DEFAULT_CLIENT_VERSION",
    "ORIGINATOR",
    "api_base_url",
    "auth_base_url",
    "backend_base_url",
    "client_version",
    "codex_cli_auth_path",
    "codex_home",
    "environment_problems",
    "is_current_backend",
    "llm_user_dir",
    "models_cache_path",
    "official_auth_path",
    "official_host_id_path",
    "official_models_path",
    "own_auth_path",
    "ratelimit_state_path",
    "refresh_marks_path",
    "state_dir",
    "usage_url",
]

DEFAULT_BASE_URL = "https://chatgpt.com/backend-api/codex"
DEFAULT_AUTH_URL = "https://auth.openai.com"
#: The public API that the official (SIWC) route sends prompts to.
DEFAULT_API_URL = "https://api.openai.com/v1"
#: The Codex CLI's public OAuth client (protocol §A2).
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
#: A recent real Codex CLI version; the catalog hides models newer than the claimed version.
DEFAULT_CLIENT_VERSION = "0.169.0"
#: Our honest ``originator`` header value. Never a Codex CLI value.
ORIGINATOR = "llm-codex"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def backend_base_url() -> str:
    """The backend base URL without a trailing slash, e.g. ``https://chatgpt.com/backend-api/codex``."""
    return (_env("LLM_CODEX_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def is_current_backend(recorded: object) -> bool:
    """Whether cached state recorded for backend ``recorded`` belongs to the configured one.

    State written before backends were recorded (no value) is accepted.
    """
    if not isinstance(recorded, str) or not recorded.strip():
        return True
    return recorded.strip().rstrip("/").lower() == backend_base_url().lower()


def usage_url() -> str:
    """The usage endpoint: the backend base with its final ``/codex`` replaced by ``/wham/usage``.

    A base that does not end in ``/codex`` gets ``/wham/usage`` appended.
    """
    base = backend_base_url()
    if base.endswith("/codex"):
        base = base[: -len("/codex")]
    return base + "/wham/usage"


def auth_base_url() -> str:
    """The auth issuer without a trailing slash, e.g. ``https://auth.openai.com``."""
    return (_env("LLM_CODEX_AUTH_URL") or DEFAULT_AUTH_URL).rstrip("/")


def api_base_url() -> str:
    """The official route's API base without a trailing slash, e.g. ``https://api.openai.com/v1``."""
    return (_env("LLM_CODEX_API_URL") or DEFAULT_API_URL).rstrip("/")


def client_version() -> str:
    """The Codex CLI version sent as ``client_version`` to the catalog endpoint."""
    return _env("LLM_CODEX_CLIENT_VERSION") or DEFAULT_CLIENT_VERSION


def codex_home() -> Path:
    """The Codex CLI's home (``$CODEX_HOME``, default ``~/.codex``). Never created by us."""
    return _codex_home(_env("CODEX_HOME"), os.environ.get("HOME"))


@functools.lru_cache(maxsize=8)
def _codex_home(env: str | None, home: str | None) -> Path:
    return Path(env).expanduser() if env else Path.home() / ".codex"


def codex_cli_auth_path() -> Path:
    """The Codex CLI's credential file, ``$CODEX_HOME/auth.json``."""
    return _child(codex_home(), "auth.json")


def llm_user_dir() -> Path:
    """llm's user directory, computed exactly as ``llm.user_dir()`` does, without creating it."""
    env = os.environ.get("LLM_USER_PATH")
    if env:  # it decides alone: the other variables need not be read (a per-request path)
        return _llm_user_dir(env)
    return _llm_user_dir(*(os.environ.get(name) for name in _USER_DIR_VARIABLES))


#: What ``llm.user_dir()`` depends on (click's app dir reads the last four, by platform).
_USER_DIR_VARIABLES = ("LLM_USER_PATH", "XDG_CONFIG_HOME", "HOME", "APPDATA", "LOCALAPPDATA")


@functools.lru_cache(maxsize=8)
def _llm_user_dir(env: str | None, *_platform: str | None) -> Path:
    # A function of the variables above, read on every call: a change is seen at once.
    if env:
        return Path(env)
    import click

    return Path(click.get_app_dir("io.datasette.llm"))


def state_dir() -> Path:
    """Our own folder inside llm's user directory (created 0700 by whoever writes to it)."""
    return _child(llm_user_dir(), "llm-codex")


@functools.lru_cache(maxsize=32)
def _child(folder: Path, name: str) -> Path:
    """``folder / name``, remembered: the same few paths are built on every request."""
    return folder / name


def own_auth_path() -> Path:
    """Our own credential file (same JSON shape as the Codex CLI's ``auth.json``)."""
    return _child(state_dir(), "auth.json")


def models_cache_path() -> Path:
    """The cached model catalog."""
    return _child(state_dir(), "models.json")


def ratelimit_state_path() -> Path:
    """The last passive rate-limit snapshot and warning bookkeeping."""
    return _child(state_dir(), "ratelimits.json")


def official_auth_path() -> Path:
    """The official (Sign in with ChatGPT) registration and tokens (siwc.md §9.3)."""
    return _child(state_dir(), "official.json")


def official_host_id_path() -> Path:
    """This host's ``ext_agent_host_id`` (kept when the official login is removed)."""
    return _child(state_dir(), "host-id.json")


def official_models_path() -> Path:
    """The official route's cached model list (no tokens)."""
    return _child(state_dir(), "official-models.json")


def refresh_marks_path() -> Path:
    """Refresh marks ("possibly spent", "needs sign-in") of borrowed Codex CLI logins."""
    return _child(state_dir(), "refresh-marks.json")


_URL_VARIABLES = ("LLM_CODEX_BASE_URL", "LLM_CODEX_AUTH_URL", "LLM_CODEX_API_URL")
_SECONDS_VARIABLES = (
    "LLM_CODEX_IDLE_TIMEOUT",
    "LLM_CODEX_LOGIN_TIMEOUT",
    "LLM_CODEX_DEVICE_POLL_INTERVAL",
    "LLM_CODEX_DEVICE_TIMEOUT",
)
_VERSION = re.compile(r"\d+\.\d+\.\d+")
_PERCENT = re.compile(r"\d+(\.\d+)?%?")
_OFF = {"off", "none", "no", "false"}


def _url_problem(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return True
    return (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in value)
    )


def environment_problems(environ: dict[str, str] | None = None) -> list[str]:
    """One sentence for each ``LLM_CODEX_*`` variable that is set to a value llm-codex cannot use
    (elsewhere such values are ignored or fall back to a default); ``[]`` when all are fine."""
    env = os.environ if environ is None else environ
    problems = []
    for name in _URL_VARIABLES:
        value = env.get(name, "").strip()
        if value and _url_problem(value):
            problems.append(f"{name}={value!r} is not an http(s) URL such as https://host/path.")
    for name in _SECONDS_VARIABLES:
        value = env.get(name, "").strip()
        if not value:
            continue
        try:
            ok = float(value) > 0
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"{name}={value!r} is not a positive number of seconds.")
    version = env.get("LLM_CODEX_CLIENT_VERSION", "").strip()
    if version and not _VERSION.fullmatch(version):
        problems.append(f"LLM_CODEX_CLIENT_VERSION={version!r} is not a version such as 0.169.0.")
    warning = env.get("LLM_CODEX_USAGE_WARNING", "").strip()
    if (
        warning
        and warning.lower() not in _OFF
        and not (_PERCENT.fullmatch(warning) and float(warning.rstrip("%")) <= 100)
    ):
        problems.append(
            f"LLM_CODEX_USAGE_WARNING={warning!r} is not a percentage (such as 80) or 'off'."
        )
    return problems
