"""Secrets Manager entries the platform reads through External Secrets, created empty.

The foundation creates the secret (name, KMS key, tags) so its ARN is known and the
``external-secrets`` role can be scoped to it; operators put the value in
(``aws secretsmanager put-secret-value``), so no key material passes through Pulumi's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

#: The ML API key entries: a JSON list of ``{"name", "sha256", "roles"}`` (``python -m app.keys``)
API_KEYS = "ml-api-keys"


@dataclass(frozen=True)
class PlatformSecretsArgs:
    #: Secret names are ``<prefix>/<secret>``.
    prefix: str
    recovery_window_days: int
    tags: Mapping[str, str]


class PlatformSecrets(pulumi.ComponentResource):
    api_keys_arn: pulumi.Output[str]
    api_keys_name: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: PlatformSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:PlatformSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Platform secrets of {args.prefix}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=dict(args.tags),
            opts=child,
        )
        api_keys = aws.secretsmanager.Secret(
            f"{name}-{API_KEYS}",
            name=f"{args.prefix}/{API_KEYS}",
            description="ML API key entries (JSON list; values from `python -m app.keys`)",
            kms_key_id=key.arn,
            recovery_window_in_days=args.recovery_window_days,
            tags=dict(args.tags),
            opts=child,
        )
        self.api_keys_arn = api_keys.arn
        self.api_keys_name = api_keys.name
        self.key_arn = key.arn
        self.register_outputs({"apiKeysArn": self.api_keys_arn})
