"""The typed ``stratus:global`` section of the ``global-<env>`` stacks, validated once.

Which ``-apps`` stacks serve the environment's one DNS name (``endpoints``), how traffic is split
and failed over between them (``traffic``), and which foundations the cross-cloud VPN joins
(``vpn``). Every key has a default but the endpoint list; a bad value fails naming the key
(``stratus:global.traffic.healthCheck.failureThreshold``), and a configuration whose failover
cannot meet its RTO is refused with the sum (:mod:`infra.traffic.rto`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from infra.config import (
    NAMESPACE,
    ConfigModel,
    StratusConfigError,
    parse_stack_name,
    read_json,
    validate_section,
)
from infra.traffic.rto import RtoBudget

SECTION = "global"
KEY = f"{NAMESPACE}:{SECTION}"

Provider = Literal["route53", "traffic-manager"]
Strategy = Literal["active-active", "primary-secondary"]

#: Where Route 53 health checkers run (the API's valid values); at least three are required.
Route53CheckerRegion = Literal[
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
]

DEFAULT_CHECKER_REGIONS: tuple[Route53CheckerRegion, ...] = (
    "us-east-1",
    "eu-west-1",
    "ap-southeast-1",
)

_PROJECT = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_AWS_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ROUTE53_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$")


def dns_name(value: str) -> bool:
    """A lower-case DNS name of at least two labels (``ml-api.prod.example.org``)."""
    return bool(_DNS_NAME.match(value))


def _stack_reference(value: str) -> str:
    """``stack`` or ``project/stack``: a stack of this project, or of another project of the org
    (a second region deployed as its own project)."""
    project, _, stack = value.rpartition("/")
    if project and not _PROJECT.match(project):
        raise ValueError(f"{project!r} is not a Pulumi project name")
    try:
        parse_stack_name(stack)
    except StratusConfigError:
        raise ValueError(
            f"{stack!r} is not a Stratus stack name (<cloud>-<env>[-apps], e.g. aws-prod-apps)"
        ) from None
    return value


#: ``[project/]<stack>``: a Stratus stack, optionally in another project of the organization.
StackRef = Annotated[str, AfterValidator(_stack_reference)]


def split_stack_reference(value: str) -> tuple[str | None, str]:
    """``project/stack`` → (``project``, ``stack``); ``stack`` → (``None``, ``stack``)."""
    project, _, stack = value.rpartition("/")
    return (project or None), stack


class EndpointConfig(ConfigModel):
    """One ``-apps`` stack serving the name: its weight (active-active) and priority
    (primary-secondary, 1 = primary)."""

    stack: StackRef
    #: Share of answers while healthy, relative to the others (0 drains it on Route 53).
    weight: int = Field(default=1, ge=0, le=255)
    #: Failover order for ``primary-secondary``: 1 is the primary; unique per endpoint.
    priority: int | None = Field(default=None, ge=1, le=1000)
    #: The AWS region whose latency decides for this endpoint (``latencyRouting`` only); for an
    #: Azure endpoint, the AWS region nearest its location (northeurope → eu-west-1).
    latency_region: str | None = None

    @field_validator("stack")
    @classmethod
    def _apps_stack(cls, value: str) -> str:
        if parse_stack_name(split_stack_reference(value)[1])[2] != "apps":
            raise ValueError(f"{value!r} is not an -apps stack (<cloud>-<env>-apps)")
        return value

    @field_validator("latency_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _AWS_REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region such as eu-west-1")
        return value

    @property
    def name(self) -> str:
        """The endpoint's name in records and profiles: the stack, prefixed by its project when
        it lives in another one."""
        project, stack = split_stack_reference(self.stack)
        return f"{project}-{stack}" if project else stack

    @property
    def cloud(self) -> str:
        cloud, _, _ = parse_stack_name(split_stack_reference(self.stack)[1])
        assert cloud is not None
        return cloud


class HealthCheckConfig(ConfigModel):
    """How each endpoint is probed: HTTPS on the ML API's health route through its ingress (the
    path and port come from the ``-apps`` stacks' ``healthUrl``)."""

    #: Seconds between probes (10 is Route 53's "fast" and Traffic Manager's fast interval).
    interval_seconds: Literal[10, 30] = 10
    #: Consecutive failed probes that mark an endpoint unhealthy.
    failure_threshold: int = Field(default=3, ge=1, le=10)
    #: Route 53 checker regions (at least three).
    regions: list[Route53CheckerRegion] = Field(
        default_factory=lambda: list(DEFAULT_CHECKER_REGIONS), min_length=3
    )
    #: Traffic Manager's probe timeout (5-10 s, below the interval at 10 s); Route 53's is fixed.
    timeout_seconds: int = Field(default=5, ge=5, le=10)
    #: Overrides the path of the ``-apps`` stacks' ``healthUrl`` (``/readyz``).
    path: str | None = Field(default=None, pattern=r"^/[A-Za-z0-9._~/-]*$")

    @field_validator("regions")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("checker regions must be unique")
        return value

    @model_validator(mode="after")
    def _timeout(self) -> Self:
        if self.interval_seconds == 10 and self.timeout_seconds > 9:
            raise ValueError("timeoutSeconds must be 5-9 with intervalSeconds 10")
        return self


def _zone_name(value: str | None) -> str | None:
    if value is not None and not dns_name(value):
        raise ValueError(f"{value!r} is not a DNS zone name")
    return value


ZoneName = Annotated[str | None, AfterValidator(_zone_name)]


class Route53ZoneConfig(ConfigModel):
    """The hosted zone: an existing one (``zoneId``) or, by default, one the stack creates
    (``name``, default the host's parent domain: ``prod.ml.example.org`` for
    ``ml-api.prod.ml.example.org``, so each environment's stack owns its own zone)."""

    zone_id: str | None = Field(default=None, pattern=_ROUTE53_ZONE_ID.pattern)
    name: ZoneName = None


class AzureDnsZoneConfig(ConfigModel):
    """Azure DNS for the Traffic Manager CNAME: an existing zone (``name`` and
    ``resourceGroupName``) or, by default, one the stack creates in its own resource group
    (``name``, default the host's parent domain)."""

    name: ZoneName = None
    resource_group_name: str | None = Field(default=None, pattern=_RESOURCE_GROUP.pattern)


class TrafficConfig(ConfigModel):
    provider: Provider = "route53"
    strategy: Strategy = "active-active"
    #: Route 53 only: latency records between the endpoints' ``latencyRegion`` groups, the
    #: strategy applying inside each group.
    latency_routing: bool = False
    #: The answers' DNS TTL (Route 53 alias answers for AWS load balancers always carry 60 s).
    ttl_seconds: int = Field(default=60, ge=0, le=86400)
    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)
    #: How long a client waits before retrying a failed request (the last term of the RTO sum).
    client_retry_seconds: int = Field(default=30, ge=0, le=3600)
    #: Recovery time objective: detection + TTL + client retry must fit in it.
    rto_seconds: int = Field(default=300, ge=1, le=86400)
    route53: Route53ZoneConfig = Field(default_factory=Route53ZoneConfig)
    azure_dns: AzureDnsZoneConfig = Field(default_factory=AzureDnsZoneConfig)

    @model_validator(mode="after")
    def _provider_features(self) -> Self:
        if self.provider == "traffic-manager" and self.latency_routing:
            raise ValueError(
                "latencyRouting is a Route 53 feature here; use provider: route53 for it"
            )
        return self

    def configured_budget(self) -> RtoBudget:
        """The RTO sum with the configured TTL (before the endpoints are known)."""
        return RtoBudget.of(self, ttl_seconds=self.ttl_seconds)


class VpnLink(ConfigModel):
    """One AWS foundation joined to one Azure foundation (their VPC and VNet)."""

    aws: StackRef
    azure: StackRef

    @model_validator(mode="after")
    def _foundations(self) -> Self:
        for key, expected in (("aws", "aws"), ("azure", "azure")):
            cloud, _, layer = parse_stack_name(split_stack_reference(getattr(self, key))[1])
            if layer != "foundation" or cloud != expected:
                raise ValueError(f"{key}: expected an {expected}-<env> foundation stack")
        return self


class BgpConfig(ConfigModel):
    """Dynamic routing over the tunnels (off: static routes for the other side's CIDRs)."""

    enabled: bool = False
    #: The AWS virtual private gateway's ASN (private range).
    aws_asn: int = Field(default=64512, ge=64512, le=65534)
    #: The Azure VPN gateway's ASN (65515 is Azure's default).
    azure_asn: int = Field(default=65515, ge=64512, le=65534)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.enabled and self.aws_asn == self.azure_asn:
            raise ValueError("awsAsn and azureAsn must differ")
        return self


class VpnConfig(ConfigModel):
    enabled: bool = False
    links: list[VpnLink] = Field(default_factory=list)
    bgp: BgpConfig = Field(default_factory=BgpConfig)
    #: The Azure VPN gateway SKU (zone-redundant ``AZ`` SKUs, Generation 1).
    azure_gateway_sku: Literal["VpnGw1AZ", "VpnGw2AZ", "VpnGw3AZ"] = "VpnGw1AZ"

    @model_validator(mode="after")
    def _links(self) -> Self:
        if self.enabled and not self.links:
            raise ValueError("links: at least one {aws, azure} pair when the VPN is enabled")
        for key in ("aws", "azure"):
            stacks = [getattr(link, key) for link in self.links]
            if len(set(stacks)) != len(stacks):
                raise ValueError(
                    f"links: each {key} foundation in one link only (a VPC has one virtual "
                    "private gateway, a VNet one VPN gateway)"
                )
        return self


class GlobalConfig(ConfigModel):
    """The whole ``stratus:global`` section."""

    endpoints: list[EndpointConfig] = Field(min_length=1)
    traffic: TrafficConfig = Field(default_factory=TrafficConfig)
    vpn: VpnConfig = Field(default_factory=VpnConfig)

    @model_validator(mode="after")
    def _endpoints(self) -> Self:
        names = [e.name for e in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError("endpoints: each stack once")
        traffic = self.traffic
        if traffic.strategy == "primary-secondary":
            if len(self.endpoints) < 2:
                raise ValueError("primary-secondary needs at least two endpoints")
            priorities = [e.priority for e in self.endpoints]
            if None in priorities:
                missing = [e.stack for e in self.endpoints if e.priority is None]
                raise ValueError(f"primary-secondary: priority missing for {', '.join(missing)}")
            if len(set(priorities)) != len(priorities):
                raise ValueError("primary-secondary: priorities must be unique (1 = primary)")
        elif all(e.weight == 0 for e in self.endpoints):
            raise ValueError("active-active: at least one endpoint needs a weight above 0")
        if traffic.provider == "traffic-manager":
            drained = [e.stack for e in self.endpoints if e.weight == 0]
            if drained and traffic.strategy == "active-active":
                raise ValueError(
                    f"Traffic Manager weights are 1-1000: weight 0 for {', '.join(drained)}"
                )
        if traffic.latency_routing:
            missing = [e.stack for e in self.endpoints if e.latency_region is None]
            if missing:
                raise ValueError(f"latencyRouting: latencyRegion missing for {', '.join(missing)}")
        return self

    @property
    def ordered(self) -> list[EndpointConfig]:
        """Endpoints by priority (primary first), then as listed."""
        return sorted(self.endpoints, key=lambda e: e.priority or 0)

    def check_environment(self, environment: str) -> None:
        """Every referenced stack belongs to ``environment`` (a global-prod never points at dev)."""
        stacks = [e.stack for e in self.endpoints] + [
            ref for link in self.vpn.links for ref in (link.aws, link.azure)
        ]
        foreign = [
            ref
            for ref in stacks
            if parse_stack_name(split_stack_reference(ref)[1])[1] != environment
        ]
        if foreign:
            raise StratusConfigError(
                f"{KEY}: {', '.join(foreign)} belong to another environment than {environment}"
            )


def parse_global_config(value: object) -> GlobalConfig:
    """Validate a ``stratus:global`` value (as YAML/JSON data), errors naming the key; the
    configured numbers must meet the RTO."""
    config = validate_section(GlobalConfig, KEY, value)
    config.traffic.configured_budget().require(f"{KEY}.traffic")
    return config


def read_global_config() -> GlobalConfig:
    """``stratus:global`` of the running stack."""
    value = read_json(SECTION)
    if value is None:
        raise StratusConfigError(f"{KEY}: required section is missing")
    return parse_global_config(value)
