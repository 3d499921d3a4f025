"""Secrets of the in-cluster layer, from the foundation's secret store through External Secrets:
the MLflow database URI (the password never passes through Pulumi on AWS, where RDS keeps it) and,
in stacks that say so, the ML API's key entries. Dev stacks may instead generate their API keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from infra.foundation import FoundationContract, SecretRef

ESO_API = "external-secrets.io/v1"
#: The one ClusterSecretStore, pointing at the foundation's store.
STORE_NAME = "stratus-platform"
#: Roles the generated keys get (``python -m app.keys`` semantics).
GENERATED_KEYS = {"predict": ["predict"], "admin": ["predict", "admin"]}


def store_provider(contract: FoundationContract) -> dict[str, Any]:
    """The ClusterSecretStore provider for the foundation's store kind."""
    store = contract.secret_store
    identity = contract.identity("external-secrets")
    if store.kind == "aws-secrets-manager":
        # The controller's own IRSA credentials (the service account's role annotation).
        return {"aws": {"service": "SecretsManager", "region": store.region}}
    return {
        "azurekv": {
            "authType": "WorkloadIdentity",
            "vaultUrl": store.vault_url,
            "serviceAccountRef": {
                "name": identity.service_account,
                "namespace": identity.namespace,
            },
        }
    }


def remote_ref(secret: SecretRef) -> dict[str, str]:
    ref = {"key": secret.name}
    if secret.property is not None:
        ref["property"] = secret.property
    return ref


def cluster_secret_store(
    name: str,
    contract: FoundationContract,
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version=ESO_API,
        kind="ClusterSecretStore",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=STORE_NAME, labels=dict(labels)),
        spec={"provider": store_provider(contract)},
        opts=opts,
    )


def external_secret(
    name: str,
    *,
    namespace: pulumi.Input[str],
    secret_name: str,
    data: Mapping[str, SecretRef],
    template: Mapping[str, str] | None,
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """An ExternalSecret filling Secret ``secret_name`` from the platform store; ``template``
    renders the Secret's keys from the fetched values (Go templates)."""
    target: dict[str, Any] = {"name": secret_name, "creationPolicy": "Owner"}
    if template is not None:
        target["template"] = {"engineVersion": "v2", "data": dict(template)}
    return k8s.apiextensions.CustomResource(
        name,
        api_version=ESO_API,
        kind="ExternalSecret",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=secret_name, namespace=namespace, labels=dict(labels)
        ),
        spec={
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": STORE_NAME},
            "target": target,
            "data": [{"secretKey": key, "remoteRef": remote_ref(ref)} for key, ref in data.items()],
        },
        opts=opts,
    )


def database_uri_template(contract: FoundationContract) -> str:
    """MLflow's backend store URI with the fetched password URL-escaped in place."""
    db = contract.database
    return (
        f"postgresql://{db.user}:{{{{ .password | urlquery }}}}@{db.host}:{db.port}/{db.name}"
        f"?sslmode={db.ssl_mode}"
    )


def key_entries(keys: Mapping[str, str]) -> str:
    """The ``STRATUS_API_KEYS_FILE`` document for generated keys (hashes only)."""
    return json.dumps(
        [
            {
                "name": name,
                "sha256": hashlib.sha256(key.encode()).hexdigest(),
                "roles": GENERATED_KEYS[name],
            }
            for name, key in sorted(keys.items())
        ]
    )


class GeneratedApiKeys(pulumi.ComponentResource):
    """A ``predict`` and an ``admin`` key for a dev stack: the Secret holds only their SHA-256
    entries; the keys themselves are the stack's secret output ``apiKeys``."""

    keys: pulumi.Output[dict[str, str]]
    secret: k8s.core.v1.Secret

    def __init__(
        self,
        name: str,
        *,
        namespace: pulumi.Input[str],
        secret_name: str,
        labels: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("stratus:k8s:GeneratedApiKeys", name, None, opts)
        generated = {
            role: random.RandomPassword(
                f"{name}-{role}",
                length=48,
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            ).result
            for role in GENERATED_KEYS
        }
        self.keys = pulumi.Output.secret(pulumi.Output.all(**generated))
        self.secret = k8s.core.v1.Secret(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=secret_name, namespace=namespace, labels=dict(labels)
            ),
            type="Opaque",
            string_data={"keys.json": self.keys.apply(key_entries)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
