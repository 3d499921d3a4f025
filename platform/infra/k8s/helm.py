"""Pinned Helm releases: the chart's exact version, typed values, atomic upgrades."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.k8s.config_types import Chart


def pinned_release(
    resource_name: str,
    chart: Chart,
    namespace: str,
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    """A ``helm.v3.Release`` named after its chart, rolled back whole if an upgrade fails."""
    return k8s.helm.v3.Release(
        resource_name,
        name=chart.chart,
        chart=chart.chart,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
        namespace=namespace,
        values=dict(values),
        atomic=True,
        cleanup_on_fail=True,
        max_history=5,
        timeout=600,
        opts=opts,
    )
