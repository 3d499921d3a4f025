"""Who can reach what: IAM policies without full admin, security groups without open admin ports."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.rules.aws.iam_document import statements, values
from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.params import AdminPortParams
from policies.rules.props import items, mapping

POLICY_DOCUMENT_TYPES = frozenset(
    {
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    }
)
ROLE = "aws:iam/role:Role"
ATTACHMENT_TYPES = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }
)
ADMIN_POLICY_SUFFIX = ":policy/AdministratorAccess"


def _full_admin(document: Any) -> bool:
    return any(
        s.get("Effect") == "Allow" and "*" in values(s, "Action") and "*" in values(s, "Resource")
        for s in statements(document)
    )


def _iam(resource: Resource, params: Params) -> Iterator[str]:
    if resource.type in ATTACHMENT_TYPES:
        arn = str(resource.props.get("policyArn") or "")
        if arn.endswith(ADMIN_POLICY_SUFFIX):
            yield "attaches the AWS managed AdministratorAccess policy"
        return
    documents: list[tuple[str, Any]] = []
    if resource.type == ROLE:
        documents = [
            (f"inline policy {mapping(p).get('name', '')}".strip(), mapping(p).get("policy"))
            for p in items(resource.props.get("inlinePolicies"))
        ]
    else:
        documents = [("the policy", resource.props.get("policy"))]
    for label, document in documents:
        if _full_admin(document):
            yield f"{label} allows Action '*' on Resource '*' (full administrator)"


IAM_NO_ADMIN = ResourceRule(
    name="aws-iam-no-full-admin",
    summary="no IAM policy grants '*' actions on '*' resources",
    controls=("Checkov CKV_AWS_62", "Checkov CKV_AWS_274", "CIS AWS Foundations 1.16"),
    params=Params,
    types=POLICY_DOCUMENT_TYPES | ATTACHMENT_TYPES | {ROLE},
    check=_iam,
)

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
OPEN = frozenset({"0.0.0.0/0", "::/0"})


def _covers(rule: Mapping[str, Any], port: int, protocol_key: str) -> bool:
    protocol = str(rule.get(protocol_key, "tcp"))
    if protocol in ("-1", "all"):
        return True
    low, high = rule.get("fromPort"), rule.get("toPort")
    if low is None or high is None:
        return False
    return int(low) <= port <= int(high) and protocol in ("tcp", "6", "udp", "17")


def _open_admin_ports(
    rule: Mapping[str, Any], cidrs: set[str], params: AdminPortParams, protocol_key: str
) -> list[int]:
    if not cidrs & OPEN:
        return []
    return [p for p in params.admin_ports if _covers(rule, p, protocol_key)]


def _security_groups(resource: Resource, params: AdminPortParams) -> Iterator[str]:
    rules: list[tuple[Mapping[str, Any], set[str], str]] = []
    if resource.type == SECURITY_GROUP:
        for rule in items(resource.props.get("ingress")):
            cidrs = {str(c) for c in items(mapping(rule).get("cidrBlocks"))}
            cidrs |= {str(c) for c in items(mapping(rule).get("ipv6CidrBlocks"))}
            rules.append((mapping(rule), cidrs, "protocol"))
    elif resource.type == SECURITY_GROUP_RULE:
        if resource.props.get("type") == "ingress":
            cidrs = {str(c) for c in items(resource.props.get("cidrBlocks"))}
            cidrs |= {str(c) for c in items(resource.props.get("ipv6CidrBlocks"))}
            rules.append((resource.props, cidrs, "protocol"))
    else:
        cidrs = {
            str(resource.props.get(k)) for k in ("cidrIpv4", "cidrIpv6") if resource.props.get(k)
        }
        rules.append((resource.props, cidrs, "ipProtocol"))
    for rule, cidrs, protocol_key in rules:
        ports = _open_admin_ports(rule, cidrs, params, protocol_key)
        if ports:
            yield (
                f"ingress from {', '.join(sorted(cidrs & OPEN))} reaches admin port(s) "
                f"{', '.join(str(p) for p in ports)}"
            )


SG_NO_PUBLIC_ADMIN_PORTS = ResourceRule(
    name="aws-sg-no-public-admin-ports",
    summary="no security group opens an administrative port to 0.0.0.0/0 or ::/0",
    controls=("Checkov CKV_AWS_24", "Checkov CKV_AWS_25", "CIS AWS Foundations 5.2"),
    params=AdminPortParams,
    types=frozenset({SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE}),
    check=_security_groups,
)

RULES = (IAM_NO_ADMIN, SG_NO_PUBLIC_ADMIN_PORTS)
