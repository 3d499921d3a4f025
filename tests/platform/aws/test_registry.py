"""ECR: immutable tags, scan on push, KMS encryption, untagged-image expiry."""

from __future__ import annotations

import json

from infra.offline import StackRun
from tests.platform.aws.conftest import stack_file


def test_repositories_for_api_and_training(stack: StackRun) -> None:
    repos = stack.of_type("aws:ecr/repository:Repository")
    names = sorted(r.inputs["name"] for r in repos)
    prefix = stack.one("aws:eks/cluster:Cluster").inputs["name"]
    assert names == [f"{prefix}/ml-api", f"{prefix}/training"]
    assert stack.outputs["registry"]["api"].endswith(f"/{prefix}/ml-api")
    assert stack.outputs["registry"]["training"].endswith(f"/{prefix}/training")


def test_repositories_are_immutable_scanned_and_kms_encrypted(stack: StackRun) -> None:
    key = stack.one("aws:kms/key:Key", "registry-key")
    assert key.inputs["enableKeyRotation"] is True
    for repo in stack.of_type("aws:ecr/repository:Repository"):
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        (encryption,) = repo.inputs["encryptionConfigurations"]
        assert encryption["encryptionType"] == "KMS"
        assert encryption["kmsKey"].endswith(f":key/{key.name}-id")


def test_untagged_images_expire_after_the_configured_days(stack: StackRun) -> None:
    days = stack_file(stack.stack)["stratus:aws"]["registry"]["untaggedImageExpiryDays"]
    policies = stack.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert len(policies) == 2
    for lifecycle in policies:
        (rule,) = json.loads(lifecycle.inputs["policy"])["rules"]
        assert rule["selection"] == {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": days,
        }
        assert rule["action"] == {"type": "expire"}
