"""Registries, databases and keys: ECR, RDS, KMS."""

from __future__ import annotations

from collections.abc import Iterator

from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.params import BackupParams, EnvironmentParams
from policies.rules.props import truthy

REPOSITORY = "aws:ecr/repository:Repository"
DB_INSTANCE = "aws:rds/instance:Instance"
DB_CLUSTER = "aws:rds/cluster:Cluster"
KMS_KEY = "aws:kms/key:Key"


def _immutable(resource: Resource, params: Params) -> Iterator[str]:
    mutability = str(resource.props.get("imageTagMutability") or "MUTABLE")
    if not mutability.startswith("IMMUTABLE"):
        yield f"imageTagMutability is {mutability}: a pushed tag can be overwritten"


ECR_IMMUTABLE_TAGS = ResourceRule(
    name="aws-ecr-immutable-tags",
    summary="ECR repositories have immutable tags",
    controls=("Checkov CKV_AWS_51",),
    params=Params,
    types=frozenset({REPOSITORY}),
    check=_immutable,
)


def _scan(resource: Resource, params: Params) -> Iterator[str]:
    if not truthy((resource.props.get("imageScanningConfiguration") or {}).get("scanOnPush")):
        yield "imageScanningConfiguration.scanOnPush is off"


ECR_SCAN_ON_PUSH = ResourceRule(
    name="aws-ecr-scan-on-push",
    summary="ECR repositories scan images on push",
    controls=("Checkov CKV_AWS_163", "CIS EKS 5.1.1"),
    params=Params,
    types=frozenset({REPOSITORY}),
    check=_scan,
)


def _rds_encrypted(resource: Resource, params: Params) -> Iterator[str]:
    if not truthy(resource.props.get("storageEncrypted", False)):
        yield "storageEncrypted is off"


RDS_ENCRYPTED = ResourceRule(
    name="aws-rds-encrypted",
    summary="RDS storage is encrypted at rest",
    controls=("Checkov CKV_AWS_16", "AWS FSBP RDS.3"),
    params=Params,
    types=frozenset({DB_INSTANCE, DB_CLUSTER}),
    check=_rds_encrypted,
)


def _rds_private(resource: Resource, params: Params) -> Iterator[str]:
    if truthy(resource.props.get("publiclyAccessible", False)):
        yield "publiclyAccessible is on: the database gets a public address"


RDS_PRIVATE = ResourceRule(
    name="aws-rds-private",
    summary="RDS instances are not publicly accessible",
    controls=("Checkov CKV_AWS_17", "AWS FSBP RDS.2"),
    params=Params,
    types=frozenset({DB_INSTANCE}),
    check=_rds_private,
)


def _rds_backups(resource: Resource, params: BackupParams) -> Iterator[str]:
    days = int(resource.props.get("backupRetentionPeriod") or 0)
    if days < params.min_backup_retention_days:
        yield (
            f"backupRetentionPeriod is {days} days (at least "
            f"{params.min_backup_retention_days} for point-in-time recovery)"
        )


RDS_BACKUPS = ResourceRule(
    name="aws-rds-backups",
    summary="RDS keeps automated backups long enough for point-in-time recovery",
    controls=("Checkov CKV_AWS_133", "AWS FSBP RDS.11"),
    params=BackupParams,
    types=frozenset({DB_INSTANCE, DB_CLUSTER}),
    check=_rds_backups,
)


def _deletion_protection(resource: Resource, params: EnvironmentParams) -> Iterator[str]:
    if resource.stack.environment not in params.environments:
        return
    if not truthy(resource.props.get("deletionProtection", False)):
        yield f"deletionProtection is off in {resource.stack.environment}"


RDS_DELETION_PROTECTION = ResourceRule(
    name="aws-rds-deletion-protection",
    summary="production RDS databases have deletion protection",
    controls=("Checkov CKV_AWS_293", "AWS FSBP RDS.8"),
    params=EnvironmentParams,
    types=frozenset({DB_INSTANCE, DB_CLUSTER}),
    check=_deletion_protection,
)


def _rotation(resource: Resource, params: Params) -> Iterator[str]:
    spec = str(resource.props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT")
    if spec == "SYMMETRIC_DEFAULT" and not truthy(resource.props.get("enableKeyRotation", False)):
        yield "enableKeyRotation is off"


KMS_ROTATION = ResourceRule(
    name="aws-kms-key-rotation",
    summary="customer-managed KMS keys rotate automatically",
    controls=("Checkov CKV_AWS_7", "CIS AWS Foundations 3.6"),
    params=Params,
    types=frozenset({KMS_KEY}),
    check=_rotation,
)

RULES = (
    ECR_IMMUTABLE_TAGS,
    ECR_SCAN_ON_PUSH,
    RDS_ENCRYPTED,
    RDS_PRIVATE,
    RDS_BACKUPS,
    RDS_DELETION_PROTECTION,
    KMS_ROTATION,
)
