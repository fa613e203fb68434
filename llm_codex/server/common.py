"""Pieces both OpenAI faces share: model names, conversation affinity, system prompts, SSE.

Pure functions only (no I/O), so the translators can be tested with hypothesis.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from llm_codex.core.catalog import MODEL_PREFIX
from llm_codex.core.types import Usage
from llm_codex.server.errors import RequestRefused
from llm_codex.server.validation import header_safe_names

__all__ = [
    "DROPPED_HEADER",
    "Translation",
    "function_tool",
    "input_image",
    "model_slug",
    "new_id",
    "resolve_tool_choice",
    "split_system",
    "text_of",
    "usage_json",
]

#: Response header listing request parameters that were accepted but not sent upstream.
DROPPED_HEADER = "x-llm-codex-dropped-params"


@dataclass
class Translation:
    """An OpenAI request turned into a core request plus what the face needs to answer."""

    request: Any  # CodexRequest
    stream: bool = False
    dropped: list[str] = field(default_factory=list)
    include_usage: bool = False
    reasoning_content: bool = False
    model: str = ""
    #: Fields of the answer's ``response`` object that echo the request as the client sent it
    #: (e.g. ``tool_choice: "none"``, which is sent upstream as no tools at all).
    echo: dict[str, Any] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        """The warning header naming dropped parameters (sorted; names unfit for a header are
        replaced, see :func:`.validation.header_safe_names`), when any were dropped."""
        if not self.dropped:
            return {}
        return {DROPPED_HEADER: ",".join(header_safe_names(self.dropped))}


def new_id(prefix: str) -> str:
    """A fresh opaque id such as ``chatcmpl-3f2a…``: ``prefix`` and the hex of a random
    (version 4) UUID. Built from the 16 random bytes as ``uuid.uuid4`` builds it, without
    the ``UUID`` object, which cost more than the randomness."""
    random = int.from_bytes(os.urandom(16), "big")
    return f"{prefix}{random & _UUID4_MASK | _UUID4_BITS:032x}"


#: ``uuid.uuid4``'s version (4) and variant (RFC 4122) bits.
_UUID4_MASK = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_BITS = (0x4000 << 64) | (0x8000 << 48)


def model_slug(value: Any) -> str:
    """The backend slug for a ``model`` field; ``openai-codex/gpt-5.5`` is accepted too."""
    if not isinstance(value, str) or not value.strip():
        raise RequestRefused("'model' is required and must be a string.", param="model")
    value = value.strip()
    if value.startswith("chatgpt/"):  # the official route is never served (siwc.md §13.6)
        raise RequestRefused(
            f"The model '{value}' does not exist here: this server serves the Codex route only; "
            "ChatGPT plan (chatgpt/) models may only be used by llm itself.",
            status=404,
            code="model_not_found",
            param="model",
        )
    if value.startswith(MODEL_PREFIX):
        value = value[len(MODEL_PREFIX) :]
    return value


def text_of(content: Any) -> str:
    """The text of a message ``content``: a string, or the text of its text-like parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return "".join(texts)
    return ""


_IMAGE_DETAILS = ("auto", "low", "high", "original")


def input_image(url: str, *, detail: Any = None, where: str = "messages") -> dict[str, Any]:
    """An ``input_image`` part for a ``data:`` or ``http(s):`` URL, passed on as it is (the
    server never fetches anything itself); other schemes are refused. ``detail`` defaults to
    ``auto`` when absent or unknown."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("data", "http", "https"):
        raise RequestRefused(
            f"{where}: image URLs must be data: or http(s): URLs, not {scheme}:.", param="messages"
        )
    return {
        "type": "input_image",
        "image_url": url,
        "detail": detail if detail in _IMAGE_DETAILS else "auto",
    }


def function_tool(
    name: str, parameters: Any, *, description: Any = None, strict: bool = False
) -> dict[str, Any]:
    """A Responses function tool; an absent or odd schema becomes an empty object schema.

    Every field OpenAI's ``FunctionTool`` schema requires is present (``strict`` too), so the
    tool a ``response`` object echoes is the tool the backend got.
    """
    tool: dict[str, Any] = {
        "type": "function",
        "name": name,
        "parameters": parameters
        if isinstance(parameters, dict) and parameters
        else {"type": "object", "properties": {}},
        "strict": strict,
    }
    if isinstance(description, str) and description:
        tool["description"] = description
    return tool


def _is_text_only(content: Any) -> bool:
    if isinstance(content, str):
        return True
    if not isinstance(content, list):
        return False
    return all(
        isinstance(p, dict) and p.get("type") in ("input_text", "text", "output_text")
        for p in content
    )


def split_system(
    items: list[dict[str, Any]],
    instructions: str | None,
    *,
    roles: tuple[str, ...] = ("system",),
) -> tuple[str | None, list[dict[str, Any]]]:
    """Move system prompts out of ``input`` (the backend refuses ``role: "system"``).

    Leading messages whose role is in ``roles`` and whose content is text become part of
    ``instructions`` (after any explicit instructions, blank-line separated). Any later
    ``system`` message becomes a ``developer`` message in place, keeping its position.
    """
    texts = [instructions] if instructions else []
    rest: list[dict[str, Any]] = []
    leading = True
    for item in items:
        is_msg = item.get("type", "message") == "message"
        role = item.get("role")
        if leading and is_msg and role in roles and _is_text_only(item.get("content")):
            text = text_of(item.get("content"))
            if text:
                texts.append(text)
            continue
        leading = False
        if is_msg and role == "system":
            item = {**item, "role": "developer"}
        rest.append(item)
    joined = "\n\n".join(texts)
    return (joined or None), rest


_NAMED_KINDS = ("function", "custom")


def _choice_name(choice: dict[str, Any]) -> Any:
    """The tool name of a named choice: ``{"name"}`` (Responses) or ``{"function": {"name"}}``."""
    fn = choice.get("function")
    return fn.get("name") if isinstance(fn, dict) else choice.get("name")


def _tool_name(tool: Any) -> Any:
    if not isinstance(tool, dict):
        return None
    return _choice_name(tool)


def resolve_tool_choice(
    choice: Any, tools: list[dict[str, Any]]
) -> tuple[str | dict[str, Any], list[dict[str, Any]], bool]:
    """An OpenAI ``tool_choice`` mapped conservatively for the Codex backend.

    Returns ``(tool_choice, tools, dropped)``. The Codex CLI only ever sends ``"auto"`` (protocol
    §3), so only what is known to work, or cannot fail, is sent:

    - absent / ``"auto"`` -> ``"auto"``;
    - ``"none"`` -> ``"auto"`` with no tools at all: the model cannot call what it was not
      given, which is exactly what ``"none"`` asks for;
    - ``"required"`` -> ``"required"`` (a standard Responses value), refused when there are no
      tools;
    - a named ``function`` (or ``custom``) tool -> ``{"type", "name"}``; the backend resolves
      the name among the function tools, so an unknown name is refused here with the same
      meaning (400) instead of upstream;
    - ``allowed_tools`` -> the tools are narrowed to the listed ones and its ``mode`` (auto or
      required) is sent;
    - a hosted tool (``web_search``, ``image_generation``…): the backend refuses those
      ("Tool choice 'image_generation' not found in 'tools' parameter"), so ``"auto"`` is sent
      with the tool still offered, and ``dropped`` is True (named in the warning header).
    """
    if choice is None or choice == "auto":
        return "auto", tools, False
    if choice == "none":
        return "auto", [], False
    if choice == "required":
        if not tools:
            raise RequestRefused(
                "'tool_choice': 'required' needs at least one tool in 'tools'.",
                param="tool_choice",
            )
        return "required", tools, False
    if isinstance(choice, str):
        raise RequestRefused(
            f"Unknown tool_choice {choice!r}: use auto, none, required or a named function.",
            param="tool_choice",
        )
    if not isinstance(choice, dict):
        raise RequestRefused(
            "'tool_choice' must be auto, none, required or an object.", param="tool_choice"
        )
    kind = choice.get("type") or ("function" if "function" in choice else None)
    if kind in _NAMED_KINDS:
        name = _choice_name(choice)
        known = {_tool_name(t) for t in tools if isinstance(t, dict) and t.get("type") == kind}
        if not isinstance(name, str) or name not in known:
            raise RequestRefused(
                f"Tool choice {name!r} is not one of the {kind} tools in 'tools'.",
                param="tool_choice",
            )
        return {"type": kind, "name": name}, tools, False
    if kind == "allowed_tools":
        spec = (
            choice.get("allowed_tools") if isinstance(choice.get("allowed_tools"), dict) else choice
        )
        mode = spec.get("mode") or "auto"
        listed = spec.get("tools")
        if mode not in ("auto", "required") or not isinstance(listed, list) or not listed:
            raise RequestRefused(
                "'tool_choice' allowed_tools needs 'mode' (auto or required) and a non-empty "
                "'tools' list.",
                param="tool_choice",
            )
        wanted = {(t.get("type"), _tool_name(t)) for t in listed if isinstance(t, dict)}
        kept = [
            t for t in tools if isinstance(t, dict) and (t.get("type"), _tool_name(t)) in wanted
        ]
        if not kept:
            raise RequestRefused(
                "'tool_choice' allowed_tools names no tool of 'tools'.", param="tool_choice"
            )
        return mode, kept, False
    return "auto", tools, True


def usage_json(usage: Usage) -> dict[str, Any]:
    """A core :class:`Usage` in the Responses API shape."""
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens or usage.input_tokens + usage.output_tokens,
    }
