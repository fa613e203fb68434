"""The ``-o`` options of each ``openai-codex/*`` model, built from its catalog entry.

Only what the backend accepts for that model is offered, with the model's own values: a model
without verbosity has no ``verbosity`` option, ``reasoning_effort`` lists only the model's
levels, ``fast`` exists only where the catalog lists the ``priority`` tier. Sampling and length
parameters (``temperature``, ``top_p``, ``max_output_tokens``, ...) are never offered: the
backend rejects them. An unknown option is refused by pydantic (llm's options forbid extras)
with one sentence that says so.

Classes are generated once per capability tuple (:func:`functools.cache`), because llm rebuilds
its model registry often (llm#1651).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Literal, get_args, get_origin

import llm
from pydantic import Field, ValidationError, create_model, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from llm_codex.core.catalog import MODEL_PREFIX, ModelInfo

__all__ = ["ABSENT_REASONS", "REJECTED_PARAMETERS", "capabilities", "options_class"]

#: Parameters people try that the Codex backend rejects (protocol §3.2), named in the error.
REJECTED_PARAMETERS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_output_tokens",
        "max_completion_tokens",
        "frequency_penalty",
        "presence_penalty",
        "seed",
        "stop",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "metadata",
        "truncation",
        "json_object",
    }
)

#: Why an option other models have is missing from this one (by option name).
ABSENT_REASONS = {
    "reasoning_effort": "this model has no reasoning effort setting",
    "reasoning_summary": "this model gives no reasoning summaries",
    "verbosity": "this model has no verbosity setting",
    "fast": "this model has no Fast (priority) tier",
    "service_tier": "this model offers no other service tier",
    "image_detail": "this model takes no image detail setting",
    "parallel_tool_calls": "this model makes one tool call at a time",
}

SUMMARY_VALUES = ("auto", "concise", "detailed", "none")
VERBOSITY_VALUES = ("low", "medium", "high")
DETAIL_VALUES = ("low", "high", "auto")


def _sentence_list(values: tuple[str, ...]) -> str:
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " or " + values[-1]


def capabilities(model: ModelInfo) -> tuple[Any, ...]:
    """The hashable capability tuple an Options class depends on (cache key).

    A Responses Lite model has no ``image_detail`` (the lite form strips it) and no
    ``parallel_tool_calls`` (always false there).
    """
    lite = model.use_responses_lite
    return (
        model.reasoning_levels,
        model.default_reasoning_level,
        model.supports_reasoning_summaries,
        model.supports_verbosity,
        model.default_verbosity,
        model.service_tiers,
        model.supports_images and not lite,
        model.supports_image_detail_original,
        model.supports_parallel_tool_calls and not lite,
    )


def options_class(model: ModelInfo) -> type[llm.Options]:
    """The ``llm.Options`` subclass for ``model``; cached.

    The fields depend on the capabilities only; the subclass knows the model's name so that a
    refused value can name both the value and the model.
    """
    return _named(MODEL_PREFIX + model.slug, capabilities(model))


@functools.cache
def _named(model_id: str, caps: tuple[Any, ...]) -> type[llm.Options]:
    base = _build(caps)
    return type(base.__name__, (base,), {"__module__": __name__, "codex_model_id": model_id})


#: What the values of each enumerated option are called in a refusal.
_VALUE_NOUNS = {
    "reasoning_effort": "reasoning levels",
    "reasoning_summary": "reasoning summary settings",
    "verbosity": "verbosity levels",
    "service_tier": "service tiers",
    "image_detail": "image detail levels",
}
#: ``-o service_tier fast`` is the short form of ``priority`` (as ``-o fast 1``).
_TIER_ALIASES = {"fast": "priority"}


def _choices(annotation: Any) -> tuple[str, ...] | None:
    """The values of a ``Literal[...] | None`` field, or ``None`` for any other type."""
    for arg in (*get_args(annotation), annotation):
        if get_origin(arg) is Literal:
            return tuple(str(v) for v in get_args(arg))
    return None


class _CodexOptions(llm.Options):
    """Base of every generated class: turns unknown options and refused values into one clear
    sentence naming the value and the model."""

    codex_model_id: ClassVar[str] = "this model"

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set(cls.model_fields)
        errors: list[InitErrorDetails] = []
        tier = data.get("service_tier")
        if isinstance(tier, str) and tier.strip().lower() in _TIER_ALIASES:
            data = {**data, "service_tier": _TIER_ALIASES[tier.strip().lower()]}
        for name in data:
            if name in known:
                choices = _choices(cls.model_fields[name].annotation)
                value = data[name]
                if choices and isinstance(value, str) and value not in choices:
                    noun = _VALUE_NOUNS.get(name, "values")
                    message = (
                        f"{value[:40]!r} is not one of the {noun} of {cls.codex_model_id}; "
                        f"choose {_sentence_list(choices)}."
                    )
                    errors.append(
                        InitErrorDetails(
                            type=PydanticCustomError("codex_refused_value", message),
                            loc=(name,),
                            input=value,
                        )
                    )
                continue
            offered = ", ".join(sorted(known)) or "none"
            if name in REJECTED_PARAMETERS:
                why = "the Codex backend rejects it"
            else:
                why = ABSENT_REASONS.get(name, "this model has no such option")
            message = f"Option {name!r} is not supported: {why} (options here: {offered})."
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError("codex_unsupported_option", message),
                    loc=(name,),
                    input=data[name],
                )
            )
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return data

    @model_validator(mode="after")
    def _refuse_conflicts(self) -> _CodexOptions:
        fast = getattr(self, "fast", None)
        tier = getattr(self, "service_tier", None)
        if fast and tier not in (None, "priority"):
            error = InitErrorDetails(
                type=PydanticCustomError(
                    "codex_option_conflict",
                    "Option 'fast' asks for the priority tier, which conflicts with "
                    "service_tier '{tier}'; set only one of them.",
                    {"tier": str(tier)},
                ),
                loc=("fast",),
                input=fast,
            )
            raise ValidationError.from_exception_data(type(self).__name__, [error])
        return self


@functools.cache
def _build(caps: tuple[Any, ...]) -> type[llm.Options]:
    (
        levels,
        default_level,
        summaries,
        verbosity,
        default_verbosity,
        tiers,
        images,
        detail_original,
        parallel,
    ) = caps
    fields: dict[str, Any] = {}
    if levels:
        default = f" Default: {default_level}." if default_level in levels else ""
        fields["reasoning_effort"] = (
            Literal[levels] | None,  # type: ignore[valid-type]
            Field(
                default=None,
                description=(
                    "How much the model reasons before it answers: "
                    f"{_sentence_list(levels)}.{default} More effort is slower and uses more "
                    "of your plan's usage limits."
                ),
            ),
        )
    if summaries:
        fields["reasoning_summary"] = (
            Literal[SUMMARY_VALUES] | None,  # type: ignore[valid-type]
            Field(
                default=None,
                description=(
                    "Show a summary of the model's reasoning (printed on stderr): auto, "
                    "concise, detailed or none. Default: auto; -R/--hide-reasoning requests "
                    "none."
                ),
            ),
        )
    if verbosity:
        default = f" Default: {default_verbosity}." if default_verbosity in VERBOSITY_VALUES else ""
        fields["verbosity"] = (
            Literal[VERBOSITY_VALUES] | None,  # type: ignore[valid-type]
            Field(
                default=None,
                description=f"How long and detailed answers are: low, medium or high.{default}",
            ),
        )
    if "priority" in tiers:
        fields["fast"] = (
            bool | None,
            Field(
                default=None,
                description=(
                    "Use the Fast (priority) service tier: quicker answers that use your "
                    "plan's usage limits faster."
                ),
            ),
        )
    if tiers:
        fields["service_tier"] = (
            Literal[tiers] | None,  # type: ignore[valid-type]
            Field(
                default=None,
                description=(
                    f"Service tier for this request: {_sentence_list(tiers)}."
                    + (
                        " 'priority' is Fast mode, the same as -o fast 1."
                        if "priority" in tiers
                        else ""
                    )
                    + " Default: the standard tier."
                ),
            ),
        )
    if images:
        values = (*DETAIL_VALUES, "original") if detail_original else DETAIL_VALUES
        fields["image_detail"] = (
            Literal[values] | None,  # type: ignore[valid-type]
            Field(
                default=None,
                description=(
                    f"Detail level for attached images: {_sentence_list(values)}. Default: auto."
                ),
            ),
        )
    if parallel:
        fields["parallel_tool_calls"] = (
            bool | None,
            Field(
                default=None,
                description=(
                    "Let the model call several tools in one turn. Default: true; set false "
                    "for one call at a time."
                ),
            ),
        )
    return create_model("Options", __base__=_CodexOptions, **fields)
