"""Typed values shared by the core and its faces: requests, stream events, results.

These are plain dataclasses with no behaviour beyond small conveniences, so the plugin, the
server and the tests can build and inspect them freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "CodexRequest",
    "CodexResult",
    "Completed",
    "CredentialProvider",
    "Credentials",
    "ItemAdded",
    "ItemDone",
    "ReasoningDelta",
    "StreamEvent",
    "TextDelta",
    "ToolArgumentsDelta",
    "Usage",
]


# --- credentials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What a request needs to authenticate: a bearer access token and the ChatGPT account id."""

    access_token: str
    account_id: str | None = None

    def __repr__(self) -> str:  # never show a token
        return f"Credentials(access_token=<redacted>, account_id={self.account_id!r})"


@runtime_checkable
class CredentialProvider(Protocol):
    """Supplies credentials to the client; implemented by :mod:`llm_codex.auth`.

    ``current()`` returns usable credentials, refreshing proactively when the access token is
    within its refresh window. ``after_unauthorized(rejected)`` is called once after a 401: it
    re-reads the store, adopts a newer token or refreshes, and returns credentials to resend
    with, or raises :class:`~llm_codex.core.errors.AuthenticationRequired`. The async twins do
    the same without blocking the event loop, with one refresh shared by concurrent callers.
    """

    def current(self) -> Credentials: ...

    def after_unauthorized(self, rejected: Credentials) -> Credentials: ...

    async def acurrent(self) -> Credentials: ...

    async def aafter_unauthorized(self, rejected: Credentials) -> Credentials: ...


# --- request -----------------------------------------------------------------------------------


@dataclass
class CodexRequest:
    """One model turn, in the backend's terms. :func:`llm_codex.core.request.build_body` turns it
    into the JSON body; only the fields below can ever be sent.

    ``input`` holds Responses-API input items (messages, reasoning, function calls and outputs);
    ids are stripped when the body is built. ``tools`` holds tool definitions (function tools and
    hosted ones such as ``{"type": "web_search"}``). ``text_format`` is the ``text.format`` object
    for structured output. ``session_id`` is the conversation UUID sent as ``session-id`` and as
    ``prompt_cache_key``. ``responses_lite`` selects the Responses Lite form (set it from the
    catalog's ``use_responses_lite``; see :mod:`llm_codex.core.lite`).
    """

    model: str
    input: list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | dict[str, Any] = "auto"
    parallel_tool_calls: bool = True
    reasoning_effort: str | None = None
    reasoning_summary: str | None = None
    verbosity: str | None = None
    text_format: dict[str, Any] | None = None
    service_tier: str | None = None
    session_id: str | None = None
    include_encrypted_reasoning: bool = True
    responses_lite: bool = False


# --- stream events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TextDelta:
    """Assistant text. Deltas that arrived in one network read are coalesced into one event."""

    text: str
    output_index: int = 0


@dataclass(frozen=True)
class ReasoningDelta:
    """Reasoning summary text (``summary_index`` tells paragraphs apart)."""

    text: str
    output_index: int = 0
    summary_index: int = 0


@dataclass(frozen=True)
class ItemAdded:
    """An output item started (e.g. a function call with its ``name``); ``item`` is partial."""

    item: dict[str, Any]
    output_index: int = 0


@dataclass(frozen=True)
class ToolArgumentsDelta:
    """A piece of a function call's JSON arguments."""

    delta: str
    output_index: int = 0
    item_id: str | None = None


@dataclass(frozen=True)
class ItemDone:
    """An output item is complete; ``item`` is final and authoritative (ids as the server sent)."""

    item: dict[str, Any]
    output_index: int = 0


@dataclass(frozen=True)
class Completed:
    """The terminal success event: always the last event of a stream."""

    result: CodexResult


StreamEvent = TextDelta | ReasoningDelta | ItemAdded | ToolArgumentsDelta | ItemDone | Completed


# --- result ------------------------------------------------------------------------------------


@dataclass
class Usage:
    """Token usage from ``response.completed`` (details default to 0 when the server sent null)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Usage:
        """Build from the backend's ``usage`` object, tolerating nulls and missing fields."""
        data = data or {}
        in_details = data.get("input_tokens_details") or {}
        out_details = data.get("output_tokens_details") or {}
        inp = int(data.get("input_tokens") or 0)
        out = int(data.get("output_tokens") or 0)
        return cls(
            input_tokens=inp,
            output_tokens=out,
            cached_tokens=int(in_details.get("cached_tokens") or 0),
            reasoning_tokens=int(out_details.get("reasoning_tokens") or 0),
            total_tokens=int(data.get("total_tokens") or inp + out),
        )


@dataclass
class CodexResult:
    """Everything one turn produced, assembled from ``response.output_item.done`` events.

    ``items`` are the output items in ``output_index`` order, exactly as the server sent them
    (ids included: strip them before replaying). ``rate_limits`` is the
    :class:`~llm_codex.core.ratelimits.RateLimitSnapshot` parsed from the response headers.
    """

    response_id: str | None = None
    model: str | None = None
    status: str = "completed"
    items: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    rate_limits: Any = None
    request_id: str | None = None
    incomplete_reason: str | None = None

    @property
    def text(self) -> str:
        """The assistant's text: every ``output_text`` part of assistant message items, in order."""
        parts: list[str] = []
        for item in self.items:
            if item.get("type") == "message" and item.get("role", "assistant") == "assistant":
                for part in item.get("content") or []:
                    if part.get("type") == "output_text":
                        parts.append(part.get("text") or "")
        return "".join(parts)

    @property
    def reasoning_items(self) -> list[dict[str, Any]]:
        """The ``reasoning`` items (summary and ``encrypted_content``)."""
        return [i for i in self.items if i.get("type") == "reasoning"]

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """The ``function_call`` items (``call_id``, ``name``, ``arguments`` as a JSON string)."""
        return [i for i in self.items if i.get("type") == "function_call"]
