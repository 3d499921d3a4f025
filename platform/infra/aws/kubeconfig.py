"""A kubeconfig for an EKS cluster that authenticates with ``aws eks get-token``."""

from __future__ import annotations

import json
from typing import Any

import pulumi


def render_kubeconfig(
    *, cluster_name: str, endpoint: str, certificate_authority: str, region: str
) -> str:
    """The kubeconfig document (JSON, which is valid YAML) for one cluster.

    No credential is embedded: ``kubectl`` and the Pulumi Kubernetes provider run
    ``aws eks get-token`` with the caller's AWS credentials each time they connect.
    """
    user: dict[str, Any] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region],
            "interactiveMode": "Never",
        }
    }
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": endpoint,
                    "certificate-authority-data": certificate_authority,
                },
            }
        ],
        "users": [{"name": cluster_name, "user": user}],
        "contexts": [
            {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
        ],
        "current-context": cluster_name,
    }
    return json.dumps(document, indent=2)


def kubeconfig_output(
    *,
    cluster_name: pulumi.Input[str],
    endpoint: pulumi.Input[str],
    certificate_authority: pulumi.Input[str],
    region: str,
) -> pulumi.Output[str]:
    return pulumi.Output.all(cluster_name, endpoint, certificate_authority).apply(
        lambda values: render_kubeconfig(
            cluster_name=values[0],
            endpoint=values[1],
            certificate_authority=values[2],
            region=region,
        )
    )
