"""From an llm prompt to a :class:`~llm_codex.core.types.CodexRequest`: the plugin's request side.

This is the API the model classes (:mod:`llm_codex.plugin.models`) call:

- :func:`build_codex_request` — validate and translate one prompt; raises
  :class:`~llm_codex.core.errors.ConfigurationError` (one sentence) before anything is sent.
- :func:`attachment_types_for` — a model attribute.

Request rules (protocol §3, §13): options only as the catalog allows; reasoning effort defaults to
the catalog's level; a reasoning summary ``auto`` is requested where the model supports it,
unless ``-R/--hide-reasoning`` or ``-o reasoning_summary none``; verbosity defaults to the
catalog's; function tools are sent with ``strict: false``; a schema becomes a strict
``json_schema`` text format (:mod:`llm_codex.plugin.schema`); ``session_id`` is derived from the
instructions and the first user message, so it is stable per conversation and for a repeated
one-off prompt (see :func:`llm_codex.core.request.derive_session_id`). A Responses Lite model
(catalog ``use_responses_lite``) gets the lite form from the core and one call at a time; it
claims no hosted tools (:func:`~llm_codex.plugin.hosted_tools.server_side_tools_for`), so llm
itself refuses one before anything is sent.
"""

from __future__ import annotations

import re
from typing import Any

import llm

from llm_codex.core.catalog import MODEL_PREFIX, ModelInfo
from llm_codex.core.errors import ConfigurationError
from llm_codex.core.request import derive_session_id
from llm_codex.core.types import CodexRequest
from llm_codex.plugin.hosted_tools import ImageGeneration, WebSearch, server_side_tools_for
from llm_codex.plugin.messages import IMAGE_TYPES, build_input
from llm_codex.plugin.schema import text_format

__all__ = [
    "attachment_types_for",
    "build_codex_request",
]

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def attachment_types_for(model: ModelInfo) -> frozenset[str]:
    """The attachment mime types ``model`` accepts: the four image types when it takes images."""
    return frozenset(IMAGE_TYPES) if model.supports_images else frozenset()


def _model_name(model: ModelInfo) -> str:
    return f"{MODEL_PREFIX}{model.slug}"


def _option(prompt: llm.Prompt, name: str) -> Any:
    value = getattr(prompt.options, name, None)
    return getattr(value, "value", value)


def _function_tool(tool: llm.Tool) -> dict[str, Any]:
    if not _TOOL_NAME.match(tool.name or ""):
        raise ConfigurationError(
            f"The tool name {tool.name!r} cannot be sent to the Codex backend: names may use "
            "only letters, digits, '_' and '-' (at most 64)."
        )
    parameters = tool.input_schema or {}
    if not parameters:
        parameters = {"type": "object", "properties": {}}
    spec: dict[str, Any] = {
        "type": "function",
        "name": tool.name,
        "parameters": parameters,
        "strict": False,
    }
    if tool.description:
        spec["description"] = tool.description
    return spec


def _partition_tools(
    tools: list[llm.Tool | llm.ServerSideTool], model: ModelInfo
) -> tuple[list[llm.Tool], list[llm.ServerSideTool]]:
    """Function tools and hosted tools apart; a hosted tool ``model`` does not offer is refused.

    The offered tools are :func:`server_side_tools_for`'s; offering the raw
    ``llm.ServerSideTool`` claims raw specs only, not every subclass of it.
    """
    offered = server_side_tools_for(model)
    function_tools: list[llm.Tool] = []
    server_tools: list[llm.ServerSideTool] = []
    for tool in tools:
        if not isinstance(tool, llm.ServerSideTool):
            function_tools.append(tool)
            continue
        if not any(
            type(tool) is kind if kind is llm.ServerSideTool else isinstance(tool, kind)
            for kind in offered
        ):
            name = _model_name(model)
            raise ConfigurationError(
                f"Model '{name}' does not support server-side tool '{tool.name}'. "
                f"Run: llm tools -m {name}"
            )
        server_tools.append(tool)
    return function_tools, server_tools


def _tools(prompt: llm.Prompt, model: ModelInfo) -> list[dict[str, Any]]:
    if not prompt.tools:
        return []
    function_tools, server_tools = _partition_tools(prompt.tools, model)
    specs = [_function_tool(tool) for tool in function_tools]
    for tool in server_tools:
        if isinstance(tool, WebSearch):
            types = tool.search_content_types or []
            if "image" in types and model.web_search_tool_type != "text_and_image":
                raise ConfigurationError(
                    f"{_model_name(model)} cannot search for images; use "
                    'search_content_types ["text"].'
                )
        if isinstance(tool, ImageGeneration | WebSearch):
            specs.append(tool.tool_spec(model))
        else:
            try:
                spec = tool.tool_spec(prompt.model)
            except TypeError as exc:
                raise ConfigurationError(str(exc)) from exc
            if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
                raise ConfigurationError(
                    'A raw server-side tool needs a spec object with a "type", e.g. '
                    'ServerSideTool({"spec": {"type": "web_search"}}).'
                )
            specs.append(dict(spec))
    names = [s.get("name") or s.get("type") for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"Two tools share the name {duplicates[0]!r}; rename one.")
    return specs


def _reasoning(prompt: llm.Prompt, model: ModelInfo) -> tuple[str | None, str | None]:
    levels = model.reasoning_levels
    effort = _option(prompt, "reasoning_effort")
    if effort is not None and effort not in levels:
        raise ConfigurationError(
            f"{_model_name(model)} does not support reasoning_effort {effort!r}; "
            f"choose one of {', '.join(levels) or 'none'}."
        )
    if effort is None:
        default = model.default_reasoning_level
        effort = default if default in levels else None
    summary: str | None = None
    if model.supports_reasoning_summaries and not prompt.hide_reasoning:
        chosen = _option(prompt, "reasoning_summary")
        summary = "auto" if chosen is None else chosen
        if summary == "none":
            summary = None
    return effort, summary


def _service_tier(prompt: llm.Prompt, model: ModelInfo) -> str | None:
    tiers = model.service_tiers
    tier = _option(prompt, "service_tier")
    fast = _option(prompt, "fast")
    if fast and tier not in (None, "priority"):
        raise ConfigurationError(
            f"Option 'fast' asks for the priority tier, which conflicts with service_tier "
            f"{tier!r}; set only one of them."
        )
    if fast:
        tier = "priority"
    if tier is not None and tier not in tiers:
        raise ConfigurationError(
            f"{_model_name(model)} does not offer the {tier!r} service tier"
            + (f"; it offers {', '.join(tiers)}." if tiers else ".")
        )
    return tier


_NOT_UTF8 = (
    "The prompt contains bytes that are not valid UTF-8 (from the command line, standard input "
    "or a fragment); convert the text to UTF-8 first, e.g. with 'iconv -f latin1 -t utf-8'."
)


def refuse_invalid_text(*values: Any) -> None:
    """Raise ConfigurationError when any string in ``values`` (walked through lists and dicts)
    holds a lone surrogate: what Python makes of bytes that are not UTF-8 on the command line
    or standard input, and what cannot be sent as JSON."""
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise ConfigurationError(_NOT_UTF8) from None
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)


def build_codex_request(prompt: llm.Prompt, *, model: ModelInfo) -> CodexRequest:
    """Translate ``prompt`` for ``model`` (its catalog entry) into a CodexRequest.

    Raises ConfigurationError for an option the model does not allow, an attachment that is
    not an accepted image (or too large), a schema strict mode cannot express, or a tool the
    backend would refuse.
    """
    name = _model_name(model)
    lite = model.use_responses_lite
    effort, summary = _reasoning(prompt, model)
    verbosity: str | None = None
    if model.supports_verbosity:
        verbosity = _option(prompt, "verbosity") or model.default_verbosity
        if verbosity not in (None, "low", "medium", "high"):
            verbosity = None
    service_tier = _service_tier(prompt, model)

    allowed = attachment_types_for(model)
    detail = None if lite else _option(prompt, "image_detail")
    if detail == "original" and not model.supports_image_detail_original:
        raise ConfigurationError(f"{name} does not support image_detail 'original'.")
    instructions, items = build_input(
        prompt.messages, image_detail=detail, allowed_images=allowed, model_name=name
    )

    if not items:
        raise ConfigurationError("There is nothing to send: the prompt is empty.")
    refuse_invalid_text(instructions, items)
    tools = _tools(prompt, model)
    parallel = model.supports_parallel_tool_calls and not lite
    if _option(prompt, "parallel_tool_calls") is False:
        parallel = False

    schema_format = text_format(prompt.schema) if prompt.schema else None

    session_id = derive_session_id(instructions=instructions, input=items)
    return CodexRequest(
        model=model.slug,
        input=items,
        instructions=instructions,
        tools=tools,
        tool_choice="auto",
        parallel_tool_calls=parallel,
        reasoning_effort=effort,
        reasoning_summary=summary,
        verbosity=verbosity,
        text_format=schema_format,
        service_tier=service_tier,
        session_id=session_id,
        include_encrypted_reasoning=model.supports_reasoning or model.supports_reasoning_summaries,
        responses_lite=lite,
    )
