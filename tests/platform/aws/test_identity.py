"""Workload identity: one IRSA role per workload and add-on, trusted only by its service account,
with exactly the access it needs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.foundation import AWS_ADDON_WORKLOADS, WORKLOADS
from infra.offline import StackRun
from infra.offline.aws import ACCOUNT_ID, OIDC_ISSUER, REGION
from tests.platform.aws.conftest import policy

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
            # training/land.py writes the validated data set to the processed zone.
            "data-processed": ["s3:GetObject", "s3:PutObject"],
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


@pytest.mark.parametrize("workload", sorted({**WORKLOADS, **AWS_ADDON_WORKLOADS}))
def test_role_is_trusted_by_its_service_account_only(stack: StackRun, workload: str) -> None:
    namespace, service_account = {**WORKLOADS, **AWS_ADDON_WORKLOADS}[workload]
    role = stack.one("aws:iam/role:Role", f"-workloads-{workload}")
    trust: dict[str, Any] = json.loads(role.inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{ISSUER_HOST}"},
        "Action": ["sts:AssumeRoleWithWebIdentity"],
        "Condition": {
            "StringEquals": {
                f"{ISSUER_HOST}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{ISSUER_HOST}:aud": "sts.amazonaws.com",
            }
        },
    }
    identity = stack.outputs["identities"][workload]
    assert (identity["namespace"], identity["serviceAccount"]) == (namespace, service_account)
    assert identity["annotations"] == {
        "eks.amazonaws.com/role-arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role.name}-a1b2c3d"
    }


def test_external_secrets_reads_exactly_the_platform_secrets(stack: StackRun) -> None:
    document = policy(stack.one("aws:iam/rolePolicy:RolePolicy", "-workloads-external-secrets-"))
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert set(by_sid) == {"ReadPlatformSecrets", "DecryptPlatformSecrets"}
    read = by_sid["ReadPlatformSecrets"]
    assert read["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    api_keys = stack.outputs["secretStore"]["apiKeys"]["name"]
    assert sorted(read["Resource"]) == sorted(
        [
            stack.outputs["database"]["password"]["name"],
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{api_keys}-AbCdEf",
        ]
    )
    keys = {
        f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{stack.one('aws:kms/key:Key', name).name}-id"
        for name in ("mlflow-db-key", "platform-secrets-key")
    }
    assert set(by_sid["DecryptPlatformSecrets"]["Resource"]) == keys
    assert by_sid["DecryptPlatformSecrets"]["Action"] == ["kms:Decrypt"]


def test_cluster_autoscaler_scales_only_this_clusters_groups(stack: StackRun) -> None:
    document = policy(stack.one("aws:iam/rolePolicy:RolePolicy", "-workloads-cluster-autoscaler-"))
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    writes = by_sid["ScaleOwnGroups"]
    assert writes["Action"] == [
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    cluster = stack.one("aws:eks/cluster:Cluster").inputs["name"]
    assert writes["Condition"] == {
        "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}": "owned"}
    }
    # Reads only elsewhere; the managed node groups' labels and taints come from EKS.
    reads = by_sid["Discover"]["Action"]
    assert "eks:DescribeNodegroup" in reads
    assert all(":Describe" in a or ":Get" in a for a in reads)


def test_load_balancer_controller_changes_only_what_it_tagged(stack: StackRun) -> None:
    document = policy(
        stack.one("aws:iam/rolePolicy:RolePolicy", "-workloads-aws-load-balancer-controller-")
    )
    for statement in document["Statement"]:
        mutating = [
            a
            for a in statement["Action"]
            if not any(verb in a for verb in (":Describe", ":Get", ":List"))
        ]
        if mutating:
            # Every write is conditioned: on the cluster tag or on what is being created.
            assert statement.get("Condition"), statement["Sid"]
        assert "*" not in statement["Action"]


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


def test_replication_role_actions_are_exactly_what_replication_needs(prod: StackRun) -> None:
    """Each statement's actions, exactly: a widened action (``s3:*``) fails here."""
    document = policy(prod.one("aws:iam/rolePolicy:RolePolicy", "storage-replication"))
    actions = {s["Sid"]: s["Action"] for s in document["Statement"]}
    assert actions == {
        "ReadSourceConfiguration": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
        "ReadSourceVersions": [
            "s3:GetObjectVersionForReplication",
            "s3:GetObjectVersionAcl",
            "s3:GetObjectVersionTagging",
        ],
        "WriteReplica": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
        "DecryptSource": ["kms:Decrypt"],
        "EncryptReplica": ["kms:Encrypt", "kms:GenerateDataKey"],
    }
