"""From SSE ``data`` payloads to typed stream events and the final result (protocol §6).

:class:`StreamAssembler` is pure (no I/O) and shared by the sync and async clients. Feed it the
payloads of one network read; it returns the events for that read and remembers what it needs
for the result:

- dispatch on the JSON ``type``; non-JSON payloads and unknown types are skipped;
- output items come from ``response.output_item.done``, keyed by ``output_index``; the
  ``output`` of ``response.completed`` is used only when no item arrived that way (§6.3);
- text deltas of one output item that arrive in one read become ONE :class:`TextDelta`
  (likewise reasoning and tool-argument deltas), so a fast stream costs one event per read;
- ``response.completed`` ends the stream with :class:`Completed`; ``response.failed``,
  ``response.incomplete`` and ``error`` end it with an exception in :attr:`error` (the events
  of the same read are still returned first); EOF without any of them is
  :class:`StreamClosedEarly` from :meth:`eof_error` (which error class a failure is, is
  :mod:`~llm_codex.core.failures`' business). Every failure carries ``partial``: the result so
  far, complete: finished items, and every unfinished one rebuilt from its
  ``output_item.added`` and the deltas seen (message text, reasoning summaries, tool-call
  arguments), marked ``"status": "incomplete"``. A face answers a broken turn from it alone.

Memory stays flat in the stream's length: raw events are never kept, only finished items and
the coalesced deltas (one piece per network read) of the items still being written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from llm_codex.core.errors import (
    CodexError,
    IncompleteResponse,
    StreamClosedEarly,
)
from llm_codex.core.failures import map_failure, stream_error
from llm_codex.core.sse import Run, locate_run, parse_events
from llm_codex.core.types import (
    CodexResult,
    Completed,
    ItemAdded,
    ItemDone,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolArgumentsDelta,
    Usage,
)

__all__ = ["StreamAssembler"]

_loads = json.loads
#: The C scanner behind ``json.loads`` (a decoder with the default settings, as its own).
_scan = json.JSONDecoder().scan_once

# Compact (real backend) and spaced (Python json.dumps) spellings of a text delta's first key.
_TEXT_DELTA_PREFIXES = (
    '{"type":"response.output_text.delta"',
    '{"type": "response.output_text.delta"',
)
# A text-delta payload as the backend writes it (compact JSON, ``type`` first).
_TD_PAYLOAD = '{"type":"response.output_text.delta",'
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# The delta of a text-delta payload in a run (see _same_shape_run), found without leaving its
# line: a JSON string body whose escapes are all valid (so each decodes alone, as the JSON
# path decodes it), or, when the run holds no backslash, the cheaper "up to the next quote".
_STRING_BODY = r'[^"\\\n]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\n]*)*'
_PLAIN_BODY = r'[^"\n]*'
_DELTA_KEY = '"delta":'
# The per-event fields of a text-delta payload in a run, each named by its key as written
# before its value: the delta, the sequence number, and nonces.
_DELTA_VALUE = '"delta":"'
_SEQUENCE_KEY = '"sequence_number":'
#: Fields that neither reading looks at whose value is new in every event: the Responses
#: API pads each delta event with a random ``obfuscation`` string. A nonce value is a JSON
#: string body with no escape, control character or brace (so it is valid in any JSON
#: string, holds no key, and the fast reading's brace count cannot see it).
_NONCE_KEYS = ('"obfuscation":"',)
_NONCE_BODY = r'[^"\\{\x00-\x1f]*'
# The form of each per-event value.
_VALUE_BODY = {_DELTA_VALUE: _STRING_BODY, _SEQUENCE_KEY: "[0-9]+"} | dict.fromkeys(
    _NONCE_KEYS, _NONCE_BODY
)
_VALUE_AT = {slot: re.compile(body) for slot, body in _VALUE_BODY.items()}
#: The key before an item id, and its value's form when a shape is kept across turns (see
#: :func:`_shape_key`): the nonce form.
_ITEM_ID_KEY = '"item_id":"'
_ITEM_ID_AT = re.compile(_NONCE_BODY)
_VALUE_BODY[_ITEM_ID_KEY] = _NONCE_BODY
#: Slots that hold no string value of their own event (no group in the run's patterns).
_NOT_STRINGS = frozenset({_SEQUENCE_KEY, _ITEM_ID_KEY})
_SEQUENCE_AT = _VALUE_AT[_SEQUENCE_KEY]
#: Shorter runs (two backend events or fewer) are read event by event: that costs less than
#: the fixed cost of confirming a run.
_SAME_SHAPE_MIN = 512

_TEXT = "response.output_text.delta"
_REASONING_SUMMARY = "response.reasoning_summary_text.delta"
_REASONING_RAW = "response.reasoning_text.delta"
_ARGS = "response.function_call_arguments.delta"

# Events that end a run of coalesced deltas (they produce an event or end the stream).
_STRUCTURAL = frozenset(
    {
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
        "response.failed",
        "response.incomplete",
        "error",
    }
)

# Every type the reading acts on; a payload of any other type is skipped.
_READ_TYPES = _STRUCTURAL | {
    _TEXT,
    _REASONING_SUMMARY,
    _REASONING_RAW,
    _ARGS,
    "response.created",
    "response.in_progress",
}
_TYPE_FIRST = '{"type":"'
_TYPE_KEY = '"type"'

# Kinds of coalesced deltas.
_K_TEXT, _K_REASONING, _K_ARGS = 1, 2, 3
# A coalesced delta still open at the end of some payloads: kind (0: none), key (output
# index and part), its pieces and, for tool arguments, the item id.
_Pending = tuple[int, tuple[int, int], list[str], "str | None"]
_NO_PENDING: _Pending = (0, (0, 0), [], None)  # its list is never appended to (kind 0)


def _fast_text_delta(payload: str) -> tuple[int, str] | None:
    """``(output_index, delta)`` of a plain text-delta payload, read without a JSON parse.

    Only for payloads that start with a text-delta ``type`` and whose delta holds no escape;
    anything unusual returns None and takes the JSON path. An unescaped ``"delta":`` cannot
    occur inside a JSON string, so the first one is the event's own key.
    """
    i = payload.find('"delta":')
    if i < 0:
        return None
    i += 8
    if payload.startswith(" ", i):
        i += 1
    if not payload.startswith('"', i):
        return None
    j = payload.find('"', i + 1)
    if j < 0:
        return None
    delta = payload[i + 1 : j]
    if "\\" in delta:
        return None
    # Only a flat object qualifies: a nested object (an unknown extra field) could hold keys
    # named "delta" or "output_index" of its own. Braces inside the delta do not count.
    if payload.count("{", 1, i) or payload.count("{", j):
        return None
    k = payload.find('"output_index":')
    if k < 0:
        return 0, delta
    k += 15
    end = payload.find(",", k)
    if end < 0:
        end = payload.find("}", k)
    try:
        return int(payload[k:end]), delta
    except ValueError:
        return None


def _parse(payload: str) -> Any:
    """``json.loads(payload)``, a few Python calls shorter for a payload that is one whole
    object, as nearly all are: ``json.loads`` skips whitespace, scans one value with this
    same scanner and requires that it end the text, so a scan from the opening brace that
    ends the text gives what it gives. Anything else (whitespace around, extra data, an
    error) is left to ``json.loads``, which raises :class:`ValueError` where it must."""
    if payload.startswith("{"):
        try:
            value, end = _scan(payload, 0)
        except (StopIteration, ValueError):
            return _loads(payload)
        if end == len(payload):
            return value
    return _loads(payload)


def _skipped_unparsed(payload: str) -> bool:
    """Whether reading ``payload`` (not a text delta of the fast reading's) would skip it, as
    seen without parsing it: its ``type``, written first, is one the reading does not act on
    (``response.content_part.added``, ``response.output_text.done``...), and no other key of
    the top-level object can be a ``type``. False when that cannot be seen so cheaply.

    Why this is exact: JSON keeps the last of duplicate keys, so the payload's type is that
    of its last top-level ``type`` key; with no backslash in the payload every quote opens
    or closes a string, and a key is ``type`` only as written ``"type"``. The first is at
    the start; any other written ``"type"`` right after a ``{`` is the first key of a nested
    object (or, the ``{`` in a string, a string followed by ``type``: not JSON, so skipped
    anyway); any other kind makes this answer False. A payload that is not JSON is skipped
    by the reading too.
    """
    if not payload.startswith(_TYPE_FIRST):
        return False
    end = payload.find('"', 9)
    if end < 0 or payload[9:end] in _READ_TYPES or "\\" in payload:
        return False
    k = payload.find(_TYPE_KEY, end)
    while k >= 0:
        if payload[k - 1] != "{":
            return False
        k = payload.find(_TYPE_KEY, k + 6)
    return True


#: The head of a ``response.created`` or ``.in_progress`` payload as the backend writes it:
#: the type and a sequence number (:func:`_repeats_noted`).
_NOTED_HEAD = re.compile(
    r'\{"type":"response\.(?:created|in_progress)",(?:"sequence_number":[0-9]+,)?'
)


def _repeats_noted(payload: str, noted: str) -> bool:
    """Whether ``payload``, right after a ``response.created`` or ``.in_progress`` payload
    the reading acted on, would do again exactly what that one did, so may be skipped: it
    is written the same after its head (:data:`_NOTED_HEAD`), which may differ only in
    which of the two types it names and in its sequence number.

    Why this is exact: JSON reads the text after the head alike in both (same place in the
    object, same text), so both have the same ``response`` (no head holds one) and the same
    keys after it; the type is the head's unless that text holds one (then both have it,
    and the first payload, acted on, shows it is one of the two). Both types only note the
    response's id and model, and noting the same response twice in a row changes nothing;
    a payload that is not JSON (a sequence number written ``01``) is skipped by the reading.
    """
    head = _NOTED_HEAD.match(payload)
    return head is not None and len(payload) - head.end() == len(noted) and payload.endswith(noted)


def _decode_deltas(deltas: Sequence[str]) -> str | None:
    """The text of JSON string bodies (escapes kept) decoded one by one and joined, as the
    JSON path decodes each payload (a surrogate pair split across two deltas stays two lone
    surrogates); None when one is not valid JSON."""
    joined = "".join(deltas)
    try:
        if _SURROGATE_ESCAPE.search(joined) is None:
            return _loads('"' + joined + '"')
        return "".join([_loads('"' + d + '"') for d in deltas])
    except ValueError:
        return None


class _Shape(NamedTuple):
    """How a text-delta payload is built: ``parts`` are the texts around its per-event values,
    one slot each between two parts; ``slots`` names each slot's field by its key (one of
    :data:`_DELTA_VALUE`, :data:`_SEQUENCE_KEY` or :data:`_NONCE_KEYS`), in payload order.
    ``strings`` and ``plain_strings`` find the string values of every payload of a run in
    one scan (:func:`_strings_pattern`)."""

    index: int
    slots: tuple[str, ...]
    parts: list[str]
    strings: re.Pattern[str]
    plain_strings: re.Pattern[str]
    #: The rebuilt pieces of one payload after its first part, the texts between the values
    #: in place and the values' places empty (the text after the last value is the run's).
    pieces: list[str]
    #: The places of the sequence number (-1: none) and of the string values, in ``pieces``,
    #: and which string value is the delta.
    sequence_at: int
    strings_at: tuple[int, ...]
    delta_column: int
    #: Each value's form (:data:`_VALUE_AT`) and the text up to the next value ("" at the end).
    forms: tuple[tuple[re.Pattern[str], str], ...]
    #: Where the item id lies when the shape was kept without it (:func:`_shape_key`): the
    #: part that holds it, its offset there, and the id; else None.
    item_id: tuple[int, int, str] | None = None


def _strings_pattern(
    slots: tuple[str, ...], parts: Sequence[str], *, plain: bool
) -> re.Pattern[str]:
    """A regex matching a payload built of ``parts`` and ``slots`` from (the end of) its
    first string value's key to its last string value, each string value (delta, nonces) a
    group in payload order: its ``findall`` over a run gives all of them in one scan.
    ``plain`` takes deltas up to the next quote (only for a run with no backslash). An item
    id's slot matches any value of its form, in no group: the run is confirmed against the
    whole text anyway, so the pattern need not hold the id and serves every turn."""
    strings = [m for m, slot in enumerate(slots) if slot not in _NOT_STRINGS]
    # The scan starts at the key's fourth character (``lta":"``): the regex engine stops at
    # every occurrence of a pattern's first character, and a quote or a common letter
    # would make it stop several times per event. The rest of the key still finds each
    # value; the run is confirmed against the whole text anyway.
    pattern = [re.escape(slots[strings[0]][3:])]
    for m in range(strings[0], strings[-1] + 1):
        if m > strings[0]:
            pattern.append(re.escape(parts[m]))
        slot = slots[m]
        body = _PLAIN_BODY if plain and slot == _DELTA_VALUE else _VALUE_BODY[slot]
        pattern.append(body if slot in _NOT_STRINGS else f"({body})")
    return re.compile("".join(pattern))


#: What :func:`_payload_shape` found for the payload shapes seen lately (:func:`_shape_key`):
#: the index both readings agree on and the shape's :func:`_layout`.
_layouts: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_LAYOUTS_CACHED = 64


def _cut(payload: str, spans: list[tuple[int, int, str]]) -> list[str] | None:
    """The texts of ``payload`` around ``spans`` (sorted ``(start, end, slot)``), or None if
    two of them overlap."""
    parts: list[str] = []
    at = 0
    for start, end, _ in spans:
        if start < at:  # cannot happen (no value holds another's key), but never overlap
            return None
        parts.append(payload[at:start])
        at = end
    parts.append(payload[at:])
    return parts


def _payload_shape(payload: str) -> _Shape | None:
    """How a text-delta payload is built, for :func:`_same_shape_run`; None unless both
    readings of :meth:`StreamAssembler.feed` (the fast one and JSON) agree on the payload and
    would agree on any payload built the same way.

    Its per-event values are the delta, the sequence number (if any) and the first value of
    each nonce field (:data:`_NONCE_KEYS`, up to any character not of the nonce form, which
    then is fixed text like any other: a nonce is valid wherever a JSON string is). The
    fast reading is asked directly, with the delta emptied. What it looks at besides
    the delta (the first ``delta`` and ``output_index`` keys, braces before and after the
    delta, the index up to the next comma) lies in the fixed text whatever the values are: a
    delta body or a nonce holds no unescaped quote, so no key, and a nonce no brace; a
    sequence number only digits; and in valid JSON a comma or brace follows the index at
    once. So it reads every payload of the shape alike. JSON must find the same type and
    index and a string delta, so that escaped deltas, which only JSON reads, read alike too
    (a nonce, valid in any JSON string and read by neither, cannot change that); its
    last-of-duplicate-keys rule cannot differ, as the ``delta`` key is unique and the index
    was compared.

    Both verdicts are therefore kept for the shape (:func:`_shape_key`), so that the next
    turn's payloads, built alike but for their item id, skip both readings and the building
    of the run's patterns.
    """
    i = payload.find(_DELTA_KEY)
    if i < 0 or payload.find(_DELTA_KEY, i + 1) >= 0 or not payload.startswith('"', i + 8):
        return None
    i += 9
    body = _VALUE_AT[_DELTA_VALUE].match(payload, i)  # always matches, if only the empty string
    j = body.end() if body else i
    if not payload.startswith('"', j):
        return None
    spans = [(i, j, _DELTA_VALUE)]
    for key in _NONCE_KEYS:  # its value up to anything not of the nonce form, if any
        k = payload.find(key)
        if k >= 0:
            k += len(key)
            nonce = _VALUE_AT[key].match(payload, k)  # always matches, if only the empty string
            spans.append((k, nonce.end() if nonce else k, key))
    k = payload.find(_SEQUENCE_KEY)
    if k >= 0:
        k += len(_SEQUENCE_KEY)
        digits = _VALUE_AT[_SEQUENCE_KEY].match(payload, k)  # no leading zero: the payload is JSON
        if digits is None:
            return None
        spans.append((k, digits.end(), _SEQUENCE_KEY))
    spans.sort()
    parts = _cut(payload, spans)
    if parts is None:
        return None
    slots = tuple(slot for _, _, slot in spans)
    key, item_id = _shape_key(payload, spans, slots)
    layout = _layouts.get(key)
    if layout is None:
        index = _agreed_index(payload, i, j)
        if index is None:
            return None
        if len(_layouts) >= _LAYOUTS_CACHED:
            _layouts.clear()
        layout = _layouts[key] = (index, *_layout(key[0], key[2:]))
    if item_id is not None:  # its place in parts
        k, value = item_id
        m = sum(1 for start, _, _ in spans if start < k)
        item_id = (m, k - (spans[m - 1][1] if m else 0), value)
    return _shape_of(layout, slots, parts, item_id)


def _shape_of(
    layout: tuple[Any, ...],
    slots: tuple[str, ...],
    parts: list[str],
    item_id: tuple[int, int, str] | None,
) -> _Shape:
    """The :class:`_Shape` of a payload of ``parts`` around ``slots``, its layout kept."""
    index, strings, plain_strings, value_forms = layout
    pieces = [""] * (2 * len(slots) - 1)
    pieces[1::2] = parts[1:-1]
    forms = tuple(zip(value_forms, [*parts[1:-1], ""], strict=True))
    return _Shape(
        index, slots, parts, strings, plain_strings, pieces, *_places(slots), forms, item_id
    )


#: The shape of the last run read in one piece (by any assembler), for the next turn's first
#: run: payloads built alike but for their item id (:func:`_with_item_id`).
_recent_shape: _Shape | None = None


def _shape_and_sequence(payload: str) -> tuple[_Shape, int] | None:
    """The shape of ``payload`` (:func:`_payload_shape`) and its sequence number, found from
    the last run's shape when the payload is built alike but for its item id."""
    global _recent_shape
    recent = _recent_shape
    if recent is not None:
        found = _with_item_id(payload, recent)
        if found is not None:
            return found
    shape = _payload_shape(payload)
    if shape is None:
        return None
    sequence = _sequence_if_built_as(payload, shape)
    if sequence is None:
        return None
    _recent_shape = shape
    return shape, sequence


def _with_item_id(payload: str, shape: _Shape) -> tuple[_Shape, int] | None:
    """``shape`` for ``payload``, and its sequence number, when ``payload`` is built as
    ``shape`` says but for its item id's value (of the nonce form); else None.

    ``payload`` with its own first item id put back to ``shape``'s must be built as
    ``shape`` says (:func:`_sequence_if_built_as`): then the ids lie at the same place (no
    value holds a quote, so no key), and the payloads differ only in an item id of the
    nonce form, which both readings find alike (:func:`_shape_key`).
    """
    if shape.item_id is None:
        return None
    m, offset, old = shape.item_id
    span = _item_id_span(payload)
    if span is None:
        return None
    k, end = span
    new = payload[k:end]
    if new == old:
        sequence = _sequence_if_built_as(payload, shape)
        return None if sequence is None else (shape, sequence)
    sequence = _sequence_if_built_as(payload[:k] + old + payload[end:], shape)
    if sequence is None:
        return None
    parts = list(shape.parts)
    parts[m] = parts[m][:offset] + new + parts[m][offset + len(old) :]
    pieces, forms = shape.pieces, shape.forms
    if 0 < m < len(parts) - 1:  # a text between two values: in pieces and forms too
        pieces = list(pieces)
        pieces[2 * m - 1] = parts[m]
        forms = (*forms[: m - 1], (forms[m - 1][0], parts[m]), *forms[m:])
    item_id = (m, offset, new)
    return shape._replace(parts=parts, pieces=pieces, forms=forms, item_id=item_id), sequence


def _shape_key(
    payload: str, spans: list[tuple[int, int, str]], slots: tuple[str, ...]
) -> tuple[tuple[Any, ...], tuple[int, str] | None]:
    """What :func:`_payload_shape` and :func:`_layout` find depends on: the slots and the
    texts around them, but for the item id's value when it is of the nonce form; and
    where that value starts, and the value, when it was left out.

    Why the item id may be left out: neither reading looks at it, and a value of the nonce
    form (no quote, backslash, control character or brace) is valid in any JSON string,
    holds no key and no brace, so JSON and the fast reading find the same as for any other
    such value (the argument for nonces, :func:`_payload_shape`). Shapes alike but for the
    item id have the same verdicts; their runs are still confirmed against the whole text of
    their own first payload, item id included (:attr:`_Shape.parts`).
    """
    span = _item_id_span(payload)
    if span is not None:
        k, end = span
        with_id = sorted([*spans, (k, end, _ITEM_ID_KEY)])
        generic = _cut(payload, with_id)
        if generic is not None:
            key = (tuple(slot for _, _, slot in with_id), True, *generic)
            return key, (k, payload[k:end])
    return (slots, False, *_cut(payload, spans)), None  # type: ignore[misc]


def _item_id_span(payload: str) -> tuple[int, int] | None:
    """Where the value of the first ``item_id`` key of ``payload`` lies, when it is of the
    nonce form up to its closing quote; else None."""
    k = payload.find(_ITEM_ID_KEY)
    if k < 0:
        return None
    k += len(_ITEM_ID_KEY)
    value = _ITEM_ID_AT.match(payload, k)  # always matches, if only the empty string
    end = value.end() if value else k
    return (k, end) if payload.startswith('"', end) else None


def _agreed_index(payload: str, i: int, j: int) -> int | None:
    """The output index both readings find in ``payload`` (its delta at ``i:j``), read as a
    text delta with a string delta by both; else None."""
    fast = _fast_text_delta(payload[:i] + payload[j:])
    if fast is None or fast[1]:
        return None
    index = fast[0]
    try:
        event = _loads(payload)
    except ValueError:
        return None
    if (
        type(event) is not dict
        or event.get("type") != _TEXT
        or not isinstance(event.get("delta"), str)
        or _int(event.get("output_index")) != index
    ):
        return None
    return index


def _layout(slots: tuple[str, ...], parts: tuple[str, ...]) -> tuple[Any, ...]:
    """The patterns of a :class:`_Shape` (see there) and the form of each of its values,
    for ``slots`` (the item id's among them, if any) and the texts around them."""
    return (
        _strings_pattern(slots, parts, plain=False),
        _strings_pattern(slots, parts, plain=True),
        tuple(_VALUE_AT[slot] for slot in slots if slot != _ITEM_ID_KEY),
    )


def _places(slots: tuple[str, ...]) -> tuple[int, tuple[int, ...], int]:
    """The places of the sequence number (-1: none) and of the string values in a
    :class:`_Shape`'s ``pieces``, and which string value is the delta."""
    strings_at = tuple(2 * m for m, slot in enumerate(slots) if slot != _SEQUENCE_KEY)
    return (
        2 * slots.index(_SEQUENCE_KEY) if _SEQUENCE_KEY in slots else -1,
        strings_at,
        strings_at.index(2 * slots.index(_DELTA_VALUE)),
    )


def _sequence_if_built_as(payload: str, shape: _Shape) -> int | None:
    """The sequence number of ``payload`` (0 if it has none) when it is built as ``shape``
    says: the same parts around values of the right form; else None."""
    parts = shape.parts
    at, tail = len(parts[0]), len(payload) - len(parts[-1])
    if not (payload.startswith(parts[0]) and payload.endswith(parts[-1])) or tail < at:
        return None
    sequence = 0
    for form, after in shape.forms:
        value = form.match(payload, at, tail)
        if value is None or not payload.startswith(after, value.end()):
            return None
        if form is _SEQUENCE_AT:
            sequence = int(value.group())
        at = value.end() + len(after)
    return sequence if at == tail else None


#: ``str(i)`` for the smallest ``i``, grown on demand up to a bound (sequence numbers of runs).
_decimal_strings: list[str] = []
_DECIMALS_CACHED = 1 << 14


def _decimals(start: int, count: int) -> list[str]:
    """``[str(start), str(start + 1), ...]``, ``count`` of them (cached while they are small:
    building the strings would cost a quarter of reading a run)."""
    global _decimal_strings
    stop = start + count
    cached = _decimal_strings
    if stop > len(cached):
        if stop > _DECIMALS_CACHED:
            return list(map(str, range(start, stop)))
        # A new list, so a reader on another thread never sees one half-extended.
        grown = min(max(stop, 2 * len(cached)), _DECIMALS_CACHED)
        cached = cached + list(map(str, range(len(cached), grown)))
        _decimal_strings = cached
    return cached[start:stop]


def _same_shape_run(text: str, run: Run, shape: _Shape, sequence: int) -> str | None:
    """The text of the deltas of ``run`` when every payload in it is its first one, built as
    ``shape`` says with ``sequence`` as its sequence number, with only the delta and nonces
    changed and the sequence number counting on by one; else None.

    The shape was checked once (:func:`_payload_shape`); the run is confirmed by rebuilding
    it from the values found in it and comparing, so every payload reads exactly as the
    first one does: one regex scan (for all string values at once) and one join, not a scan
    per rule. Each value is of its field's form (:data:`_VALUE_BODY`; a delta with no
    backslash, when the run holds none, up to the next quote).
    """
    first, stop = run.first, run.stop
    parts = shape.parts
    escaped = text.find("\\", first, stop) >= 0
    pattern = shape.strings if escaped else shape.plain_strings
    found = pattern.findall(text, first, stop)
    n = len(found)
    if not n:  # cannot happen (the first payload holds a delta), but never index an empty list
        return None
    # text[first:stop] is parts[0] v parts[1] ... v parts[-1] joint parts[0] v ... parts[-1]:
    # rebuild it after the leading parts[0], one slot per value and per text between values.
    width = len(shape.pieces) + 1
    pieces = [*shape.pieces, parts[-1] + run.joint + parts[0]] * n
    if shape.sequence_at >= 0:
        pieces[shape.sequence_at :: width] = _decimals(sequence, n)
    if pattern.groups == 1:
        pieces[shape.strings_at[0] :: width] = deltas = found
    else:  # findall gives one tuple per payload: one column of values per string slot
        columns = list(zip(*found, strict=True))
        for at, column in zip(shape.strings_at, columns, strict=True):
            pieces[at::width] = column
        deltas = columns[shape.delta_column]
    pieces[-1] = parts[-1]
    rebuilt = "".join(pieces)
    begin = first + len(parts[0])
    if len(rebuilt) != stop - begin or not text.startswith(rebuilt, begin):
        return None
    joined = "".join(deltas)
    return _decode_deltas(deltas) if "\\" in joined else joined


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


#: Integers whose float is exact (the common token count, answered first).
_EXACT_INT = 1 << 53


def _number(value: Any) -> float | None:
    """A finite number from a JSON number or numeric string, else None."""
    if type(value) is int and -_EXACT_INT <= value <= _EXACT_INT:
        return float(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float (JSON allows one): not a count
            return None
    return None


def _usage(data: Any) -> Usage:
    """:class:`Usage` from whatever ``usage`` holds; odd values count as 0 (protocol §6.2)."""
    if not isinstance(data, dict):
        return Usage()
    clean: dict[str, Any] = {}
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        number = _number(data.get(key))
        if number is not None:
            clean[key] = int(number)
    for key, inner in (
        ("input_tokens_details", "cached_tokens"),
        ("output_tokens_details", "reasoning_tokens"),
    ):
        details = data.get(key)
        number = _number(details.get(inner)) if isinstance(details, dict) else None
        if number is not None:
            clean[key] = {inner: int(number)}
    return Usage.from_json(clean)


class StreamAssembler:
    """Turns the payloads of one response stream into events and a :class:`CodexResult`.

    Use: ``events = asm.feed(payloads)`` per network read; stop when :attr:`done` (the last
    event was :class:`Completed`) or when :attr:`error` is set (raise it after delivering the
    events); at EOF, raise :meth:`eof_error`.
    """

    __slots__ = (
        "_added",
        "_items",
        "_last_shape",
        "_open_args",
        "_open_reasoning",
        "_open_text",
        "done",
        "error",
        "result",
    )

    def __init__(self, *, model: str | None = None, request_id: str | None = None) -> None:
        self.result = CodexResult(model=model, status="in_progress", request_id=request_id)
        self._items: dict[int, dict[str, Any]] = {}
        # What is known of the items still open, by output_index (dropped when they finish).
        self._added: dict[int, dict[str, Any]] = {}
        self._open_text: dict[int, list[str]] = {}
        self._open_reasoning: dict[int, dict[int, list[str]]] = {}
        self._open_args: dict[int, list[str]] = {}
        # How the text-delta payloads of the last long run were built (they rarely change).
        self._last_shape: _Shape | None = None
        #: True once a terminal event arrived (success or failure); later payloads are ignored.
        self.done = False
        #: The exception that ended the stream (``response.failed`` / ``.incomplete`` / ``error``).
        self.error: CodexError | None = None

    # -- the hot path -------------------------------------------------------------------------

    def feed_text(self, text: str) -> list[StreamEvent]:
        """Events for the whole events in ``text`` (from :meth:`SSEDecoder.feed_text`).

        A long run of text deltas of one output item, the bulk of any long answer, is read in
        one piece when its payloads are all written alike (:func:`_same_shape_run`: one regex
        scan and one comparison) instead of event by event; everything else (and any run that
        is not) goes through :meth:`feed`, with the same result.
        """
        if not text:
            return []
        found = self._text_run(text)
        if found is None:
            return self.feed(parse_events(text))
        start, end, index, delta = found
        events: list[StreamEvent] = []
        if self.done:
            return events
        # The run's text joins the delta pending around it, as reading event by event would.
        pending = self._read(parse_events(text[:start]), events, _NO_PENDING) if start else None
        if self.done:
            return events
        if pending is None:
            pending = (_K_TEXT, (index, 0), [delta], None)
        else:
            kind, key, parts, item_id = pending
            if kind == _K_TEXT and key[0] == index:
                parts.append(delta)
            else:
                if kind:
                    self._emit(events, kind, key, parts, item_id)
                pending = (_K_TEXT, (index, 0), [delta], None)
        if end < len(text):
            pending = self._read(parse_events(text[end:]), events, pending)
        kind, key, parts, item_id = pending
        if kind:
            self._emit(events, kind, key, parts, item_id)
        return events

    def _text_run(self, text: str) -> tuple[int, int, int, str] | None:
        """``(start, end, output_index, text)`` when the text-delta events of ``text`` form one
        long run that reads exactly as :meth:`feed` reads it event by event (``text[:start]``
        and ``text[end:]`` are the events around it), else None."""
        if len(text) < _SAME_SHAPE_MIN:
            return None
        run = locate_run(text, _TD_PAYLOAD)
        if run is None or run.stop - run.first < _SAME_SHAPE_MIN:
            return None
        payload = text[run.first : text.find("\n", run.first)]
        shape = self._last_shape
        sequence = None if shape is None else _sequence_if_built_as(payload, shape)
        if sequence is None:
            found = _shape_and_sequence(payload)
            if found is None:
                return None
            shape, sequence = found
            self._last_shape = shape
        delta = _same_shape_run(text, run, shape, sequence)
        if delta is None:
            return None
        return run.start, run.stop + 1, shape.index, delta

    def feed_tail(self, text: str) -> list[StreamEvent]:
        """Events for the text :meth:`SSEDecoder.flush_text` hands over at EOF.

        That last event may have been cut off mid-JSON, so every payload is parsed strictly
        (no fast path) and one that is not complete JSON is skipped.
        """
        payloads: list[str] = []
        for payload in parse_events(text):
            try:
                _loads(payload)
            except ValueError:
                continue
            payloads.append(payload)
        return self.feed(payloads)

    def feed(self, payloads: list[str]) -> list[StreamEvent]:
        """Events for the payloads of one read, deltas coalesced per item, in stream order."""
        events: list[StreamEvent] = []
        if self.done:
            return events
        kind, key, parts, item_id = self._read(payloads, events, _NO_PENDING)
        if kind:
            self._emit(events, kind, key, parts, item_id)
        return events

    def _read(self, payloads: list[str], events: list[StreamEvent], pending: _Pending) -> _Pending:
        """Append to ``events`` what ``payloads`` give after the ``pending`` coalesced delta,
        and return the delta then pending (to append to, or to emit)."""
        kind, key, parts, item_id = pending  # kind of the pending delta (0: none)
        noted = None  # the text after the head of the payload just noted, if that was the last
        for payload in payloads:
            if noted is not None:
                if _repeats_noted(payload, noted):
                    continue
                noted = None
            if payload.startswith(_TEXT_DELTA_PREFIXES):
                fast = _fast_text_delta(payload)
                if fast is not None:
                    index, delta = fast
                    if kind == _K_TEXT and key[0] == index:
                        parts.append(delta)
                    else:
                        if kind:
                            self._emit(events, kind, key, parts, item_id)
                        kind, key, parts = _K_TEXT, (index, 0), [delta]
                    continue
            elif _skipped_unparsed(payload):
                continue
            try:
                event = _parse(payload)
            except ValueError:
                continue
            if type(event) is not dict:
                continue
            etype = event.get("type")
            if type(etype) is not str:  # an object or list would not even hash: skip it
                continue
            if etype == _TEXT:
                index = _int(event.get("output_index"))
                delta = event.get("delta")
                if not isinstance(delta, str):
                    continue
                if kind == _K_TEXT and key[0] == index:
                    parts.append(delta)
                else:
                    if kind:
                        self._emit(events, kind, key, parts, item_id)
                    kind, key, parts = _K_TEXT, (index, 0), [delta]
            elif etype == _REASONING_SUMMARY or etype == _REASONING_RAW:
                delta = event.get("delta")
                if not isinstance(delta, str):
                    continue
                sub = event.get("summary_index" if etype == _REASONING_SUMMARY else "content_index")
                new_key = (_int(event.get("output_index")), _int(sub))
                if kind == _K_REASONING and key == new_key:
                    parts.append(delta)
                else:
                    if kind:
                        self._emit(events, kind, key, parts, item_id)
                    kind, key, parts = _K_REASONING, new_key, [delta]
            elif etype == _ARGS:
                delta = event.get("delta")
                if not isinstance(delta, str):
                    continue
                index = _int(event.get("output_index"))
                if kind == _K_ARGS and key[0] == index:
                    parts.append(delta)
                else:
                    if kind:
                        self._emit(events, kind, key, parts, item_id)
                    kind, key, parts = _K_ARGS, (index, 0), [delta]
                    item_id = event.get("item_id")
            elif etype in _STRUCTURAL:
                if kind:
                    self._emit(events, kind, key, parts, item_id)
                    kind = 0
                produced = self._other(etype, event)
                if produced is not None:
                    events.append(produced)
                if self.done:
                    return _NO_PENDING
            elif etype == "response.created" or etype == "response.in_progress":
                self._note_response(event.get("response"))
                head = _NOTED_HEAD.match(payload)
                noted = payload[head.end() :] if head else None
        return kind, key, parts, item_id

    def _emit(
        self,
        events: list[StreamEvent],
        kind: int,
        key: tuple[int, int],
        parts: list[str],
        item_id: str | None,
    ) -> None:
        """Append the coalesced delta, unless it is empty (empty deltas carry nothing)."""
        if any(parts):
            events.append(self._flush(kind, key, parts, item_id))

    def _flush(
        self, kind: int, key: tuple[int, int], parts: list[str], item_id: str | None
    ) -> StreamEvent:
        text = parts[0] if len(parts) == 1 else "".join(parts)
        if kind == _K_TEXT:
            open_text = self._open_text.get(key[0])
            if open_text is None:
                self._open_text[key[0]] = [text]
            else:
                open_text.append(text)
            return TextDelta(text, key[0])
        if kind == _K_REASONING:
            parts = self._open_reasoning.setdefault(key[0], {})
            parts.setdefault(key[1], []).append(text)
            return ReasoningDelta(text, key[0], key[1])
        self._open_args.setdefault(key[0], []).append(text)
        return ToolArgumentsDelta(text, key[0], item_id)

    # -- everything else ----------------------------------------------------------------------

    def _other(self, etype: Any, event: dict[str, Any]) -> StreamEvent | None:
        """Handle a structural event; sets :attr:`done`/:attr:`error` for terminal ones."""
        if etype == "response.output_item.done":
            item = event.get("item")
            if not isinstance(item, dict):
                return None
            index = _int(event.get("output_index"), len(self._items))
            self._items[index] = item
            self._forget_open(index)
            return ItemDone(item, index)
        if etype == "response.output_item.added":
            item = event.get("item")
            if not isinstance(item, dict):
                return None
            index = _int(event.get("output_index"))
            self._added[index] = item
            return ItemAdded(item, index)
        if etype == "response.completed":
            response = event.get("response")
            response = response if isinstance(response, dict) else {}
            self._note_response(response)
            result = self.result
            if self._items:
                result.items = [self._items[i] for i in sorted(self._items)]
            else:
                output = response.get("output")
                result.items = [i for i in output if isinstance(i, dict)] if output else []
            result.usage = _usage(response.get("usage"))
            result.status = str(response.get("status") or "completed")
            self._added.clear()
            self._open_text.clear()
            self._open_reasoning.clear()
            self._open_args.clear()
            self.done = True
            return Completed(result)
        if etype == "response.failed":
            response = event.get("response")
            response = response if isinstance(response, dict) else {}
            self._note_response(response)
            self.done = True
            self.error = map_failure(response.get("error"), partial=self.partial("failed"))
            return None
        if etype == "response.incomplete":
            response = event.get("response")
            response = response if isinstance(response, dict) else {}
            self._note_response(response)
            details = response.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, dict) else None
            reason = str(reason) if reason else "unknown"
            partial = self.partial("incomplete")
            partial.incomplete_reason = reason
            partial.usage = _usage(response.get("usage"))
            self.done = True
            self.error = IncompleteResponse(
                f"The response was cut short by the backend ({reason}).",
                reason=reason,
                partial=partial,
            )
            return None
        if etype == "error":
            self.done = True
            self.error = stream_error(event, partial=self.partial("failed"))
            return None
        return None

    def _note_response(self, response: Any) -> None:
        if not isinstance(response, dict):
            return
        if response.get("id"):
            self.result.response_id = str(response["id"])
        if response.get("model"):
            self.result.model = str(response["model"])

    # -- results for failures -----------------------------------------------------------------

    def _forget_open(self, index: int) -> None:
        self._added.pop(index, None)
        self._open_text.pop(index, None)
        self._open_reasoning.pop(index, None)
        self._open_args.pop(index, None)

    def partial(self, status: str = "incomplete") -> CodexResult:
        """The result so far: finished items, and every unfinished item rebuilt (see above)."""
        items = dict(self._items)
        open_indexes = (
            set(self._added)
            | set(self._open_text)
            | set(self._open_reasoning)
            | set(self._open_args)
        )
        for index in open_indexes - set(items):
            items[index] = self._rebuild(index)
        r = self.result
        return CodexResult(
            response_id=r.response_id,
            model=r.model,
            status=status,
            items=[items[i] for i in sorted(items)],
            usage=r.usage,
            rate_limits=r.rate_limits,
            request_id=r.request_id,
        )

    def _rebuild(self, index: int) -> dict[str, Any]:
        """An unfinished item from its ``output_item.added`` and its deltas so far."""
        item = dict(self._added.get(index) or {})
        kind = item.get("type")
        if kind is None:
            kind = "reasoning" if index in self._open_reasoning else "message"
            if index in self._open_args and index not in self._open_text:
                kind = "function_call"
        item["type"] = kind
        if kind == "message":
            item.setdefault("role", "assistant")
            text = "".join(self._open_text.get(index, ()))
            item["content"] = [{"type": "output_text", "text": text, "annotations": []}]
        elif kind == "reasoning":
            parts = self._open_reasoning.get(index, {})
            item["summary"] = [
                {"type": "summary_text", "text": "".join(parts[k])} for k in sorted(parts)
            ]
        elif kind == "function_call":
            pieces = self._open_args.get(index)
            item["arguments"] = "".join(pieces) if pieces else item.get("arguments") or ""
        item["status"] = "incomplete"
        return item

    def eof_error(self) -> StreamClosedEarly:
        """The error for a stream that ended without a terminal event."""
        self.done = True
        return StreamClosedEarly(
            "The connection to the Codex backend closed before the response was complete.",
            partial=self.partial("incomplete"),
        )
