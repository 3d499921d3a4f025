"""IAM roles for the workloads' Kubernetes service accounts (IRSA), least privilege:
the API reads models; training reads the data lake and writes models and MLflow artifacts;
MLflow reads and writes its artifacts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.irsa import ROLE_ARN_ANNOTATION, OidcIssuer, service_account_role
from infra.aws.policy import Statement, document
from infra.foundation import WORKLOADS

READ = ["s3:GetObject"]
READ_WRITE = ["s3:GetObject", "s3:PutObject"]
READ_WRITE_DELETE = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
#: (store, object actions) each workload is granted; listing is granted on the same buckets.
GRANTS: dict[str, list[tuple[str, list[str]]]] = {
    "ml-api": [("models", READ)],
    "training": [
        ("data_raw", READ),
        ("data_processed", READ),
        ("models", READ_WRITE),
        ("mlflow_artifacts", READ_WRITE),
    ],
    "mlflow": [("mlflow_artifacts", READ_WRITE_DELETE)],
}


def workload_statements(
    workload: str, bucket_arns: Mapping[str, pulumi.Input[str]], key_arn: pulumi.Input[str]
) -> list[Statement]:
    grants = GRANTS[workload]
    statements = [
        Statement(
            sid="ListBuckets",
            actions=["s3:ListBucket"],
            resources=[bucket_arns[store] for store, _ in grants],
        )
    ]
    by_actions: dict[tuple[str, ...], list[pulumi.Input[str]]] = {}
    for store, actions in grants:
        by_actions.setdefault(tuple(actions), []).append(
            pulumi.Output.concat(bucket_arns[store], "/*")
        )
    for index, (object_actions, resources) in enumerate(by_actions.items()):
        statements.append(
            Statement(sid=f"Objects{index}", actions=list(object_actions), resources=resources)
        )
    writes = any(len(actions) > 1 for _, actions in grants)
    statements.append(
        Statement(
            sid="UseStorageKey",
            actions=["kms:Decrypt", "kms:GenerateDataKey"] if writes else ["kms:Decrypt"],
            resources=[key_arn],
        )
    )
    return statements


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    oidc: OidcIssuer
    namespace: str
    bucket_arns: Mapping[str, pulumi.Input[str]]
    storage_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]


class WorkloadIdentities(pulumi.ComponentResource):
    """One role per workload in :data:`infra.foundation.WORKLOADS`; the service account name is
    the workload name."""

    role_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:WorkloadIdentities", name, None, opts)
        self.role_arns = {}
        for workload in WORKLOADS:
            role = service_account_role(
                f"{name}-{workload}",
                issuer=args.oidc,
                namespace=args.namespace,
                service_account=workload,
                tags=args.tags,
                parent=self,
            )
            aws.iam.RolePolicy(
                f"{name}-{workload}-access",
                role=role.id,
                policy=document(
                    *workload_statements(workload, args.bucket_arns, args.storage_key_arn)
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.role_arns[workload] = role.arn
        self.register_outputs({"roleArns": self.role_arns})

    def annotations(self, workload: str) -> pulumi.Output[Mapping[str, str]]:
        return self.role_arns[workload].apply(lambda arn: {ROLE_ARN_ANNOTATION: arn})
