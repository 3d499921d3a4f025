"""Every taggable AWS resource carries the standard tags.

"Taggable" is decided by the provider SDK itself: a resource type is taggable when its
``pulumi_aws`` class accepts a ``tags`` argument.
"""

from __future__ import annotations

import importlib
import inspect

from infra.offline import StackRun
from tests.platform.aws.conftest import stack_file


def _class_for(token: str) -> type:
    """``aws:eks/nodeGroup:NodeGroup`` -> ``pulumi_aws.eks.NodeGroup``."""
    package, module_path, name = token.split(":")
    module = module_path.split("/")[0]
    python_package = f"pulumi_{package}"
    target = python_package if module == "index" else f"{python_package}.{module}"
    cls: type = getattr(importlib.import_module(target), name)
    return cls


def is_taggable(token: str) -> bool:
    return "tags" in inspect.signature(_class_for(token)._internal_init).parameters  # type: ignore[attr-defined]


def _expected_tags(run: StackRun) -> dict[str, str]:
    config = stack_file(run.stack)
    return {
        "project": "stratus",
        "stack": run.stack,
        "environment": run.stack.split("-", 1)[1],
        "cloud": "aws",
        "owner": config["stratus:owner"],
        "cost-center": config["stratus:costCenter"],
    }


def test_every_taggable_resource_carries_the_standard_tags(stack: StackRun) -> None:
    expected = _expected_tags(stack)
    untagged = []
    for resource in stack.resources:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            continue
        if is_taggable(resource.type):
            tags = resource.inputs.get("tags") or {}
            if {k: tags.get(k) for k in expected} != expected:
                untagged.append(f"{resource.type} {resource.name}: {tags}")
    assert untagged == []


def test_the_untaggable_types_are_the_known_ones(dev: StackRun, prod: StackRun) -> None:
    """Pins which types cannot be tagged, so a new untaggable resource is a reviewed decision."""
    types = {r.type for run in (dev, prod) for r in run.resources if r.custom}
    assert sorted(t for t in types if not is_taggable(t)) == [
        # A tag on an Auto Scaling group: the resource is itself the tag.
        "aws:autoscaling/tag:Tag",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:kms/alias:Alias",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLogging:BucketLogging",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
    ]


def test_node_instances_and_volumes_are_tagged_through_the_launch_template(stack: StackRun) -> None:
    expected = _expected_tags(stack)
    for template in stack.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        specs = {s["resourceType"]: s["tags"] for s in template.inputs["tagSpecifications"]}
        assert set(specs) == {"instance", "volume", "network-interface"}
        for tags in specs.values():
            assert {k: tags.get(k) for k in expected} == expected


def test_is_taggable_reads_the_sdk(dev: StackRun) -> None:
    assert is_taggable("aws:eks/cluster:Cluster")
    assert not is_taggable("aws:s3/bucketPolicy:BucketPolicy")
