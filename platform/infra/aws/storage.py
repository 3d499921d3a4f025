"""The S3 object stores: data lake (raw, processed), models, MLflow artifacts, their access logs,
and the optional cross-region replica of the models bucket."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.bucket import AccessLogTarget, PrivateBucket, PrivateBucketArgs
from infra.aws.config import StorageConfig
from infra.aws.policy import Statement, document, service_trust

#: The stores every cloud has (fields of :class:`infra.foundation.ObjectStores`).
STORES = ("data_raw", "data_processed", "models", "mlflow_artifacts")

Rule = aws.s3.BucketLifecycleConfigurationRuleArgs


def _hygiene_rules(config: StorageConfig) -> list[Rule]:
    """Every data bucket: old versions expire, abandoned multipart uploads are cleaned up."""
    return [
        Rule(
            id="expire-noncurrent-versions",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=config.noncurrent_version_expiry_days
            ),
        ),
        Rule(
            id="abort-incomplete-uploads",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=7
            ),
        ),
    ]


def lifecycle_rules(store: str, config: StorageConfig) -> list[Rule]:
    rules = _hygiene_rules(config)
    if store == "data_raw":
        # Raw data is written once and read rarely after the first trainings.
        rules.append(
            Rule(
                id="raw-to-infrequent-access",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                transitions=[
                    aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                        days=config.raw_data_infrequent_access_days, storage_class="STANDARD_IA"
                    )
                ],
            )
        )
    return rules


@dataclass(frozen=True)
class StorageArgs:
    config: StorageConfig
    account_id: pulumi.Input[str]
    tags: Mapping[str, str]


class Storage(pulumi.ComponentResource):
    """All buckets share one KMS key; :attr:`buckets` maps each store to its bucket."""

    key_arn: pulumi.Output[str]
    buckets: dict[str, PrivateBucket]
    access_logs: PrivateBucket
    replica: PrivateBucket | None

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:Storage", name, None, opts)
        config = args.config
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        key = aws.kms.Key(
            f"{name}-key",
            description=f"S3 default encryption for {name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/{name}", target_key_id=key.key_id, opts=child
        )
        self.key_arn = key.arn

        # S3 server access logs cannot be delivered to an SSE-KMS bucket: this one uses SSE-S3.
        self.access_logs = PrivateBucket(
            f"{name}-access-logs",
            PrivateBucketArgs(
                tags=tags,
                kms_key_arn=None,
                lifecycle_rules=[
                    *_hygiene_rules(config),
                    Rule(
                        id="expire-access-logs",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                            days=config.access_log_retention_days
                        ),
                    ),
                ],
                access_log_delivery_account=args.account_id,
                force_destroy=config.force_destroy,
            ),
            opts=child,
        )

        self.buckets = {}
        for store in STORES:
            label = store.replace("_", "-")
            self.buckets[store] = PrivateBucket(
                f"{name}-{label}",
                PrivateBucketArgs(
                    tags=tags,
                    kms_key_arn=key.arn,
                    lifecycle_rules=lifecycle_rules(store, config),
                    access_log=AccessLogTarget(bucket=self.access_logs.bucket, prefix=f"{label}/"),
                    force_destroy=config.force_destroy,
                ),
                opts=child,
            )

        self.replica = None
        if config.model_replication_region is not None:
            self.replica = self._replicate_models(name, config, key, tags)

        self.register_outputs({store: bucket.bucket for store, bucket in self.buckets.items()})

    def _replicate_models(
        self, name: str, config: StorageConfig, source_key: aws.kms.Key, tags: dict[str, str]
    ) -> PrivateBucket:
        region = config.model_replication_region
        assert region is not None
        child = pulumi.ResourceOptions(parent=self)
        replica_key = aws.kms.Key(
            f"{name}-replica-key",
            description=f"S3 default encryption for the {name} models replica",
            region=region,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        replica = PrivateBucket(
            f"{name}-models-replica",
            PrivateBucketArgs(
                tags=tags,
                kms_key_arn=replica_key.arn,
                lifecycle_rules=_hygiene_rules(config),
                force_destroy=config.force_destroy,
                region=region,
            ),
            opts=child,
        )
        source = self.buckets["models"]
        role = aws.iam.Role(
            f"{name}-replication-role",
            assume_role_policy=service_trust("s3.amazonaws.com"),
            description="S3 replication of the models bucket",
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-replication",
            role=role.id,
            policy=document(
                Statement(
                    sid="ReadSourceConfiguration",
                    actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                    resources=[source.arn],
                ),
                Statement(
                    sid="ReadSourceVersions",
                    actions=[
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                    ],
                    resources=[pulumi.Output.concat(source.arn, "/*")],
                ),
                Statement(
                    sid="WriteReplica",
                    actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    resources=[pulumi.Output.concat(replica.arn, "/*")],
                ),
                Statement(sid="DecryptSource", actions=["kms:Decrypt"], resources=[source_key.arn]),
                Statement(
                    sid="EncryptReplica",
                    actions=["kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[replica_key.arn],
                ),
            ),
            opts=child,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-models-replication",
            bucket=source.bucket,
            role=role.arn,
            rules=[
                aws.s3.BucketReplicationConfigRuleArgs(
                    id="models-to-replica",
                    status="Enabled",
                    priority=1,
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status="Enabled"
                    ),
                    source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                        sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                            status="Enabled"
                        )
                    ),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=replica.arn,
                        storage_class="STANDARD",
                        encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                            replica_kms_key_id=replica_key.arn
                        ),
                    ),
                )
            ],
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[source.versioning, replica.versioning, policy]
            ),
        )
        return replica
