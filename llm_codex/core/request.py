"""The request we send to ``POST /responses``: body from an allow-list, and the headers.

Only the fields of protocol §3 can ever leave this module: ``build_body`` copies named fields of a
:class:`~llm_codex.core.types.CodexRequest` into a fresh dict, so an option the backend rejects
(``temperature``, ``max_output_tokens`` …) has no way in. Input items are copied with their
top-level ``id`` removed (``store`` is false, so replayed server ids fail with 404) and any
``role: "system"`` message is sent as a ``developer`` message (system items are rejected).
A request for a Responses Lite model takes the lite form of :mod:`llm_codex.core.lite`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from llm_codex import config
from llm_codex.core import identity
from llm_codex.core.errors import ConfigurationError
from llm_codex.core.lite import LITE_HEADER, lite_input, lite_refusal
from llm_codex.core.types import CodexRequest, Credentials

__all__ = [
    "ALLOWED_BODY_KEYS",
    "DEFAULT_INSTRUCTIONS",
    "ENCRYPTED_REASONING",
    "build_body",
    "build_get_headers",
    "build_headers",
    "clean_input",
    "derive_session_id",
    "encode_body",
    "reasoning_of",
    "session_id_for",
]

#: Sent as ``instructions`` when the caller has no system prompt (the backend requires one).
DEFAULT_INSTRUCTIONS = "You are a helpful assistant."
#: The ``include`` value that makes reasoning items carry ``encrypted_content`` for replay.
ENCRYPTED_REASONING = "reasoning.encrypted_content"
#: Every key :func:`build_body` may produce (protocol §3 and §13.1).
ALLOWED_BODY_KEYS = frozenset(
    {
        "model",
        "instructions",
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
        "service_tier",
    }
)


def clean_input(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``items`` without a top-level ``id``, with ``system`` messages as ``developer``.

    The caller's dicts are never modified; nested values are shared, not copied.
    """
    cleaned: list[dict[str, Any]] = []
    for item in items:
        copy = {k: v for k, v in item.items() if k != "id"}
        if copy.get("role") == "system":
            copy["role"] = "developer"
        cleaned.append(copy)
    return cleaned


def derive_session_id(
    *,
    instructions: str | None,
    input: list[dict[str, Any]],
    explicit: str | None = None,
    user: str | None = None,
) -> str:
    """The conversation UUID sent as ``session-id`` and ``prompt_cache_key``: the one rule of
    every face (protocol §2.1).

    An ``explicit`` key wins: a UUID is used as is, any other string maps to a fixed UUID.
    Otherwise the id is a hash of the end ``user``, the instructions and the content of the
    first user message. Every turn of a conversation replays those, so the key is stable across
    the conversation, and a repeated one-off prompt hits the prompt cache too (the ``llm`` CLI
    opens a new conversation for every prompt, so its conversation id would not do). Two
    conversations that start alike share a key, which is what prompt caching wants.
    """
    if explicit:
        try:
            return str(uuid.UUID(explicit))
        except ValueError:
            return _uuid_of("key:" + explicit)
    first_user: Any = None
    for item in input:
        if item.get("type", "message") == "message" and item.get("role") == "user":
            first_user = item.get("content")
            break
    return _uuid_of(
        json.dumps([user or "", instructions or "", first_user], sort_keys=True, default=str)
    )


def _uuid_of(material: str) -> str:
    """A version-4-shaped UUID made of the SHA-256 of ``material``."""
    digest = hashlib.sha256(material.encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def session_id_for(req: CodexRequest) -> str:
    """The conversation id of ``req``: its ``session_id``, else :func:`derive_session_id`."""
    if req.session_id:
        return req.session_id
    return derive_session_id(instructions=req.instructions, input=req.input)


def reasoning_of(req: CodexRequest) -> dict[str, Any]:
    """The ``reasoning`` object both routes send: ``effort`` and ``summary`` where ``req`` sets
    them (empty: send no ``reasoning`` at all)."""
    reasoning: dict[str, Any] = {}
    if req.reasoning_effort is not None:
        reasoning["effort"] = req.reasoning_effort
    if req.reasoning_summary is not None:
        reasoning["summary"] = req.reasoning_summary
    return reasoning


def build_body(req: CodexRequest) -> dict[str, Any]:
    """The JSON body for ``POST /responses``, built from an allow-list (protocol §3, §13.1).

    Always: ``model``, a non-empty ``instructions``, ``stream: true``, ``input`` (cleaned by
    :func:`clean_input`), ``tools`` (possibly empty), ``tool_choice``, ``parallel_tool_calls``,
    ``store: false`` and ``prompt_cache_key``. Only when set: ``reasoning`` (with only the keys
    that are set), ``include`` (encrypted reasoning, when reasoning is sent or
    ``include_encrypted_reasoning`` is true), ``text`` (``verbosity`` and/or ``format``) and
    ``service_tier``.

    With ``req.responses_lite`` (``responses-lite.md`` §2): no ``instructions`` and no ``tools``
    (both move into ``input``, see :func:`~llm_codex.core.lite.lite_input`),
    ``parallel_tool_calls: false`` and ``reasoning.context: "all_turns"``, always; a request the
    lane refuses raises :class:`~llm_codex.core.errors.ConfigurationError` instead.
    """
    lite = req.responses_lite
    if lite:
        refusal = lite_refusal(req)
        if refusal:
            raise ConfigurationError(refusal)
    instructions = req.instructions if req.instructions and req.instructions.strip() else None
    body: dict[str, Any] = {"model": req.model}
    if lite:
        body["stream"] = True
        body["input"] = lite_input(
            clean_input(req.input),
            tools=list(req.tools),
            instructions=instructions or DEFAULT_INSTRUCTIONS,
        )
    else:
        body["instructions"] = instructions or DEFAULT_INSTRUCTIONS
        body["stream"] = True
        body["input"] = clean_input(req.input)
        body["tools"] = list(req.tools)
    body["tool_choice"] = req.tool_choice
    body["parallel_tool_calls"] = False if lite else bool(req.parallel_tool_calls)
    reasoning = reasoning_of(req)
    if lite:
        reasoning["context"] = "all_turns"
    if reasoning:
        body["reasoning"] = reasoning
    body["store"] = False
    if reasoning or req.include_encrypted_reasoning:
        body["include"] = [ENCRYPTED_REASONING]
    body["prompt_cache_key"] = session_id_for(req)
    text: dict[str, Any] = {}
    if req.verbosity is not None:
        text["verbosity"] = req.verbosity
    if req.text_format is not None:
        text["format"] = req.text_format
    if text:
        body["text"] = text
    if req.service_tier is not None:
        body["service_tier"] = req.service_tier
    return body


def encode_body(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the body is sent on the wire."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _auth_headers(creds: Credentials) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {creds.access_token}"}
    if creds.account_id:
        headers["chatgpt-account-id"] = creds.account_id
    headers.update(identity.base_headers())
    headers["version"] = config.client_version()
    return headers


def build_headers(
    creds: Credentials,
    *,
    session_id: str,
    turn_state: str | None = None,
    responses_lite: bool = False,
) -> dict[str, str]:
    """Headers for ``POST /responses`` (protocol §2.1, §13.2), and nothing else.

    ``Authorization``, ``chatgpt-account-id`` (when known), ``originator`` and ``User-Agent``
    (our own identity), ``version`` (the protocol version we speak: ``LLM_CODEX_CLIENT_VERSION``,
    ``responses-lite.md`` §5), ``Accept: text/event-stream``, ``Content-Type: application/json``,
    and the conversation id as ``session-id``, ``thread-id`` and ``x-client-request-id``.
    ``x-codex-turn-state`` is echoed when the server sent one earlier in the same turn;
    ``x-openai-internal-codex-responses-lite: true`` is sent for a Responses Lite model.
    """
    headers = _auth_headers(creds)
    headers["Accept"] = "text/event-stream"
    headers["Content-Type"] = "application/json"
    headers["session-id"] = session_id
    headers["thread-id"] = session_id
    headers["x-client-request-id"] = session_id
    if turn_state:
        headers["x-codex-turn-state"] = turn_state
    if responses_lite:
        headers[LITE_HEADER] = "true"
    return headers


def build_get_headers(creds: Credentials) -> dict[str, str]:
    """Headers for authenticated ``GET`` requests (catalog, usage; protocol §2.2, §2.3), with
    ``version`` as on ``POST /responses``."""
    headers = _auth_headers(creds)
    headers["Accept"] = "*/*"
    return headers
