"""The fake's default model catalog (protocol §10.3 shape) and ``client_version`` gating (§10.2).

Entries:

- ``gpt-5.5`` — listed; efforts low/medium/high/xhigh; summaries; verbosity; ``priority``
  ("Fast") service tier; ``detail: "original"`` images; web search ``text_and_image``.
- ``gpt-5.4-mini`` — listed; efforts low/medium/high; summaries; **no** verbosity; no tiers;
  no original image detail; web search ``text``.
- ``gpt-5.3-codex-spark`` — ``visibility: "hide"`` (not listed by clients, still callable);
  text-only input.
- the eight Responses Lite models of Codex CLI 0.169.0 (``gpt-6-astra`` … ``gpt-5.6-luna``,
  ``use_responses_lite: true``, levels up to ``max``/``ultra``): answered only in the lite
  form (see :mod:`llm_codex.testing.validation`).
- ``gpt-5-internal`` — ``visibility: "none"``, ``supported_in_api: false``.
- ``gpt-5.9-preview`` — listed but ``minimal_client_version`` 9.0.0: hidden from every real
  client version, so a test can see gating work.

The fake serves whatever :attr:`FakeCodexBackend.models` holds; :func:`default_models` returns a
fresh deep copy each call.
"""

from __future__ import annotations

import copy
import re
from typing import Any

__all__ = ["default_models", "model_by_slug", "version_tuple", "visible_for_version"]


def _levels(*efforts: str) -> list[dict[str, str]]:
    text = {
        "none": "No reasoning",
        "minimal": "Fastest, barely reasons",
        "low": "Fast responses with lighter reasoning",
        "medium": "Balances speed and reasoning depth for everyday tasks",
        "high": "Greater reasoning depth for complex problems",
        "xhigh": "Extra high reasoning depth for complex problems",
        "max": "Maximum reasoning depth for the hardest problems",
        "ultra": "Beyond maximum reasoning depth, slowest and most thorough",
    }
    return [{"effort": e, "description": text[e]} for e in efforts]


_BASE_INSTRUCTIONS = "You are Codex, a coding agent based on GPT-5. (fake catalog)"
_PLANS = ["free", "go", "plus", "pro", "team", "business", "enterprise", "edu"]

_DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "slug": "gpt-5.5",
        "display_name": "GPT-5.5",
        "description": "Frontier model for complex coding, research, and real-world work.",
        "visibility": "list",
        "supported_in_api": True,
        "priority": 0,
        "minimal_client_version": "0.124.0",
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": _levels("low", "medium", "high", "xhigh"),
        "supports_reasoning_summaries": True,
        "default_reasoning_summary": "none",
        "reasoning_summary_format": "experimental",
        "support_verbosity": True,
        "default_verbosity": "low",
        "supports_parallel_tool_calls": True,
        "supports_image_detail_original": True,
        "context_window": 272000,
        "max_context_window": 272000,
        "effective_context_window_percent": 95,
        "input_modalities": ["text", "image"],
        "service_tiers": [
            {"id": "priority", "name": "Fast", "description": "1.5x speed, increased usage"}
        ],
        "additional_speed_tiers": ["fast"],
        "default_service_tier": None,
        "web_search_tool_type": "text_and_image",
        "supports_search_tool": True,
        "use_responses_lite": False,
        "upgrade": None,
        "availability_nux": None,
        "base_instructions": _BASE_INSTRUCTIONS,
        "available_in_plans": _PLANS,
        "prefer_websockets": False,
    },
    {
        "slug": "gpt-5.4-mini",
        "display_name": "GPT-5.4 mini",
        "description": "Small, fast and cost-efficient model for simpler coding tasks.",
        "visibility": "list",
        "supported_in_api": True,
        "priority": 2,
        "minimal_client_version": "0.98.0",
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": _levels("low", "medium", "high"),
        "supports_reasoning_summaries": True,
        "default_reasoning_summary": "auto",
        "support_verbosity": False,
        "default_verbosity": None,
        "supports_parallel_tool_calls": True,
        "supports_image_detail_original": False,
        "context_window": 272000,
        "max_context_window": 272000,
        "input_modalities": ["text", "image"],
        "service_tiers": [],
        "web_search_tool_type": "text",
        "supports_search_tool": True,
        "use_responses_lite": False,
        "upgrade": None,
        "base_instructions": _BASE_INSTRUCTIONS,
        "available_in_plans": _PLANS,
    },
    {
        "slug": "gpt-5.3-codex-spark",
        "display_name": "GPT-5.3-Codex-Spark",
        "description": "Ultra-fast coding model.",
        "visibility": "hide",
        "supported_in_api": True,
        "priority": 5,
        "minimal_client_version": "0.100.0",
        "default_reasoning_level": "high",
        "supported_reasoning_levels": _levels("low", "medium", "high", "xhigh"),
        "supports_reasoning_summaries": True,
        "default_reasoning_summary": "auto",
        "support_verbosity": False,
        "default_verbosity": None,
        "supports_parallel_tool_calls": True,
        "supports_image_detail_original": False,
        "context_window": 128000,
        "max_context_window": 128000,
        "input_modalities": ["text"],
        "service_tiers": [],
        "web_search_tool_type": None,
        "supports_search_tool": False,
        "use_responses_lite": False,
        "upgrade": None,
        "base_instructions": _BASE_INSTRUCTIONS,
        "available_in_plans": ["pro"],
    },
    {
        "slug": "gpt-5-internal",
        "display_name": "GPT-5 internal",
        "description": "Not for listing.",
        "visibility": "none",
        "supported_in_api": False,
        "priority": 99,
        "minimal_client_version": "0.1.0",
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": _levels("medium"),
        "supports_reasoning_summaries": False,
        "default_reasoning_summary": None,
        "support_verbosity": False,
        "supports_parallel_tool_calls": False,
        "context_window": 128000,
        "input_modalities": ["text"],
        "service_tiers": [],
        "use_responses_lite": False,
    },
    {
        "slug": "gpt-5.9-preview",
        "display_name": "GPT-5.9 preview",
        "description": "A model newer than any real client version claims.",
        "visibility": "list",
        "supported_in_api": True,
        "priority": 1,
        "minimal_client_version": "9.0.0",
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": _levels("low", "medium", "high"),
        "supports_reasoning_summaries": True,
        "default_reasoning_summary": "auto",
        "support_verbosity": True,
        "default_verbosity": "medium",
        "supports_parallel_tool_calls": True,
        "context_window": 272000,
        "input_modalities": ["text", "image"],
        "service_tiers": [],
        "use_responses_lite": False,
    },
]


#: The Responses Lite models of the catalog Codex CLI 0.169.0 ships (``responses-lite.md`` §1):
#: slug, display name, minimal client version, levels, default level, context window. Every one
#: has ``max_context_window`` 872,000, ``use_responses_lite``, ``tool_mode: "code_mode_only"``
#: and ``prefer_websockets``. Fields the 0.169.0 summary does not give (summaries, verbosity,
#: images, the Fast tier) are gpt-5.5's.
_ULTRA = ("low", "medium", "high", "xhigh", "max", "ultra")
_LITE_ROWS = (
    ("gpt-6-astra", "GPT-6-Astra", "0.153.0", _ULTRA, "low", 272000),
    ("gpt-6.1-sol", "GPT-6.1-Sol", "0.153.0", _ULTRA, "low", 272000),
    ("gpt-6.1-terra", "GPT-6.1 Terra", "0.153.0", _ULTRA, "low", 500000),
    ("gpt-6-sol", "GPT-6-Sol", "0.155.0", _ULTRA, "medium", 272000),
    ("gpt-6-luna", "GPT-6-Luna", "0.155.0", _ULTRA[:-1], "medium", 272000),
    ("gpt-5.6-sol", "GPT-5.6-Sol", "0.144.0", _ULTRA, "low", 272000),
    ("gpt-5.6-terra", "GPT-5.6-Terra", "0.144.0", _ULTRA, "medium", 272000),
    ("gpt-5.6-luna", "GPT-5.6-Luna", "0.144.0", _ULTRA[:-1], "medium", 272000),
)


def _lite_model(slug: str, name: str, minimal: str, levels: tuple, default: str, window: int):
    base = copy.deepcopy(_DEFAULT_MODELS[0])
    assert base["slug"] == "gpt-5.5"
    base.update(
        slug=slug,
        display_name=name,
        description=f"{name}, served through the Responses Lite request form.",
        priority=3,
        minimal_client_version=minimal,
        default_reasoning_level=default,
        supported_reasoning_levels=_levels(*levels),
        supports_image_detail_original=False,
        context_window=window,
        max_context_window=872000,
        use_responses_lite=True,
        tool_mode="code_mode_only",
        prefer_websockets=True,
        multi_agent_version="v2",
    )
    return base


_DEFAULT_MODELS[3:3] = [_lite_model(*row) for row in _LITE_ROWS]


def default_models() -> list[dict[str, Any]]:
    """A fresh copy of the default catalog."""
    return copy.deepcopy(_DEFAULT_MODELS)


def version_tuple(version: str | None) -> tuple[int, ...]:
    """``"0.169.0"`` -> ``(0, 169, 0)``; junk parts count as 0; missing/empty -> ``(0, 0, 0)``."""
    if not version:
        return (0, 0, 0)
    parts = []
    for piece in version.strip().split(".")[:3]:
        match = re.match(r"\d+", piece)
        parts.append(int(match.group()) if match else 0)
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def visible_for_version(model: dict[str, Any], client_version: str | None) -> bool:
    """Whether ``/models?client_version=`` lists ``model``: its minimal version is not newer."""
    minimal = model.get("minimal_client_version")
    if not minimal:
        return True
    return version_tuple(client_version) >= version_tuple(minimal)


def model_by_slug(models: list[dict[str, Any]], slug: str) -> dict[str, Any] | None:
    """The catalog entry for ``slug``, or ``None``."""
    for model in models:
        if model.get("slug") == slug:
            return model
    return None
