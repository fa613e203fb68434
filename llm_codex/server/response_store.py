"""Stateful clients over a stateless backend: a bounded in-memory store of recent turns.

The Codex backend stores nothing (``store`` must be false, replayed item ids are a 404), yet
many Responses clients keep their state on the server: ``previous_response_id`` chaining,
``item_reference`` inputs, reasoning items replayed as a bare id. This module keeps recent turns
in the server's memory so those requests can be rebuilt into the full, id-free input the
backend needs:

- :meth:`ResponseStore.resolve_input` — the stored history of ``previous_response_id``
  (its input items, then its output items) followed by the new input, with every
  ``item_reference`` and every reasoning item without ``encrypted_content`` replaced by the
  stored full item. A missing previous response is a 400 ``previous_response_not_found``; a
  missing referenced item a 400 ``item_not_found``; an id-only reasoning item that is no longer
  stored is dropped (reasoning is context, not content).
- :meth:`ResponseStore.put` — after a turn: the response object as the client saw it, its
  input items (history included) and output items, all with ids, indexed by response id and by
  item id.
- Chat Completions clients echo only the tool-call ids the server gave them:
  :meth:`remember_calls` keeps a turn's encrypted reasoning under the ``call_id`` of each of its
  function calls, and :meth:`restore_reasoning` puts it back before those calls on the next turn,
  so a tool loop keeps its chain of thought. Clients that drop the ids (the ``ollama`` client's
  tool calls have no id field) are matched by conversation (``session``), tool name and
  arguments instead.

The store is bounded by a number of entries and a rough memory budget (the JSON size of the
items each turn added; oldest evicted first) and by an age; a size of 0 disables it. It lives
on the event loop of the server (no locking needed: every method runs between two awaits).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llm_codex.server.common import new_id
from llm_codex.server.errors import RequestRefused

__all__ = [
    "DEFAULT_STORE_MEMORY",
    "DEFAULT_STORE_SIZE",
    "DEFAULT_STORE_TTL",
    "ResponseStore",
    "StoredTurn",
]

#: Turns kept at most (responses and chat turns together).
DEFAULT_STORE_SIZE = 1000
#: Seconds a turn is kept.
DEFAULT_STORE_TTL = 3600.0
#: Bytes (of JSON) the stored items may take, roughly: images make single turns large.
DEFAULT_STORE_MEMORY = 256 * 1024 * 1024

_ID_PREFIXES = {
    "message": "msg_",
    "reasoning": "rs_",
    "function_call": "fc_",
    "function_call_output": "fco_",
}


@dataclass
class StoredTurn:
    """One stored turn. ``response`` is None for a chat turn (not retrievable by id)."""

    response: dict[str, Any] | None
    input_items: list[dict[str, Any]] = field(default_factory=list)
    output_items: list[dict[str, Any]] = field(default_factory=list)
    stored_at: float = 0.0
    #: The JSON size of the items this turn added to the store (history it repeats is shared).
    size: int = 0
    #: Keys of :attr:`ResponseStore._items` / ``_calls`` this turn owns (removed on eviction).
    item_ids: list[str] = field(default_factory=list)
    call_ids: list[str] = field(default_factory=list)


def _as_items(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if value is None:
        return []
    if not isinstance(value, list):
        raise RequestRefused("'input' must be a string or a list of items.", param="input")
    return value


def with_ids(items: list[Any]) -> list[Any]:
    """``items`` with a fresh id on each object item that has none (as OpenAI assigns them)."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, dict) and not item.get("id"):
            kind = item.get("type") or ("message" if "role" in item else "item")
            prefix = _ID_PREFIXES.get(kind, "item_") if isinstance(kind, str) else "item_"
            item = {"id": new_id(prefix), **item}
        out.append(item)
    return out


def _without_id(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "id"}


class ResponseStore:
    """Recent turns in memory, by response id, item id and function-call id."""

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_STORE_SIZE,
        max_age: float = DEFAULT_STORE_TTL,
        max_bytes: int = DEFAULT_STORE_MEMORY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max(0, int(max_entries))
        self.max_age = float(max_age)
        self.max_bytes = max(0, int(max_bytes))
        self._bytes = 0
        self._clock = clock
        self._turns: OrderedDict[str, StoredTurn] = OrderedDict()
        self._items: dict[str, tuple[str, dict[str, Any]]] = {}
        self._calls: dict[str, tuple[str, list[dict[str, Any]]]] = {}

    @property
    def enabled(self) -> bool:
        """False when the store was sized 0 (nothing is kept)."""
        return self.max_entries > 0

    def __len__(self) -> int:
        self._expire()
        return len(self._turns)

    # -- bookkeeping ----------------------------------------------------------------------------
    def _expire(self) -> None:
        limit = self._clock() - self.max_age
        while self._turns:
            key, turn = next(iter(self._turns.items()))
            fits = len(self._turns) <= self.max_entries and self._bytes <= self.max_bytes
            if turn.stored_at >= limit and fits:
                break
            self._evict(key)

    def _evict(self, key: str) -> None:
        turn = self._turns.pop(key, None)
        if turn is None:
            return
        self._bytes -= turn.size
        for item_id in turn.item_ids:
            if self._items.get(item_id, ("",))[0] == key:
                del self._items[item_id]
        for call_id in turn.call_ids:
            if self._calls.get(call_id, ("",))[0] == key:
                del self._calls[call_id]

    def _add(self, key: str, turn: StoredTurn) -> None:
        self._evict(key)
        turn.stored_at = self._clock()
        self._bytes += turn.size
        self._turns[key] = turn
        self._expire()

    # -- Responses ------------------------------------------------------------------------------
    def put(
        self,
        response_id: str,
        *,
        response: dict[str, Any],
        input_items: list[dict[str, Any]],
        output_items: list[dict[str, Any]],
    ) -> None:
        """Keep one response (items with ids); its items become referable by id."""
        if not self.enabled:
            return
        turn = StoredTurn(response, list(input_items), list(output_items))
        for item in (*input_items, *output_items):
            item_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(item_id, str) or not item_id:
                turn.size += _size(item)
                continue
            if item_id not in self._items:
                turn.size += _size(item)
            self._items[item_id] = (response_id, item)
            turn.item_ids.append(item_id)
        self._add(response_id, turn)

    def get(self, response_id: str) -> StoredTurn | None:
        """The stored response, or None (unknown, expired, evicted or a chat turn)."""
        self._expire()
        turn = self._turns.get(response_id)
        return turn if turn is not None and turn.response is not None else None

    def delete(self, response_id: str) -> bool:
        """Forget a response; False when it was not stored."""
        if self.get(response_id) is None:
            return False
        self._evict(response_id)
        return True

    def item(self, item_id: str) -> dict[str, Any] | None:
        """A stored item by id, or None."""
        self._expire()
        found = self._items.get(item_id)
        return found[1] if found is not None else None

    def resolve_input(self, body: dict[str, Any]) -> list[Any]:
        """The full input of a Responses request, with ids (see the module docstring).

        Items the client sent without an id get one, so that they can be referred to later;
        ids never reach the backend (the translator strips them).
        """
        history: list[Any] = []
        previous = body.get("previous_response_id")
        if previous:
            turn = self.get(previous) if isinstance(previous, str) else None
            if turn is None:
                kept = (
                    f"keeps responses in memory only (the last {self.max_entries}, for "
                    f"{self.max_age:g} s, none across restarts)"
                    if self.enabled
                    else "keeps no responses (it was started with --store-size 0)"
                )
                raise RequestRefused(
                    f"Previous response with id {previous!r} not found: this server {kept}; "
                    "send the whole conversation in 'input' instead.",
                    code="previous_response_not_found",
                    param="previous_response_id",
                )
            history = [*turn.input_items, *turn.output_items]
        resolved: list[Any] = []
        for n, item in enumerate(_as_items(body.get("input"))):
            if isinstance(item, dict):
                kind = item.get("type")
                item_id = item.get("id")
                if kind == "item_reference":
                    stored = self.item(item_id) if isinstance(item_id, str) else None
                    if stored is None:
                        raise RequestRefused(
                            f"input[{n}]: item with id {item_id!r} not found: this server keeps "
                            "items in memory only for a while; send the item itself.",
                            code="item_not_found",
                            param="input",
                        )
                    item = stored
                elif kind == "reasoning" and not item.get("encrypted_content"):
                    stored = self.item(item_id) if isinstance(item_id, str) else None
                    if stored is None or not stored.get("encrypted_content"):
                        continue
                    item = stored
            resolved.append(item)
        return [*history, *with_ids(resolved)]

    # -- Chat Completions -----------------------------------------------------------------------
    def remember_calls(
        self, key: str, items: list[dict[str, Any]], *, session: str | None = None
    ) -> None:
        """Keep the encrypted reasoning of one turn under the ``call_id`` of each of its calls
        (and, with ``session``, under the conversation, name and arguments of each call)."""
        if not self.enabled:
            return
        reasoning = [
            _without_id(i)
            for i in items
            if i.get("type") == "reasoning" and i.get("encrypted_content")
        ]
        function_calls = [i for i in items if i.get("type") == "function_call"]
        calls = [c.get("call_id") for c in function_calls]
        calls = [c for c in calls if isinstance(c, str) and c]
        if session:
            calls += [_fingerprint(session, c) for c in function_calls]
        if not reasoning or not calls:
            return
        turn = StoredTurn(None, call_ids=calls, size=_size(reasoning))
        for call_id in calls:
            self._calls[call_id] = (key, reasoning)
        self._add(key, turn)

    def restore_reasoning(
        self, items: list[dict[str, Any]], *, session: str | None = None
    ) -> list[dict[str, Any]]:
        """``items`` with the stored reasoning put back before the calls it led to.

        The reasoning goes before the first ``function_call`` of its turn, or before the
        assistant message just ahead of it (the backend's own order). Items that already carry
        reasoning are left alone.
        """
        if not self._calls or any(i.get("type") == "reasoning" for i in items):
            return items
        self._expire()
        out: list[dict[str, Any]] = []
        restored: set[int] = set()
        for item in items:
            if item.get("type") == "function_call":
                found = self._calls.get(item.get("call_id") or "")
                if found is None and session:
                    found = self._calls.get(_fingerprint(session, item))
                if found is not None and id(found[1]) not in restored:
                    restored.add(id(found[1]))
                    at = len(out)
                    previous = out[-1] if out else None
                    if (
                        previous is not None
                        and previous.get("type") == "message"
                        and previous.get("role") == "assistant"
                    ):
                        at -= 1
                    out[at:at] = [dict(r) for r in found[1]]
            out.append(item)
        return out


def _size(value: Any) -> int:
    """Roughly the memory a stored value takes: the length of its JSON."""
    return len(json.dumps(value, separators=(",", ":"), default=str))


def _fingerprint(session: str, call: dict[str, Any]) -> str:
    """A function call identified by what it does, within one conversation."""
    arguments = call.get("arguments") or ""
    try:
        arguments = json.dumps(json.loads(arguments), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        pass
    return f"fp:{session}\n{call.get('name')}\n{arguments}"
