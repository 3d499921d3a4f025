"""Build the Stratus ``PolicyPack`` from every rule; the policy config is its initial config."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Policy, PolicyPack

from policies.config import PolicyConfig, load_policy_config, pulumi_policy_config
from policies.rules import ALL_RULES, rule_named
from policies.rules.base import LEVELS

PACK_NAME = "stratus"


def policies() -> list[Policy]:
    return [rule.policy() for rule in ALL_RULES]


def initial_config(config: PolicyConfig) -> dict[str, EnforcementLevel | dict[str, Any]]:
    """The engine-format config with levels as the SDK's ``EnforcementLevel`` values.

    Every entry names its level: the engine reads an initial-config entry without one as
    ADVISORY (the protobuf default), which would quietly demote a mandatory rule."""
    converted: dict[str, EnforcementLevel | dict[str, Any]] = {}
    for name, entry in pulumi_policy_config(config).items():
        if isinstance(entry, str):
            converted[name] = LEVELS[entry]  # type: ignore[index]
            continue
        entry = dict(entry)
        level = (
            entry.get("enforcementLevel") or config.enforcement.get("all") or rule_named(name).level
        )
        entry["enforcementLevel"] = LEVELS[level]
        converted[name] = entry
    return converted


def serve() -> None:
    """Serve the pack on the analyzer gRPC interface (prints the port, blocks until stopped)."""
    PolicyPack(
        name=PACK_NAME,
        policies=policies(),
        enforcement_level=EnforcementLevel.MANDATORY,
        initial_config=initial_config(load_policy_config()),
        description="Stratus security, compliance and cost guardrails for every stack layer",
        provider="aws, azure, kubernetes",
    )
