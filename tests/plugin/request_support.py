"""Shared helpers for the request-translation tests: catalog entries, a stand-in llm model, PNGs."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import llm

from llm_codex.core.catalog import ModelInfo
from llm_codex.plugin.hosted_tools import server_side_tools_for
from llm_codex.plugin.options import options_class
from llm_codex.plugin.request import attachment_types_for, build_codex_request

#: A 1×1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpeqz8AAAAASUVORK5CYII="
)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32

GPT55 = ModelInfo(
    slug="gpt-5.5",
    display_name="GPT-5.5",
    reasoning_levels=("low", "medium", "high", "xhigh"),
    default_reasoning_level="medium",
    supports_reasoning_summaries=True,
    default_reasoning_summary="none",
    supports_verbosity=True,
    default_verbosity="low",
    supports_parallel_tool_calls=True,
    input_modalities=("text", "image"),
    supports_image_detail_original=True,
    context_window=272000,
    service_tiers=("priority",),
    web_search_tool_type="text_and_image",
    supports_search_tool=True,
    supports_image_generation=True,
)

MINI = dataclasses.replace(
    GPT55,
    slug="gpt-5.4-mini",
    display_name="GPT-5.4 mini",
    reasoning_levels=("low", "medium", "high"),
    supports_verbosity=False,
    default_verbosity=None,
    supports_image_detail_original=False,
    service_tiers=(),
    web_search_tool_type="text",
)

TEXT_ONLY = dataclasses.replace(
    GPT55,
    slug="gpt-5.3-codex-spark",
    display_name="Spark",
    input_modalities=("text",),
    supports_reasoning_summaries=False,
    supports_parallel_tool_calls=False,
    service_tiers=(),
    web_search_tool_type=None,
    supports_search_tool=False,
    supports_image_generation=False,
)


class StubModel(llm.Model):
    """An llm model wired to our request API the way the runtime's model is (no execute)."""

    can_stream = True
    supports_tools = True
    supports_schema = True

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.model_id = f"openai-codex/{info.slug}"
        self.Options = options_class(info)
        self.attachment_types = attachment_types_for(info)

    @property
    def supported_server_side_tools(self):  # type: ignore[override]
        return server_side_tools_for(self.info)

    def execute(self, prompt, stream, response, conversation):  # pragma: no cover
        raise NotImplementedError


def make_prompt(
    info: ModelInfo = GPT55,
    text: str | None = "Hello",
    *,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> llm.Prompt:
    """An llm.Prompt for ``info`` built the way llm builds one."""
    model = StubModel(info)
    return llm.Prompt(text, model, options=model.Options(**(options or {})), **kwargs)


def build(info: ModelInfo = GPT55, text: str | None = "Hello", **kw):
    """build_codex_request for a prompt made by :func:`make_prompt`."""
    return build_codex_request(make_prompt(info, text, **kw), model=info)
