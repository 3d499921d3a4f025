"""ECR repositories for the service images: immutable tags, scan on push, KMS, lifecycle."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.config import RegistryConfig

#: Image repositories, keyed by the field of :class:`infra.foundation.Registry` they fill.
REPOSITORIES = {"api": "ml-api", "training": "training"}


def untagged_expiry_policy(days: int) -> str:
    """ECR lifecycle policy: untagged images (superseded builds) expire after ``days``."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images after {days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": days,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )


@dataclass(frozen=True)
class RegistryArgs:
    #: Repository names are ``<prefix>/<image>``.
    prefix: str
    config: RegistryConfig
    tags: Mapping[str, str]


class Registry(pulumi.ComponentResource):
    """One repository per image; :attr:`urls` maps ``api``/``training`` to the repository URL."""

    urls: dict[str, pulumi.Output[str]]
    arns: dict[str, pulumi.Output[str]]
    key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"ECR image encryption for {args.prefix}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        self.key_arn = key.arn
        self.urls = {}
        self.arns = {}
        for field, image in REPOSITORIES.items():
            repository = aws.ecr.Repository(
                f"{name}-{image}",
                name=f"{args.prefix}/{image}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=key.arn
                    )
                ],
                tags=tags,
                opts=child,
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{image}-lifecycle",
                repository=repository.name,
                policy=untagged_expiry_policy(args.config.untagged_image_expiry_days),
                opts=child,
            )
            self.urls[field] = repository.repository_url
            self.arns[field] = repository.arn
        self.register_outputs({"urls": self.urls})
