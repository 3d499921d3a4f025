"""The engine's policy-config reconciliation, so a config is judged here as ``pulumi preview``
judges it.

Mirrors Pulumi's ``ReconcilePolicyPackConfig``: start from each policy's enforcement level and
the ``default`` of each property in its config schema, apply the pack's initial config, then the
given config (in both, ``"all"`` sets every policy's level first); then validate each policy's
properties against its schema (``{"type": "object", "properties": …, "required": …}``, the way
the engine wraps it) with JSON Schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from google.protobuf import json_format  # type: ignore[import-untyped]

#: Enforcement levels by their protobuf value (ADVISORY=0, MANDATORY=1, DISABLED=2, REMEDIATE=3).
LEVELS = ("advisory", "mandatory", "disabled", "remediate")


class PolicyConfigInvalidError(ValueError):
    """The reconciled config does not satisfy the policies' schemas; the message lists why."""


@dataclass
class PolicyEntry:
    level: str
    properties: dict[str, Any] = field(default_factory=dict)


def _parse(document: Mapping[str, Any]) -> dict[str, PolicyEntry | str]:
    """An engine config document → policy → level or (level, properties) (empty level: unset)."""
    parsed: dict[str, PolicyEntry | str] = {}
    for name, value in document.items():
        if isinstance(value, str):
            if value not in LEVELS:
                raise PolicyConfigInvalidError(
                    f"{name}: {value!r} is not a valid enforcement level"
                )
            parsed[name] = value
            continue
        if not isinstance(value, Mapping):
            raise PolicyConfigInvalidError(
                f"{name}: {value!r} is not a valid value (string or object)"
            )
        properties = dict(value)
        level = str(properties.pop("enforcementLevel", "") or "")
        if level and level not in LEVELS:
            raise PolicyConfigInvalidError(f"{name}: {level!r} is not a valid enforcement level")
        if level or properties:
            parsed[name] = PolicyEntry(level, properties)
    return parsed


def _apply(result: dict[str, PolicyEntry], document: Mapping[str, Any]) -> None:
    parsed = _parse(document)
    everything = parsed.get("all")
    all_level = everything if isinstance(everything, str) else getattr(everything, "level", "")
    if all_level:
        for entry in result.values():
            entry.level = all_level
    for name, given in parsed.items():
        if name == "all":
            continue
        entry = result.setdefault(name, PolicyEntry(""))
        if isinstance(given, str):
            entry.level = given
        else:
            entry.level = given.level or entry.level
            entry.properties.update(given.properties)


def initial_config(info: Any) -> dict[str, Any]:
    """The pack's initial config from its ``AnalyzerInfo`` in the engine document format."""
    document: dict[str, Any] = {}
    for name, config in info.initialConfig.items():
        entry: dict[str, Any] = json_format.MessageToDict(config.properties)
        # As the engine reads it: an entry without a level carries the proto default, ADVISORY.
        entry["enforcementLevel"] = LEVELS[config.enforcementLevel]
        document[name] = entry
    return document


def reconcile(info: Any, config: Mapping[str, Any] | None) -> dict[str, PolicyEntry]:
    """The per-policy config the engine would send ``Configure`` for ``config``."""
    result: dict[str, PolicyEntry] = {}
    schemas: dict[str, dict[str, Any]] = {}
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema)
        properties = dict(schema.get("properties") or {})
        defaults = {k: v["default"] for k, v in properties.items() if "default" in v}
        result[policy.name] = PolicyEntry(LEVELS[policy.enforcementLevel], defaults)
        wrapped: dict[str, Any] = {"type": "object"}
        if properties:
            wrapped["properties"] = properties
        if schema.get("required"):
            wrapped["required"] = list(schema["required"])
        schemas[policy.name] = wrapped
    _apply(result, initial_config(info))
    if config:
        _apply(result, config)
    errors = []
    for name, schema in schemas.items():
        validator = jsonschema.Draft7Validator(schema)
        for error in sorted(validator.iter_errors(result[name].properties), key=str):
            where = ".".join(str(p) for p in error.absolute_path) or "(root)"
            errors.append(f"{name}: {where}: {error.message}")
    if errors:
        raise PolicyConfigInvalidError(
            "policy pack configuration is invalid:\n  " + "\n  ".join(errors)
        )
    return result
