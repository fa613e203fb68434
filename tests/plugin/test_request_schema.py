"""Structured output: schemas become strict json_schema formats, or are refused in one sentence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_codex.core.errors import ConfigurationError
from llm_codex.plugin.schema import SCHEMA_NAME, strict_schema

from .request_support import build


def _objects(schema):
    """Every object-typed subschema (the ones strict mode constrains)."""
    if isinstance(schema, dict):
        types = schema.get("type")
        types = types if isinstance(types, list) else [types]
        if "object" in types:
            yield schema
        for value in schema.values():
            yield from _objects(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _objects(value)


def assert_strict_valid(schema):
    for obj in _objects(schema):
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])


def test_schema_is_sent_as_strict_json_schema():
    """--schema sends text.format json_schema with strict true and our schema name."""
    req = build(
        schema={"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    )
    assert req.text_format == {
        "type": "json_schema",
        "name": SCHEMA_NAME,
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
            "additionalProperties": False,
        },
    }


def test_llm_schema_dsl_output_is_accepted():
    """Schemas from llm's concise DSL (and --schema-multi) are made strict without complaint."""
    import llm

    for dsl in ("name, age int, bio: a short bio", "name, tags"):
        schema = llm.schema_dsl(dsl)
        assert_strict_valid(strict_schema(schema))
        multi = llm.schema_dsl(dsl, multi=True)
        assert_strict_valid(strict_schema(multi))


def test_optional_properties_become_required_and_nullable():
    """An optional property becomes required but may be null, so the answer can omit it honestly."""
    out = strict_schema(
        {
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "integer", "enum": [1, 2]},
                "c": {"$ref": "#/$defs/C"},
            },
            "required": ["a"],
            "$defs": {"C": {"type": "object", "properties": {"x": {"type": "number"}}}},
        }
    )
    assert out["required"] == ["a", "b", "c"]
    assert out["properties"]["a"] == {"type": "string"}
    assert out["properties"]["b"] == {"type": ["integer", "null"], "enum": [1, 2, None]}
    assert out["properties"]["c"] == {"anyOf": [{"$ref": "#/$defs/C"}, {"type": "null"}]}
    assert out["$defs"]["C"]["additionalProperties"] is False
    assert out["$defs"]["C"]["required"] == ["x"]


def test_pydantic_model_schema_is_accepted():
    """A pydantic model's schema (defaults, titles, nested models) is accepted."""
    from pydantic import BaseModel

    class Dog(BaseModel):
        name: str
        age: int = 3

    class Kennel(BaseModel):
        dogs: list[Dog]
        note: str | None = None

    out = strict_schema(Kennel.model_json_schema())
    assert_strict_valid(out)
    assert "default" not in str(out)


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({"type": "array", "items": {"type": "string"}}, "top level is an object"),
        (
            {"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}},
            "'minLength' at $.a",
        ),
        (
            {
                "type": "object",
                "properties": {"m": {"type": "object", "additionalProperties": {"type": "string"}}},
            },
            "free-form keys",
        ),
        ({"type": "object", "properties": {"a": {"not": {"type": "string"}}}}, "'not'"),
        (
            {
                "type": "object",
                "properties": {"a": {"allOf": [{"type": "string"}, {"type": "integer"}]}},
            },
            "'allOf' with several schemas",
        ),
        ({"type": "object"}, "without declared 'properties'"),
    ],
)
def test_schemas_strict_mode_cannot_express_are_refused(schema, needle):
    """A schema strict mode cannot express is refused locally with one sentence naming the spot."""
    with pytest.raises(ConfigurationError) as info:
        build(schema=schema)
    message = str(info.value)
    assert needle in message
    assert message.count("\n") == 0


def test_unknown_formats_are_dropped_and_known_kept():
    """format: uri (unknown to strict mode) is dropped; format: date-time is kept."""
    out = strict_schema(
        {
            "type": "object",
            "properties": {
                "u": {"type": "string", "format": "uri"},
                "t": {"type": "string", "format": "date-time"},
            },
            "required": ["u", "t"],
        }
    )
    assert out["properties"]["u"] == {"type": "string"}
    assert out["properties"]["t"]["format"] == "date-time"


def test_one_of_becomes_any_of():
    """oneOf is sent as anyOf (strict mode knows only anyOf)."""
    out = strict_schema(
        {
            "type": "object",
            "properties": {"v": {"oneOf": [{"type": "string"}, {"type": "integer"}]}},
            "required": ["v"],
        }
    )
    assert out["properties"]["v"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}


def test_input_schema_is_not_modified():
    """The caller's schema dict is left untouched."""
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    strict_schema(schema)
    assert schema == {"type": "object", "properties": {"a": {"type": "string"}}}


# --- property: any schema built from supported pieces comes out strict-valid ---------------------

_leaf = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer", "minimum": 0},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "string", "enum": ["a", "b"]},
        {"type": "string", "format": "email", "default": "x@y.z"},
        {"type": ["string", "null"]},
    ]
)


def _extend(children):
    props = st.dictionaries(
        st.from_regex(r"[a-z]{1,6}", fullmatch=True), children, min_size=1, max_size=4
    )

    @st.composite
    def obj(draw):
        properties = draw(props)
        required = draw(st.lists(st.sampled_from(sorted(properties)), unique=True))
        node = {"type": "object", "properties": properties, "description": "d"}
        if required:
            node["required"] = required
        return node

    return st.one_of(
        obj(),
        children.map(lambda c: {"type": "array", "items": c, "maxItems": 5}),
        st.lists(children, min_size=1, max_size=3).map(lambda cs: {"anyOf": cs}),
        st.lists(children, min_size=1, max_size=3).map(lambda cs: {"oneOf": cs}),
    )


_schemas = st.recursive(_leaf, _extend, max_leaves=12)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), _schemas, min_size=1, max_size=4),
    st.data(),
)
def test_strictifier_always_yields_strict_valid_schemas(properties, data):
    """Every object in the result has additionalProperties false and all properties required."""
    required = data.draw(st.lists(st.sampled_from(sorted(properties)), unique=True))
    schema = {"type": "object", "properties": properties, "required": required}
    out = strict_schema(schema)
    assert_strict_valid(out)
    assert "oneOf" not in str(out)
    assert "'default'" not in str(out)
    # formerly optional top-level properties accept null
    for name in set(properties) - set(required):
        prop = out["properties"][name]
        types = prop.get("type")
        nullable = (isinstance(types, list) and "null" in types) or any(
            s.get("type") == "null" for s in prop.get("anyOf", [])
        )
        assert nullable, prop
