"""Lenient parsing of catalog entries (protocol §10.3) and the built-in fallback list."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_codex.core.catalog import BUILTIN_MODELS, HIDDEN_CALLABLE, ModelInfo, parse_models

SPEC_EXAMPLE = {
    "slug": "gpt-5.5",
    "display_name": "GPT-5.5",
    "visibility": "list",
    "supported_in_api": True,
    "priority": 0,
    "minimal_client_version": "0.124.0",
    "default_reasoning_level": "medium",
    "supported_reasoning_levels": [
        {"effort": "low", "description": "…"},
        {"effort": "medium", "description": "…"},
        {"effort": "high", "description": "…"},
        {"effort": "xhigh", "description": "…"},
    ],
    "supports_reasoning_summaries": True,
    "default_reasoning_summary": "none",
    "support_verbosity": True,
    "default_verbosity": "low",
    "supports_parallel_tool_calls": True,
    "supports_image_detail_original": True,
    "context_window": 272000,
    "max_context_window": 272000,
    "input_modalities": ["text", "image"],
    "service_tiers": [{"id": "priority", "name": "Fast", "description": "1.5x speed"}],
    "additional_speed_tiers": ["fast"],
    "web_search_tool_type": "text_and_image",
    "upgrade": None,
    "base_instructions": "You are Codex, …",
    "available_in_plans": ["free", "go", "plus", "pro", "team"],
    "brand_new_field": {"nested": [1, 2]},
}


def test_spec_example_capabilities():
    """The catalog's GPT-5.5 entry gives efforts, verbosity, images, Fast tier and web search."""
    info = ModelInfo.from_json(SPEC_EXAMPLE)
    assert info is not None
    assert info.slug == "gpt-5.5" and info.display_name == "GPT-5.5"
    assert info.reasoning_levels == ("low", "medium", "high", "xhigh")
    assert info.default_reasoning_level == "medium"
    assert info.supports_reasoning_summaries and info.default_reasoning_summary == "none"
    assert info.supports_verbosity and info.default_verbosity == "low"
    assert info.supports_parallel_tool_calls
    assert info.input_modalities == ("text", "image") and info.supports_images
    assert info.supports_image_detail_original
    assert info.context_window == 272000
    assert info.service_tiers == ("priority",) and info.supports_fast
    assert info.web_search_tool_type == "text_and_image" and info.supports_web_search
    assert not info.use_responses_lite and not info.hidden


def test_unknown_fields_are_kept_in_raw():
    """Fields llm-codex does not know survive in raw, so the cache loses nothing."""
    info = ModelInfo.from_json(SPEC_EXAMPLE)
    assert info is not None
    assert info.raw == SPEC_EXAMPLE
    assert info.raw["brand_new_field"] == {"nested": [1, 2]}


def test_lenient_shapes_and_defaults():
    """Plain-string efforts, missing modalities and odd types fall back to sensible values."""
    info = ModelInfo.from_json(
        {
            "slug": "gpt-x",
            "supported_reasoning_levels": ["low", "high", 3, None, "low"],
            "default_reasoning_level": "medium",  # not among the levels: dropped
            "context_window": "128000",
            "support_verbosity": "true",
            "supports_parallel_tool_calls": "yes please",
            "additional_speed_tiers": ["fast"],
            "priority": True,
        }
    )
    assert info is not None
    assert info.display_name == "gpt-x"
    assert info.reasoning_levels == ("low", "high")
    assert info.default_reasoning_level is None
    assert info.input_modalities == ("text", "image")
    assert info.context_window == 128000
    assert info.supports_verbosity is True
    assert info.supports_parallel_tool_calls is False
    assert info.service_tiers == ("priority",)
    assert info.priority is None


def test_text_only_model_has_no_image_input():
    """A text-only model refuses images and is not offered image generation."""
    info = ModelInfo.from_json({"slug": "spark", "input_modalities": ["text"]})
    assert info is not None
    assert not info.supports_images and not info.supports_image_generation


def test_responses_lite_models_are_flagged():
    """A Responses Lite entry is flagged, keeps its windows, and offers no hosted tool even when
    its entry lists web search (the lite lane takes only function tools)."""
    info = ModelInfo.from_json(
        {
            "slug": "gpt-5.6-sol",
            "use_responses_lite": True,
            "web_search_tool_type": "text_and_image",
            "supports_search_tool": True,
            "max_context_window": 872000,
        }
    )
    assert info is not None and info.use_responses_lite
    assert not info.supports_web_search and not info.supports_image_generation
    assert info.context_window == info.max_context_window == 872000


def test_entries_without_slug_are_skipped():
    """Entries without a usable slug are dropped, and a repeated slug keeps its first entry."""
    for bad in (None, [], "gpt-5.5", {}, {"slug": ""}, {"slug": 5}, {"slug": " x "}):
        assert ModelInfo.from_json(bad) is None
    models = parse_models([{"slug": "a", "display_name": "A"}, {"slug": "a"}, "junk", {}])
    assert [(m.slug, m.display_name) for m in models] == [("a", "A")]


def test_builtin_list():
    """The built-in list mirrors Codex CLI 0.169.0's catalog (lite spec §1): GPT-5.5 and the eight
    Responses Lite models with their own levels and windows; then GPT-5.4, GPT-5.4 mini and the
    hidden Spark model."""
    slugs = [m.slug for m in BUILTIN_MODELS]
    assert slugs == [
        "gpt-5.5",
        "gpt-6-astra",
        "gpt-6.1-sol",
        "gpt-6.1-terra",
        "gpt-6-sol",
        "gpt-6-luna",
        "gpt-5.6-sol",
        "gpt-5.6-terra",
        "gpt-5.6-luna",
        "gpt-5.4",
        "gpt-5.4-mini",
        "gpt-5.3-codex-spark",
    ]
    gpt55 = BUILTIN_MODELS[0]
    example = ModelInfo.from_json({**SPEC_EXAMPLE, "description": gpt55.description})
    assert gpt55 == example  # the spec example's capabilities
    assert not gpt55.use_responses_lite
    lite = {m.slug: m for m in BUILTIN_MODELS if m.use_responses_lite}
    assert len(lite) == 8
    assert lite["gpt-6.1-terra"].context_window == 500000
    assert {m.max_context_window for m in lite.values()} == {872000}
    assert lite["gpt-5.6-sol"].reasoning_levels[-2:] == ("max", "ultra")
    assert lite["gpt-5.6-sol"].default_reasoning_level == "low"
    assert lite["gpt-6-luna"].reasoning_levels[-1] == "max"
    assert not any(m.supports_web_search or m.supports_image_generation for m in lite.values())
    spark = BUILTIN_MODELS[-1]
    assert spark.hidden and spark.slug in HIDDEN_CALLABLE
    assert spark.input_modalities == ("text",)


def test_to_dict_is_json_ready():
    """The --json form lists capabilities without the raw entry."""
    data = BUILTIN_MODELS[0].to_dict()
    assert data["slug"] == "gpt-5.5"
    assert data["reasoning_levels"] == ["low", "medium", "high", "xhigh"]
    assert data["supports_fast"] is True
    assert "raw" not in data


_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
_known_keys = st.sampled_from([*sorted(SPEC_EXAMPLE), "use_responses_lite", "supports_search_tool"])


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(_known_keys | st.text(max_size=8), _json, max_size=12),
    st.none() | st.text(max_size=12),
)
def test_from_json_never_raises(entry, slug):
    """Whatever the catalog endpoint sends, parsing an entry never raises."""
    if slug is not None:
        entry = {**entry, "slug": slug}
    info = ModelInfo.from_json(entry)
    if info is not None:
        assert info.slug == entry["slug"]
        info.to_dict()
