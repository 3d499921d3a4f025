"""The restricted Pod Security Standard, container by container, on every typed workload."""

from __future__ import annotations

from collections.abc import Iterator

from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.kubernetes.pods import WORKLOADS, containers, pod_spec
from policies.rules.props import dig, items, truthy

SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def _non_root(resource: Resource, params: Params) -> Iterator[str]:
    for c in containers(resource.type, resource.props):
        if not truthy(c.security("runAsNonRoot", False)):
            yield f"{c.label}: securityContext.runAsNonRoot is not true"
        elif c.security("runAsUser") is not None and int(c.security("runAsUser")) == 0:
            yield f"{c.label}: securityContext.runAsUser is 0 (root)"


RUN_AS_NON_ROOT = ResourceRule(
    name="k8s-run-as-non-root",
    summary="containers run as a non-root user",
    controls=(
        "Pod Security Standard restricted: Running as Non-root",
        "Checkov CKV_K8S_23",
        "CIS EKS 4.2.6",
    ),
    params=Params,
    types=WORKLOADS,
    check=_non_root,
)


def _privilege_escalation(resource: Resource, params: Params) -> Iterator[str]:
    for c in containers(resource.type, resource.props):
        if dig(c.spec, "securityContext.allowPrivilegeEscalation") is not False:
            yield f"{c.label}: securityContext.allowPrivilegeEscalation is not false"


NO_PRIVILEGE_ESCALATION = ResourceRule(
    name="k8s-no-privilege-escalation",
    summary="containers cannot gain privileges (allowPrivilegeEscalation: false)",
    controls=(
        "Pod Security Standard restricted: Privilege Escalation",
        "Checkov CKV_K8S_20",
        "CIS EKS 4.2.5",
    ),
    params=Params,
    types=WORKLOADS,
    check=_privilege_escalation,
)


def _privileged(resource: Resource, params: Params) -> Iterator[str]:
    spec = pod_spec(resource.type, resource.props) or {}
    for key in HOST_NAMESPACES:
        if truthy(spec.get(key, False)):
            yield f"the pod shares the node's namespace ({key})"
    for c in containers(resource.type, resource.props):
        if truthy(dig(c.spec, "securityContext.privileged", False)):
            yield f"{c.label}: securityContext.privileged is on"


NO_PRIVILEGED = ResourceRule(
    name="k8s-no-privileged-or-host-namespaces",
    summary="no privileged container and no pod sharing the node's network, PID or IPC namespace",
    controls=(
        "Pod Security Standard baseline: Privileged Containers, Host Namespaces",
        "Checkov CKV_K8S_16",
        "Checkov CKV_K8S_17",
        "Checkov CKV_K8S_18",
        "Checkov CKV_K8S_19",
        "CIS EKS 4.2.1-4.2.4",
    ),
    params=Params,
    types=WORKLOADS,
    check=_privileged,
)


def _capabilities(resource: Resource, params: Params) -> Iterator[str]:
    for c in containers(resource.type, resource.props):
        dropped = {str(x) for x in items(dig(c.spec, "securityContext.capabilities.drop"))}
        added = {str(x) for x in items(dig(c.spec, "securityContext.capabilities.add"))}
        if "ALL" not in dropped:
            yield f"{c.label}: securityContext.capabilities.drop does not include ALL"
        if added - {"NET_BIND_SERVICE"}:
            yield f"{c.label}: adds capabilities {', '.join(sorted(added - {'NET_BIND_SERVICE'}))}"


DROP_ALL_CAPABILITIES = ResourceRule(
    name="k8s-drop-all-capabilities",
    summary="containers drop every Linux capability (at most NET_BIND_SERVICE added back)",
    controls=(
        "Pod Security Standard restricted: Capabilities",
        "Checkov CKV_K8S_37",
        "CIS EKS 4.2.7-4.2.9",
    ),
    params=Params,
    types=WORKLOADS,
    check=_capabilities,
)


def _seccomp(resource: Resource, params: Params) -> Iterator[str]:
    for c in containers(resource.type, resource.props):
        profile = str(c.security("seccompProfile.type", "") or "unset")
        if profile not in SECCOMP_TYPES:
            yield f"{c.label}: seccompProfile.type is {profile} (RuntimeDefault or Localhost)"


SECCOMP = ResourceRule(
    name="k8s-seccomp-runtime-default",
    summary="containers run under the RuntimeDefault (or a Localhost) seccomp profile",
    controls=("Pod Security Standard restricted: Seccomp", "Checkov CKV_K8S_31", "CIS EKS 4.6.2"),
    params=Params,
    types=WORKLOADS,
    check=_seccomp,
)


def _read_only_root(resource: Resource, params: Params) -> Iterator[str]:
    for c in containers(resource.type, resource.props):
        if not truthy(dig(c.spec, "securityContext.readOnlyRootFilesystem", False)):
            yield f"{c.label}: securityContext.readOnlyRootFilesystem is not true"


READ_ONLY_ROOT_FS = ResourceRule(
    name="k8s-read-only-root-filesystem",
    summary="containers have a read-only root filesystem",
    controls=("Checkov CKV_K8S_22", "CIS EKS 4.6.3 (security context)"),
    params=Params,
    types=WORKLOADS,
    check=_read_only_root,
)

RULES = (
    RUN_AS_NON_ROOT,
    NO_PRIVILEGE_ESCALATION,
    NO_PRIVILEGED,
    DROP_ALL_CAPABILITIES,
    SECCOMP,
    READ_ONLY_ROOT_FS,
)
