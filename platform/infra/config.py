"""The typed stack configuration: read once from ``pulumi.Config``, validated, clear errors.

Stacks are named after their layer (see ``DESIGN.md``):

* ``<cloud>-<env>`` (``aws-dev``, ``azure-prod``): the cloud foundation;
* ``<cloud>-<env>-apps`` (``aws-dev-apps``): everything inside that foundation's cluster;
* ``global-<env>``: the cross-cloud traffic layer.

The cloud, the environment and the layer come from the stack name, everything else from
``stacks/Pulumi.<stack>.yaml`` under the ``stratus:`` namespace. Each layer's section is modelled
next to its components (``infra.aws.config``, ``infra.azure.config``, ``infra.k8s.config``); the
types both clouds share (CIDRs, Kubernetes versions, pool sizes) live here so the clouds validate
them the same way.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, Any, Literal, Self, TypeVar

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from infra.tags import standard_tags

NAMESPACE = "stratus"
STACK_NAME_PATTERN = re.compile(
    r"^(?P<kind>aws|azure|global)-(?P<env>dev|staging|prod)(?P<apps>-apps)?$"
)

Environment = Literal["dev", "staging", "prod"]
Cloud = Literal["aws", "azure"]
Layer = Literal["foundation", "apps", "global"]

#: Kubernetes minor versions in standard support on both EKS and AKS that Stratus is tested with.
SUPPORTED_KUBERNETES_VERSIONS = ("1.32", "1.33", "1.34")


class StratusConfigError(ValueError):
    """A stack configuration value is missing or invalid; the message names the key."""


class ConfigModel(BaseModel):
    """Base for config sections: camelCase keys in YAML, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


M = TypeVar("M", bound=BaseModel)


# --- types both clouds share ---------------------------------------------------------------------


def _ipv4_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"expected an IPv4 CIDR block such as 10.0.0.0/16 ({exc})") from None
    if network.version != 4:
        raise ValueError("expected an IPv4 CIDR block such as 10.0.0.0/16")
    return str(network)


#: An IPv4 network in CIDR notation with no host bits set (``10.40.0.0/16``).
Ipv4Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]


def cidr_at_least(value: str, max_prefix: int) -> str:
    """``value`` is a block of ``/max_prefix`` or larger (a smaller prefix length)."""
    if ipaddress.ip_network(value).prefixlen > max_prefix:
        raise ValueError(f"expected an IPv4 CIDR block of /{max_prefix} or larger")
    return value


def overlapping(blocks: dict[str, str]) -> list[tuple[str, str]]:
    """Pairs of names whose CIDR blocks overlap."""
    names = list(blocks)
    nets = {name: ipaddress.ip_network(blocks[name]) for name in names}
    return [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :] if nets[a].overlaps(nets[b])
    ]


def _kubernetes_version(value: str) -> str:
    if value not in SUPPORTED_KUBERNETES_VERSIONS:
        raise ValueError(
            "expected a supported Kubernetes minor version, one of "
            + ", ".join(SUPPORTED_KUBERNETES_VERSIONS)
            + " (patch versions are chosen by the cloud)"
        )
    return value


#: A Kubernetes minor version both EKS and AKS support (``"1.33"``).
KubernetesVersion = Annotated[str, AfterValidator(_kubernetes_version)]


class PoolSize(ConfigModel):
    """Autoscaling bounds of a node pool, the same shape on both clouds.

    ``desiredSize`` is the size at creation; afterwards the cluster autoscaler owns the count.
    """

    min_size: int = Field(ge=0, le=1000)
    max_size: int = Field(ge=1, le=1000)
    desired_size: int = Field(ge=0, le=1000)
    disk_size_gib: int = Field(default=128, ge=30, le=16384)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                "expected minSize <= desiredSize <= maxSize "
                f"(got {self.min_size} <= {self.desired_size} <= {self.max_size})"
            )
        return self


# --- errors and readers ----------------------------------------------------------------------


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


def current_stack() -> str:
    """The running stack's name (``<stack>`` outside a Pulumi program)."""
    try:
        return pulumi.get_stack()
    except Exception:  # pragma: no cover - only outside a program
        return "<stack>"


def config_set_command(key: str, example: str, *, path: bool = False) -> str:
    """The ``pulumi config set`` command that sets ``key`` on the running stack."""
    flag = "--path " if path else ""
    return f"pulumi config set {flag}'{key}' {example} --stack {current_stack()}"


def missing_org_value(
    key: str, what: str, example: str, *, path: bool = False
) -> StratusConfigError:
    """The error for an org-specific value no shipped stack file can know."""
    return StratusConfigError(
        f"{key}: required, {what}; no shipped stack file can know it. Set it with:\n"
        f"  {config_set_command(key, example, path=path)}\n"
        "(offline runs take an example value from stacks/offline-overrides.yaml)"
    )


def parse_stack_name(stack: str) -> tuple[Cloud | None, Environment, Layer]:
    match = STACK_NAME_PATTERN.match(stack)
    if match is None or (match["kind"] == "global" and match["apps"]):
        raise StratusConfigError(
            f"stack name {stack!r} is not one of <cloud>-<env> (foundation), "
            "<cloud>-<env>-apps (in-cluster) or global-<env>, with cloud in aws|azure and env "
            "in dev|staging|prod (e.g. 'aws-prod', 'azure-dev-apps', 'global-prod')"
        )
    environment: Environment = match["env"]  # type: ignore[assignment]
    if match["kind"] == "global":
        return None, environment, "global"
    cloud: Cloud = match["kind"]  # type: ignore[assignment]
    return cloud, environment, "apps" if match["apps"] else "foundation"


class CommonConfig(ConfigModel):
    """Keys every stack has (``stratus:owner``, ``stratus:costCenter``, ``stratus:extraTags``)."""

    owner: str = Field(min_length=1)
    cost_center: str = Field(min_length=1)
    extra_tags: dict[str, str] = Field(default_factory=dict)


def read_json(key: str) -> Any | None:
    """``stratus:<key>`` parsed as JSON (structured config), ``None`` when unset."""
    raw = pulumi.Config(NAMESPACE).get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise StratusConfigError(f"{NAMESPACE}:{key}: expected an object, got {raw!r}") from None


def read_section(section: str, model: type[M], *, required: bool) -> M | None:
    """Read ``stratus:<section>`` (a structured object) and validate it as ``model``."""
    value = read_json(section)
    key = f"{NAMESPACE}:{section}"
    if value is None:
        if required:
            raise StratusConfigError(f"{key}: required section is missing")
        return None
    return validate_section(model, key, value)


def read_common() -> CommonConfig:
    cfg = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for key in ("owner", "costCenter"):
        value = cfg.get(key)
        if value is not None:
            raw[key] = value
    extra = read_json("extraTags")
    if extra is not None:
        raw["extraTags"] = extra
    return validate_section(CommonConfig, f"{NAMESPACE}:", raw)


_ORG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def read_pulumi_org() -> str:
    """``stratus:pulumiOrg``: the Pulumi organization whose stacks ``StackReference``s name
    (``organization`` for a self-managed backend such as ``s3://`` or ``azblob://``)."""
    value = pulumi.Config(NAMESPACE).get("pulumiOrg")
    key = f"{NAMESPACE}:pulumiOrg"
    if not value:
        raise missing_org_value(
            key,
            "the Pulumi organization the stacks live in ('organization' for a self-managed "
            "backend)",
            "<your-pulumi-org>",
        )
    if not _ORG_PATTERN.match(value):
        raise StratusConfigError(f"{key}: {value!r} is not a Pulumi organization name")
    return value


class StackIdentity(ConfigModel):
    """Who this stack is: derived from the project and stack names plus the common keys."""

    project: str
    stack: str
    cloud: Cloud | None
    layer: Layer
    environment: Environment
    common: CommonConfig

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def base_name(self) -> str:
        """``<project>-<env>``: the prefix of the stack's resource names."""
        return f"{self.project}-{self.environment}"

    @property
    def foundation_stack(self) -> str:
        """The foundation stack of this cloud and environment (``aws-dev`` for ``aws-dev-apps``)."""
        if self.cloud is None:
            raise StratusConfigError(f"{self.stack}: a global stack has no single foundation")
        return f"{self.cloud}-{self.environment}"

    def tags(self, cloud: str | None = None) -> dict[str, str]:
        return standard_tags(
            project=self.project,
            stack=self.stack,
            environment=self.environment,
            cloud=cloud or self.cloud or "global",
            owner=self.common.owner,
            cost_center=self.common.cost_center,
            extra=self.common.extra_tags,
        )


def read_identity() -> StackIdentity:
    stack = pulumi.get_stack()
    cloud, environment, layer = parse_stack_name(stack)
    return StackIdentity(
        project=pulumi.get_project(),
        stack=stack,
        cloud=cloud,
        layer=layer,
        environment=environment,
        common=read_common(),
    )
