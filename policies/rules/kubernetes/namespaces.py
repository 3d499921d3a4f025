"""Namespaces: Pod Security admission at restricted, default-deny networking, nothing in
``default``, service-account tokens only where asked for."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pydantic import Field

from policies.rules.base import Params, Resource, ResourceRule, StackRule
from policies.rules.props import dig, items, mapping, truthy

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
#: Kinds without a namespace (everything else of the kubernetes package is namespaced).
CLUSTER_SCOPED = frozenset(
    {
        "core/v1:Namespace",
        "core/v1:Node",
        "core/v1:PersistentVolume",
        "rbac.authorization.k8s.io/v1:ClusterRole",
        "rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        "storage.k8s.io/v1:StorageClass",
        "storage.k8s.io/v1:CSIDriver",
        "apiextensions.k8s.io/v1:CustomResourceDefinition",
        "scheduling.k8s.io/v1:PriorityClass",
        "networking.k8s.io/v1:IngressClass",
        "node.k8s.io/v1:RuntimeClass",
        "admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
        "apiregistration.k8s.io/v1:APIService",
        # Cluster-scoped custom resources of the add-ons the in-cluster layer installs.
        "cert-manager.io/v1:ClusterIssuer",
        "external-secrets.io/v1:ClusterSecretStore",
        "external-secrets.io/v1:ClusterExternalSecret",
    }
)


class PodSecurityParams(Params):
    level: str = Field(default="restricted", pattern="^(baseline|restricted)$")


def _pod_security(resource: Resource, params: PodSecurityParams) -> Iterator[str]:
    labels = mapping(dig(resource.props, "metadata.labels"))
    enforced = str(labels.get(PSA_ENFORCE, "unset"))
    if enforced != params.level and not (params.level == "baseline" and enforced == "restricted"):
        yield f"label {PSA_ENFORCE} is {enforced} (want {params.level})"


NAMESPACE_POD_SECURITY = ResourceRule(
    name="k8s-namespace-pod-security",
    summary="namespaces enforce the restricted Pod Security Standard through admission",
    controls=("Pod Security Admission (restricted)", "CIS EKS 4.2", "CIS AKS 4.2"),
    params=PodSecurityParams,
    types=frozenset({NAMESPACE}),
    check=_pod_security,
)


def _is_default_deny(policy: Resource) -> bool:
    spec = mapping(policy.props.get("spec"))
    types = {str(t) for t in items(spec.get("policyTypes"))}
    return (
        not mapping(spec.get("podSelector"))  # {} selects every pod
        and {"Ingress", "Egress"} <= types
        and not items(spec.get("ingress"))
        and not items(spec.get("egress"))
    )


def _default_deny(
    resources: Sequence[Resource], params: Params
) -> Iterator[tuple[str | None, str]]:
    covered = {
        str(dig(r.props, "metadata.namespace") or "default")
        for r in resources
        if r.type == NETWORK_POLICY and _is_default_deny(r)
    }
    for namespace in (r for r in resources if r.type == NAMESPACE):
        name = str(dig(namespace.props, "metadata.name") or namespace.name)
        if name not in covered:
            yield (
                namespace.urn,
                (
                    f"namespace {name} has no default-deny NetworkPolicy (podSelector {{}}, "
                    "policyTypes Ingress and Egress, no rules)"
                ),
            )


NAMESPACE_DEFAULT_DENY = StackRule(
    name="k8s-namespace-default-deny",
    summary="every namespace the stack declares has a default-deny NetworkPolicy",
    controls=("CIS EKS 4.3.2", "CIS AKS 4.4.2", "Checkov CKV2_K8S_6"),
    params=Params,
    check=_default_deny,
)


HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
#: Components of the kubernetes package that hold other objects rather than being one.
_COMPONENT_PREFIXES = ("helm.sh/", "yaml/", "kustomize/")


def _namespaced(resource_type: str) -> bool:
    if resource_type == HELM_RELEASE:
        return True
    kind = resource_type.removeprefix("kubernetes:")
    return (
        kind != resource_type
        and not kind.startswith(_COMPONENT_PREFIXES)
        and kind not in CLUSTER_SCOPED
        and not kind.endswith(("List", "Patch"))
    )


def _default_namespace(resource: Resource, params: Params) -> Iterator[str]:
    if not _namespaced(resource.type):
        return
    if resource.type == HELM_RELEASE:
        namespace = str(resource.props.get("namespace") or "default")
    else:
        namespace = str(dig(resource.props, "metadata.namespace") or "default")
    if namespace == "default":
        yield "the object lands in the default namespace: give it its own namespace"


NO_DEFAULT_NAMESPACE = ResourceRule(
    name="k8s-no-default-namespace",
    summary="no namespaced object is placed in the default namespace",
    controls=("Checkov CKV_K8S_21", "CIS EKS 4.6.4"),
    params=Params,
    check=_default_namespace,
    type_prefixes=("kubernetes:",),
)


def _token(resource: Resource, params: Params) -> Iterator[str]:
    if truthy(resource.props.get("automountServiceAccountToken", True)):
        yield "automountServiceAccountToken is not false: every pod gets an API token"


SERVICE_ACCOUNT_TOKEN = ResourceRule(
    name="k8s-service-account-token",
    summary="service accounts do not mount API tokens into pods by default",
    controls=("Checkov CKV_K8S_38", "CIS EKS 4.1.6"),
    params=Params,
    types=frozenset({SERVICE_ACCOUNT}),
    check=_token,
)

RULES = (
    NAMESPACE_POD_SECURITY,
    NAMESPACE_DEFAULT_DENY,
    NO_DEFAULT_NAMESPACE,
    SERVICE_ACCOUNT_TOKEN,
)
