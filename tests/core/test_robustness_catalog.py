"""Catalog and usage answers with missing or null fields (protocol §10.3, §11)."""

from __future__ import annotations

from llm_codex.core.catalog import ModelInfo, parse_models
from llm_codex.core.ratelimits import parse_headers, parse_usage_payload


def test_catalog_entry_with_nulls_and_missing_fields() -> None:
    """Null or missing capability fields fall back to the spec's defaults, never crash."""
    info = ModelInfo.from_json(
        {
            "slug": "gpt-x",
            "display_name": None,
            "supported_reasoning_levels": None,
            "default_reasoning_level": None,
            "service_tiers": None,
            "supports_reasoning_summaries": None,
            "support_verbosity": None,
            "supports_parallel_tool_calls": None,
            "context_window": None,
            "priority": None,
            "visibility": None,
        }
    )
    assert info is not None
    assert info.display_name == "gpt-x"
    assert info.reasoning_levels == ()
    assert info.service_tiers == ()
    assert info.input_modalities == ("text", "image")
    assert info.supports_images
    assert not info.supports_reasoning_summaries
    assert not info.hidden


def test_catalog_levels_as_strings_and_odd_entries() -> None:
    """Levels given as plain strings are read; odd entries are skipped."""
    models = parse_models(
        [
            {"slug": "a", "supported_reasoning_levels": ["low", {"effort": "high"}, 3, None]},
            {"slug": None},
            "junk",
            {"slug": "b", "input_modalities": ["text"], "visibility": "hide"},
        ]
    )
    assert [m.slug for m in models] == ["a", "b"]
    assert models[0].reasoning_levels == ("low", "high")
    assert not models[1].supports_images and models[1].hidden


def test_usage_payload_with_null_rate_limit_and_windows() -> None:
    """``rate_limit: null`` or null windows give a snapshot with no windows, not an error."""
    for payload in (
        {"plan_type": "plus", "rate_limit": None},
        {"plan_type": "plus", "rate_limit": {"primary_window": None, "secondary_window": None}},
        {"plan_type": "plus"},
        {"rate_limit": {"primary_window": {"used_percent": None}}, "credits": None},
    ):
        snap = parse_usage_payload(payload, now=1_000.0)
        assert snap is not None
        assert list(snap.windows()) == []


def test_rate_limit_headers_in_any_case() -> None:
    """Rate-limit headers are read whatever their case."""
    snap = parse_headers(
        {"X-Codex-Primary-Used-Percent": "12.5", "X-CODEX-PRIMARY-WINDOW-MINUTES": "300"},
        now=0.0,
    )
    assert snap is not None
    (_family, window) = next(iter(snap.windows()))
    assert window.used_percent == 12.5
