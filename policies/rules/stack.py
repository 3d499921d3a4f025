"""Stack-level rules (``AnalyzeStack``): what only the whole stack shows.

* every Deployment has a Service and, when it runs more than one replica, a PodDisruptionBudget;
* every store the foundation contract says holds models is private (and so are its replicas);
* no credential appears in a stack output.

The root stack resource (``pulumi:pulumi:Stack``) carries the stack outputs; on a foundation
they are the contract (``stores.models`` names the model store).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.rules.aws.storage import (
    BUCKET,
    BUCKET_POLICY,
    PUBLIC_ACCESS_BLOCK,
    public_grants,
    unblocked_public_access,
)
from policies.rules.azure.storage import ACCOUNT, CONTAINER, open_network, public_blobs
from policies.rules.base import Params, Resource, StackRule
from policies.rules.kubernetes.pods import namespace_of, template_labels
from policies.rules.props import dig, items, leaves, mapping

STACK = "pulumi:pulumi:Stack"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA_TYPES = frozenset(
    {
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
    }
)
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
#: Pulumi auto-names a resource ``<logical name>-<7 hex>`` when no physical name is given.
AUTONAME_SUFFIX = r"-[0-9a-f]{7}"


def stack_outputs(resources: Sequence[Resource]) -> Mapping[str, Any]:
    return next((r.props for r in resources if r.type == STACK), {})


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(str(k)) == str(v) for k, v in selector.items())


def _deployments(
    resources: Sequence[Resource],
) -> Iterator[tuple[Resource, str, Mapping[str, str]]]:
    for r in resources:
        if r.type == DEPLOYMENT:
            yield r, namespace_of(r.props), template_labels(r.type, r.props)


def _has_service(resources: Sequence[Resource], params: Params) -> Iterator[tuple[str | None, str]]:
    services = [
        (namespace_of(r.props), mapping(dig(r.props, "spec.selector")))
        for r in resources
        if r.type == SERVICE
    ]
    for deployment, namespace, labels in _deployments(resources):
        if not any(ns == namespace and _selects(sel, labels) for ns, sel in services):
            yield deployment.urn, f"Deployment {deployment.name} has no Service selecting its pods"


DEPLOYMENT_SERVICE = StackRule(
    name="k8s-deployment-has-service",
    summary="every Deployment is reachable through a Service that selects its pods",
    controls=("EKS Best Practices: Reliability (Services)", "Azure Well-Architected RE:05"),
    params=Params,
    check=_has_service,
)


def _replicas(deployment: Resource, resources: Sequence[Resource]) -> int:
    replicas = int(dig(deployment.props, "spec.replicas", 1))
    name = str(dig(deployment.props, "metadata.name") or "")
    namespace = namespace_of(deployment.props)
    for hpa in (r for r in resources if r.type in HPA_TYPES):
        target = mapping(dig(hpa.props, "spec.scaleTargetRef"))
        if (
            target.get("kind") == "Deployment"
            and str(target.get("name")) == name
            and namespace_of(hpa.props) == namespace
        ):
            replicas = max(replicas, int(dig(hpa.props, "spec.maxReplicas", 1)))
    return replicas


def _has_pdb(resources: Sequence[Resource], params: Params) -> Iterator[tuple[str | None, str]]:
    budgets = [
        (namespace_of(r.props), mapping(dig(r.props, "spec.selector.matchLabels")))
        for r in resources
        if r.type == PDB
    ]
    for deployment, namespace, labels in _deployments(resources):
        replicas = _replicas(deployment, resources)
        if replicas > 1 and not any(ns == namespace and _selects(s, labels) for ns, s in budgets):
            yield (
                deployment.urn,
                (
                    f"Deployment {deployment.name} runs up to {replicas} replicas but no "
                    "PodDisruptionBudget selects its pods"
                ),
            )


DEPLOYMENT_PDB = StackRule(
    name="k8s-deployment-has-pdb",
    summary="every multi-replica Deployment has a PodDisruptionBudget",
    controls=(
        "EKS Best Practices: Reliability (PodDisruptionBudgets)",
        "Azure Well-Architected RE:05",
    ),
    params=Params,
    check=_has_pdb,
)


def _named(
    resources: Sequence[Resource], resource_type: str, key: str, name: str
) -> list[Resource]:
    """Resources of ``resource_type`` whose physical name (``key``, or the auto-name Pulumi
    derives from the logical name) is ``name``."""
    found = []
    for r in resources:
        if r.type != resource_type:
            continue
        explicit = r.props.get(key)
        if explicit == name or (
            explicit is None and re.fullmatch(re.escape(r.name) + AUTONAME_SUFFIX, name)
        ):
            found.append(r)
    return found


def _attached(
    resources: Sequence[Resource], resource_type: str, target: Resource
) -> list[Resource]:
    return [r for r in resources if r.type == resource_type and target.urn in r.dependencies]


def _bucket_findings(resources: Sequence[Resource], bucket: Resource) -> Iterator[str]:
    blocks = _attached(resources, PUBLIC_ACCESS_BLOCK, bucket)
    if not blocks:
        yield f"bucket {bucket.name} has no public access block"
    for block in blocks:
        yield from (f"bucket {bucket.name}: {m}" for m in unblocked_public_access(block, Params()))
    for policy in _attached(resources, BUCKET_POLICY, bucket):
        yield from (f"bucket {bucket.name}: {m}" for m in public_grants(policy, Params()))
    yield from (f"bucket {bucket.name}: {m}" for m in public_grants(bucket, Params()))


def _replicas_of(resources: Sequence[Resource], bucket: Resource) -> Iterator[str]:
    for replication in _attached(resources, REPLICATION, bucket):
        for rule in items(replication.props.get("rules")):
            arn = str(dig(rule, "destination.bucket") or "")
            if arn.startswith("arn:aws:s3:::"):
                yield arn.removeprefix("arn:aws:s3:::")


def _s3_store(resources: Sequence[Resource], url: str) -> Iterator[tuple[str | None, str]]:
    name = url.removeprefix("s3://").split("/", 1)[0]
    pending, seen = [name], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        buckets = _named(resources, BUCKET, "bucket", current)
        if not buckets:
            yield None, f"the model store bucket {current} is not declared in this stack"
        for bucket in buckets:
            yield from ((bucket.urn, m) for m in _bucket_findings(resources, bucket))
            pending.extend(_replicas_of(resources, bucket))


def _blob_store(
    resources: Sequence[Resource], url: str, outputs: Mapping[str, Any]
) -> Iterator[tuple[str | None, str]]:
    container = url.split("://", 1)[1].split("/", 1)[0]
    account = str(dig(outputs, "stores.storageOptions.account_name") or "")
    accounts = _named(resources, ACCOUNT, "accountName", account)
    if not accounts:
        yield (
            None,
            f"the model store account {account or '(unnamed)'} is not declared in this stack",
        )
    for r in accounts:
        yield from ((r.urn, f"account {account}: {m}") for m in public_blobs(r, Params()))
        yield from ((r.urn, f"account {account}: {m}") for m in open_network(r, Params()))
    for r in resources:
        if (
            r.type == CONTAINER
            and r.props.get("containerName") == container
            and r.props.get("accountName") == account
        ):
            yield from ((r.urn, f"container {container}: {m}") for m in public_blobs(r, Params()))


def _model_stores(
    resources: Sequence[Resource], params: Params
) -> Iterator[tuple[str | None, str]]:
    outputs = stack_outputs(resources)
    url = dig(outputs, "stores.models")
    if not isinstance(url, str):
        return
    if url.startswith("s3://"):
        yield from _s3_store(resources, url)
    elif url.startswith(("az://", "abfs://", "abfss://")):
        yield from _blob_store(resources, url, outputs)


MODEL_STORES_PRIVATE = StackRule(
    name="model-stores-private",
    summary="every cloud store that holds models (and every replica of it) is private",
    controls=("CIS AWS Foundations 2.1.4", "CIS Azure 3.7", "MCSB DP-2"),
    params=Params,
    check=_model_stores,
)

#: Properties the providers mark secret, by resource type (their values must never be outputs).
SECRET_PROPERTIES: Mapping[str, tuple[str, ...]] = {
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
    "azure-native:dbforpostgresql:Server": ("administratorLoginPassword",),
    "azure-native:keyvault:Secret": ("properties.value",),
    "aws:rds/instance:Instance": ("password",),
    "aws:rds/cluster:Cluster": ("masterPassword",),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretString",),
    "aws:iam/accessKey:AccessKey": ("secret", "sesSmtpPasswordV4"),
    "kubernetes:core/v1:Secret": ("data", "stringData"),
    "tls:index/privateKey:PrivateKey": ("privateKeyPem", "privateKeyOpenssh"),
}
#: Credential material recognisable by its shape.
CREDENTIAL_PATTERNS: Mapping[str, re.Pattern[str]] = {
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),
    "an Azure account key": re.compile(r"(AccountKey|SharedAccessKey|SharedAccessSignature)="),
    "static kubeconfig credentials": re.compile(
        r"\"?(client-key-data|token|password)\"?\s*:\s*\"?[^\s\",}]{8,}"
    ),
    "an AWS secret access key": re.compile(r"aws_secret_access_key", re.IGNORECASE),
}


def _secret_values(resources: Sequence[Resource]) -> dict[str, str]:
    """Secret value → where it comes from (``type name: property``)."""
    found: dict[str, str] = {}
    for r in resources:
        for path in SECRET_PROPERTIES.get(r.type, ()):
            for leaf, value in leaves(dig(r.props, path), path):
                if isinstance(value, str) and len(value) >= 8:
                    found[value] = f"{r.type} {r.name}: {leaf}"
    return found


def _secret_outputs(
    resources: Sequence[Resource], params: Params
) -> Iterator[tuple[str | None, str]]:
    stack = next((r for r in resources if r.type == STACK), None)
    if stack is None:
        return
    secrets = _secret_values(resources)
    for path, value in leaves(stack.props):
        if not isinstance(value, str):
            continue
        for secret, origin in secrets.items():
            if secret in value:
                yield stack.urn, f"stack output {path} carries the secret {origin}"
        for what, pattern in CREDENTIAL_PATTERNS.items():
            if pattern.search(value):
                yield stack.urn, f"stack output {path} carries {what}"


OUTPUTS_WITHOUT_SECRETS = StackRule(
    name="stack-outputs-no-secrets",
    summary=(
        "no credential appears in a stack output: export where a secret lives (a vault or "
        "secret-manager name), never the secret"
    ),
    controls=("MCSB IM-8", "CWE-312"),
    params=Params,
    check=_secret_outputs,
)

RULES = (DEPLOYMENT_SERVICE, DEPLOYMENT_PDB, MODEL_STORES_PRIVATE, OUTPUTS_WITHOUT_SECRETS)
