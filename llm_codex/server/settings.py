"""How ``llm codex serve`` was started: the settings every part of the server reads."""

from __future__ import annotations

from dataclasses import dataclass

from llm_codex.server.response_store import (
    DEFAULT_STORE_MEMORY,
    DEFAULT_STORE_SIZE,
    DEFAULT_STORE_TTL,
)

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_PORT", "ServerSettings"]

DEFAULT_PORT = 8765
DEFAULT_MAX_BODY = 20 * 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """How the server was started. ``api_key`` None means no key is required (loopback only)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_body: int = DEFAULT_MAX_BODY
    #: Claude-style model names (``(name, slug)`` pairs) for Anthropic clients; empty: defaults.
    anthropic_aliases: tuple[tuple[str, str], ...] = ()
    #: Seconds of silence after which a streamed Anthropic message gets a ``ping`` event.
    ping_interval: float = 10.0
    #: The response store (:mod:`.response_store`): turns kept at most (0: none), seconds,
    #: and roughly how many bytes their items may take.
    store_size: int = DEFAULT_STORE_SIZE
    store_ttl: float = DEFAULT_STORE_TTL
    store_memory: int = DEFAULT_STORE_MEMORY
    #: Seconds a client has to send a request's headers (from connecting, or from its first
    #: byte on a kept-alive connection), to send the whole body, and to start another request
    #: on a kept-alive connection; then it gets 408 or the connection is closed.
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keep_alive_timeout: float = 5.0
