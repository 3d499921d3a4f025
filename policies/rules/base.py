"""How a Stratus rule is written, and how it becomes a CrossGuard policy.

A rule is a plain function over a resource's properties (or over the whole stack) that yields
violation messages, plus what the engine needs to know about it: its name, a one-line summary,
the controls it mirrors (Checkov ids, CIS benchmark sections, Pod Security Standards, cloud
security benchmarks), its default enforcement level and its parameters.

Parameters are a pydantic model per rule. Its JSON schema is the policy's ``configSchema``, so
``pulumi preview --policy-pack`` validates a policy config file against it exactly as
``python -m policies check`` does; inside the pack the values the engine sends through
``Configure`` are validated again by the same model before a rule reads them. Every rule accepts
``exemptions``: a resource whose URN matches an exemption's glob is reported as not applicable
with the exemption's reason instead of as a violation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Generic, Literal, TypeVar

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from policies.rules.stack_info import StackInfo

Level = Literal["advisory", "mandatory", "disabled"]

LEVELS: Mapping[Level, EnforcementLevel] = {
    "advisory": EnforcementLevel.ADVISORY,
    "mandatory": EnforcementLevel.MANDATORY,
    "disabled": EnforcementLevel.DISABLED,
}


class ParamsModel(BaseModel):
    """Base of parameter models: camelCase keys (as in a Pulumi policy config file), unknown keys
    rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class Exemption(ParamsModel):
    """A resource the rule does not judge, and why."""

    urn: str = Field(min_length=1, description="glob over the resource URN (fnmatch syntax)")
    reason: str = Field(min_length=10, description="why the resource is exempt")

    def matches(self, urn: str) -> bool:
        return fnmatchcase(urn, self.urn)


class Params(ParamsModel):
    """Parameters every rule takes."""

    exemptions: tuple[Exemption, ...] = ()

    def exemption_for(self, urn: str) -> Exemption | None:
        return next((e for e in self.exemptions if e.matches(urn)), None)


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class Resource:
    """What a rule sees of one resource: type, name, URN and properties (inputs for ``Analyze``,
    the resource state for ``AnalyzeStack``), the properties of its provider, and the stack."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    provider_props: Mapping[str, Any]
    stack: StackInfo
    parent: Resource | None = None
    dependencies: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        """``aws``, ``azure-native``, ``kubernetes`` … (the type token's first part)."""
        return self.type.split(":", 1)[0]

    @staticmethod
    def of_args(args: ResourceValidationArgs) -> Resource:
        provider = args.provider.props if args.provider is not None else {}
        return Resource(args.resource_type, args.name, args.urn, args.props, provider, _stack())

    @staticmethod
    def of_stack(resources: Sequence[PolicyResource]) -> list[Resource]:
        stack = _stack()
        converted: dict[str, Resource] = {}
        for r in resources:
            provider = r.provider.props if r.provider is not None else {}
            converted[r.urn] = Resource(
                r.resource_type,
                r.name,
                r.urn,
                r.props,
                provider,
                stack,
                dependencies=tuple(d.urn for d in r.dependencies),
            )
        linked = []
        for r in resources:
            base = converted[r.urn]
            parent = converted.get(r.parent.urn) if r.parent is not None else None
            linked.append(
                Resource(
                    base.type,
                    base.name,
                    base.urn,
                    base.props,
                    base.provider_props,
                    stack,
                    parent,
                    base.dependencies,
                )
            )
        return linked


def _stack() -> StackInfo:
    return StackInfo.current()


ResourceCheck = Callable[[Resource, P], Iterable[str]]
#: A stack check yields ``(urn or None, message)``: ``None`` blames the stack as a whole.
StackCheck = Callable[[Sequence[Resource], P], Iterable[tuple[str | None, str]]]


@dataclass(frozen=True)
class Rule(Generic[P]):
    """Metadata shared by resource and stack rules."""

    name: str
    summary: str
    controls: tuple[str, ...]
    params: type[P]
    level: Level = "mandatory"
    remediation: str = ""

    @property
    def description(self) -> str:
        """The policy description the engine shows: the summary and the controls it mirrors."""
        return f"{self.summary} (mirrors {'; '.join(self.controls)})"

    def config_schema(self) -> PolicyConfigSchema:
        return PolicyConfigSchema(properties=json_schema_properties(self.params))

    def parse(self, config: Mapping[str, Any]) -> P:
        return _parse(self.params, json.dumps(dict(config), sort_keys=True))


@dataclass(frozen=True)
class ResourceRule(Rule[P]):
    """A rule judged on each resource (``Analyze``)."""

    check: ResourceCheck[P] = field(default=lambda resource, params: ())
    types: frozenset[str] = frozenset()
    type_prefixes: tuple[str, ...] = ()

    def applies_to(self, resource_type: str) -> bool:
        if not self.types and not self.type_prefixes:
            return True
        return resource_type in self.types or resource_type.startswith(self.type_prefixes or ())

    def policy(self) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if not self.applies_to(args.resource_type):
                return
            params = self.parse(args.get_config())
            messages = list(self.check(Resource.of_args(args), params))
            if not messages:
                return
            exemption = params.exemption_for(args.urn)
            if exemption is not None:
                args.not_applicable(f"exempted ({exemption.reason}): {'; '.join(messages)}")
            for message in messages:
                report(message, None)

        return ResourceValidationPolicy(
            name=self.name,
            description=self.description,
            validate=validate,
            enforcement_level=LEVELS[self.level],
            config_schema=self.config_schema(),
            remediation_steps=self.remediation or None,
        )


@dataclass(frozen=True)
class StackRule(Rule[P]):
    """A rule judged on the whole stack once every resource is known (``AnalyzeStack``)."""

    check: StackCheck[P] = field(default=lambda resources, params: ())

    def policy(self) -> StackValidationPolicy:
        def validate(args: StackValidationArgs, report: ReportViolation) -> None:
            params = self.parse(args.get_config())
            findings = list(self.check(Resource.of_stack(args.resources), params))
            exempted: list[str] = []
            for urn, message in findings:
                exemption = params.exemption_for(urn) if urn else None
                if exemption is not None:
                    exempted.append(f"{urn}: {message} (exempted: {exemption.reason})")
                else:
                    report(message, urn)
            if exempted:
                # Reported violations stay in the response; the exempted ones travel as the
                # policy's not-applicable reason.
                args.not_applicable("; ".join(exempted))

        return StackValidationPolicy(
            name=self.name,
            description=self.description,
            validate=validate,
            enforcement_level=LEVELS[self.level],
            config_schema=self.config_schema(),
            remediation_steps=self.remediation or None,
        )


AnyRule = ResourceRule[Any] | StackRule[Any]


@lru_cache(maxsize=512)
def _parse_cached(model: type[Params], document: str) -> Params:
    return model.model_validate(json.loads(document))


def _parse(model: type[P], document: str) -> P:
    parsed = _parse_cached(model, document)
    assert isinstance(parsed, model)
    return parsed


def json_schema_properties(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """The model's JSON schema properties with every ``$ref`` inlined: the engine places them
    under a root object of its own, where ``$defs`` would not resolve."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = definitions[node["$ref"].rsplit("/", 1)[-1]]
                merged = {**inline(target), **{k: v for k, v in node.items() if k != "$ref"}}
                return merged
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    properties = inline(schema.get("properties", {}))
    assert isinstance(properties, dict)
    return properties
