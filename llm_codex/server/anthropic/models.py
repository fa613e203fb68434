"""Claude-style model names for Anthropic clients, and ``GET /v1/models`` in Anthropic's shape.

Claude Code only offers model ids that start with ``claude``, and sends its own defaults
(``claude-sonnet-4-5-20250929``, ``claude-haiku-4-5-…``) unless told otherwise. An *alias* maps
a Claude-style name to a catalog slug (``--anthropic-alias claude-sonnet=gpt-5.5``). A requested
model name resolves, first match wins:

1. an alias named exactly so;
2. for names starting with ``claude``: the alias whose family (the alias without ``claude-``,
   e.g. ``sonnet``) is one of the name's dash-separated words, so ``claude-sonnet-4-5-20250929``
   and ``claude-3-5-sonnet-latest`` both find ``claude-sonnet``;
3. anything else is a catalog slug (``gpt-5.5``, ``openai-codex/gpt-5.5``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llm_codex.server.common import model_slug
from llm_codex.server.errors import RequestRefused

__all__ = [
    "DEFAULT_ALIASES",
    "model_list",
    "model_object",
    "parse_alias",
    "resolve_model",
]

#: Used when no ``--anthropic-alias`` is given: the strongest model for opus and sonnet (Claude
#: Code's main-loop models), the small one for haiku (its background "small, fast" model).
DEFAULT_ALIASES: dict[str, str] = {
    "claude-opus": "gpt-5.5",
    "claude-sonnet": "gpt-5.5",
    "claude-haiku": "gpt-5.4-mini",
}
_CREATED_AT = "2026-01-01T00:00:00Z"


def parse_alias(text: str) -> tuple[str, str]:
    """``"claude-sonnet=gpt-5.5"`` -> ``("claude-sonnet", "gpt-5.5")``; ValueError otherwise."""
    name, sep, slug = text.partition("=")
    name, slug = name.strip(), slug.strip()
    if not sep or not name or not slug:
        raise ValueError(f"{text!r} is not NAME=MODEL (e.g. claude-sonnet=gpt-5.5).")
    return name, model_slug(slug)


def resolve_model(value: Any, aliases: Mapping[str, str]) -> str:
    """The catalog slug a requested model name stands for (module docstring)."""
    if not isinstance(value, str) or not value.strip():
        raise RequestRefused("'model' is required and must be a string.", param="model")
    name = value.strip()
    if name in aliases:
        return aliases[name]
    lowered = name.lower()
    if lowered.startswith("claude"):
        words = set(lowered.split("-"))
        for alias, slug in aliases.items():
            family = alias.lower().removeprefix("claude-")
            if family and family in words:
                return slug
    return model_slug(name)


def model_object(model_id: str, display_name: str) -> dict[str, Any]:
    """One model in Anthropic's shape."""
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name,
        "created_at": _CREATED_AT,
    }


def model_list(aliases: Mapping[str, str], models: Iterable[Any]) -> dict[str, Any]:
    """The aliases (as ``claude…`` models), then the catalog's models, in Anthropic's page shape."""
    data = [model_object(name, f"{name} ({slug} on ChatGPT)") for name, slug in aliases.items()]
    data += [model_object(m.slug, m.display_name) for m in models]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
