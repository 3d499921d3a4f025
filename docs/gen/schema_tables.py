"""Markdown tables from pydantic JSON schemas: one table per object, one row per key.

A JSON schema is what pydantic itself says a model accepts (aliases, defaults, bounds, enums), so
a reference rendered from it cannot disagree with the validation it documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

Schema = dict[str, Any]


class FactoryDefaults(GenerateJsonSchema):
    """Pydantic's schema, with the defaults that ``default_factory`` fields really get."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]
        return schema.get("default", NoDefault)


def schema_of(model: type[BaseModel]) -> Schema:
    """The validation-mode JSON schema of ``model``, keys by alias, factory defaults filled in."""
    return model.model_json_schema(schema_generator=FactoryDefaults)


#: JSON-schema type names as Python spells them.
TYPE_NAMES = {"integer": "int", "number": "float", "string": "str", "boolean": "bool"}

#: JSON-schema keywords shown as constraints, with how each reads in the table.
CONSTRAINTS = {
    "minimum": "≥ {}",
    "exclusiveMinimum": "> {}",
    "maximum": "≤ {}",
    "exclusiveMaximum": "< {}",
    "minLength": "at least {} character(s)",
    "maxLength": "at most {} characters",
    "minItems": "at least {} items",
    "maxItems": "at most {} items",
    "pattern": "matches `{}`",
}


@dataclass(frozen=True)
class Section:
    """One object of the schema: where it sits (``apps.api.replicas``), what it is, its keys."""

    path: str
    title: str
    description: str
    rows: list[tuple[str, str, str, str]]


def _resolve(schema: Schema, defs: dict[str, Schema]) -> Schema:
    while "$ref" in schema:
        schema = {**defs[schema["$ref"].rsplit("/", 1)[-1]], **_without(schema, "$ref")}
    return schema


def _without(schema: Schema, key: str) -> Schema:
    return {k: v for k, v in schema.items() if k != key}


def _variants(schema: Schema, defs: dict[str, Schema]) -> list[Schema]:
    schema = _resolve(schema, defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [_resolve(option, defs) for option in schema[key]]
    return [schema]


def _object_variant(schema: Schema, defs: dict[str, Schema]) -> Schema | None:
    """The object a key holds (possibly optional), if it is one with named keys."""
    for option in _variants(schema, defs):
        if option.get("type") == "object" and "properties" in option:
            return option
    return None


def type_name(schema: Schema, defs: dict[str, Schema]) -> str:
    """A short human type: ``int``, ``"a" | "b"``, ``list of str``, ``map of str → object``."""
    names: list[str] = []
    for option in _variants(schema, defs):
        if "enum" in option:
            names.append(" \\| ".join(json.dumps(value) for value in option["enum"]))
        elif "const" in option:
            names.append(json.dumps(option["const"]))
        elif option.get("type") == "array":
            names.append(f"list of {type_name(option.get('items', {}), defs)}")
        elif option.get("type") == "object" and "properties" not in option:
            values = option.get("additionalProperties")
            inner = type_name(values, defs) if isinstance(values, dict) else "any"
            names.append(f"map of str → {inner}")
        elif option.get("type") == "object":
            names.append(option.get("title", "object"))
        elif "type" in option:
            names.append(TYPE_NAMES.get(option["type"], str(option["type"])))
        else:
            names.append("any")
    return " \\| ".join(dict.fromkeys(names))


def _constraints(schema: Schema, defs: dict[str, Schema]) -> str:
    found = []
    for option in _variants(schema, defs):
        for key, template in CONSTRAINTS.items():
            if key in option:
                found.append(template.format(option[key]))
        if option.get("format"):
            found.append(f"format {option['format']}")
    return "; ".join(dict.fromkeys(found))


def _default(field: Schema, required: bool, section: bool) -> str:
    if required:
        return "**required**"
    if section:
        return "see below"
    if "default" not in field:
        return "—"
    return f"`{json.dumps(field['default'], ensure_ascii=False)}`"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def sections(schema: Schema, root: str) -> Iterator[Section]:
    """Every object of ``schema`` (the root first, then depth-first), keys named from ``root``."""
    defs = schema.get("$defs", {})
    yield from _walk(_resolve(schema, defs), defs, root)


def _walk(schema: Schema, defs: dict[str, Schema], path: str) -> Iterator[Section]:
    required = set(schema.get("required", []))
    rows = []
    nested: list[tuple[str, Schema]] = []
    for name, field in schema.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        description = field.get("description") or _resolve(field, defs).get("description", "")
        child = _object_variant(field, defs)
        rows.append(
            (
                f"`{name}`",
                type_name(field, defs),
                _default(field, name in required, child is not None),
                _cell("; ".join(filter(None, [description, _constraints(field, defs)]))),
            )
        )
        if child is not None:
            nested.append((key, child))
            continue
        for option in _variants(field, defs):
            items = option.get("items") if option.get("type") == "array" else None
            values = option.get("additionalProperties") if option.get("type") == "object" else None
            element = items if isinstance(items, dict) else values
            if isinstance(element, dict) and (inner := _object_variant(element, defs)):
                nested.append((f"{key}[]" if items is not None else f"{key}.<name>", inner))
    yield Section(
        path=path,
        title=schema.get("title", ""),
        description=_cell(schema.get("description", "")),
        rows=rows,
    )
    for key, child in nested:
        yield from _walk(child, defs, key)


def markdown(section: Section, level: int) -> str:
    """One section as a heading, its model's docstring and a table of its keys."""
    where = f"`{section.path}`" if section.path else "Top level"
    heading = "#" * level + f" {where}" + (f" ({section.title})" if section.title else "")
    lines = [heading, ""]
    if section.description:
        lines += [section.description, ""]
    lines += ["| key | type | default | meaning and bounds |", "|---|---|---|---|"]
    lines += [
        f"| {key} | {kind} | {default} | {meaning} |"
        for key, kind, default, meaning in section.rows
    ]
    return "\n".join(lines) + "\n"
