"""Request validation for ``POST /responses``, the way the real backend answers (protocol §3.2).

:func:`validate` returns ``None`` for an acceptable body or a :class:`Rejection` (status and JSON
body). Checks run in this order, first failure wins:

1. body is a JSON object, else 400 ``{"detail":"Bad Request"}``;
2. every top-level field is in :data:`ALLOWED_FIELDS`, else 400
   ``{"detail":"Unsupported parameter: <field>"}`` (temperature, top_p, max_output_tokens,
   max_tokens, metadata, previous_response_id, truncation, background, ...);
3. ``stream`` is ``true``, else ``Stream must be set to true``;
4. ``store`` is ``false`` (missing counts as not false), else ``Store must be set to false``;
5. ``instructions`` is a non-empty string (switchable), else ``Instructions are required``;
6. ``model`` is in the catalog, else ``The '<m>' model is not supported when using Codex with a
   ChatGPT account.``;
7. ``input`` is a list of objects;
8. no ``role: "system"`` message, else ``System messages are not allowed``;
9. item ids: see :func:`client_generated_id`; any other ``id`` on an input item answers 404
   ``Item with id '<id>' not found. Items are not persisted when `store` is set to false. ...``
   (the real backend 404s on replayed server ids such as ``rs_…``);
10. every ``function_call_output`` / ``custom_tool_call_output`` has an earlier call with the
    same ``call_id``, else 400 OpenAI-style ``No tool call found for function call output with
    call_id <id>.``;
11. replayed reasoning ``encrypted_content`` must be one the fake issued (when a checker is
    given), else 400 ``invalid_encrypted_content``;
12. shapes: ``include`` values known to the Responses API; every tool has a ``type`` (and a
    ``name`` for function/custom/namespace tools); ``tool_choice`` auto/none/required or an
    object; ``text.format`` of type text/json_schema/json_object, json_schema with ``name`` and
    ``schema`` (400 ``Missing required parameter: '<param>'.``);
13. ``reasoning.effort`` within the model's ``supported_reasoning_levels``; ``reasoning.summary``
    one of auto/concise/detailed/none and only on models with ``supports_reasoning_summaries``;
14. ``text.verbosity`` only on models with ``support_verbosity``, and one of low/medium/high;
15. ``service_tier`` one of the model's ``service_tiers`` ids;
16. images: only on models whose ``input_modalities`` has ``image``; ``detail`` one of
    auto/low/high (+ ``original`` with ``supports_image_detail_original``); a ``data:`` URL must
    hold base64 of a PNG, JPEG, GIF or WEBP image, else ``The image data you provided does not
    represent a valid image...``.

The Responses Lite lane (``responses-lite.md`` §2–§4), for a model whose entry has
``use_responses_lite``, checked right after the model is known (no ``instructions`` needed for a
lite model or a request with the lite header; the CLI sends none):

- without the ``x-openai-internal-codex-responses-lite: true`` header: 404
  ``{"detail": "Model not supported"}`` (as reported for gpt-5.6-luna);
- ``reasoning.context`` missing or not ``all_turns``; a tool (top-level or in the
  ``additional_tools`` item, namespaces included) other than function, custom, namespace or
  tool search; ``parallel_tool_calls: true``; a ``tool_choice`` other than ``auto``: 400
  ``invalid_request_error`` / ``unsupported_value``. The first two messages are the reported
  ones; the last two are this fake's wording (their real text is unknown);
- the ``additional_tools`` item's tools are checked like top-level ones (a nested tool without
  ``type`` → ``Missing required parameter: 'input[0].tools[0].tools[0].type'.``).

For every model: a replayed ``function_call`` whose ``call_id`` this fake issued with a
``namespace`` must carry it, else 400 ``Missing namespace for function_call 'NAME'. ...``.

The id rule (decision, documented): Codex CLI 0.169.0 sends client-generated message ids of the
form ``msg_<UUID>`` (``msg_01a21287-b1ee-75e1-9701-95c13a8ffcd4``), and its requests work; server
ids are ``<prefix>_<hex>`` without dashes (``rs_68ab…``, ``msg_68ab…``, ``fc_…``). So an ``id``
is accepted only on a ``message`` item and only in the ``msg_<8-4-4-4-12 hex UUID>`` form; every
other ``id`` on any input item is treated as a replayed server id and answered with the 404.
The lite ``additional_tools`` item may carry the CLI's ``at_<UUID>`` id.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llm_codex.testing.catalog import model_by_slug

__all__ = [
    "ALLOWED_FIELDS",
    "INCLUDE_VALUES",
    "LITE_HEADER",
    "Rejection",
    "client_generated_id",
    "validate",
]

#: The request header of the Responses Lite lane (value ``true``).
LITE_HEADER = "x-openai-internal-codex-responses-lite"
_LITE_TOOL_TYPES = frozenset({"function", "custom", "namespace", "tool_search"})
_LITE = "X-OpenAI-Internal-Codex-Responses-Lite"

#: Top-level body fields the backend accepts (protocol §3). ``stream_options`` and
#: ``prompt_cache_options`` are in the 0.169.0 binary, so they are tolerated too.
ALLOWED_FIELDS = frozenset(
    {
        "model",
        "stream",
        "input",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "store",
        "include",
        "prompt_cache_key",
        "text",
        "client_metadata",
        "instructions",
        "service_tier",
        "stream_options",
        "prompt_cache_options",
    }
)

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_CLIENT_MSG_ID = re.compile(r"^msg_" + _UUID)
_CLIENT_TOOLS_ID = re.compile(r"^at_" + _UUID)
#: ``include`` values the Responses API knows.
INCLUDE_VALUES = frozenset(
    {
        "reasoning.encrypted_content",
        "message.output_text.logprobs",
        "message.input_image.image_url",
        "web_search_call.action.sources",
        "web_search_call.results",
        "code_interpreter_call.outputs",
        "computer_call_output.output.image_url",
        "file_search_call.results",
    }
)
_TOOL_CHOICES = {"auto", "none", "required"}
_SUMMARIES = {"auto", "concise", "detailed", "none"}
_VERBOSITIES = {"low", "medium", "high"}
_DETAILS = {"auto", "low", "high"}
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


@dataclass(frozen=True)
class Rejection:
    """An error answer: HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


def _detail(text: str, status: int = 400) -> Rejection:
    return Rejection(status, {"detail": text})


def _openai(message: str, *, param: str | None, code: str | None, status: int = 400) -> Rejection:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return Rejection(status, {"error": error})


def client_generated_id(item: dict[str, Any]) -> bool:
    """Whether an input item's ``id`` is the Codex CLI's client-generated ``msg_<UUID>`` form."""
    item_id = item.get("id")
    if not isinstance(item_id, str):
        return False
    kind = item.get("type", "message")
    if kind == "additional_tools":
        return bool(_CLIENT_TOOLS_ID.match(item_id))
    return kind == "message" and bool(_CLIENT_MSG_ID.match(item_id))


def _content_ok(content: Any) -> bool:
    if isinstance(content, str):
        return True
    if not isinstance(content, list):
        return False
    for part in content:
        if not isinstance(part, dict):
            return False
        if part.get("type") in ("input_text", "output_text") and not isinstance(
            part.get("text"), str
        ):
            return False
    return True


def _missing(param: str) -> Rejection:
    return _openai(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _check_tools(tools: Any, prefix: str = "tools") -> Rejection | None:
    if not isinstance(tools, list):
        return _openai(
            f"Invalid type for '{prefix}': expected an array.", param=prefix, code="invalid_type"
        )
    for index, tool in enumerate(tools):
        where = f"{prefix}[{index}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            return _missing(f"{where}.type")
        if tool["type"] in ("function", "custom", "namespace") and not isinstance(
            tool.get("name"), str
        ):
            return _missing(f"{where}.name")
        if tool["type"] == "namespace":
            nested = _check_tools(tool.get("tools"), f"{where}.tools")
            if nested is not None:
                return nested
    return None


def _check_shapes(body: dict[str, Any]) -> Rejection | None:
    """``include`` values, ``tools`` definitions, ``tool_choice`` and ``text.format``."""
    include = body.get("include")
    if include is not None:
        if not isinstance(include, list):
            return _openai(
                "Invalid type for 'include': expected an array.",
                param="include",
                code="invalid_type",
            )
        for value in include:
            if value not in INCLUDE_VALUES:
                return _openai(
                    f"Invalid value: '{value}'. Supported values are: "
                    f"{_quote_list(sorted(INCLUDE_VALUES))}.",
                    param="include",
                    code="invalid_value",
                )
    if body.get("tools") is not None:
        problem = _check_tools(body["tools"])
        if problem is not None:
            return problem
    choice = body.get("tool_choice")
    if choice is not None and not isinstance(choice, dict) and choice not in _TOOL_CHOICES:
        return _openai(
            f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
            param="tool_choice",
            code="invalid_value",
        )
    text = body.get("text")
    if text is not None and not isinstance(text, dict):
        return _openai(
            "Invalid type for 'text': expected an object.", param="text", code="invalid_type"
        )
    fmt = (text or {}).get("format")
    if fmt is not None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind not in ("text", "json_schema", "json_object"):
            return _openai(
                f"Invalid value: '{kind}'. Supported values are: 'text', 'json_schema', and "
                "'json_object'.",
                param="text.format.type",
                code="invalid_value",
            )
        if kind == "json_schema":
            if not isinstance(fmt.get("name"), str) or not fmt["name"]:
                return _missing("text.format.name")
            if not isinstance(fmt.get("schema"), dict):
                return _missing("text.format.schema")
    return None


def _quote_list(values: list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _valid_image_data(url: str) -> bool:
    match = re.match(r"^data:([\w/+.-]*)(;[^,]*)?,(.*)$", url, re.DOTALL)
    if not match or "base64" not in (match.group(2) or ""):
        return False
    try:
        data = base64.b64decode(match.group(3), validate=True)
    except (binascii.Error, ValueError):
        return False
    if data.startswith(_IMAGE_MAGIC):
        return True
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def _check_images(items: list[dict[str, Any]], model: dict[str, Any]) -> Rejection | None:
    allows_original = bool(model.get("supports_image_detail_original"))
    modalities = model.get("input_modalities") or ["text", "image"]
    for item in items:
        parts = item.get("content")
        if item.get("type") == "function_call_output" and isinstance(item.get("output"), list):
            parts = item["output"]
        if not isinstance(parts, list):
            continue
        for part in parts:
            if not isinstance(part, dict) or part.get("type") != "input_image":
                continue
            if "image" not in modalities:
                return _openai(
                    f"The '{model['slug']}' model does not support image inputs.",
                    param="input",
                    code="unsupported_value",
                )
            detail = part.get("detail", "auto")
            allowed = _DETAILS | ({"original"} if allows_original else set())
            if detail not in allowed:
                return _openai(
                    f"Invalid value: '{detail}'. Supported values are: "
                    f"{_quote_list(sorted(allowed))}.",
                    param="input[].content[].detail",
                    code="invalid_value",
                )
            url = part.get("image_url")
            if isinstance(url, dict):
                url = url.get("url")
            if not isinstance(url, str) or (url.startswith("data:") and not _valid_image_data(url)):
                return _openai(
                    "The image data you provided does not represent a valid image. Please check "
                    "your input and try again with one of the supported image formats: "
                    "['image/jpeg', 'image/png', 'image/gif', 'image/webp'].",
                    param="input",
                    code="invalid_value",
                )
    return None


def _unsupported(message: str, param: str) -> Rejection:
    return _openai(message, param=param, code="unsupported_value")


def _lane_tools(tools: list[Any]) -> bool:
    """Whether every tool (namespaces looked into) is one the lite lane accepts."""
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") not in _LITE_TOOL_TYPES:
            return False
        if tool["type"] == "namespace" and not _lane_tools(tool.get("tools") or []):
            return False
    return True


def _check_lite_lane(body: dict[str, Any], *, header: bool) -> Rejection | None:
    """The Responses Lite lane's refusals (module docstring)."""
    if not header:
        return _detail("Model not supported", 404)
    reasoning = body.get("reasoning")
    if not isinstance(reasoning, dict) or reasoning.get("context") != "all_turns":
        return _unsupported(f"{_LITE} requires `reasoning.context` to be `all_turns`.", "reasoning")
    tools = list(body.get("tools") or []) if isinstance(body.get("tools"), list) else []
    for index, item in enumerate(body.get("input") or []):
        if item.get("type") == "additional_tools":
            problem = _check_tools(item.get("tools"), f"input[{index}].tools")
            if problem is not None:
                return problem
            tools.extend(item["tools"])
    if not _lane_tools(tools):
        return _unsupported(
            f"{_LITE} only supports function tools, custom tools, and client-executed tool search.",
            "tools",
        )
    if body.get("parallel_tool_calls") is True:
        return _unsupported(
            f"{_LITE} does not support `parallel_tool_calls`.", "parallel_tool_calls"
        )
    if body.get("tool_choice") not in (None, "auto"):
        return _unsupported(f"{_LITE} only supports `tool_choice` `auto`.", "tool_choice")
    return None


def _missing_namespace(
    item: dict[str, Any], issued: Callable[[str], str | None]
) -> Rejection | None:
    call_id = item.get("call_id")
    namespace = issued(call_id) if isinstance(call_id, str) else None
    if namespace is None or item.get("namespace") == namespace:
        return None
    return _openai(
        f"Missing namespace for function_call '{item.get('name')}'. It does not exist in the "
        "default namespace. Round-trip the model's function_call item with its namespace field "
        "included.",
        param="input",
        code=None,
    )


def validate(
    body: Any,
    *,
    models: list[dict[str, Any]],
    require_instructions: bool = True,
    known_encrypted: Callable[[str], bool] | None = None,
    allowed_fields: frozenset[str] = ALLOWED_FIELDS,
    lite_header: bool = False,
    issued_namespace: Callable[[str], str | None] | None = None,
) -> Rejection | None:
    """Judge a ``/responses`` body; ``None`` means acceptable. See the module docstring.

    ``lite_header``: whether the request carried the Responses Lite header.
    ``issued_namespace``: the namespace this fake gave a call id (``None``: none).
    """
    if not isinstance(body, dict):
        return _detail("Bad Request")
    for name in body:
        if name not in allowed_fields:
            return _detail(f"Unsupported parameter: {name}")
    if body.get("stream") is not True:
        return _detail("Stream must be set to true")
    if body.get("store") is not False:
        return _detail("Store must be set to false")
    slug = body.get("model")
    model = model_by_slug(models, slug) if isinstance(slug, str) else None
    lite = bool(model and model.get("use_responses_lite"))
    instructions = body.get("instructions")
    if (
        require_instructions
        and not (lite or lite_header)  # the lite lane takes the system prompt in ``input``
        and (not isinstance(instructions, str) or not instructions.strip())
    ):
        return _detail("Instructions are required")
    if model is None:
        return _detail(
            f"The '{slug}' model is not supported when using Codex with a ChatGPT account."
        )
    items = body.get("input")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return _openai(
            "Invalid type for 'input': expected a list of input items.",
            param="input",
            code="invalid_type",
        )
    if lite:
        lane = _check_lite_lane(body, header=lite_header)
        if lane is not None:
            return lane
    seen_calls: set[str] = set()
    for item in items:
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") == "system":
            return _detail("System messages are not allowed")
        if kind == "message" and not _content_ok(item.get("content")):
            return _openai(
                "Invalid value for 'input[].content': expected a string or a list of content "
                "parts whose 'text' is a string.",
                param="input",
                code="invalid_type",
            )
        if "id" in item and item["id"] is not None and not client_generated_id(item):
            return _openai(
                f"Item with id '{item['id']}' not found. Items are not persisted when `store` is "
                "set to false. Try again with `store` set to true, or remove this item from your "
                "input.",
                param="input",
                code=None,
                status=404,
            )
        if kind in ("function_call", "custom_tool_call", "local_shell_call"):
            if isinstance(item.get("call_id"), str):
                seen_calls.add(item["call_id"])
            if kind == "function_call" and issued_namespace is not None:
                dropped = _missing_namespace(item, issued_namespace)
                if dropped is not None:
                    return dropped
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = item.get("call_id")
            if call_id not in seen_calls:
                return _openai(
                    f"No tool call found for function call output with call_id {call_id}.",
                    param="input",
                    code=None,
                )
        elif kind == "reasoning":
            encrypted = item.get("encrypted_content")
            if encrypted is not None and known_encrypted is not None:
                if not isinstance(encrypted, str) or not known_encrypted(encrypted):
                    return _openai(
                        "The encrypted content could not be verified. Reason: Encrypted content "
                        "could not be decrypted or parsed.",
                        param=None,
                        code="invalid_encrypted_content",
                    )
    shape = _check_shapes(body)
    if shape is not None:
        return shape
    reasoning = body.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, dict):
            return _openai(
                "Invalid type for 'reasoning': expected an object.",
                param="reasoning",
                code="invalid_type",
            )
        levels = [lv.get("effort") for lv in model.get("supported_reasoning_levels") or []]
        effort = reasoning.get("effort")
        if effort is not None and effort not in levels:
            return _openai(
                f"Unsupported value: 'reasoning.effort' does not support '{effort}' with this "
                f"model. Supported values are: {_quote_list(levels)}.",
                param="reasoning.effort",
                code="unsupported_value",
            )
        summary = reasoning.get("summary")
        if summary is not None:
            if summary not in _SUMMARIES:
                return _openai(
                    f"Invalid value: '{summary}'. Supported values are: "
                    f"{_quote_list(sorted(_SUMMARIES))}.",
                    param="reasoning.summary",
                    code="invalid_value",
                )
            if summary != "none" and not model.get("supports_reasoning_summaries"):
                return _openai(
                    "Unsupported parameter: 'reasoning.summary' is not supported with this model.",
                    param="reasoning.summary",
                    code="unsupported_parameter",
                )
    text = body.get("text")
    if isinstance(text, dict) and text.get("verbosity") is not None:
        verbosity = text["verbosity"]
        if not model.get("support_verbosity"):
            return _openai(
                "Unsupported parameter: 'text.verbosity' is not supported with this model.",
                param="text.verbosity",
                code="unsupported_parameter",
            )
        if verbosity not in _VERBOSITIES:
            return _openai(
                f"Invalid value: '{verbosity}'. Supported values are: 'low', 'medium', and 'high'.",
                param="text.verbosity",
                code="invalid_value",
            )
    tier = body.get("service_tier")
    if tier is not None:
        tiers = [t.get("id") for t in model.get("service_tiers") or [] if isinstance(t, dict)]
        if tier not in tiers:
            return _openai(
                f"Unsupported value: 'service_tier' does not support '{tier}' with this model.",
                param="service_tier",
                code="unsupported_value",
            )
    return _check_images(items, model)
