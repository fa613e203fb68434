"""Responses Lite models on the server: the catalog decides, the core builds the form.

:func:`apply_lite_form` is called by every translator once it has a core request. For a model
whose catalog entry (cache or built-in list; no network) has ``use_responses_lite`` it marks the
request lite, turns off parallel calls (named in the dropped-parameters header when the client
asked for them), refuses what the lite lane would refuse (a hosted tool, a forced
``tool_choice``) with a 400 naming the model, and gives replayed calls of our own function tools
their ``functions`` namespace when the client's API could not carry it (chat completions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llm_codex.core import catalog
from llm_codex.core.lite import lite_refusal, restore_namespaces
from llm_codex.server.common import Translation
from llm_codex.server.errors import RequestRefused

__all__ = ["apply_lite_form"]


def apply_lite_form(
    tr: Translation, body: dict[str, Any], *, find_model: Callable[[str], Any] | None = None
) -> None:
    """Switch ``tr.request`` to the lite form when its model needs it (see the module doc).

    ``find_model(slug)`` gives the catalog entry (default: the cache or the built-in list).
    Raises :class:`~llm_codex.server.errors.RequestRefused` (400 ``unsupported_value``).
    """
    req = tr.request
    info = (find_model or catalog.find_model)(req.model)
    if info is None or not info.use_responses_lite:
        return
    req.responses_lite = True
    refusal = lite_refusal(req, model_name=f"The model '{req.model}'")
    if refusal:
        forced = req.tool_choice != "auto" and all(
            t.get("type") in ("function", "custom", "namespace") for t in req.tools
        )
        raise RequestRefused(
            refusal, param="tool_choice" if forced else "tools", code="unsupported_value"
        )
    if body.get("parallel_tool_calls") is True and "parallel_tool_calls" not in tr.dropped:
        tr.dropped.append("parallel_tool_calls")
    req.parallel_tool_calls = False
    req.input = restore_namespaces(req.input, req.tools)
