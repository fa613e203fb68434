"""The Responses Lite request form (``responses-lite.md`` §2–§4), used for every model whose
catalog entry has ``use_responses_lite``.

One home for the lane's rules, shared by every face: :func:`~llm_codex.core.request.build_body`
calls :func:`lite_input` to lay out ``input`` and :func:`lite_refusal` before anything is sent;
the server calls :func:`restore_namespaces` for clients that cannot carry a call's namespace.

The form, exactly as Codex CLI 0.169.0 sends it: no top-level ``tools`` and no
``instructions``; ``input`` starts with an ``additional_tools`` developer item holding the tools
(plain function/custom tools inside one ``functions`` namespace; ``"tools": []`` when there are
none), then the system prompt as a developer message, then the history; ``input_image`` parts
lose their ``detail``. The item never carries an ``id`` and depends only on the tools, so it is
identical on every request of a conversation (a stable prefix keeps the prompt cache warm).
"""

from __future__ import annotations

from typing import Any

from llm_codex.core.types import CodexRequest

__all__ = [
    "DEFAULT_NAMESPACE",
    "LITE_HEADER",
    "additional_tools_item",
    "lite_input",
    "lite_refusal",
    "restore_namespaces",
]

#: The header that routes a request to the lite lane (value ``"true"``).
LITE_HEADER = "x-openai-internal-codex-responses-lite"
#: The namespace the CLI wraps plain function and custom tools in.
DEFAULT_NAMESPACE = "functions"
#: Tool types the lite lane accepts (spec §4): plain tools, namespaces of them, client tool search.
_PLAIN_TOOLS = frozenset({"function", "custom"})
_LANE_TOOLS = _PLAIN_TOOLS | {"namespace", "tool_search"}
#: Hosted tools by type: the catalog capability that offers them and the words for a sentence.
_HOSTED = {
    "web_search": ("supports_web_search", "web search"),
    "image_generation": ("supports_image_generation", "image generation"),
}


def additional_tools_item(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``additional_tools`` developer item for ``tools`` (CLI form; tool objects unchanged).

    Plain ``function``/``custom`` tools go, in order, into one ``functions`` namespace placed
    where the first of them was; namespaces and other lane tools stay as they are.
    """
    out: list[dict[str, Any]] = []
    plain: list[dict[str, Any]] = []
    for tool in tools:
        if tool.get("type") in _PLAIN_TOOLS:
            if not plain:
                namespace = {"type": "namespace", "name": DEFAULT_NAMESPACE, "description": ""}
                out.append(namespace | {"tools": plain})
            plain.append(tool)
        else:
            out.append(tool)
    return {"type": "additional_tools", "role": "developer", "tools": out}


def _without_detail(parts: Any) -> Any:
    """``parts`` with ``detail`` removed from ``input_image`` parts (copies only what changes)."""
    if not isinstance(parts, list) or not any(
        isinstance(p, dict) and p.get("type") == "input_image" and "detail" in p for p in parts
    ):
        return parts
    return [
        {k: v for k, v in p.items() if k != "detail"}
        if isinstance(p, dict) and p.get("type") == "input_image"
        else p
        for p in parts
    ]


def lite_input(
    items: list[dict[str, Any]], *, tools: list[dict[str, Any]], instructions: str
) -> list[dict[str, Any]]:
    """``input`` of a lite request: the tools item, ``instructions`` as a developer message,
    then ``items`` (already cleaned of ids) with image ``detail`` stripped."""
    history: list[dict[str, Any]] = []
    for item in items:
        if "content" in item:
            content = _without_detail(item["content"])
            if content is not item["content"]:
                item = {**item, "content": content}
        if item.get("type") == "function_call_output":
            output = _without_detail(item.get("output"))
            if output is not item.get("output"):
                item = {**item, "output": output}
        history.append(item)
    developer = {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": instructions}],
    }
    return [additional_tools_item(tools), developer, *history]


def _alternative(capability: str, model: str) -> str | None:
    """A catalog model (not lite) that offers ``capability``; the cache or built-ins only."""
    from llm_codex.core.catalog import load_models

    for info in load_models():
        if info.slug != model and not info.use_responses_lite and getattr(info, capability):
            return info.slug
    return None


def lite_refusal(req: CodexRequest, *, model_name: str | None = None) -> str | None:
    """One sentence saying why the lite lane would refuse ``req``, or ``None`` when it is fine.

    Refused before sending (spec §4): a hosted tool (``web_search``, ``image_generation``, any
    other non-function tool), named after a model that offers it; a ``tool_choice`` other than
    ``"auto"`` (the lane has no top-level tools to match a forced choice against).
    """
    name = model_name or req.model
    for tool in req.tools:
        kind = tool.get("type")
        if kind in _LANE_TOOLS:
            continue
        capability, words = _HOSTED.get(kind, (None, f"the hosted {kind} tool"))
        sentence = f"{name} cannot use {words}: it takes only function tools"
        alt = _alternative(capability, req.model) if capability else None
        if alt:
            return f"{sentence}; {alt} offers {words}."
        return sentence + "."
    if req.tool_choice != "auto":
        choice = req.tool_choice
        if isinstance(choice, dict):
            choice = choice.get("name") or choice.get("type")
        return (
            f"{name} cannot be forced to call a tool (tool_choice {choice!r}); "
            "only tool_choice 'auto' is available on this model."
        )
    return None


def restore_namespaces(
    items: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``items`` with ``namespace: "functions"`` added to ``function_call`` items that lack one
    and name a plain tool of ``tools`` (which the lite form offers inside that namespace).

    For callers whose API cannot carry a call's namespace (chat completions): the live backend
    rejects a replayed call that drops it. Calls with a namespace are left unchanged.
    """
    plain = {t.get("name") for t in tools if t.get("type") in _PLAIN_TOOLS}
    out: list[dict[str, Any]] = []
    for item in items:
        if item.get("type") == "function_call" and not item.get("namespace"):
            if item.get("name") in plain:
                item = {**item, "namespace": DEFAULT_NAMESPACE}
        out.append(item)
    return out
