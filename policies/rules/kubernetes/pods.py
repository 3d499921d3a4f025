"""Where the pod template lives in each typed workload, and its containers.

Properties are as ``pulumi_kubernetes`` sends them: camelCase Kubernetes fields
(``spec.template.spec.containers[].securityContext``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policies.rules.props import dig, items, mapping

#: Workload type token → dotted path of its pod spec.
POD_SPEC_PATHS: Mapping[str, str] = {
    "kubernetes:core/v1:Pod": "spec",
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:apps/v1:ReplicaSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
}
WORKLOADS = frozenset(POD_SPEC_PATHS)
#: Workloads that run until stopped (and so need probes); Jobs and CronJobs run to completion.
LONG_RUNNING = frozenset(
    {
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:apps/v1:DaemonSet",
    }
)


@dataclass(frozen=True)
class Container:
    """One container of a pod spec, with the pod-level security context it inherits."""

    kind: str  # "container", "init container" or "ephemeral container"
    spec: Mapping[str, Any]
    pod: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.spec.get('name', '?')}"

    def security(self, key: str, default: Any = None) -> Any:
        """``securityContext.<key>`` of the container, else of the pod (where the pod has it)."""
        own = dig(self.spec, f"securityContext.{key}")
        if own is not None:
            return own
        return dig(self.pod, f"securityContext.{key}", default)


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return None
    return mapping(dig(props, path))


def containers(resource_type: str, props: Mapping[str, Any]) -> Iterator[Container]:
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for key, kind in (
        ("initContainers", "init container"),
        ("containers", "container"),
        ("ephemeralContainers", "ephemeral container"),
    ):
        for container in items(spec.get(key)):
            yield Container(kind, mapping(container), spec)


def template_labels(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, str]:
    """The pod template's labels (what Services and PDBs select)."""
    path = POD_SPEC_PATHS.get(resource_type, "")
    if not path.endswith(".spec"):
        return {}
    return {
        str(k): str(v)
        for k, v in mapping(dig(props, path[: -len(".spec")] + ".metadata.labels")).items()
    }


def namespace_of(props: Mapping[str, Any]) -> str:
    return str(dig(props, "metadata.namespace") or "default")
