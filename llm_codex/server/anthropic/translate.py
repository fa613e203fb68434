"""An Anthropic Messages request turned into a core :class:`CodexRequest`.

Request mapping:

- ``system`` (a string or text blocks; ``cache_control`` ignored) -> ``instructions``;
  ``role: "system"`` messages inside ``messages`` (Claude Code sends them) join the
  instructions when they lead, else become ``developer`` messages in place.
- user content: ``text`` -> ``input_text``; ``image`` (``base64`` -> a ``data:`` URL, ``url`` as
  is) -> ``input_image``; ``document`` (base64 PDF -> ``input_file``, plain text ->
  ``input_text``); ``tool_result`` -> ``function_call_output`` (text, or a list of text and
  image parts; ``is_error`` prefixes ``Error:``). Other block types are skipped.
- assistant content: ``text`` -> ``output_text``; ``tool_use`` -> ``function_call`` (``input``
  as JSON arguments); ``thinking`` / ``redacted_thinking`` -> a ``reasoning`` item when their
  signature is one of ours (:mod:`.signature`), dropped otherwise.
- ``tools`` with ``input_schema`` -> function tools (``defer_loading``, ``cache_control``,
  ``input_examples`` ignored: every tool is offered); Anthropic's ``web_search_…`` server tool ->
  the backend's hosted ``web_search`` (when the model has it); other server tools
  (``tool_search_…``, ``code_execution_…``) cannot run here and are dropped (named in the
  header), and a ``tool_choice`` naming a server tool becomes ``auto``.
- ``tool_choice`` ``auto`` / ``any`` / ``tool`` / ``none`` -> ``auto`` / ``required`` / a named
  function / no tools; ``disable_parallel_tool_use`` -> ``parallel_tool_calls: false``.
- ``thinking`` and ``output_config.effort`` -> ``reasoning.effort`` among the model's catalog
  levels (:func:`reasoning_for`); summaries are asked for when thinking is shown.
- ``output_config.format`` (``json_schema``) -> ``text.format``.
- ``metadata.user_id`` keys the conversation (prompt cache); ``max_tokens`` is checked but not
  sent (the backend refuses it); ``stop_sequences`` are applied by the server to the text.
- ``temperature``, ``top_p``, ``top_k``, ``context_management``, ``service_tier``… are accepted
  and not sent; the ones that would change the answer are named in ``x-llm-codex-dropped-params``.
- a Responses Lite model gets the lite form (:func:`~llm_codex.server.lite.apply_lite_form`):
  its web search tool is dropped (named in the header: the lite lane has no hosted tools), a
  forced ``tool_choice`` (``any``, ``tool``) is a 400 naming the model, and replayed
  ``tool_use`` calls get back the ``functions`` namespace.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llm_codex.core.request import derive_session_id
from llm_codex.core.types import CodexRequest
from llm_codex.server.anthropic.models import resolve_model
from llm_codex.server.anthropic.signature import open_signature
from llm_codex.server.common import (
    Translation,
    function_tool,
    input_image,
    resolve_tool_choice,
    split_system,
)
from llm_codex.server.errors import RequestRefused
from llm_codex.server.lite import apply_lite_form

__all__ = [
    "MessagesTranslation",
    "messages_to_input",
    "reasoning_for",
    "translate_messages_request",
]

#: Fields that are used, or accepted on purpose without a warning (they change nothing a user
#: would see, or Claude Code sends them on every request).
_QUIET = {
    "model",
    "messages",
    "system",
    "max_tokens",
    "stream",
    "tools",
    "tool_choice",
    "thinking",
    "output_config",
    "stop_sequences",
    "metadata",
    "context_management",
    "service_tier",
    "container",
    "mcp_servers",
    "betas",
}
#: Reasoning levels from least to most effort (catalog ``effort`` values).
_EFFORT_ORDER = ("none", "minimal", "low", "medium", "high", "xhigh")
#: ``output_config.effort`` values -> catalog levels (Anthropic's ``max`` is the top level).
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "xhigh"}
#: Claude Code's first system block starts so (``x-anthropic-billing-header: cc_version=…``).
_BILLING_HEADER = "x-anthropic-billing-header:"
#: ``thinking.budget_tokens`` upper bounds for each level.
_BUDGETS = ((4096, "low"), (16384, "medium"), (32768, "high"))


@dataclass
class MessagesTranslation(Translation):
    """A Messages request as a core request, plus what the answer needs.

    ``thinking`` is ``"shown"`` (thinking blocks with summary text), ``"omitted"`` (thinking
    blocks with an empty text and the signature) or ``"off"`` (no thinking blocks).
    """

    thinking: str = "off"
    stop_sequences: tuple[str, ...] = ()
    echo_model: str = ""


def _refuse(message: str, param: str = "messages") -> RequestRefused:
    return RequestRefused(message, param=param)


# --- content blocks ------------------------------------------------------------------------------


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _refuse(f"{where}.content must be a string or a list of content blocks.")
    for block in content:
        if not isinstance(block, dict):
            raise _refuse(f"{where}.content blocks must be objects.")
    return content


def _image(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise _refuse(f"{where}: an image block needs a 'source'.")
    kind = source.get("type")
    if kind == "base64":
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str):
            raise _refuse(f"{where}: a base64 image needs 'media_type' and 'data'.")
        url = f"data:{media};base64,{data}"
    elif kind == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise _refuse(f"{where}: image sources must be base64 or url (uploaded files: not here).")
    return input_image(url, where=where)


def _document(block: dict[str, Any], where: str) -> dict[str, Any] | None:
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        return {"type": "input_text", "text": source["data"]}
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        media = source.get("media_type") or "application/pdf"
        name = block.get("title") if isinstance(block.get("title"), str) else "document.pdf"
        return {
            "type": "input_file",
            "filename": name,
            "file_data": f"data:{media};base64,{source['data']}",
        }
    raise _refuse(f"{where}: documents must be base64 or text sources.")


def _user_part(block: dict[str, Any], where: str) -> dict[str, Any] | None:
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return {"type": "input_text", "text": text} if isinstance(text, str) and text else None
    if kind == "image":
        return _image(block, where)
    if kind == "document":
        return _document(block, where)
    return None  # search results, container uploads…: nothing the backend could use


def _tool_output(block: dict[str, Any], where: str) -> str | list[dict[str, Any]]:
    """A ``tool_result``'s content as a function call output: text parts joined by newlines,
    or a list of parts when there are images or documents; ``is_error`` prefixes ``Error:``."""
    content = block.get("content")
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts = [{"type": "input_text", "text": content}] if content else []
    elif isinstance(content, list):
        for n, inner in enumerate(content):
            if isinstance(inner, dict):
                part = _user_part(inner, f"{where}.content[{n}]")
                if part is not None:
                    parts.append(part)
    error = "Error: " if block.get("is_error") else ""
    if all(p["type"] == "input_text" for p in parts):
        return error + "\n".join(p["text"] for p in parts)
    if error:
        parts.insert(0, {"type": "input_text", "text": error.strip()})
    return parts


def _user_items(content: Any, where: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []

    def flush() -> None:
        if parts:
            items.append({"type": "message", "role": "user", "content": list(parts)})
            parts.clear()

    for n, block in enumerate(_blocks(content, where)):
        here = f"{where}.content[{n}]"
        if block.get("type") == "tool_result":
            call_id = block.get("tool_use_id")
            if not isinstance(call_id, str) or not call_id:
                raise _refuse(f"{here}: a tool_result needs 'tool_use_id'.")
            flush()
            output = _tool_output(block, here)
            items.append({"type": "function_call_output", "call_id": call_id, "output": output})
            continue
        part = _user_part(block, here)
        if part is not None:
            parts.append(part)
    flush()
    return items


def _reasoning_item(block: dict[str, Any], model: str) -> dict[str, Any] | None:
    if block.get("type") == "thinking":
        encrypted = open_signature(block.get("signature"), model=model)
        text = block.get("thinking")
    else:
        encrypted = open_signature(block.get("data"), model=model)
        text = None
    if encrypted is None:
        return None
    summary = [{"type": "summary_text", "text": text}] if isinstance(text, str) and text else []
    return {"type": "reasoning", "summary": summary, "encrypted_content": encrypted}


def _assistant_items(content: Any, where: str, model: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []

    def flush() -> None:
        if texts:
            items.append({"type": "message", "role": "assistant", "content": list(texts)})
            texts.clear()

    for n, block in enumerate(_blocks(content, where)):
        kind = block.get("type")
        if kind == "text":
            if isinstance(block.get("text"), str) and block["text"]:
                texts.append({"type": "output_text", "text": block["text"]})
        elif kind == "tool_use":
            name, call_id = block.get("name"), block.get("id")
            if not isinstance(name, str) or not isinstance(call_id, str):
                raise _refuse(f"{where}.content[{n}]: a tool_use needs 'id' and 'name'.")
            flush()
            arguments = block.get("input")
            items.append(
                {
                    "type": "function_call",
                    "call_id": call_id,
                    "name": name,
                    "arguments": json.dumps(arguments if arguments is not None else {}),
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            item = _reasoning_item(block, model)
            if item is not None:
                flush()
                items.append(item)
    flush()
    return items


def _system_text(system: Any) -> str | None:
    """The text of ``system`` blocks, without Claude Code's billing-header line: it is meta
    data for Anthropic, not an instruction, and its version stamp would break prompt caching."""
    if system is None or isinstance(system, str):
        return system or None
    if isinstance(system, list):
        texts = [
            b["text"]
            for b in system
            if isinstance(b, dict)
            and b.get("type") == "text"
            and isinstance(b.get("text"), str)
            and not b["text"].startswith(_BILLING_HEADER)
        ]
        return "\n\n".join(t for t in texts if t) or None
    raise _refuse("'system' must be a string or a list of text blocks.", "system")


def messages_to_input(messages: Any, *, model: str) -> list[dict[str, Any]]:
    """Anthropic ``messages`` as Responses input items (``system`` messages still in place);
    thinking blocks become reasoning items only when they were sealed for ``model``."""
    if not isinstance(messages, list) or not messages:
        raise _refuse("'messages' must be a non-empty list.")
    items: list[dict[str, Any]] = []
    for n, msg in enumerate(messages):
        where = f"messages[{n}]"
        if not isinstance(msg, dict):
            raise _refuse(f"{where} must be an object.")
        role = msg.get("role")
        if role == "user":
            items += _user_items(msg.get("content"), where)
        elif role == "assistant":
            items += _assistant_items(msg.get("content"), where, model)
        elif role == "system":
            text = _system_text(msg.get("content"))
            if text:
                items.append({"type": "message", "role": "system", "content": [_input_text(text)]})
        else:
            raise _refuse(f"{where} has an unknown role {role!r} (user or assistant).")
    return items


def _input_text(text: str) -> dict[str, Any]:
    return {"type": "input_text", "text": text}


# --- tools ---------------------------------------------------------------------------------------


def _web_search_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """Anthropic's ``web_search_…`` server tool as the backend's hosted ``web_search``: its
    ``allowed_domains`` and ``user_location`` carry over; ``max_uses`` and ``blocked_domains``
    have no equivalent."""
    spec: dict[str, Any] = {"type": "web_search"}
    domains = tool.get("allowed_domains")
    if isinstance(domains, list) and domains:
        spec["filters"] = {"allowed_domains": [d for d in domains if isinstance(d, str)]}
    where = tool.get("user_location")
    if isinstance(where, dict):
        keys = ("city", "region", "country", "timezone")
        spec["user_location"] = {
            "type": "approximate",
            **{k: where[k] for k in keys if isinstance(where.get(k), str)},
        }
    return spec


def _tools(
    tools: Any, dropped: list[str], *, web_search: bool
) -> tuple[list[dict[str, Any]], set[str]]:
    """Function tools (and the hosted web search), plus the names of the server tools."""
    if tools is None:
        return [], set()
    if not isinstance(tools, list):
        raise _refuse("'tools' must be a list.", "tools")
    out = []
    server_tools: set[str] = set()
    for n, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _refuse(f"tools[{n}] must be an object.", "tools")
        kind = tool.get("type")
        if kind not in (None, "custom"):
            server_tools.add(str(tool.get("name") or kind))
            if web_search and str(kind).startswith("web_search"):
                out.append(_web_search_tool(tool))
            else:
                dropped.append(f"tools.{kind}")
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise _refuse(f"tools[{n}] needs a 'name'.", "tools")
        out.append(
            function_tool(name, tool.get("input_schema"), description=tool.get("description"))
        )
    return out, server_tools


def _tool_choice(choice: Any) -> tuple[Any, bool]:
    """Anthropic ``tool_choice`` -> (OpenAI-style choice, parallel tool calls allowed)."""
    if choice is None:
        return None, True
    if not isinstance(choice, dict):
        raise _refuse("'tool_choice' must be an object such as {'type': 'auto'}.", "tool_choice")
    parallel = not choice.get("disable_parallel_tool_use")
    kind = choice.get("type")
    if kind in ("auto", "none"):
        return kind, parallel
    if kind == "any":
        return "required", parallel
    if kind == "tool":
        return {"type": "function", "name": choice.get("name")}, parallel
    raise _refuse(f"Unknown tool_choice type {kind!r}: use auto, any, tool or none.", "tool_choice")


# --- thinking ------------------------------------------------------------------------------------


def _nearest(level: str, levels: tuple[str, ...]) -> str | None:
    """``level`` if the model has it, else the model's level closest to it in effort."""
    if not levels:
        return None
    if level in levels:
        return level
    rank = {name: i for i, name in enumerate(_EFFORT_ORDER)}
    want = rank.get(level, rank["medium"])
    known = [lv for lv in levels if lv in rank] or list(levels)
    return min(known, key=lambda lv: (abs(rank.get(lv, want) - want), -rank.get(lv, 0)))


def reasoning_for(
    thinking: Any, output_config: Any, levels: tuple[str, ...]
) -> tuple[str | None, str]:
    """``(reasoning effort or None for the model's default, thinking display)``.

    - ``output_config.effort`` (low, medium, high, max) picks the level, unless thinking is
      disabled; ``max`` is the model's top level;
    - ``enabled`` with ``budget_tokens``: up to 4k low, 16k medium, 32k high, more xhigh;
    - ``adaptive``: the model's default level;
    - ``disabled``: the model's lowest level, no thinking blocks;
    - absent: the model's default level, no thinking blocks (as Anthropic's API).

    The level is always one of ``levels`` (the nearest one); display is ``"shown"`` unless
    ``thinking.display`` is ``"omitted"``.
    """
    spec = thinking if isinstance(thinking, dict) else {}
    kind = spec.get("type")
    effort = output_config.get("effort") if isinstance(output_config, dict) else None
    if kind == "disabled":
        lowest = min(
            levels,
            key=lambda lv: _EFFORT_ORDER.index(lv) if lv in _EFFORT_ORDER else 9,
            default=None,
        )
        return lowest, "off"
    display = "omitted" if spec.get("display") == "omitted" else "shown"
    if kind not in ("enabled", "adaptive"):
        display = "off"
    if isinstance(effort, str) and effort in _EFFORTS:
        return _nearest(_EFFORTS[effort], levels), display
    if kind == "enabled":
        budget = spec.get("budget_tokens")
        level = "xhigh"
        if isinstance(budget, int) and not isinstance(budget, bool):
            level = next((lv for limit, lv in _BUDGETS if budget <= limit), "xhigh")
        return _nearest(level, levels), display
    return None, display


# --- the request ---------------------------------------------------------------------------------


def _stop_sequences(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _refuse("'stop_sequences' must be a list of strings.", "stop_sequences")
    return tuple(s for s in value if s)


def _text_format(output_config: Any) -> dict[str, Any] | None:
    fmt = output_config.get("format") if isinstance(output_config, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise _refuse("'output_config.format.schema' must be a JSON schema.", "output_config")
    return {"type": "json_schema", "name": "output", "schema": schema, "strict": False}


def translate_messages_request(
    body: dict[str, Any],
    *,
    aliases: Mapping[str, str],
    session: str | None = None,
    find_model: Any = None,
) -> MessagesTranslation:
    """A Messages request body as a core request (or :class:`RequestRefused`).

    ``session`` is the client's conversation id when it sends one (Claude Code's
    ``x-claude-code-session-id`` header): it keys the prompt cache. Otherwise the key is
    derived from ``metadata.user_id``, the instructions and the first user message.
    ``find_model(slug)`` gives the catalog entry (for the reasoning levels); default: the
    catalog cache or the built-in list.
    """
    if find_model is None:
        from llm_codex.core.catalog import find_model
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        raise _refuse("'max_tokens' must be a positive integer.", "max_tokens")
    dropped = sorted(k for k in body if k not in _QUIET)
    slug = resolve_model(body.get("model"), aliases)
    items = messages_to_input(body.get("messages"), model=slug)
    instructions, items = split_system(items, _system_text(body.get("system")))
    info = find_model(slug)
    tools, server_tools = _tools(
        body.get("tools"), dropped, web_search=info is None or info.supports_web_search
    )
    choice, parallel = _tool_choice(body.get("tool_choice"))
    if isinstance(choice, dict) and choice.get("name") in server_tools:
        choice = "auto"  # the backend refuses to force a hosted tool
        dropped.append("tool_choice")
    choice, tools, _ = resolve_tool_choice(choice, tools)
    effort, display = reasoning_for(
        body.get("thinking"), body.get("output_config"), info.reasoning_levels if info else ()
    )
    summary = None
    if display == "shown" and (info is None or info.supports_reasoning_summaries):
        summary = "auto"
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    user = metadata.get("user_id")
    request = CodexRequest(
        model=slug,
        input=items,
        instructions=instructions,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        reasoning_effort=effort,
        reasoning_summary=summary,
        text_format=_text_format(body.get("output_config")),
        session_id=derive_session_id(
            explicit=session,
            user=user if isinstance(user, str) else None,
            instructions=instructions,
            input=items,
        ),
    )
    tr = MessagesTranslation(
        request=request,
        stream=bool(body.get("stream")),
        dropped=dropped,
        model=slug,
        thinking=display,
        stop_sequences=_stop_sequences(body.get("stop_sequences")),
        echo_model=str(body.get("model")),
    )
    apply_lite_form(tr, body, find_model=find_model)
    return tr
