"""Deliberately broken stacks fail the check and name the policies they break."""

from __future__ import annotations

import copy

import pulumi_aws as aws
import pulumi_azure_native.containerregistry as acr
import pulumi_kubernetes as k8s

from infra.offline import stack_values
from policies.engine.check import check
from policies.report import StackReport
from tests.policies.harness import Packs
from tests.policies.rules.workloads import container, deployment, pod_spec


def _mandatory(report: StackReport) -> set[str]:
    return {v.policy for v in report.violations if v.level == "mandatory"}


def test_eks_endpoint_opened_to_an_allow_list_fails_the_aws_dev_check() -> None:
    aws_config = copy.deepcopy(stack_values("aws-dev")["stratus:aws"])
    aws_config["cluster"]["publicAccessCidrs"] = ["203.0.113.0/24"]
    report = check(["aws-dev"], override={"stratus:aws": aws_config})
    assert {v.policy for v in report.mandatory} == {"aws-eks-endpoint-private"}
    (violation,) = report.mandatory
    assert violation.urn.endswith("aws:eks/cluster:Cluster::stratus-dev-cluster-eks")
    assert "203.0.113.0/24" in violation.message


def test_acr_with_admin_on(packs: Packs) -> None:
    def program() -> None:
        acr.Registry(
            "registry",
            resource_group_name="rg",
            sku=acr.SkuArgs(name="Premium"),
            admin_user_enabled=True,
            public_network_access="Disabled",
            tags={
                "owner": "o",
                "cost-center": "c",
                "environment": "dev",
                "project": "p",
                "stack": "s",
            },
        )

    assert _mandatory(packs.judge(program, stack="azure-dev")) == {"azure-acr-admin-disabled"}


def test_bucket_with_public_access(packs: Packs) -> None:
    def program() -> None:
        bucket = aws.s3.Bucket("open")
        aws.s3.BucketPublicAccessBlock(
            "open-pab",
            bucket=bucket.id,
            block_public_acls=False,
            block_public_policy=False,
            ignore_public_acls=False,
            restrict_public_buckets=False,
        )
        aws.s3.BucketPolicy(
            "open-policy",
            bucket=bucket.id,
            policy='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",'
            ' "Action": "s3:GetObject", "Resource": "arn:aws:s3:::open/*"}]}',
        )

    assert {
        "aws-s3-public-access-block",
        "aws-s3-no-public-grants",
        "aws-s3-bucket-controls",
        "aws-s3-tls-only",
    } <= _mandatory(packs.judge(program))


def test_root_container_and_unpinned_image(packs: Packs) -> None:
    def program() -> None:
        deployment(
            "api",
            pod_spec(
                [
                    container(
                        image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml-api:latest",
                        security_context=k8s.core.v1.SecurityContextArgs(
                            run_as_user=0,
                            allow_privilege_escalation=False,
                            read_only_root_filesystem=True,
                            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                        ),
                    )
                ]
            ),
        )

    assert _mandatory(packs.judge(program, stack="aws-dev-apps")) == {
        "k8s-run-as-non-root",
        "k8s-image-pinned",
        "k8s-deployment-has-service",
    }
