"""EKS control plane and worker nodes."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.props import dig, items, truthy

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")


class EndpointParams(Params):
    allow_listed_public_endpoint: bool = Field(
        default=False,
        description="accept a public API endpoint when publicAccessCidrs is an explicit allow-list",
    )


def _endpoint(resource: Resource, params: EndpointParams) -> Iterator[str]:
    # EKS defaults: public endpoint on, open to 0.0.0.0/0; private endpoint off.
    public = truthy(dig(resource.props, "vpcConfig.endpointPublicAccess", True))
    private = truthy(dig(resource.props, "vpcConfig.endpointPrivateAccess", False))
    cidrs = [str(c) for c in items(dig(resource.props, "vpcConfig.publicAccessCidrs"))]
    if not private:
        yield "vpcConfig.endpointPrivateAccess is off: nodes and deployers reach the API publicly"
    if not public:
        return
    if not params.allow_listed_public_endpoint:
        shown = ", ".join(cidrs) if cidrs else "0.0.0.0/0 (the EKS default)"
        yield (
            f"the API endpoint is public (vpcConfig.endpointPublicAccess, open to {shown}); keep "
            "it private and deploy from the deployer network, or set allowListedPublicEndpoint "
            "for this policy"
        )
    elif not cidrs or OPEN_CIDRS & set(cidrs):
        yield "the public API endpoint is open to the internet: list the allowed CIDRs"


ENDPOINT_PRIVATE = ResourceRule(
    name="aws-eks-endpoint-private",
    summary="EKS API endpoint is private (or public only to an explicit allow-list)",
    controls=("Checkov CKV_AWS_39", "Checkov CKV_AWS_38", "CIS EKS 5.4.2"),
    params=EndpointParams,
    types=frozenset({CLUSTER}),
    check=_endpoint,
)


def _secrets(resource: Resource, params: Params) -> Iterator[str]:
    config = dig(resource.props, "encryptionConfig")
    if "secrets" not in [str(r) for r in items(dig(config, "resources"))]:
        yield "encryptionConfig does not envelope-encrypt Kubernetes secrets"
    elif not dig(config, "provider.keyArn"):
        yield "encryptionConfig.provider.keyArn names no KMS key"


SECRETS_ENCRYPTED = ResourceRule(
    name="aws-eks-secrets-encrypted",
    summary="EKS secrets are envelope-encrypted with a customer KMS key",
    controls=("Checkov CKV_AWS_58", "CIS EKS 5.3.1"),
    params=Params,
    types=frozenset({CLUSTER}),
    check=_secrets,
)


def _logs(resource: Resource, params: Params) -> Iterator[str]:
    enabled = {str(t) for t in items(resource.props.get("enabledClusterLogTypes"))}
    missing = [t for t in CONTROL_PLANE_LOGS if t not in enabled]
    if missing:
        yield f"control-plane log types not enabled: {', '.join(missing)}"


CONTROL_PLANE_LOGGING = ResourceRule(
    name="aws-eks-control-plane-logging",
    summary="every EKS control-plane log type is sent to CloudWatch",
    controls=("Checkov CKV_AWS_37", "CIS EKS 2.1.1"),
    params=Params,
    types=frozenset({CLUSTER}),
    check=_logs,
)


class ImdsParams(Params):
    max_hop_limit: int = Field(default=1, ge=1, le=64, description="highest allowed IMDS hop limit")


def _imds(resource: Resource, params: ImdsParams) -> Iterator[str]:
    if resource.type == NODE_GROUP:
        if not resource.props.get("launchTemplate"):
            yield (
                "the node group has no launch template: EKS's default allows IMDSv1 and a hop "
                "limit of 2, so pods can take the node role"
            )
        return
    options = resource.props.get("metadataOptions") or {}
    if str(dig(options, "httpEndpoint", "enabled")) == "disabled":
        return
    if str(dig(options, "httpTokens", "optional")) != "required":
        yield "metadataOptions.httpTokens is not 'required' (IMDSv1 allowed)"
    hops = dig(options, "httpPutResponseHopLimit")
    if hops is None or int(hops) > params.max_hop_limit:
        yield (
            "metadataOptions.httpPutResponseHopLimit is "
            f"{int(hops) if hops is not None else 'unset'}"
            f" (at most {params.max_hop_limit}: pods must not reach the node's credentials)"
        )


NODES_IMDSV2 = ResourceRule(
    name="aws-nodes-imdsv2",
    summary="worker nodes allow IMDSv2 only, with a hop limit that keeps pods off it",
    controls=(
        "Checkov CKV_AWS_79",
        "Checkov CKV_AWS_341",
        "EKS Best Practices: restrict access to the instance profile",
    ),
    params=ImdsParams,
    types=frozenset({NODE_GROUP, LAUNCH_TEMPLATE}),
    check=_imds,
)

RULES = (ENDPOINT_PRIVATE, SECRETS_ENCRYPTED, CONTROL_PLANE_LOGGING, NODES_IMDSV2)
