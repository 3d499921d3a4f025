"""What keeps a workload schedulable and observable: requests/limits, probes, HPA bounds, pinned
Helm charts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Self

from pydantic import Field, model_validator

from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.kubernetes.pods import LONG_RUNNING, WORKLOADS, containers
from policies.rules.props import dig, mapping


class ResourcesParams(Params):
    require_cpu_limit: bool = Field(
        default=False,
        description=(
            "also require a CPU limit (off by default: CPU limits throttle a latency-bound "
            "service below its request's fair share)"
        ),
    )


def _resources(resource: Resource, params: ResourcesParams) -> Iterator[str]:
    for c in containers(resource.type, resource.props):
        if c.kind == "ephemeral container":
            continue
        requests = mapping(dig(c.spec, "resources.requests"))
        limits = mapping(dig(c.spec, "resources.limits"))
        missing = [f"requests.{k}" for k in ("cpu", "memory") if k not in requests]
        missing += ["limits.memory"] if "memory" not in limits else []
        if params.require_cpu_limit and "cpu" not in limits:
            missing.append("limits.cpu")
        if missing:
            yield f"{c.label}: resources without {', '.join(missing)}"


RESOURCES = ResourceRule(
    name="k8s-requests-and-limits",
    summary="containers declare CPU and memory requests and a memory limit",
    controls=(
        "Checkov CKV_K8S_10",
        "Checkov CKV_K8S_12",
        "Checkov CKV_K8S_13",
        "Checkov CKV_K8S_11",
    ),
    params=ResourcesParams,
    types=WORKLOADS,
    check=_resources,
)


def _probes(resource: Resource, params: Params) -> Iterator[str]:
    for c in containers(resource.type, resource.props):
        if c.kind != "container":
            continue
        missing = [p for p in ("readinessProbe", "livenessProbe") if not c.spec.get(p)]
        if missing:
            yield f"{c.label}: no {' and no '.join(missing)}"


PROBES = ResourceRule(
    name="k8s-probes",
    summary="long-running containers have readiness and liveness probes",
    controls=("Checkov CKV_K8S_8", "Checkov CKV_K8S_9"),
    params=Params,
    types=LONG_RUNNING,
    check=_probes,
)

HPA_TYPES = frozenset(
    {
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
    }
)


class HpaParams(Params):
    min_replicas: int = Field(default=2, ge=1, description="lowest allowed minReplicas")
    max_replicas: int = Field(default=100, ge=1, description="highest allowed maxReplicas")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas {self.min_replicas} > maxReplicas {self.max_replicas}")
        return self


def _hpa(resource: Resource, params: HpaParams) -> Iterator[str]:
    low = int(dig(resource.props, "spec.minReplicas", 1))
    high = int(dig(resource.props, "spec.maxReplicas", 0))
    if low < params.min_replicas:
        yield f"spec.minReplicas is {low} (at least {params.min_replicas} for availability)"
    if high > params.max_replicas:
        yield f"spec.maxReplicas is {high} (at most {params.max_replicas} by policy)"
    if high < low:
        yield f"spec.maxReplicas {high} is below spec.minReplicas {low}"


HPA_BOUNDS = ResourceRule(
    name="k8s-hpa-bounds",
    summary="HorizontalPodAutoscalers scale within the policy's replica bounds",
    controls=("AWS Well-Architected REL07-BP01", "Azure Well-Architected RE:06"),
    params=HpaParams,
    types=HPA_TYPES,
    check=_hpa,
)

HELM_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$")


def _helm(resource: Resource, params: Params) -> Iterator[str]:
    version = str(resource.props.get("version") or "")
    chart = str(resource.props.get("chart") or "?")
    if not version:
        yield f"chart {chart} has no version: every install may get a different chart"
    elif not _EXACT_VERSION.match(version):
        yield f"chart {chart} version {version} is a range, not an exact version"


HELM_CHART_PINNED = ResourceRule(
    name="k8s-helm-chart-pinned",
    summary="Helm releases pin an exact chart version",
    controls=("OpenSSF Scorecard: Pinned-Dependencies",),
    params=Params,
    types=HELM_TYPES,
    check=_helm,
)

RULES = (RESOURCES, PROBES, HPA_BOUNDS, HELM_CHART_PINNED)
