"""AWS rules, each judged by the real pack on real ``pulumi_aws`` resources (compliant and not)."""

from __future__ import annotations

import json
from typing import Any

import pulumi_aws as aws
import pytest

from tests.policies.harness import Packs
from tests.policies.rules.findings import found, levels

KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"
ROLE = "arn:aws:iam::123456789012:role/r"
LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def _cluster(name: str, **overrides: Any) -> aws.eks.Cluster:
    args: dict[str, Any] = {
        "role_arn": ROLE,
        "vpc_config": aws.eks.ClusterVpcConfigArgs(
            subnet_ids=["subnet-1"], endpoint_private_access=True, endpoint_public_access=False
        ),
        "encryption_config": aws.eks.ClusterEncryptionConfigArgs(
            resources=["secrets"],
            provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=KEY),
        ),
        "enabled_cluster_log_types": LOGS,
    }
    args.update(overrides)
    return aws.eks.Cluster(name, **args)  # type: ignore[call-overload]


def test_eks_endpoint_private_or_allow_listed_by_config(packs: Packs) -> None:
    def program() -> None:
        _cluster("private")
        _cluster(
            "allow-listed",
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=["subnet-1"],
                endpoint_private_access=True,
                endpoint_public_access=True,
                public_access_cidrs=["203.0.113.0/24"],
            ),
        )
        _cluster(
            "open",
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=["subnet-1"], endpoint_public_access=True
            ),
        )

    report = packs.judge(program)
    findings = found(report, "aws-eks-endpoint-private")
    assert set(findings) == {"allow-listed", "open"}
    assert "the API endpoint is public" in findings["allow-listed"][0]
    assert "203.0.113.0/24" in findings["allow-listed"][0]
    assert any("endpointPrivateAccess is off" in m for m in findings["open"])
    assert levels(report, "aws-eks-endpoint-private") == {"mandatory"}

    allowed = packs.judge(
        program, config={"aws-eks-endpoint-private": {"allowListedPublicEndpoint": True}}
    )
    findings = found(allowed, "aws-eks-endpoint-private")
    assert set(findings) == {"open"}
    assert any("open to the internet" in m for m in findings["open"])


def test_eks_secrets_encrypted_and_all_log_types(packs: Packs) -> None:
    def program() -> None:
        _cluster("good")
        _cluster("bare", encryption_config=None, enabled_cluster_log_types=["api"])

    report = packs.judge(program)
    assert found(report, "aws-eks-secrets-encrypted") == {
        "bare": ["encryptionConfig does not envelope-encrypt Kubernetes secrets"]
    }
    assert found(report, "aws-eks-control-plane-logging") == {
        "bare": [
            "control-plane log types not enabled: audit, authenticator, controllerManager, "
            "scheduler"
        ]
    }


def test_nodes_imdsv2_with_hop_limit_one(packs: Packs) -> None:
    def program() -> None:
        good = aws.ec2.LaunchTemplate(
            "good-lt",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
        )
        aws.ec2.LaunchTemplate(
            "v1-lt",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_tokens="optional", http_put_response_hop_limit=2
            ),
        )
        scaling = aws.eks.NodeGroupScalingConfigArgs(min_size=1, max_size=2, desired_size=1)
        aws.eks.NodeGroup(
            "templated",
            cluster_name="c",
            node_role_arn=ROLE,
            subnet_ids=["subnet-1"],
            scaling_config=scaling,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=good.id, version="1"),
        )
        aws.eks.NodeGroup(
            "untemplated",
            cluster_name="c",
            node_role_arn=ROLE,
            subnet_ids=["s"],
            scaling_config=scaling,
        )

    findings = found(packs.judge(program), "aws-nodes-imdsv2")
    assert set(findings) == {"v1-lt", "untemplated"}
    assert findings["v1-lt"] == [
        "metadataOptions.httpTokens is not 'required' (IMDSv1 allowed)",
        "metadataOptions.httpPutResponseHopLimit is 2 (at most 1: pods must not reach the "
        "node's credentials)",
    ]
    assert "has no launch template" in findings["untemplated"][0]


def _deny_http(arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def _controlled_bucket(name: str) -> aws.s3.Bucket:
    bucket = aws.s3.Bucket(name)
    aws.s3.BucketPublicAccessBlock(
        f"{name}-pab",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-sse",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=KEY
                )
            )
        ],
    )
    aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
            status="Enabled"
        ),
    )
    aws.s3.BucketPolicy(f"{name}-policy", bucket=bucket.id, policy=_deny_http("arn:aws:s3:::b"))
    return bucket


def test_s3_bucket_controls_and_their_content(packs: Packs) -> None:
    def program() -> None:
        _controlled_bucket("good")
        loose = aws.s3.Bucket("loose")
        aws.s3.BucketPublicAccessBlock(
            "loose-pab", bucket=loose.id, block_public_acls=True, block_public_policy=False
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            "loose-sse",
            bucket=loose.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
        )
        aws.s3.BucketVersioning(
            "loose-versioning",
            bucket=loose.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Suspended"
            ),
        )
        aws.s3.BucketPolicy(
            "loose-policy",
            bucket=loose.id,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::loose/*",
                        }
                    ],
                }
            ),
        )
        aws.s3.Bucket("bare")

    report = packs.judge(program)
    assert found(report, "aws-s3-public-access-block") == {
        "loose-pab": [
            "public access is not fully blocked: blockPublicPolicy, ignorePublicAcls, "
            "restrictPublicBuckets off"
        ]
    }
    assert found(report, "aws-s3-kms-encryption") == {
        "loose-sse": ["default encryption is AES256, not SSE-KMS (aws:kms)"]
    }
    assert found(report, "aws-s3-versioning") == {"loose-versioning": ["versioning is Suspended"]}
    assert set(found(report, "aws-s3-tls-only")) == {"loose-policy"}
    assert found(report, "aws-s3-no-public-grants") == {
        "loose-policy": [
            "the bucket policy allows s3:GetObject to any principal without a condition"
        ]
    }
    assert found(report, "aws-s3-bucket-controls") == {
        "bare": [
            "bucket bare has no BucketPublicAccessBlock, BucketServerSideEncryptionConfiguration,"
            " BucketVersioning, BucketPolicy (TLS-only)"
        ]
    }


def test_s3_public_acl(packs: Packs) -> None:
    def program() -> None:
        aws.s3.BucketAcl("private-acl", bucket="b", acl="private")
        aws.s3.BucketAcl("public-acl", bucket="b", acl="public-read")

    assert found(packs.judge(program), "aws-s3-no-public-grants") == {
        "public-acl": ["canned ACL public-read makes objects public"]
    }


def test_ecr_immutable_tags_and_scan_on_push(packs: Packs) -> None:
    def program() -> None:
        aws.ecr.Repository(
            "good",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
        )
        aws.ecr.Repository("mutable", image_tag_mutability="MUTABLE")

    report = packs.judge(program)
    assert found(report, "aws-ecr-immutable-tags") == {
        "mutable": ["imageTagMutability is MUTABLE: a pushed tag can be overwritten"]
    }
    assert found(report, "aws-ecr-scan-on-push") == {
        "mutable": ["imageScanningConfiguration.scanOnPush is off"]
    }


def _db(name: str, **overrides: Any) -> aws.rds.Instance:
    args: dict[str, Any] = {
        "instance_class": "db.t4g.medium",
        "engine": "postgres",
        "allocated_storage": 20,
        "storage_encrypted": True,
        "publicly_accessible": False,
        "backup_retention_period": 7,
        "deletion_protection": True,
    }
    args.update(overrides)
    return aws.rds.Instance(name, **args)  # type: ignore[call-overload]


def test_rds_encrypted_private_backed_up(packs: Packs) -> None:
    def program() -> None:
        _db("good")
        _db("bad", storage_encrypted=False, publicly_accessible=True, backup_retention_period=1)

    report = packs.judge(program)
    assert found(report, "aws-rds-encrypted") == {"bad": ["storageEncrypted is off"]}
    assert found(report, "aws-rds-private") == {
        "bad": ["publiclyAccessible is on: the database gets a public address"]
    }
    assert found(report, "aws-rds-backups") == {
        "bad": ["backupRetentionPeriod is 1 days (at least 7 for point-in-time recovery)"]
    }


@pytest.mark.parametrize(("stack", "expected"), [("aws-prod", True), ("aws-dev", False)])
def test_rds_deletion_protection_in_prod_only(packs: Packs, stack: str, expected: bool) -> None:
    def program() -> None:
        _db("protected")
        _db("unprotected", deletion_protection=False)

    findings = found(packs.judge(program, stack=stack), "aws-rds-deletion-protection")
    assert findings == ({"unprotected": ["deletionProtection is off in prod"]} if expected else {})


def test_kms_keys_rotate(packs: Packs) -> None:
    def program() -> None:
        aws.kms.Key("rotating", enable_key_rotation=True)
        aws.kms.Key("static")

    assert found(packs.judge(program), "aws-kms-key-rotation") == {
        "static": ["enableKeyRotation is off"]
    }


def test_iam_no_full_admin(packs: Packs) -> None:
    admin = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )
    scoped = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}],
        }
    )

    def program() -> None:
        aws.iam.RolePolicy("scoped", role="r", policy=scoped)
        aws.iam.RolePolicy("admin", role="r", policy=admin)
        aws.iam.RolePolicyAttachment(
            "admin-attach", role="r", policy_arn="arn:aws:iam::aws:policy/AdministratorAccess"
        )
        aws.iam.RolePolicyAttachment(
            "read-attach", role="r", policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        )

    assert found(packs.judge(program), "aws-iam-no-full-admin") == {
        "admin": ["the policy allows Action '*' on Resource '*' (full administrator)"],
        "admin-attach": ["attaches the AWS managed AdministratorAccess policy"],
    }


def test_security_groups_keep_admin_ports_off_the_internet(packs: Packs) -> None:
    def program() -> None:
        aws.ec2.SecurityGroup(
            "web",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"]
                ),
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=22, to_port=22, cidr_blocks=["10.0.0.0/8"]
                ),
            ],
        )
        aws.ec2.SecurityGroup(
            "ssh-open",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=0, to_port=65535, cidr_blocks=["0.0.0.0/0"]
                )
            ],
        )
        aws.vpc.SecurityGroupIngressRule(
            "rdp-open", security_group_id="sg", cidr_ipv6="::/0", ip_protocol="-1"
        )

    findings = found(packs.judge(program), "aws-sg-no-public-admin-ports")
    assert findings == {
        "ssh-open": [
            "ingress from 0.0.0.0/0 reaches admin port(s) 22, 3389, 5432, 3306, 6443, 10250"
        ],
        "rdp-open": ["ingress from ::/0 reaches admin port(s) 22, 3389, 5432, 3306, 6443, 10250"],
    }
