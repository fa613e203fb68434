"""Deciding what one accepted turn contains: items, terminal outcome, usage, reasoning blobs.

:class:`TurnPlanner` turns a validated request body and an optional queued :class:`Scenario`
into a :class:`~llm_codex.testing.streams.TurnPlan`. It also owns two pieces of state that span
turns: the ``encrypted_content`` strings it minted (so replays can be recognised) and, per
``prompt_cache_key``, the last request's prefix (so repeated prefixes report cached tokens).

Default answer: ``"Hello from the fake Codex backend. You said: <last user input_text>"``; when
the request asks for structured output (``text.format.type == "json_schema"``) the default
answer is instead a minimal JSON document that satisfies the schema.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from llm_codex.testing.streams import (
    FunctionCallSpec,
    ImageSpec,
    MessageSpec,
    ReasoningSpec,
    TurnPlan,
    WebSearchSpec,
    new_id,
    response_object,
    split_text,
)
from llm_codex.testing.tokens import b64url
from llm_codex.testing.usage import estimate_tokens

__all__ = ["DEFAULT_SUMMARY", "Scenario", "TurnPlanner", "example_for_schema", "last_user_text"]

DEFAULT_SUMMARY = "**Reading the request**\n\nThe user wants a friendly reply."


@dataclass
class Scenario:
    """One queued instruction for the next accepted ``/responses`` request."""

    kind: str
    params: dict[str, Any]


def last_user_text(items: list[dict[str, Any]]) -> str:
    """The ``input_text`` parts of the last user message, joined by newlines."""
    for item in reversed(items):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            texts = [
                str(p.get("text", ""))
                for p in content or []
                if isinstance(p, dict) and p.get("type") == "input_text"
            ]
            return "\n".join(texts)
    return ""


def offered_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every tool the request offers: top-level ``tools`` and the Responses Lite
    ``additional_tools`` input item's."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            tools.extend(t for t in item.get("tools") or [] if isinstance(t, dict))
    return tools


def namespace_of(body: dict[str, Any], name: str) -> str | None:
    """The namespace the request offers the tool ``name`` in (``None``: not in a namespace)."""
    for tool in offered_tools(body):
        if tool.get("type") == "namespace" and any(
            isinstance(t, dict) and t.get("name") == name for t in tool.get("tools") or []
        ):
            return tool.get("name")
    return None


def has_tool(body: dict[str, Any], kind: str) -> bool:
    """Whether the request declares a tool of type ``kind`` (e.g. ``web_search``)."""
    return any(isinstance(t, dict) and t.get("type") == kind for t in body.get("tools") or [])


def example_for_schema(schema: Any, *, depth: int = 0) -> Any:
    """A small value valid for a (simple) JSON schema: enums, consts, objects, arrays, scalars."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_for_schema(schema[key][0], depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        required = schema.get("required") or list(props)
        return {name: example_for_schema(props.get(name, {}), depth=depth + 1) for name in required}
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        return [example_for_schema(schema.get("items", {}), depth=depth + 1)] * count
    return {
        "string": "example",
        "integer": 0,
        "number": 0,
        "boolean": False,
        "null": None,
    }.get(kind, "example")


class TurnPlanner:
    """Builds turn plans; remembers minted reasoning blobs and cache prefixes. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._encrypted: dict[str, str] = {}
        self._cache: dict[str, list[str]] = {}
        self._namespaces: dict[str, str] = {}

    # --- encrypted reasoning ---------------------------------------------------------------

    def mint_encrypted(self, response_id: str) -> str:
        """A new opaque ``encrypted_content`` that remembers ``response_id``."""
        payload = json.dumps({"r": response_id, "n": secrets.token_hex(8)}).encode()
        blob = "gAAAAA" + b64url(payload) + "." + b64url(secrets.token_bytes(32))
        with self._lock:
            self._encrypted[blob] = response_id
        return blob

    def known_encrypted(self, value: str) -> bool:
        """Whether ``value`` is an ``encrypted_content`` this planner minted."""
        with self._lock:
            return value in self._encrypted

    def decode_encrypted(self, value: str) -> str | None:
        """The response id an ``encrypted_content`` came from, or ``None``."""
        with self._lock:
            return self._encrypted.get(value)

    def replayed_reasoning(self, body: dict[str, Any]) -> list[str]:
        """Response ids of the recognised reasoning items replayed in ``body['input']``."""
        with self._lock:
            return [
                self._encrypted[item["encrypted_content"]]
                for item in body.get("input") or []
                if item.get("type") == "reasoning"
                and isinstance(item.get("encrypted_content"), str)
                and item["encrypted_content"] in self._encrypted
            ]

    def issued_namespace(self, call_id: str) -> str | None:
        """The namespace a function call this planner issued carried (``None``: none)."""
        with self._lock:
            return self._namespaces.get(call_id)

    # --- planning ----------------------------------------------------------------------------

    def plan(self, body: dict[str, Any], scenario: Scenario | None) -> TurnPlan:
        """The plan for one accepted request (``scenario`` None = the default reply)."""
        response_id = new_id("resp")
        kind = scenario.kind if scenario else "default"
        params = scenario.params if scenario else {}
        plan = TurnPlan(response=response_object(response_id=response_id, body=body))
        items: list[Any] = []

        reasoning = body.get("reasoning")
        if isinstance(reasoning, dict):
            summary: list[str] = []
            if reasoning.get("summary") not in (None, "none"):
                custom = params.get("summary")
                if isinstance(custom, str):
                    summary = [custom]
                elif isinstance(custom, list):
                    summary = [str(p) for p in custom]
                else:
                    summary = [DEFAULT_SUMMARY]
            wants_blob = "reasoning.encrypted_content" in (body.get("include") or [])
            items.append(
                ReasoningSpec(
                    summary=summary,
                    encrypted_content=self.mint_encrypted(response_id) if wants_blob else None,
                )
            )

        default_text = self._default_text(body)
        if kind in ("default", "text", "slow"):
            text = params.get("text", default_text)
            items.append(
                MessageSpec(
                    text=text,
                    deltas=split_text(text, params.get("chunks")),
                    phase=params.get("phase", "final_answer"),
                )
            )
            if kind == "slow":
                plan.delay = plan.initial_delay = float(params["delay"])
        elif kind == "tools":
            if params.get("also_text"):
                items.append(MessageSpec(text=params["also_text"], phase="commentary"))
            for name, arguments, call_id, namespace in params["calls"]:
                if namespace is None:  # as offered: a namespaced tool's call names its namespace
                    namespace = namespace_of(body, name)
                spec = FunctionCallSpec(name=name, arguments=arguments, namespace=namespace or None)
                if call_id:
                    spec.call_id = call_id
                if spec.namespace:
                    with self._lock:
                        self._namespaces[spec.call_id] = spec.namespace
                items.append(spec)
        elif kind == "drop":
            items.append(MessageSpec(text=params.get("text") or default_text * 4))
            plan.terminal = "drop"
            plan.drop_after_deltas = params["after_deltas"]
            plan.drop_clean = params["clean"]
        elif kind == "failed":
            items = []
            plan.terminal = "failed"
            context = params["code"] == "context_length_exceeded"
            plan.error = {
                "code": params["code"],
                "message": params["message"],
                "type": "invalid_request_error" if context else "server_error",
                **({"param": "input"} if context else {}),
                **params.get("extra", {}),
            }
        elif kind == "stream_error":
            items = []
            plan.terminal = "error"
            plan.error = {
                "code": params["code"],
                "message": params["message"],
                "param": None,
                **params.get("extra", {}),
            }
        elif kind == "incomplete":
            items.append(MessageSpec(text=params["text"]))
            plan.terminal = "incomplete"
            plan.incomplete_reason = params["reason"]
        elif kind == "long":
            n, delta = params["n_deltas"], params["delta"]
            items.append(MessageSpec(text=delta * n, repeat=(delta, n)))
        elif kind == "web_search":
            items.extend(self._web_search(body, params))
        elif kind == "image":
            if has_tool(body, "image_generation"):
                items.append(
                    ImageSpec(
                        result_b64=base64.b64encode(params["png"]).decode("ascii"),
                        revised_prompt=params["revised_prompt"],
                    )
                )
                if params.get("text"):
                    items.append(MessageSpec(text=params["text"]))
            else:
                text = params.get("text") or "I cannot generate images here."
                items.append(MessageSpec(text=text))
        plan.items = items
        plan.usage = self.usage_for(body, items)
        return plan

    @staticmethod
    def _default_text(body: dict[str, Any]) -> str:
        text_options = body.get("text") if isinstance(body.get("text"), dict) else {}
        fmt = text_options.get("format") if isinstance(text_options.get("format"), dict) else {}
        if fmt.get("type") == "json_schema":
            return json.dumps(example_for_schema(fmt.get("schema")))
        if fmt.get("type") == "json_object":
            return "{}"
        return f"Hello from the fake Codex backend. You said: {last_user_text(body['input'])}"

    @staticmethod
    def _web_search(body: dict[str, Any], params: dict[str, Any]) -> list[Any]:
        text = params["text"]
        if not has_tool(body, "web_search"):
            return [MessageSpec(text=text)]
        annotations = []
        for source in params["sources"]:
            start = len(text) + 1
            label = source.get("title") or source["url"]
            text = f"{text} [{label}]"
            annotations.append(
                {
                    "type": "url_citation",
                    "start_index": start,
                    "end_index": len(text),
                    "url": source["url"],
                    "title": source.get("title", ""),
                }
            )
        return [
            WebSearchSpec(query=params["query"], sources=params["sources"]),
            MessageSpec(text=text, annotations=annotations),
        ]

    # --- usage ---------------------------------------------------------------------------------

    def usage_for(self, body: dict[str, Any], items: list[Any]) -> dict[str, Any]:
        """Estimated usage; cached tokens for a prefix repeated under one prompt_cache_key."""
        head = json.dumps(
            [body.get("instructions"), body.get("tools") or []], sort_keys=True, ensure_ascii=False
        )
        pieces = [head] + [
            json.dumps(item, sort_keys=True, ensure_ascii=False) for item in body.get("input") or []
        ]
        input_tokens = sum(estimate_tokens(p) for p in pieces)
        cached = 0
        key = body.get("prompt_cache_key")
        if isinstance(key, str) and key:
            with self._lock:
                previous = self._cache.get(key)
                self._cache[key] = pieces
            for mine, theirs in zip(pieces, previous or [], strict=False):
                if mine != theirs:
                    break
                cached += estimate_tokens(mine)
        reasoning_tokens = 0
        output_tokens = 0
        for item in items:
            if isinstance(item, ReasoningSpec):
                reasoning_tokens += 24 + sum(estimate_tokens(p) for p in item.summary)
            elif isinstance(item, MessageSpec):
                output_tokens += estimate_tokens(item.text)
            elif isinstance(item, FunctionCallSpec):
                output_tokens += estimate_tokens(item.arguments) + estimate_tokens(item.name)
            else:
                output_tokens += 8
        output_tokens += reasoning_tokens
        return {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": min(cached, input_tokens)},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        }
