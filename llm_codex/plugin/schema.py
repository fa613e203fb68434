"""Turn a user's JSON schema into one the Codex backend accepts for strict structured output.

The backend's ``text.format`` ``{"type": "json_schema", "strict": true}`` only takes a subset of
JSON Schema (the same subset as OpenAI's Structured Outputs): every object must list all of its
properties in ``required`` and set ``additionalProperties: false``, and only a known set of
keywords may appear. :func:`strict_schema` rewrites a schema into that form where it can do so
without changing what a valid answer looks like, and refuses it with a
:class:`~llm_codex.core.errors.ConfigurationError` (one sentence naming the keyword and where it
is) where it cannot, so a bad schema never reaches the backend as a 400.

Rewrites (the same ones OpenAI's own SDK makes, plus the optional-property rule):

- ``additionalProperties: false`` is added to every object;
- a property that was optional becomes required and nullable (``"type": ["string", "null"]``
  or ``anyOf: [..., {"type": "null"}]``), so the model answers ``null`` for "not given";
- ``oneOf`` becomes ``anyOf``; a one-entry ``allOf`` is merged into its parent;
- a ``$ref`` with sibling keywords is inlined;
- annotations the backend does not need are removed (``default``, ``examples``, ``$schema``,
  ``$id``, ``$comment``, ``readOnly``, ``writeOnly``, ``deprecated``, ``x-*``), and so is a
  ``format`` the backend does not know (``uri``, ``binary``, ...): formats are annotations in
  JSON Schema.

Refused: a top level that is not an object; objects with free-form keys (``additionalProperties``
true or a schema, ``patternProperties``, ``propertyNames``) or without declared properties;
``allOf`` with several entries, ``not``, ``if``/``then``/``else``, ``dependentRequired``,
``dependentSchemas``, ``prefixItems``, ``contains``, ``uniqueItems``, ``minLength``/``maxLength``,
``minProperties``/``maxProperties``, ``unevaluated*`` and any keyword not listed in
:data:`ALLOWED_KEYWORDS`.
"""

from __future__ import annotations

import copy
from typing import Any

from llm_codex.core.errors import ConfigurationError

__all__ = ["ALLOWED_KEYWORDS", "SCHEMA_NAME", "strict_schema", "text_format"]

#: The ``name`` sent with the schema (letters, digits, ``_`` and ``-`` only).
SCHEMA_NAME = "llm_output"

#: Keywords strict mode accepts.
ALLOWED_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "anyOf",
        "enum",
        "const",
        "description",
        "title",
        "$ref",
        "$defs",
        "definitions",
        "pattern",
        "format",
        "multipleOf",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
    }
)

#: Annotations removed without changing what a valid answer is.
_DROPPED = frozenset(
    {
        "default",
        "examples",
        "$schema",
        "$id",
        "$comment",
        "readOnly",
        "writeOnly",
        "deprecated",
        "contentMediaType",
        "contentEncoding",
    }
)

#: ``format`` values strict mode understands; any other format is dropped.
_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)


def text_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The ``text.format`` object for ``schema`` (strictified; see :func:`strict_schema`)."""
    return {
        "type": "json_schema",
        "name": SCHEMA_NAME,
        "strict": True,
        "schema": strict_schema(schema),
    }


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a strict-mode version of ``schema`` (a new dict) or raise ConfigurationError."""
    if not isinstance(schema, dict):
        raise ConfigurationError("The schema must be a JSON object.")
    root = copy.deepcopy(schema)
    top = _resolve_shallow(root, root)
    if top.get("type") != "object":
        raise ConfigurationError(
            "The Codex backend needs a schema whose top level is an object "
            '("type": "object"); wrap your schema in an object property.'
        )
    return _walk(root, root=root, path="$", seen_refs=set())


def _fail(path: str, what: str) -> ConfigurationError:
    return ConfigurationError(
        f"This schema cannot be used for structured output with the Codex backend: {what} "
        f"at {path} is not supported in strict mode; remove it and try again."
    )


def _resolve_ref(root: dict[str, Any], ref: Any, path: str) -> dict[str, Any]:
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise _fail(path, f"the external reference {ref!r}")
    node: Any = root
    for key in [k for k in ref[1:].split("/") if k]:
        key = key.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            raise ConfigurationError(f"The schema reference {ref!r} at {path} does not resolve.")
        node = node[key]
    if not isinstance(node, dict):
        raise ConfigurationError(f"The schema reference {ref!r} at {path} does not resolve.")
    return node


def _resolve_shallow(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    seen: set[str] = set()
    while isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
        seen.add(node["$ref"])
        node = _resolve_ref(root, node["$ref"], "$")
    return node


def _walk(node: Any, *, root: dict[str, Any], path: str, seen_refs: set[str]) -> dict[str, Any]:
    if node is True or node == {}:
        raise _fail(path, "a schema that accepts any value")
    if not isinstance(node, dict):
        raise ConfigurationError(f"The schema at {path} must be a JSON object.")
    node = dict(node)

    for key in list(node):
        if key in _DROPPED or key.startswith("x-"):
            del node[key]
    if "format" in node and node["format"] not in _FORMATS:
        del node["format"]
    if "oneOf" in node:
        if "anyOf" in node:
            raise _fail(path, "'oneOf' next to 'anyOf'")
        node["anyOf"] = node.pop("oneOf")
    if "allOf" in node:
        all_of = node.pop("allOf")
        if not isinstance(all_of, list) or len(all_of) != 1 or not isinstance(all_of[0], dict):
            raise _fail(path, "'allOf' with several schemas")
        node = {**all_of[0], **node}
        return _walk(node, root=root, path=path, seen_refs=seen_refs)
    if "$ref" in node and len(node) > 1:
        ref = node.pop("$ref")
        if ref in seen_refs:
            raise _fail(path, f"the recursive reference {ref!r} with sibling keywords")
        resolved = _resolve_ref(root, ref, path)
        merged = {**resolved, **node}
        return _walk(merged, root=root, path=path, seen_refs=seen_refs | {ref})
    if "$ref" in node:
        _resolve_ref(root, node["$ref"], path)  # must resolve; left as a reference

    for key in node:
        if key not in ALLOWED_KEYWORDS:
            raise _fail(path, f"the keyword {key!r}")

    for defs_key in ("$defs", "definitions"):
        if defs_key in node:
            defs = node[defs_key]
            if not isinstance(defs, dict):
                raise ConfigurationError(f"'{defs_key}' at {path} must be an object.")
            node[defs_key] = {
                name: _walk(sub, root=root, path=f"{path}.{defs_key}.{name}", seen_refs=seen_refs)
                for name, sub in defs.items()
            }

    types = node.get("type")
    type_list = types if isinstance(types, list) else [types] if types else []
    is_object = "object" in type_list or ("properties" in node and not type_list)
    if is_object:
        _strict_object(node, root=root, path=path, seen_refs=seen_refs)
    elif "additionalProperties" in node or "required" in node:
        raise _fail(path, "'additionalProperties' or 'required' outside an object")

    if "items" in node:
        items = node["items"]
        if not isinstance(items, dict):
            raise _fail(path, "'items' given as a list (tuple validation)")
        node["items"] = _walk(items, root=root, path=f"{path}[]", seen_refs=seen_refs)
    elif "array" in type_list:
        raise _fail(path, "an array without 'items'")

    if "anyOf" in node:
        any_of = node["anyOf"]
        if not isinstance(any_of, list) or not any_of:
            raise ConfigurationError(f"'anyOf' at {path} must be a non-empty list.")
        node["anyOf"] = [
            _walk(sub, root=root, path=f"{path}.anyOf[{i}]", seen_refs=seen_refs)
            for i, sub in enumerate(any_of)
        ]

    if not type_list and not {"anyOf", "$ref", "enum", "const"} & set(node):
        raise _fail(path, "a schema without a 'type'")
    return node


def _strict_object(
    node: dict[str, Any], *, root: dict[str, Any], path: str, seen_refs: set[str]
) -> None:
    extra = node.get("additionalProperties", False)
    if extra is not False:
        raise _fail(path, "an object with free-form keys ('additionalProperties')")
    properties = node.get("properties")
    if not isinstance(properties, dict) or not properties:
        raise _fail(path, "an object without declared 'properties'")
    required = node.get("required") or []
    if not isinstance(required, list):
        raise ConfigurationError(f"'required' at {path} must be a list.")
    for name in required:
        if name not in properties:
            raise ConfigurationError(
                f"The schema at {path} requires {name!r}, which is not among its properties."
            )
    new_props: dict[str, Any] = {}
    for name, sub in properties.items():
        sub_path = f"{path}.{name}"
        strict_sub = _walk(sub, root=root, path=sub_path, seen_refs=seen_refs)
        if name not in required:
            strict_sub = _nullable(strict_sub)
        new_props[name] = strict_sub
    node["properties"] = new_props
    node["required"] = list(new_props)
    node["additionalProperties"] = False


def _is_nullable(node: dict[str, Any]) -> bool:
    types = node.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return True
    return any(isinstance(s, dict) and s.get("type") == "null" for s in node.get("anyOf") or [])


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` widened to also accept ``null`` (used for formerly optional properties)."""
    if _is_nullable(node):
        return node
    types = node.get("type")
    if types and "anyOf" not in node and "$ref" not in node:
        widened = dict(node)
        widened["type"] = [*types, "null"] if isinstance(types, list) else [types, "null"]
        if "enum" in widened:
            widened["enum"] = [*widened["enum"], None]
        if "const" in widened:
            widened["enum"] = [widened.pop("const"), None]
        return widened
    if "anyOf" in node and set(node) <= {"anyOf", "description", "title"}:
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    outer: dict[str, Any] = {}
    inner = dict(node)
    if "description" in inner:
        outer["description"] = inner.pop("description")
    outer["anyOf"] = [inner, {"type": "null"}]
    return outer
