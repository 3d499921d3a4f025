"""Stack-level rules (``AnalyzeStack``): Services and PDBs for Deployments, private model stores,
no credential in an output."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_azure_native.keyvault as kv
import pulumi_azure_native.storage as storage
import pulumi_kubernetes as k8s

from tests.policies.harness import Packs
from tests.policies.rules.findings import found
from tests.policies.rules.workloads import LABELS, deployment

APPS = "aws-dev-apps"


def _service(name: str, app: str) -> None:
    k8s.core.v1.Service(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(namespace="ml-api", labels=LABELS),
        spec=k8s.core.v1.ServiceSpecArgs(
            selector={"app": app}, ports=[k8s.core.v1.ServicePortArgs(port=80, target_port=8080)]
        ),
    )


def _pdb(name: str, app: str) -> None:
    k8s.policy.v1.PodDisruptionBudget(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(namespace="ml-api", labels=LABELS),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            min_available=1,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": app}),
        ),
    )


def test_deployments_have_a_service_and_multi_replica_ones_a_pdb(packs: Packs) -> None:
    def program() -> None:
        deployment("served", replicas=3)
        _service("served", "served")
        _pdb("served", "served")
        deployment("lonely")
        deployment("scaled")
        _service("scaled", "scaled")
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            "scaled",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace="ml-api", labels=LABELS),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                min_replicas=2,
                max_replicas=10,
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name="scaled"
                ),
            ),
        )

    report = packs.judge(program, stack=APPS)
    assert found(report, "k8s-deployment-has-service") == {
        "lonely": ["Deployment lonely has no Service selecting its pods"]
    }
    assert found(report, "k8s-deployment-has-pdb") == {
        "scaled": [
            "Deployment scaled runs up to 10 replicas but no PodDisruptionBudget selects its pods"
        ]
    }


def _bucket(name: str, *, blocked: bool) -> aws.s3.Bucket:
    bucket = aws.s3.Bucket(name)
    aws.s3.BucketPublicAccessBlock(
        f"{name}-pab",
        bucket=bucket.id,
        block_public_acls=blocked,
        block_public_policy=blocked,
        ignore_public_acls=blocked,
        restrict_public_buckets=blocked,
    )
    return bucket


def _replicate(source: aws.s3.Bucket, target: aws.s3.Bucket) -> None:
    aws.s3.BucketReplicationConfig(
        f"{source._name}-replication",
        bucket=source.id,
        role="arn:aws:iam::123456789012:role/replication",
        rules=[
            aws.s3.BucketReplicationConfigRuleArgs(
                status="Enabled",
                destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(bucket=target.arn),
            )
        ],
    )


def test_s3_model_store_and_its_replicas_are_private(packs: Packs) -> None:
    def private() -> None:
        models = _bucket("models", blocked=True)
        _replicate(models, _bucket("models-replica", blocked=True))
        pulumi.export("stores", {"models": models.bucket.apply(lambda b: f"s3://{b}/published")})

    assert found(packs.judge(private), "model-stores-private") == {}

    def public_replica() -> None:
        models = _bucket("models", blocked=True)
        _replicate(models, _bucket("models-replica", blocked=False))
        _bucket("scratch", blocked=False)  # public, but holds no models: not this rule's concern
        pulumi.export("stores", {"models": models.bucket.apply(lambda b: f"s3://{b}")})

    assert found(packs.judge(public_replica), "model-stores-private") == {
        "models-replica": [
            "bucket models-replica: public access is not fully blocked: blockPublicAcls, "
            "blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets off"
        ]
    }


def test_blob_model_store_is_private(packs: Packs) -> None:
    def program() -> None:
        account = storage.StorageAccount(
            "models",
            resource_group_name="rg",
            account_name="stratusmodels",
            kind="StorageV2",
            sku=storage.SkuArgs(name="Standard_LRS"),
            allow_blob_public_access=True,
            public_network_access="Disabled",
        )
        storage.BlobContainer(
            "models-container",
            resource_group_name="rg",
            account_name=account.name,
            container_name="models",
            public_access="Blob",
        )
        pulumi.export(
            "stores",
            {"models": "az://models", "storageOptions": {"account_name": "stratusmodels"}},
        )

    assert found(packs.judge(program, stack="azure-dev"), "model-stores-private") == {
        "models": [
            "account stratusmodels: allowBlobPublicAccess is on: containers may be made public"
        ],
        "models-container": [
            "container models: container publicAccess is Blob: blobs are readable anonymously"
        ],
    }


EXEC_KUBECONFIG = json.dumps(
    {"users": [{"name": "u", "user": {"exec": {"command": "aws", "args": ["eks", "get-token"]}}}]}
)


def test_no_credential_in_stack_outputs(packs: Packs) -> None:
    def clean() -> None:
        kv.Secret(
            "db-password",
            resource_group_name="rg",
            vault_name="vault",
            properties=kv.SecretPropertiesArgs(value=pulumi.Output.secret("Zq8mN3vR7tK2pL9x")),
        )
        pulumi.export("database", {"host": "db", "password": {"store": "key-vault", "name": "db"}})
        pulumi.export("kubeconfig", pulumi.Output.secret(EXEC_KUBECONFIG))

    assert found(packs.judge(clean, stack="azure-dev"), "stack-outputs-no-secrets") == {}

    def leaky() -> None:
        password = pulumi.Output.secret("Zq8mN3vR7tK2pL9x")
        kv.Secret(
            "db-password",
            resource_group_name="rg",
            vault_name="vault",
            properties=kv.SecretPropertiesArgs(value=password),
        )
        pulumi.export(
            "dsn",
            pulumi.Output.unsecret(
                pulumi.Output.concat("postgresql://mlflow:", password, "@db/mlflow")
            ),
        )
        pulumi.export(
            "kubeconfig", json.dumps({"users": [{"user": {"token": "eyJhbGciOiJSUzI1NiJ9"}}]})
        )

    findings = found(packs.judge(leaky, stack="azure-dev"), "stack-outputs-no-secrets")
    assert set(findings) == {"stratus-azure-dev"}
    # The outputs reach the pack in no particular order.
    assert sorted(findings["stratus-azure-dev"]) == [
        "stack output dsn carries a URL with a password",
        "stack output dsn carries the secret azure-native:keyvault:Secret db-password: "
        "properties.value",
        "stack output kubeconfig carries static kubeconfig credentials",
    ]
