"""The fake public Responses API of the official route (siwc.md §10–§12, §14).

``GET /v1/models`` answers ``{"models": [...]}`` (not ``{"data": [...]}``). ``POST
/v1/responses`` enforces what the docs say about requests:

- a valid, unexpired bearer access token for the API (401 ``{"detail": {"error_code":
  "invalid_token"}}`` otherwise), carrying the plan scope (403
  ``chatpass_v2_scope_not_authorized`` otherwise);
- no Codex-route headers (``originator``, ``chatgpt-account-id``, ``session_id``/``session-id``,
  ``OpenAI-Beta``, ``OpenAI-Organization``, ``OpenAI-Project``);
- ``input`` an array, ``store: false``, ``stream: true``; none of the documented unsupported
  fields (``temperature``, ``max_output_tokens``, ``service_tier``, ``previous_response_id``…,
  answered like the live API, ``{"detail": "Unsupported parameter: …"}``); no ``system`` role
  item; no item ``id``; no ``reasoning`` item; tools only inside namespaces or ``web_search``
  (other hosted tools: ``subscription_sharing_unsupported_capability`` naming ``tools``).

Answers stream the Responses events with ``response.completed`` carrying an empty ``output``;
:meth:`SiwcApi.queue` scripts the next answers (an HTTP error with a documented code, a
mid-stream ``response.failed``, ``response.incomplete``, an ``error`` event, a dropped stream,
function calls).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from llm_codex.testing.siwc_issuer import PLAN_SCOPE, SiwcIssuer
from llm_codex.testing.streams import (
    FunctionCallSpec,
    MessageSpec,
    TurnPlan,
    new_id,
    render,
    response_object,
    split_text,
)

__all__ = ["DEFAULT_MODELS", "SiwcApi", "Step"]

FORBIDDEN_HEADERS = (
    "originator",
    "chatgpt-account-id",
    "session_id",
    "session-id",
    "openai-beta",
    "openai-organization",
    "openai-project",
    "version",
)
UNSUPPORTED_FIELDS = frozenset(
    {
        "background",
        "conversation",
        "max_output_tokens",
        "max_tool_calls",
        "metadata",
        "moderation",
        "multi_agent",
        "prompt",
        "prompt_cache_retention",
        "safety_identifier",
        "temperature",
        "top_logprobs",
        "top_p",
        "truncation",
        "user",
        "previous_response_id",
        "service_tier",
    }
)
HOSTED_UNSUPPORTED = frozenset(
    {
        "image_generation",
        "file_search",
        "code_interpreter",
        "computer_use_preview",
        "mcp",
        "tool_search",
    }
)
DEFAULT_MODELS: list[dict[str, Any]] = [
    {"slug": "gpt-5.5", "display_name": "GPT-5.5", "visibility": "list"},
    {"slug": "gpt-5.4-mini", "display_name": "GPT-5.4 Mini", "visibility": "list"},
    {"slug": "gpt-internal", "display_name": "Internal", "visibility": "hide"},
]


@dataclass
class Step:
    """One scripted answer: ``kind`` in text | http_error | json_200 | failed | incomplete |
    error_event | drop | tools (``content_type=None`` sends a stream without Content-Type;
    ``initial_delay`` waits before the first event)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recorded:
    headers: dict[str, str]
    body: Any


def _detail(status: int, detail: Any) -> tuple[int, dict[str, Any]]:
    return status, {"detail": detail}


def _error(status: int, code: str, message: str, param: str | None = None) -> tuple[int, dict]:
    return status, {
        "error": {"message": message, "type": "invalid_request_error", "code": code, "param": param}
    }


class SiwcApi:
    """API state: the model list, the recorded requests and the scripted answers."""

    def __init__(self, issuer: SiwcIssuer) -> None:
        self.issuer = issuer
        self.models: list[dict[str, Any]] = [dict(m) for m in DEFAULT_MODELS]
        self.requests: list[Recorded] = []
        self.model_requests: list[Recorded] = []
        self._steps: deque[Step] = deque()
        self._lock = threading.Lock()
        self.reply_text = "Hello from your ChatGPT plan."
        self.stream_content_type: str | None = "text/event-stream"

    def queue(self, kind: str, **params: Any) -> None:
        """Script the next ``/v1/responses`` answer (see :class:`Step`)."""
        with self._lock:
            self._steps.append(Step(kind, params))

    def _auth(self, headers: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        import time

        value = headers.get("authorization", "")
        token = value[7:] if value.startswith("Bearer ") else ""
        info = self.issuer.access(token)
        if info is None or info.expires_at <= time.time():
            return _detail(401, {"error_code": "invalid_token"})
        if PLAN_SCOPE not in info.scopes:
            return _error(403, "chatpass_v2_scope_not_authorized", "Plan scope not granted.")
        return None

    def list_models(self, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.model_requests.append(Recorded(dict(headers), None))
        refused = self._auth(headers)
        if refused is not None:
            return refused
        return 200, {"models": [dict(m) for m in self.models]}

    def problem(self, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]] | None:
        """The documented refusal of a request, or ``None`` when it is acceptable."""
        refused = self._auth(headers)
        if refused is not None:
            return refused
        for name in FORBIDDEN_HEADERS:
            if name in headers:
                return _detail(400, f"Unsupported header: {name}")
        if not isinstance(body, dict):
            return _detail(400, "Request body must be a JSON object")
        for key in body:
            if key in UNSUPPORTED_FIELDS:
                return _detail(400, f"Unsupported parameter: {key}")
        if body.get("store") is not False:
            return _detail(400, "store must be false")
        if body.get("stream") is not True:
            return _detail(400, "stream must be true")
        items = body.get("input")
        if not isinstance(items, list):
            return _detail(400, "input must be an array")
        for item in items:
            if not isinstance(item, dict):
                return _detail(400, "input items must be objects")
            if item.get("role") == "system":
                return _detail(400, "system role input items are not supported")
            if "id" in item:
                return _detail(400, "input item ids are not supported with store=false")
            if item.get("type") == "reasoning":
                return _detail(400, "reasoning items cannot be replayed with store=false")
        for tool in body.get("tools") or []:
            kind = tool.get("type") if isinstance(tool, dict) else None
            if kind in ("namespace", "web_search"):
                continue
            return _error(
                400,
                "subscription_sharing_unsupported_capability",
                f"Tool type {kind!r} is not supported with ChatGPT plan usage.",
                param="tools",
            )
        return None

    def respond(self, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        """``(status, JSON body)`` for an error (or a scripted ``json_200``), or ``(200, stream
        pieces)``; :attr:`stream_content_type` is the stream's Content-Type (None: omitted)."""
        with self._lock:
            self.requests.append(Recorded(dict(headers), body))
        refused = self.problem(headers, body)
        if refused is not None:
            return refused
        with self._lock:
            step = self._steps.popleft() if self._steps else Step("text")
        p = step.params
        self.stream_content_type = p.get("content_type", "text/event-stream")
        if step.kind == "json_200":
            return 200, p["body"]
        if step.kind == "http_error":
            status = int(p.get("status", 400))
            if "detail" in p:
                return _detail(status, p["detail"])
            return _error(status, p["code"], p.get("message", p["code"]), p.get("param"))
        plan = TurnPlan(
            response=response_object(response_id=new_id("resp"), body=body),
            usage={
                "input_tokens": 12,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 7,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 19,
            },
        )
        plan.initial_delay = float(p.get("initial_delay", 0.0))
        text = p.get("text", self.reply_text)
        if step.kind == "tools":
            for name, arguments in p["calls"]:
                plan.items.append(FunctionCallSpec(name=name, arguments=arguments, namespace="llm"))
        else:
            plan.items.append(MessageSpec(text=text, deltas=split_text(text, None)))
        if step.kind == "failed":
            plan.terminal = "failed"
            plan.error = {"code": p["code"], "message": p.get("message", p["code"])}
        elif step.kind == "incomplete":
            plan.terminal = "incomplete"
            plan.incomplete_reason = p.get("reason", "max_output_tokens")
        elif step.kind == "error_event":
            plan.terminal = "error"
            plan.error = {"code": p["code"], "message": p.get("message", p["code"])}
        elif step.kind == "drop":
            plan.terminal = "drop"
            plan.drop_after_deltas = int(p.get("after_deltas", 2))
        return 200, render(plan)

    def last_body(self) -> Any:
        """The JSON body of the last ``/v1/responses`` request."""
        with self._lock:
            return json.loads(json.dumps(self.requests[-1].body)) if self.requests else None
