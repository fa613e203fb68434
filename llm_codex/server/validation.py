"""The boundary of the server: what a request body must look like before it is translated.

One home for the rule "a bad request is a 400 in OpenAI's shape, never a 500":

- :func:`parse_body` turns the raw bytes into a JSON object and refuses what no later step can
  carry safely: invalid JSON or UTF-8, nesting deeper than :data:`MAX_DEPTH` (it would exhaust
  Python's recursion when the body is encoded again for the backend) and lone UTF-16 surrogates
  (``"\\ud800"`` is valid JSON but not Unicode, so it cannot be sent on as UTF-8).
- :func:`check_fields` checks the JSON type of each known top-level field against a table
  (:data:`CHAT_FIELDS`, :data:`RESPONSES_FIELDS`, written from OpenAI's published schema);
  ``null`` counts as absent, as OpenAI's API treats it. The translators then rely on the types.
- :func:`translating` is the net under the translators: any other exception a pure translation
  raises on a body it did not foresee is a shape it does not support, so it becomes a 400 too
  (logged as one warning line, without a traceback).
- :func:`header_safe_names` makes client-chosen parameter names fit for a response header.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from llm_codex.server.errors import RequestRefused

__all__ = [
    "CHAT_FIELDS",
    "MAX_DEPTH",
    "RESPONSES_FIELDS",
    "check_fields",
    "checked_translation",
    "expect",
    "header_safe_names",
    "parse_body",
    "printable",
    "translating",
]

logger = logging.getLogger("llm_codex.server")
T = TypeVar("T")

#: Deepest nesting of arrays and objects accepted in a request body.
MAX_DEPTH = 100

#: JSON type names as OpenAI's error messages use them -> Python types (bool is not a number).
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "object": (dict,),
    "array": (list,),
}

#: Expected JSON types of the Chat Completions fields the server reads (others are dropped).
CHAT_FIELDS: dict[str, tuple[str, ...]] = {
    "model": ("string",),
    "messages": ("array",),
    "stream": ("boolean",),
    "stream_options": ("object",),
    "tools": ("array",),
    "tool_choice": ("string", "object"),
    "parallel_tool_calls": ("boolean",),
    "response_format": ("object",),
    "reasoning_effort": ("string",),
    "reasoning_summary": ("string",),
    "verbosity": ("string",),
    "service_tier": ("string",),
    "prompt_cache_key": ("string",),
    "user": ("string",),
    "safety_identifier": ("string",),
    "n": ("integer",),
    "store": ("boolean",),
    "logprobs": ("boolean",),
    "modalities": ("array",),
    "web_search_options": ("object",),
}

#: Expected JSON types of the Responses fields the server reads (others are dropped).
RESPONSES_FIELDS: dict[str, tuple[str, ...]] = {
    "model": ("string",),
    "input": ("string", "array"),
    "instructions": ("string",),
    "tools": ("array",),
    "tool_choice": ("string", "object"),
    "parallel_tool_calls": ("boolean",),
    "reasoning": ("object",),
    "text": ("object",),
    "service_tier": ("string",),
    "prompt_cache_key": ("string",),
    "stream": ("boolean",),
    "store": ("boolean",),
    "include": ("array",),
    "user": ("string",),
    "safety_identifier": ("string",),
    "background": ("boolean",),
}

# A JSON escape of a UTF-16 surrogate: only bodies containing one can hold a lone surrogate
# (raw UTF-8 cannot encode surrogates), so only those are searched for one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    for name, types in _TYPES.items():
        if isinstance(value, types) and not (isinstance(value, bool) and name != "boolean"):
            return name
    return type(value).__name__


def _matches(value: Any, kinds: tuple[str, ...]) -> bool:
    name = _type_name(value)
    if name == "number" and "integer" in kinds:  # JSON Schema: 1.0 is an integer
        return float(value).is_integer()
    return name in kinds or ("number" in kinds and name == "integer")


def expect(value: Any, kinds: tuple[str, ...] | str, *, where: str, param: str) -> Any:
    """``value`` when it is ``null`` or of one of the JSON types ``kinds``, else a 400.

    ``where`` names the value in the message (``messages[2].tool_calls``), ``param`` is the
    top-level field reported in the error's ``param``.
    """
    if isinstance(kinds, str):
        kinds = (kinds,)
    if value is None or _matches(value, kinds):
        return value
    wanted = " or ".join(f"a{'n' if k[0] in 'aeiou' else ''} {k}" for k in kinds)
    raise RequestRefused(
        f"'{where}' must be {wanted}, not {_type_name(value)}.",
        param=param,
        code="invalid_type",
    )


def check_fields(body: Mapping[str, Any], fields: Mapping[str, tuple[str, ...]]) -> None:
    """Refuse (400) the first known field whose value has the wrong JSON type."""
    for name, kinds in fields.items():
        if name in body:
            expect(body[name], kinds, where=name, param=name)


def _too_deep() -> RequestRefused:
    return RequestRefused(
        f"The request body is nested more than {MAX_DEPTH} levels deep.", code="invalid_json"
    )


def _has_surrogate(value: Any) -> bool:
    return isinstance(value, str) and _SURROGATE.search(value) is not None


def _walk(body: Any, *, surrogates: bool) -> None:
    """Refuse bodies nested deeper than :data:`MAX_DEPTH` or holding lone surrogates."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            if surrogates and any(map(_has_surrogate, value)):
                raise _lone_surrogate(body)
            children: Any = value.values()
        else:
            children = value
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            elif surrogates and _has_surrogate(child):
                raise _lone_surrogate(body)


def _surrogate_path(value: Any, path: str) -> str | None:
    """Where the first lone surrogate is (``messages[0].content``), for the message."""
    if isinstance(value, dict):
        pairs: Any = value.items()
    elif isinstance(value, list):
        pairs = enumerate(value)
    else:
        return path if _has_surrogate(value) else None
    for key, child in pairs:
        here = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        if _has_surrogate(key):
            return here
        found = _surrogate_path(child, here)
        if found is not None:
            return found
    return None


def _lone_surrogate(body: Any) -> RequestRefused:
    where = _surrogate_path(body, "") or "a string"
    return RequestRefused(
        f"The request body holds a lone UTF-16 surrogate (such as \\ud800) in "
        f"'{printable(where)}': strings must be valid Unicode.",
        code="invalid_json",
    )


def printable(text: str, limit: int = 80) -> str:
    """``text`` fit for one log line: lone surrogates, CR/LF and other control characters
    escaped (``\\r``), cut to ``limit`` characters with an ellipsis."""
    if len(text) <= limit and text.isprintable():
        # nearly every value logged: short and printable, which leaves nothing to do (a lone
        # surrogate is not printable, so backslashreplace would not change it either)
        return text
    return _escaped(text, limit)


def _escaped(text: str, limit: int) -> str:
    """:func:`printable` for any text (the general path)."""
    head = text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")
    cleaned = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in head)
    if len(text) <= limit and len(cleaned) <= limit:
        return cleaned
    return cleaned[: limit - 1] + "…"


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or :class:`RequestRefused` (400 ``invalid_json``)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RequestRefused("The request body is not valid JSON.", code="invalid_json") from None
    except RecursionError:
        raise _too_deep() from None
    if not isinstance(body, dict):
        raise RequestRefused("The request body must be a JSON object.", code="invalid_json")
    _walk(body, surrogates=_SURROGATE_ESCAPE.search(raw) is not None)
    return body


@contextmanager
def translating(endpoint: str) -> Iterator[None]:
    """Turns an unforeseen exception of a pure request translation into a 400."""
    try:
        yield
    except RequestRefused:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        logger.warning(
            "refused a %s request of an unsupported shape (%s: %s)",
            endpoint,
            type(exc).__name__,
            printable(str(exc)),
        )
        raise RequestRefused(
            f"The request body has a value of a type or shape {endpoint} does not support.",
            code="invalid_request",
        ) from None


#: A parameter name fit to be listed in a header: an HTTP token, not too long.
_HEADER_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_MAX_LISTED = 32


def header_safe_names(names: Iterable[str]) -> list[str]:
    """Client-chosen names made safe for a header: sorted, at most 32, each an ASCII token.

    A name that is not one (non-Latin-1 letters, CR/LF, spaces, a 1 MB name…) is listed as
    ``(invalid-name)``, so the header can neither break the answer nor forge another header.
    """
    safe = sorted({n if _HEADER_NAME.fullmatch(n) else "(invalid-name)" for n in names})
    if len(safe) > _MAX_LISTED:
        safe = [*safe[:_MAX_LISTED], "..."]
    return safe


def checked_translation(
    body: dict[str, Any],
    fields: Mapping[str, tuple[str, ...]],
    translate: Callable[[dict[str, Any]], T],
    *,
    endpoint: str,
) -> T:
    """``translate(body)`` after :func:`check_fields`, under :func:`translating`."""
    with translating(endpoint):
        check_fields(body, fields)
        return translate(body)
