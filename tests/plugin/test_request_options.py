"""The -o options each model offers, and how bad options are refused."""

from __future__ import annotations

import dataclasses

import pydantic
import pytest

from llm_codex.plugin.options import options_class

from .request_support import GPT55, MINI, TEXT_ONLY


def _fields(info):
    return set(options_class(info).model_fields)


def test_options_follow_the_catalog_entry():
    """Only options the model's catalog entry allows are offered."""
    assert _fields(GPT55) == {
        "reasoning_effort",
        "reasoning_summary",
        "verbosity",
        "fast",
        "service_tier",
        "image_detail",
        "parallel_tool_calls",
    }
    assert _fields(MINI) == {
        "reasoning_effort",
        "reasoning_summary",
        "image_detail",
        "parallel_tool_calls",
    }
    assert _fields(TEXT_ONLY) == {"reasoning_effort", "verbosity"}


def test_rejected_parameters_are_never_offered():
    """temperature, top_p and max_output_tokens are not options of any model."""
    for info in (GPT55, MINI, TEXT_ONLY):
        assert not _fields(info) & {"temperature", "top_p", "max_output_tokens", "max_tokens"}


def test_reasoning_effort_accepts_only_the_models_levels():
    """reasoning_effort takes the model's own levels and refuses others."""
    options = options_class(MINI)
    assert options(reasoning_effort="high").reasoning_effort == "high"
    with pytest.raises(pydantic.ValidationError):
        options(reasoning_effort="xhigh")


def test_image_detail_original_only_where_allowed():
    """image_detail 'original' exists only on models that support it."""
    assert options_class(GPT55)(image_detail="original").image_detail == "original"
    with pytest.raises(pydantic.ValidationError):
        options_class(MINI)(image_detail="original")


def test_options_classes_are_cached_per_capabilities():
    """Models with the same capabilities share one generated Options class (llm#1651); each
    model has a cached, empty subclass of it that knows the model's name for its errors."""
    twin = dataclasses.replace(GPT55, slug="gpt-5.5-twin", display_name="Twin")
    assert options_class(GPT55) is options_class(GPT55)
    assert options_class(twin).__base__ is options_class(GPT55).__base__
    assert options_class(MINI).__base__ is not options_class(GPT55).__base__


def test_a_refused_value_names_the_value_and_the_model():
    """-o reasoning_effort xhigh on gpt-5.4-mini says xhigh is not one of its levels."""
    with pytest.raises(pydantic.ValidationError) as info:
        options_class(MINI)(reasoning_effort="xhigh")
    (error,) = info.value.errors()
    assert "'xhigh' is not one of the reasoning levels of openai-codex/" + MINI.slug in error["msg"]


def test_service_tier_fast_is_the_short_form_of_priority():
    """README: `fast` is the short form of `priority` — and so it is."""
    assert options_class(GPT55)(service_tier="fast").service_tier == "priority"


def test_unknown_option_is_one_clear_sentence():
    """-o temperature is refused with a sentence saying the backend rejects it."""
    with pytest.raises(pydantic.ValidationError) as info:
        options_class(GPT55)(temperature=0.5)
    (error,) = info.value.errors()
    assert error["loc"] == ("temperature",)
    assert error["msg"].startswith(
        "Option 'temperature' is not supported: the Codex backend rejects it"
    )
    assert "\n" not in error["msg"]


def test_fast_conflicts_with_another_tier():
    """fast plus a different service_tier is refused; fast alone picks priority."""
    info = dataclasses.replace(GPT55, service_tiers=("priority", "flex"))
    options = options_class(info)
    assert options(fast="0", service_tier="flex").fast is False
    with pytest.raises(pydantic.ValidationError, match="conflicts with service_tier 'flex'"):
        options(fast=True, service_tier="flex")


def test_cli_refuses_temperature_in_one_sentence(codex_backend, codex_login):
    """`llm -o temperature 0.5` fails before any request, naming the option once."""
    from .plugin_helpers import MODEL, run_llm

    run = run_llm("-m", MODEL, "-o", "temperature", "0.5", "hi")
    assert run.exit_code == 1
    assert "Traceback" not in run.output
    assert "Option 'temperature' is not supported: the Codex backend rejects it" in run.output
    assert codex_backend.requests_to("/responses") == []


def test_cli_options_listing_is_truthful(codex_backend):
    """`llm -m openai-codex/gpt-5.5 --options` lists each option with its values."""
    from .plugin_helpers import MODEL, run_llm

    run = run_llm("-m", MODEL, "--options")
    assert run.exit_code == 0, run.output
    out = run.stdout
    assert "reasoning_effort: str" in out
    assert "low, medium, high or" in out
    assert "fast: boolean" in out
    assert "Attachment types:" in out and "image/png" in out
    assert "temperature" not in out
