"""Custom resources of the observability charts' CRDs (PodMonitor, PrometheusRule,
PeerAuthentication, DestinationRule...), named and labelled the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


def custom_resource(
    resource_name: str,
    api_version: str,
    kind: str,
    metadata: tuple[str, str | None, Mapping[str, str]],
    spec: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """A ``kind`` object; ``metadata`` is (name, namespace or ``None`` if cluster-scoped,
    labels)."""
    name, namespace, labels = metadata
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=api_version,
        kind=kind,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels)),
        spec=dict(spec),
        opts=opts,
    )
