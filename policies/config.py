"""The Stratus policy configuration: one YAML file, validated once, turned into the per-policy
config the Pulumi engine hands a policy pack.

```yaml
parameters:            # every rule that takes a key gets its value
  requiredTags: [owner, cost-center, environment, project, stack]
  allowedRegions: {aws: [eu-west-1], azure: [westeurope]}
rules:                 # parameters for one rule only (override ``parameters``)
  aws-rds-deletion-protection: {environments: [prod, staging]}
enforcement:           # advisory | mandatory | disabled; "all" sets every rule first
  k8s-namespace-default-deny: advisory
exemptions:            # a resource a rule does not judge, and why
  - policy: aws-s3-kms-encryption
    urn: "urn:pulumi:*::*::*$aws:s3/bucketServerSideEncryptionConfiguration:*::*-access-logs-*"
    reason: S3 server access logs can only be delivered to SSE-S3 buckets
```

:func:`pulumi_policy_config` returns the engine's format (what ``pulumi preview --policy-pack-config
FILE`` reads): ``{"all": level, "<policy>": {"enforcementLevel": level, "<param>": value}}``. The
pack serves the shipped file (:data:`DEFAULT_CONFIG_PATH`, or ``STRATUS_POLICY_CONFIG``) as its
initial config, so ``pulumi preview --policy-pack policies/pack`` applies it with no extra flag.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import Field, ValidationError, model_validator

from policies.rules import ALL_RULES
from policies.rules.base import Exemption, Level, ParamsModel

DEFAULT_CONFIG_PATH = Path(__file__).with_name("policy-config.yaml")
CONFIG_ENV = "STRATUS_POLICY_CONFIG"
RULE_NAMES = frozenset(rule.name for rule in ALL_RULES)


class PolicyConfigError(ValueError):
    """The policy configuration is invalid; the message names the file and the key."""


def _parameter_keys(rule_params: type[ParamsModel]) -> set[str]:
    return {f.alias or name for name, f in rule_params.model_fields.items()} - {"exemptions"}


#: Every parameter key some rule takes (camelCase, as in the YAML).
PARAMETER_KEYS = frozenset(k for rule in ALL_RULES for k in _parameter_keys(rule.params))


class RuleExemption(Exemption):
    policy: str = Field(min_length=1)


class PolicyConfig(ParamsModel):
    parameters: dict[str, Any] = Field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    enforcement: dict[str, Level] = Field(default_factory=dict)
    exemptions: tuple[RuleExemption, ...] = ()

    @model_validator(mode="after")
    def _known_names(self) -> Self:
        unknown = sorted(set(self.parameters) - PARAMETER_KEYS)
        if unknown:
            raise ValueError(
                f"parameters: unknown key(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(PARAMETER_KEYS))})"
            )
        for section, names in (
            ("rules", set(self.rules)),
            ("enforcement", set(self.enforcement) - {"all"}),
            ("exemptions", {e.policy for e in self.exemptions}),
        ):
            unknown = sorted(names - RULE_NAMES)
            if unknown:
                raise ValueError(f"{section}: unknown policy name(s) {', '.join(unknown)}")
        for rule in ALL_RULES:
            try:
                rule.params.model_validate(self.properties_for(rule.name))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                    for e in exc.errors()
                )
                raise ValueError(f"parameters of {rule.name}: {problems}") from None
        return self

    def properties_for(self, name: str) -> dict[str, Any]:
        """The parameters the policy ``name`` receives (shared, then its own, then exemptions)."""
        rule = next(r for r in ALL_RULES if r.name == name)
        keys = _parameter_keys(rule.params)
        properties = {k: v for k, v in self.parameters.items() if k in keys}
        properties.update(self.rules.get(name, {}))
        exemptions = [
            {"urn": e.urn, "reason": e.reason} for e in self.exemptions if e.policy == name
        ]
        if exemptions:
            properties["exemptions"] = exemptions
        return properties


def pulumi_policy_config(config: PolicyConfig) -> dict[str, Any]:
    """The engine's policy-pack config document for ``config``."""
    document: dict[str, Any] = {}
    if "all" in config.enforcement:
        document["all"] = config.enforcement["all"]
    for rule in ALL_RULES:
        entry = dict(config.properties_for(rule.name))
        if rule.name in config.enforcement:
            entry["enforcementLevel"] = config.enforcement[rule.name]
        if entry:
            document[rule.name] = entry
    return document


def load_policy_config(path: Path | None = None) -> PolicyConfig:
    """Read and validate a policy config file (default: ``STRATUS_POLICY_CONFIG``, else the
    shipped :data:`DEFAULT_CONFIG_PATH`)."""
    if path is None:
        path = Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyConfigError(f"cannot read policy config {path}: {exc}") from None
    if not isinstance(document, Mapping):
        raise PolicyConfigError(f"{path}: expected a mapping at the top level")
    try:
        return PolicyConfig.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        raise PolicyConfigError(f"{path}: {problems}") from None
