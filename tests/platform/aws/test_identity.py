"""Workload identity: one IRSA role per workload, trusted only by its service account, with
exactly the S3 and KMS access the workload needs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.platform.aws.conftest import policy, stack_file
from tests.platform.aws.mocks import ACCOUNT_ID, OIDC_ISSUER, REGION
from tests.platform.harness import StackRun

ISSUER_HOST = OIDC_ISSUER.removeprefix("https://")


def _bucket_arn(run: StackRun, store: str) -> str:
    (bucket,) = [
        b for b in run.of_type("aws:s3/bucket:Bucket") if b.name.endswith(f"-storage-{store}")
    ]
    return f"arn:aws:s3:::{bucket.name}-a1b2c3d"


def _grants(run: StackRun, workload: str) -> set[tuple[str, str]]:
    """Every (action, resource) pair the workload's policy allows; no wildcards, no denies."""
    document = policy(run.one("aws:iam/rolePolicy:RolePolicy", f"-workloads-{workload}-access"))
    pairs: set[tuple[str, str]] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "Principal" not in statement
        assert "Condition" not in statement
        for action in statement["Action"]:
            for resource in statement["Resource"]:
                pairs.add((action, resource))
    return pairs


def _expected(run: StackRun, grants: dict[str, list[str]], kms: list[str]) -> set[tuple[str, str]]:
    key = run.one("aws:kms/key:Key", "storage-key")
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key.name}-id"
    expected = {(action, key_arn) for action in kms}
    for store, actions in grants.items():
        arn = _bucket_arn(run, store)
        expected.add(("s3:ListBucket", arn))
        expected |= {(action, f"{arn}/*") for action in actions}
    return expected


def test_api_reads_models_only(stack: StackRun) -> None:
    assert _grants(stack, "ml-api") == _expected(
        stack, {"models": ["s3:GetObject"]}, kms=["kms:Decrypt"]
    )


def test_training_reads_the_data_lake_and_writes_models_and_artifacts(stack: StackRun) -> None:
    assert _grants(stack, "training") == _expected(
        stack,
        {
            "data-raw": ["s3:GetObject"],
            "data-processed": ["s3:GetObject"],
            "models": ["s3:GetObject", "s3:PutObject"],
            "mlflow-artifacts": ["s3:GetObject", "s3:PutObject"],
        },
        kms=["kms:Decrypt", "kms:GenerateDataKey"],
    )


def test_mlflow_reads_and_writes_artifacts_only(stack: StackRun) -> None:
    assert _grants(stack, "mlflow") == _expected(
        stack,
        {"mlflow-artifacts": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]},
        kms=["kms:Decrypt", "kms:GenerateDataKey"],
    )


def test_no_workload_can_delete_data_or_models(stack: StackRun) -> None:
    for workload in ("ml-api", "training"):
        assert not any(action == "s3:DeleteObject" for action, _ in _grants(stack, workload))


@pytest.mark.parametrize("workload", ["ml-api", "training", "mlflow"])
def test_role_is_trusted_by_its_service_account_only(stack: StackRun, workload: str) -> None:
    namespace = stack_file(stack.stack)["stratus:aws"]["workloads"]["namespace"]
    role = stack.one("aws:iam/role:Role", f"-workloads-{workload}")
    trust: dict[str, Any] = json.loads(role.inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{ISSUER_HOST}"},
        "Action": ["sts:AssumeRoleWithWebIdentity"],
        "Condition": {
            "StringEquals": {
                f"{ISSUER_HOST}:sub": f"system:serviceaccount:{namespace}:{workload}",
                f"{ISSUER_HOST}:aud": "sts.amazonaws.com",
            }
        },
    }
    assert stack.outputs["workloadRoleArns"][workload] == (
        f"arn:aws:iam::{ACCOUNT_ID}:role/{role.name}-a1b2c3d"
    )


def test_workload_roles_have_no_managed_policies(stack: StackRun) -> None:
    workload_roles = {
        f"{r.name}-a1b2c3d" for r in stack.of_type("aws:iam/role:Role") if "-workloads-" in r.name
    }
    attachments = stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert not [a for a in attachments if a.inputs["role"] in workload_roles]
    for role in stack.of_type("aws:iam/role:Role"):
        assert "managedPolicyArns" not in role.inputs


def test_flow_log_role_writes_only_its_log_group(stack: StackRun) -> None:
    group = stack.one("aws:cloudwatch/logGroup:LogGroup", "flow-logs")
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group.name}-a1b2c3d"
    (statement,) = policy(stack.one("aws:iam/rolePolicy:RolePolicy", "flow-logs-write"))[
        "Statement"
    ]
    assert statement["Action"] == [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
    ]
    assert statement["Resource"] == [arn, f"{arn}:*"]


def test_replication_role_is_scoped_to_the_two_buckets(prod: StackRun) -> None:
    source = _bucket_arn(prod, "models")
    replica = _bucket_arn(prod, "models-replica")
    document = policy(prod.one("aws:iam/rolePolicy:RolePolicy", "storage-replication"))
    resources = {r for s in document["Statement"] for r in s["Resource"]}
    s3_resources = {r for r in resources if r.startswith("arn:aws:s3")}
    assert s3_resources == {source, f"{source}/*", f"{replica}/*"}
    writes = next(s for s in document["Statement"] if s["Sid"] == "WriteReplica")
    assert writes["Resource"] == [f"{replica}/*"]
