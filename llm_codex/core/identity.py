"""Who we say we are: the honest ``User-Agent`` and ``originator`` sent on every request."""

from __future__ import annotations

import functools
import platform

from llm_codex.config import ORIGINATOR

__all__ = ["ORIGINATOR", "base_headers", "user_agent", "version"]


@functools.cache
def version() -> str:
    """The installed llm-codex version (``0.0.0`` when running from an uninstalled tree)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("llm-codex")
    except PackageNotFoundError:
        return "0.0.0"


@functools.cache
def user_agent() -> str:
    """``llm-codex/<version> (<os> <release>; <arch>)``.

    For example ``llm-codex/0.1.0 (Linux 6.8.0; x86_64)``.
    """
    system, release, arch = platform.system(), platform.release(), platform.machine()
    return f"{ORIGINATOR}/{version()} ({system} {release}; {arch})"


def base_headers() -> dict[str, str]:
    """The identity headers every request to the backend or the auth issuer carries."""
    return {"originator": ORIGINATOR, "User-Agent": user_agent()}
