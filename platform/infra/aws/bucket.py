"""A private S3 bucket: owner-enforced, all public access blocked, versioned, encrypted by
default, TLS-only, with lifecycle rules and (optionally) server access logging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.policy import Statement, deny_insecure_transport, document

_EncryptionDefault = (
    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
)


@dataclass(frozen=True)
class AccessLogTarget:
    bucket: pulumi.Input[str]
    prefix: str


@dataclass(frozen=True)
class PrivateBucketArgs:
    tags: Mapping[str, str]
    #: SSE-KMS with this key; ``None`` means SSE-S3 (required for access-log target buckets).
    kms_key_arn: pulumi.Input[str] | None
    lifecycle_rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgs]
    access_log: AccessLogTarget | None = None
    #: When set, S3 server access logs from this account's buckets may be delivered here.
    access_log_delivery_account: pulumi.Input[str] | None = None
    force_destroy: bool = False
    #: Another region than the provider's (replicas); ``None`` is the stack's region.
    region: str | None = None


class PrivateBucket(pulumi.ComponentResource):
    bucket: pulumi.Output[str]
    arn: pulumi.Output[str]
    versioning: aws.s3.BucketVersioning

    def __init__(
        self, name: str, args: PrivateBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:PrivateBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region = args.region
        bucket = aws.s3.Bucket(
            name,
            force_destroy=args.force_destroy,
            region=region,
            tags=dict(args.tags),
            opts=child,
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            region=region,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            region=region,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            region=region,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        if args.kms_key_arn is not None:
            default = _EncryptionDefault(
                sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
            )
        else:
            default = _EncryptionDefault(sse_algorithm="AES256")
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            region=region,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default,
                    bucket_key_enabled=args.kms_key_arn is not None,
                )
            ],
            opts=child,
        )
        statements: list[Statement] = []
        if args.access_log_delivery_account is not None:
            statements.append(
                Statement(
                    sid="AllowServerAccessLogDelivery",
                    principal={"Service": "logging.s3.amazonaws.com"},
                    actions=["s3:PutObject"],
                    resources=[pulumi.Output.concat(bucket.arn, "/*")],
                    condition={
                        "StringEquals": {"aws:SourceAccount": args.access_log_delivery_account}
                    },
                )
            )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            region=region,
            policy=document(deny_insecure_transport(bucket.arn), *statements),
            # A policy is rejected while the public access block is being changed.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access, ownership]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            region=region,
            rules=list(args.lifecycle_rules),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.versioning]),
        )
        if args.access_log is not None:
            aws.s3.BucketLogging(
                f"{name}-logging",
                bucket=bucket.id,
                region=region,
                target_bucket=args.access_log.bucket,
                target_prefix=args.access_log.prefix,
                opts=child,
            )
        self.bucket = bucket.bucket
        self.arn = bucket.arn
        self.register_outputs({"bucket": self.bucket, "arn": self.arn})
