"""The foundations' CI identities for GitHub Actions: OIDC trust scoped to the repository and the
kind of run, and exactly the access each needs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.aws.delivery import SERVICES
from infra.config import StratusConfigError
from infra.offline import StackRun, run_stack, shipped_stacks, stack_config, stack_values
from infra.offline import azure as azure_mocks
from infra.offline.aws import ACCOUNT_ID

REPO = stack_values("aws-dev")["stratus:githubRepository"]
HOST = "token.actions.githubusercontent.com"


def _aws_roles(run: StackRun) -> dict[str, Any]:
    return {
        r.name.rsplit("-", 1)[1]: r
        for r in run.of_type("aws:iam/role:Role")
        if "-delivery-" in r.name
    }


@pytest.mark.parametrize(("stack", "env"), [("aws-dev", "dev"), ("aws-prod", "prod")])
def test_aws_roles_trust_one_kind_of_run_of_the_repository(stack: str, env: str) -> None:
    run = run_stack(stack)
    provider = run.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "github")
    assert provider.inputs["url"] == f"https://{HOST}"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    expected = {
        "deploy": f"repo:{REPO}:environment:{env}",
        "preview": f"repo:{REPO}:pull_request",
        "images": f"repo:{REPO}:ref:refs/heads/main",
    }
    roles = _aws_roles(run)
    assert set(roles) == set(expected)
    for name, role in roles.items():
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {
            "Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{HOST}"
        }
        assert statement["Action"] == ["sts:AssumeRoleWithWebIdentity"]
        assert statement["Condition"] == {
            "StringEquals": {f"{HOST}:aud": "sts.amazonaws.com", f"{HOST}:sub": expected[name]}
        }
    assert run.outputs["delivery"] == {
        f"{name}RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role.name}-a1b2c3d"
        for name, role in roles.items()
    }


def test_aws_role_access() -> None:
    run = run_stack("aws-prod")
    roles = _aws_roles(run)
    attached = {
        a.inputs["role"].removesuffix("-a1b2c3d").rsplit("-", 1)[1]: a.inputs["policyArn"]
        for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if "-delivery-" in a.inputs["role"]
    }
    assert attached == {"preview": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    entry = run.one("aws:eks/accessEntry:AccessEntry", "delivery-deploy")
    assert entry.inputs["principalArn"].endswith(f"role/{roles['deploy'].name}-a1b2c3d")
    association = run.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "delivery")
    assert association.inputs["policyArn"].endswith("/AmazonEKSClusterAdminPolicy")
    push = json.loads(run.one("aws:iam/rolePolicy:RolePolicy", "delivery-images").inputs["policy"])
    by_sid = {s["Sid"]: s for s in push["Statement"]}
    assert by_sid["Login"] == {
        "Sid": "Login",
        "Effect": "Allow",
        "Action": ["ecr:GetAuthorizationToken"],
        "Resource": ["*"],
    }
    repositories = sorted(
        f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/{r.inputs['name']}"
        for r in run.of_type("aws:ecr/repository:Repository")
    )
    assert sorted(by_sid["PushImages"]["Resource"]) == repositories
    assert "ecr:PutImage" in by_sid["PushImages"]["Action"]
    assert all(a.startswith("ecr:") for a in by_sid["PushImages"]["Action"])


def _deploy_policy(run: StackRun) -> dict[str, dict[str, Any]]:
    policy = json.loads(
        run.one("aws:iam/rolePolicy:RolePolicy", "delivery-deploy").inputs["policy"]
    )
    return {s["Sid"]: s for s in policy["Statement"]}


def test_aws_deploy_identity_is_not_an_administrator() -> None:
    by_sid = _deploy_policy(run_stack("aws-dev"))
    allowed = [s for s in by_sid.values() if s["Effect"] == "Allow"]
    assert all("*" not in s["Action"] for s in allowed)
    # IAM writes: only the platform's own names (and the OIDC providers, service-linked roles)
    iam_writes = {
        resource
        for s in allowed
        for resource in s["Resource"]
        if any(
            a.startswith("iam:") and not a.startswith(("iam:Get", "iam:List")) for a in s["Action"]
        )
    }
    account = f"arn:aws:iam::{ACCOUNT_ID}"
    assert iam_writes == {
        f"{account}:role/stratus-dev-*",
        f"{account}:policy/stratus-dev-*",
        f"{account}:instance-profile/stratus-dev-*",
        f"{account}:oidc-provider/{HOST}",
        f"{account}:oidc-provider/oidc.eks.*",
        f"{account}:role/aws-service-role/*",
    }
    # ... never on the CI identities themselves, never attaching AWS's administrator policies
    own = by_sid["NeverTheCiIdentities"]
    assert own["Effect"] == "Deny"
    assert own["Resource"] == [f"{account}:role/stratus-dev-delivery-*"]
    assert {"iam:Put*", "iam:Attach*", "iam:Update*"} <= set(own["Action"])
    admin = by_sid["NeverAdministratorPolicies"]
    assert admin["Effect"] == "Deny"
    assert (
        "arn:aws:iam::aws:policy/AdministratorAccess"
        in admin["Condition"]["ArnEquals"]["iam:PolicyARN"]
    )


AWS_STACKS = [s for s in shipped_stacks() if s.startswith("aws-")]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_aws_deploy_identity_may_manage_everything_the_stack_creates(stack: str) -> None:
    """A stack that starts using a new AWS service fails here until the deploy identity may."""
    run = run_stack(stack)
    env = stack.split("-")[1]
    modules = {
        r.type.split(":")[1].split("/")[0] for r in run.resources if r.type.startswith("aws:")
    }
    assert modules - {"iam"} <= set(SERVICES), (
        f"not in SERVICES: {modules - {'iam'} - set(SERVICES)}"
    )
    iam_names = [
        r.name
        for r in run.resources
        if r.type
        in ("aws:iam/role:Role", "aws:iam/policy:Policy", "aws:iam/instanceProfile:InstanceProfile")
    ]
    for name in iam_names:
        assert name.startswith(f"stratus-{env}-"), name
        assert "name" not in run.named(name).inputs  # autonamed: the prefix is what AWS sees


def test_an_existing_github_provider_is_reused() -> None:
    section = stack_values("aws-dev")["stratus:aws"]
    existing = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{HOST}"
    section["delivery"] = {"githubOidcProviderArn": existing}
    run = run_stack("aws-dev", override={"stratus:aws": section})
    assert not [
        p
        for p in run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
        if p.inputs["url"] == f"https://{HOST}"
    ]
    trust = json.loads(_aws_roles(run)["deploy"].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Federated": existing}


def test_a_custom_environment_and_branch() -> None:
    section = stack_values("aws-dev")["stratus:aws"]
    section["delivery"] = {"environment": "staging-eu", "branch": "release"}
    run = run_stack("aws-dev", override={"stratus:aws": section})
    roles = _aws_roles(run)
    subject = lambda name: json.loads(roles[name].inputs["assumeRolePolicy"])["Statement"][0][  # noqa: E731
        "Condition"
    ]["StringEquals"][f"{HOST}:sub"]
    assert subject("deploy") == f"repo:{REPO}:environment:staging-eu"
    assert subject("images") == f"repo:{REPO}:ref:refs/heads/release"


def test_delivery_can_be_switched_off() -> None:
    section = stack_values("azure-dev")["stratus:azure"]
    section["delivery"] = {"enabled": False}
    run = run_stack("azure-dev", override={"stratus:azure": section})
    assert "delivery" not in run.outputs
    assert not [r for r in run.resources if "-delivery" in r.name]


@pytest.mark.parametrize("stack", ["aws-dev", "azure-prod"])
def test_a_missing_repository_shows_the_command(stack: str) -> None:
    config = {k: v for k, v in stack_config(stack).items() if k != "stratus:githubRepository"}
    with pytest.raises(StratusConfigError) as caught:
        run_stack(stack, config=config)
    assert f"pulumi config set 'stratus:githubRepository' <owner>/<repository> --stack {stack}" in (
        str(caught.value)
    )


def test_azure_identities_are_federated_with_github_and_scoped() -> None:
    run = run_stack("azure-prod")
    credentials = {
        c.name.rsplit("-", 2)[1]: c
        for c in run.of_type("azure-native:managedidentity:FederatedIdentityCredential")
        if "-delivery-" in c.name
    }
    assert {n: c.inputs["subject"] for n, c in credentials.items()} == {
        "deploy": f"repo:{REPO}:environment:prod",
        "preview": f"repo:{REPO}:pull_request",
        "images": f"repo:{REPO}:ref:refs/heads/main",
    }
    for credential in credentials.values():
        assert credential.inputs["issuer"] == f"https://{HOST}"
        assert credential.inputs["audiences"] == ["api://AzureADTokenExchange"]
    ids = {f"{r.name}-id": r for r in run.resources if r.custom}
    principals = {
        azure_mocks.principal_id(i.name): i.name.rsplit("-", 1)[1]
        for i in run.of_type("azure-native:managedidentity:UserAssignedIdentity")
        if "-delivery-" in i.name
    }
    grants = set()
    from infra.azure.roles import ROLE_NAMES

    for assignment in run.of_type("azure-native:authorization:RoleAssignment"):
        who = principals.get(assignment.inputs["principalId"])
        if who is None:
            continue
        role = ROLE_NAMES[assignment.inputs["roleDefinitionId"].rsplit("/", 1)[1]]
        grants.add((who, role, ids[assignment.inputs["scope"]].type.rsplit(":", 1)[1]))
    assert grants == {
        ("deploy", "Owner", "ResourceGroup"),
        ("deploy", "AcrPush", "Registry"),
        ("deploy", "Azure Kubernetes Service RBAC Cluster Admin", "ManagedCluster"),
        ("preview", "Reader", "ResourceGroup"),
        ("images", "AcrPush", "Registry"),
    }
    assert set(run.outputs["delivery"]) == {
        "deployClientId",
        "previewClientId",
        "imagesClientId",
        "tenantId",
        "subscriptionId",
    }
