"""Translate llm's ``prompt.messages`` into the backend's ``instructions`` and ``input`` items.

``prompt.messages`` is the only source of history (never ``conversation.responses``). Rules:

- System messages before the first other message become ``instructions`` (several are joined
  with a blank line). A system message later in the chain becomes a ``developer`` message in
  its place, so no instruction is lost and none moves. ``role: "system"`` never reaches
  ``input``.
- User text and images → one ``message`` with ``input_text`` / ``input_image`` parts, in order.
  Images are always sent inline as ``data:`` URLs (URL attachments are fetched by llm's own
  client first); see :func:`image_part` for the accepted types and the size limit.
- Assistant text → ``message`` with ``output_text`` (and the ``phase`` the server gave it, kept
  in the text part's metadata). Assistant attachments are not replayed.
- Reasoning parts carrying our ``encrypted_content`` → ``{"type": "reasoning", "summary",
  "encrypted_content"}`` (no id) at their place, i.e. before the output they belonged to.
  Reasoning without our metadata (an old transcript, another provider) is dropped.
- Tool calls → ``function_call`` (``arguments`` as a JSON string, ``namespace`` echoed);
  tool results → ``function_call_output`` (an array of parts when the result has images).
  Server-executed calls and results are skipped.
- Pairing (the backend rejects an output without its call, and expects every call answered):
  a result whose call is not earlier in the chain is sent as user text instead; a call that
  never got a result is answered with ``"The tool call was not executed."``.
- No item carries an ``id``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from llm.parts import (
    AttachmentPart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

from llm_codex.core.errors import ConfigurationError

__all__ = [
    "IMAGE_TYPES",
    "MAX_IMAGE_BYTES",
    "METADATA_KEY",
    "NOT_EXECUTED",
    "build_input",
    "image_part",
]

#: provider_metadata namespace for what we must replay (encrypted reasoning, call namespaces).
METADATA_KEY = "openai-codex"
#: Suffix of the namespace under which reasoning items that showed nothing ride on the part
#: that followed them (a list of ``{"summary", "encrypted_content"}``), replayed before it.
CARRIED_SUFFIX = "/reasoning-before"

#: Image types the backend accepts, and the magic bytes that identify them.
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")

#: Largest image we send, in bytes before base64 (OpenAI's documented per-image limit).
MAX_IMAGE_BYTES = 20 * 1024 * 1024

#: The output sent for a tool call that never got a result.
NOT_EXECUTED = "The tool call was not executed."


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _describe(attachment: Any) -> str:
    return str(attachment.path or attachment.url or "the attached content")


def image_part(
    attachment: Any, *, detail: str | None, allowed: frozenset[str], model_name: str
) -> dict[str, Any]:
    """An ``input_image`` part with a ``data:`` URL for an llm Attachment.

    Accepted: PNG, JPEG, WEBP and GIF (the type llm reports, confirmed from the bytes), at most
    :data:`MAX_IMAGE_BYTES` (20 MiB) each. Anything else raises ConfigurationError.
    """
    if not allowed:
        raise ConfigurationError(f"{model_name} does not accept images or other attachments.")
    try:
        declared = attachment.resolve_type()
        data = attachment.content_bytes()
    except ConfigurationError:
        raise
    except Exception as exc:  # httpx2 errors, missing files: one clear sentence
        raise ConfigurationError(
            f"Could not read the attachment {_describe(attachment)}: {exc}"
        ) from exc
    if declared not in allowed:
        accepted = ", ".join(sorted(allowed))
        raise ConfigurationError(
            f"Attachments of type {declared or 'unknown'!s} are not supported by {model_name}; "
            f"it accepts {accepted}."
        )
    if not data:
        raise ConfigurationError(f"The attachment {_describe(attachment)} is empty.")
    if len(data) > MAX_IMAGE_BYTES:
        size_mb = len(data) / (1024 * 1024)
        raise ConfigurationError(
            f"The image {_describe(attachment)} is {size_mb:.1f} MiB, over the "
            f"{MAX_IMAGE_BYTES // (1024 * 1024)} MiB limit for images llm-codex sends."
        )
    actual = _sniff(data)
    if actual is None or actual not in allowed:
        raise ConfigurationError(
            f"The attachment {_describe(attachment)} is not a valid PNG, JPEG, WEBP or GIF image."
        )
    url = f"data:{actual};base64,{base64.b64encode(data).decode('ascii')}"
    part: dict[str, Any] = {"type": "input_image", "image_url": url}
    if detail:
        part["detail"] = detail
    return part


@dataclass
class _Builder:
    detail: str | None
    allowed: frozenset[str]
    model_name: str
    items: list[dict[str, Any]] = field(default_factory=list)
    _role: str | None = None
    _content: list[dict[str, Any]] = field(default_factory=list)
    _phase: str | None = None

    def text(self, role: str, text: str, *, phase: Any = None) -> None:
        if not text:
            return
        kind = "output_text" if role == "assistant" else "input_text"
        phase = phase if role == "assistant" and phase in ("commentary", "final_answer") else None
        if phase and self._phase and phase != self._phase:
            self.flush()  # a preamble and the final answer stay separate messages
        self._open(role)
        self._content.append({"type": kind, "text": text})
        if phase:
            self._phase = phase

    def image(self, attachment: Any) -> None:
        part = image_part(
            attachment, detail=self.detail, allowed=self.allowed, model_name=self.model_name
        )
        self._open("user")
        self._content.append(part)

    def _open(self, role: str) -> None:
        if self._role != role:
            self.flush()
            self._role = role

    def flush(self) -> None:
        if self._role and self._content:
            message = {"type": "message", "role": self._role, "content": self._content}
            if self._phase:
                message["phase"] = self._phase
            self.items.append(message)
        self._role = None
        self._content = []
        self._phase = None

    def add(self, item: dict[str, Any]) -> None:
        self.flush()
        self.items.append(item)


def _ours(part: Any) -> dict[str, Any]:
    meta = getattr(part, "provider_metadata", None) or {}
    ours = meta.get(METADATA_KEY) if isinstance(meta, dict) else None
    return ours if isinstance(ours, dict) else {}


def _carried_reasoning(part: Any) -> list[dict[str, Any]]:
    """Reasoning metadata carried by ``part`` (see :data:`CARRIED_SUFFIX`)."""
    meta = getattr(part, "provider_metadata", None) or {}
    carried = meta.get(METADATA_KEY + CARRIED_SUFFIX) if isinstance(meta, dict) else None
    return [c for c in carried if isinstance(c, dict)] if isinstance(carried, list) else []


def _reasoning_item(ours: dict[str, Any]) -> dict[str, Any] | None:
    """The replayed reasoning input item (no id) for our metadata, or None without a blob."""
    encrypted = ours.get("encrypted_content")
    if not (isinstance(encrypted, str) and encrypted):
        return None
    summary = ours.get("summary")
    return {
        "type": "reasoning",
        "summary": list(summary) if isinstance(summary, list) else [],
        "encrypted_content": encrypted,
    }


def _arguments_json(arguments: Any) -> str:
    if isinstance(arguments, dict) and set(arguments) == {"_raw"}:
        raw = arguments["_raw"]
        if isinstance(raw, str):
            return raw
    return json.dumps(arguments if arguments is not None else {})


def _tool_output(part: ToolResultPart, builder: _Builder) -> str | list[dict[str, Any]]:
    text = part.output if isinstance(part.output, str) else json.dumps(part.output)
    if not text and part.exception:
        text = f"Error: {part.exception}"
    if not part.attachments:
        return text
    parts: list[dict[str, Any]] = []
    if text:
        parts.append({"type": "input_text", "text": text})
    for attachment in part.attachments:
        parts.append(
            image_part(
                attachment,
                detail=builder.detail,
                allowed=builder.allowed,
                model_name=builder.model_name,
            )
        )
    return parts


def build_input(
    messages: list[Message],
    *,
    image_detail: str | None = None,
    allowed_images: frozenset[str] = frozenset(IMAGE_TYPES),
    model_name: str = "this model",
) -> tuple[str | None, list[dict[str, Any]]]:
    """``(instructions, input_items)`` for ``messages`` (see the module docstring)."""
    instructions: list[str] = []
    builder = _Builder(detail=image_detail, allowed=allowed_images, model_name=model_name)
    leading = True
    for message in messages:
        role = message.role
        if role == "system":
            text = "".join(p.text for p in message.parts if isinstance(p, TextPart)).strip()
            if not text:
                continue
            if leading:
                if text not in instructions:
                    instructions.append(text)
            elif text not in instructions:
                builder.add(
                    {
                        "type": "message",
                        "role": "developer",
                        "content": [{"type": "input_text", "text": text}],
                    }
                )
            continue
        leading = False
        text_role = "assistant" if role == "assistant" else "user"
        for part in message.parts:
            for carried in _carried_reasoning(part):
                item = _reasoning_item(carried)
                if item is not None:
                    builder.add(item)
            if isinstance(part, TextPart):
                builder.text(text_role, part.text, phase=_ours(part).get("phase"))
            elif isinstance(part, AttachmentPart):
                if part.attachment is not None and role != "assistant":
                    builder.image(part.attachment)
            elif isinstance(part, ReasoningPart):
                item = _reasoning_item(_ours(part))
                if item is not None:
                    builder.add(item)
            elif isinstance(part, ToolCallPart):
                if part.server_executed or not part.tool_call_id:
                    continue
                call: dict[str, Any] = {
                    "type": "function_call",
                    "call_id": part.tool_call_id,
                    "name": part.name,
                    "arguments": _arguments_json(part.arguments),
                }
                namespace = _ours(part).get("namespace")
                if isinstance(namespace, str) and namespace:
                    call["namespace"] = namespace
                builder.add(call)
            elif isinstance(part, ToolResultPart):
                if part.server_executed:
                    continue
                builder.add(
                    {
                        "type": "function_call_output",
                        "call_id": part.tool_call_id,
                        "output": _tool_output(part, builder),
                        "_name": part.name,
                    }
                )
        builder.flush()
    builder.flush()
    joined = "\n\n".join(instructions) or None
    return joined, _pair_calls(builder.items)


def _pair_calls(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make every output follow its call and every call have an output (module docstring)."""
    calls_so_far: set[str] = set()
    answered: set[str] = set()
    valid: list[bool] = []
    for item in items:
        if item["type"] == "function_call":
            calls_so_far.add(item["call_id"])
        elif item["type"] == "function_call_output":
            ok = item["call_id"] in calls_so_far and item["call_id"] not in answered
            if ok:
                answered.add(item["call_id"])
            valid.append(ok)
    valid_iter = iter(valid)
    emitted_calls: set[str] = set()
    out: list[dict[str, Any]] = []
    for item in items:
        kind = item["type"]
        if kind == "function_call":
            if item["call_id"] in emitted_calls:
                continue  # a repeated call id: the first one stands
            emitted_calls.add(item["call_id"])
            out.append(item)
            if item["call_id"] not in answered:
                out.append(
                    {
                        "type": "function_call_output",
                        "call_id": item["call_id"],
                        "output": NOT_EXECUTED,
                    }
                )
        elif kind == "function_call_output":
            name = item.pop("_name", None) or "a tool"
            if next(valid_iter):
                out.append(item)
                continue
            output = item["output"]
            content: list[dict[str, Any]] = [{"type": "input_text", "text": f"Result of {name}:"}]
            if isinstance(output, list):
                content.extend(output)
            else:
                content[0]["text"] += f"\n{output}"
            out.append({"type": "message", "role": "user", "content": content})
        else:
            out.append(item)
    return out
