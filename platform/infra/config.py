"""The typed stack configuration: read once from ``pulumi.Config``, validated, clear errors.

Stacks are named ``<cloud>-<env>`` (``aws-dev``, ``azure-prod``) or ``global-<env>``; the cloud and
the environment come from the stack name, everything else from ``stacks/Pulumi.<stack>.yaml``
under the ``stratus:`` namespace. Each cloud's section (``stratus:aws``, ``stratus:azure``) is
modelled next to the cloud's components, in ``infra.aws.config`` and ``infra.azure.config``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, TypeVar

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from infra.tags import standard_tags

NAMESPACE = "stratus"
STACK_NAME_PATTERN = re.compile(r"^(?P<cloud>aws|azure|global)-(?P<env>dev|staging|prod)$")

Environment = Literal["dev", "staging", "prod"]
StackKind = Literal["aws", "azure", "global"]


class StratusConfigError(ValueError):
    """A stack configuration value is missing or invalid; the message names the key."""


class ConfigModel(BaseModel):
    """Base for config sections: camelCase keys in YAML, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


M = TypeVar("M", bound=BaseModel)


def _location(key: str, loc: tuple[int | str, ...]) -> str:
    path = key
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += part if path.endswith(":") else f".{part}"
    return path


def validate_section(model: type[M], key: str, value: Any) -> M:
    """Validate ``value`` as ``model``; errors name the full config key, e.g.
    ``stratus:aws.cluster.kubernetesVersion``, and what it expects."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = [
            f"{_location(key, tuple(err['loc']))}: {err['msg']}"
            + (f" (got {err['input']!r})" if err["type"] != "missing" else "")
            for err in exc.errors()
        ]
        raise StratusConfigError(
            "invalid stack configuration:\n  " + "\n  ".join(problems)
        ) from None


def parse_stack_name(stack: str) -> tuple[StackKind, Environment]:
    match = STACK_NAME_PATTERN.match(stack)
    if match is None:
        raise StratusConfigError(
            f"stack name {stack!r} is not one of <cloud>-<env> with cloud in aws|azure|global "
            "and env in dev|staging|prod (e.g. 'aws-prod', 'global-prod')"
        )
    return match["cloud"], match["env"]  # type: ignore[return-value]


class CommonConfig(ConfigModel):
    """Keys every stack has (``stratus:owner``, ``stratus:costCenter``, ``stratus:extraTags``)."""

    owner: str = Field(min_length=1)
    cost_center: str = Field(min_length=1)
    extra_tags: dict[str, str] = Field(default_factory=dict)


def read_section(section: str, model: type[M], *, required: bool) -> M | None:
    """Read ``stratus:<section>`` (a structured object) and validate it as ``model``."""
    cfg = pulumi.Config(NAMESPACE)
    raw = cfg.get(section)
    key = f"{NAMESPACE}:{section}"
    if raw is None:
        if required:
            raise StratusConfigError(f"{key}: required section is missing")
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise StratusConfigError(f"{key}: expected an object, got {raw!r}") from None
    return validate_section(model, key, value)


def read_common() -> CommonConfig:
    cfg = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for key in ("owner", "costCenter"):
        value = cfg.get(key)
        if value is not None:
            raw[key] = value
    extra = cfg.get("extraTags")
    if extra is not None:
        try:
            raw["extraTags"] = json.loads(extra)
        except json.JSONDecodeError:
            raise StratusConfigError(
                f"{NAMESPACE}:extraTags: expected an object, got {extra!r}"
            ) from None
    return validate_section(CommonConfig, f"{NAMESPACE}:", raw)


class StackIdentity(ConfigModel):
    """Who this stack is: derived from the project and stack names plus the common keys."""

    project: str
    stack: str
    kind: StackKind
    environment: Environment
    common: CommonConfig

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    def tags(self, cloud: str | None = None) -> dict[str, str]:
        return standard_tags(
            project=self.project,
            stack=self.stack,
            environment=self.environment,
            cloud=cloud or self.kind,
            owner=self.common.owner,
            cost_center=self.common.cost_center,
            extra=self.common.extra_tags,
        )


def read_identity() -> StackIdentity:
    stack = pulumi.get_stack()
    kind, environment = parse_stack_name(stack)
    return StackIdentity(
        project=pulumi.get_project(),
        stack=stack,
        kind=kind,
        environment=environment,
        common=read_common(),
    )
