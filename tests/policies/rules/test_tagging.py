"""Tags on taggable cloud resources (read from the provider SDKs), labels on Kubernetes objects,
allowed regions."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_azure_native.resources as resources
import pulumi_kubernetes as k8s

from policies.rules.tagging import taggable
from tests.policies.harness import Packs
from tests.policies.rules.findings import found
from tests.policies.rules.workloads import LABELS

TAGS = {
    "owner": "ml-platform-team",
    "cost-center": "cc-1",
    "environment": "dev",
    "project": "stratus",
    "stack": "aws-dev",
}


def test_taggable_types_come_from_the_provider_sdks() -> None:
    assert taggable("aws:s3/bucket:Bucket")
    assert taggable("azure-native:storage:StorageAccount")
    assert not taggable("aws:s3/bucketPolicy:BucketPolicy")
    assert not taggable("azure-native:authorization:RoleAssignment")
    assert not taggable("aws:nosuchmodule/thing:Thing")


def test_required_tags_including_provider_default_tags(packs: Packs) -> None:
    def program() -> None:
        aws.s3.Bucket("tagged", tags=TAGS)
        aws.s3.Bucket("untagged", tags={"owner": "ml-platform-team", "project": ""})
        aws.s3.BucketPolicy("policy", bucket="b", policy="{}")  # not taggable: not judged
        provider = aws.Provider(
            "tagging",
            region="eu-west-1",
            default_tags=aws.ProviderDefaultTagsArgs(tags=TAGS),
        )
        aws.s3.Bucket("default-tagged", opts=pulumi.ResourceOptions(provider=provider))

    assert found(packs.judge(program), "required-tags") == {
        "untagged": ["missing tag(s): cost-center, environment, project, stack"]
    }


def test_azure_tags_and_kubernetes_labels(packs: Packs) -> None:
    def program() -> None:
        resources.ResourceGroup("tagged", tags=TAGS)
        resources.ResourceGroup("untagged")
        k8s.core.v1.ConfigMap(
            "labelled", metadata=k8s.meta.v1.ObjectMetaArgs(namespace="ml-api", labels=LABELS)
        )
        k8s.core.v1.ConfigMap("unlabelled", metadata=k8s.meta.v1.ObjectMetaArgs(namespace="ml-api"))

    assert found(packs.judge(program, stack="azure-dev"), "required-tags") == {
        "untagged": ["missing tag(s): owner, cost-center, environment, project, stack"],
        "unlabelled": [
            "missing label(s): app.kubernetes.io/part-of, stratus.io/environment, "
            "stratus.io/owner, stratus.io/cost-center"
        ],
    }


def test_allowed_regions_per_resource_provider_and_location(packs: Packs) -> None:
    def program() -> None:
        aws.s3.Bucket("home", tags=TAGS)  # default provider: aws:region of the stack
        aws.s3.Bucket("replica", region="eu-central-1", tags=TAGS)
        aws.s3.Bucket("far", region="us-east-1", tags=TAGS)
        aws.Provider("virginia", region="us-east-1")

    report = packs.judge(program)
    assert found(report, "allowed-regions") == {
        "far": ["region us-east-1 is not allowed (allowed: eu-west-1, eu-central-1)"],
        "virginia": ["region us-east-1 is not allowed (allowed: eu-west-1, eu-central-1)"],
    }

    def azure() -> None:
        resources.ResourceGroup("europe", location="westeurope", tags=TAGS)
        resources.ResourceGroup("asia", location="East Asia", tags=TAGS)

    assert found(packs.judge(azure, stack="azure-dev"), "allowed-regions") == {
        "asia": ["region East Asia is not allowed (allowed: westeurope, northeurope)"]
    }
