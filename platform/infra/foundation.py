"""The cloud-neutral result of a cloud foundation (AWS or Azure).

Both ``infra.aws`` and ``infra.azure`` return a :class:`CloudFoundation`, so that the Kubernetes
workloads (``infra.k8s``) and the global traffic stack consume either cloud the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

Cloud = Literal["aws", "azure"]

#: The workloads that get a cloud identity; keys of :attr:`CloudFoundation.workload_identities`.
WORKLOADS = ("ml-api", "training", "mlflow")


@dataclass(frozen=True)
class ObjectStores:
    """fsspec URLs of the object stores (``s3://bucket`` or ``az://container``).

    ``storage_options`` carries what fsspec needs besides the URL (e.g. the Azure account name).
    """

    data_raw: pulumi.Output[str]
    data_processed: pulumi.Output[str]
    models: pulumi.Output[str]
    mlflow_artifacts: pulumi.Output[str]
    storage_options: pulumi.Output[Mapping[str, str]]


@dataclass(frozen=True)
class Registry:
    """Container image repositories (full URLs without a tag)."""

    api: pulumi.Output[str]
    training: pulumi.Output[str]


@dataclass(frozen=True)
class Database:
    """The MLflow backend store. ``dsn`` is a Pulumi secret."""

    host: pulumi.Output[str]
    port: int
    name: str
    user: str
    dsn: pulumi.Output[str]


@dataclass(frozen=True)
class WorkloadIdentity:
    """What a workload's Kubernetes ServiceAccount and pods need to assume the cloud identity."""

    service_account: str
    namespace: str
    service_account_annotations: pulumi.Output[Mapping[str, str]]
    pod_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ingress:
    """How to expose the ML API through the cloud's load balancer."""

    class_name: str
    annotations: Mapping[str, str]
    service_annotations: Mapping[str, str]


@dataclass(frozen=True)
class CloudFoundation:
    """Everything the cloud-agnostic layers need from one cloud's foundation."""

    cloud: Cloud
    region: pulumi.Input[str]
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    k8s_provider: k8s.Provider
    registry: Registry
    stores: ObjectStores
    database: Database
    workload_identities: Mapping[str, WorkloadIdentity]
    ingress: Ingress
    storage_class: str

    def export(self) -> None:
        """Export the stack outputs the global traffic stack and operators read."""
        pulumi.export("cloud", self.cloud)
        pulumi.export("region", self.region)
        pulumi.export("clusterName", self.cluster_name)
        pulumi.export("kubeconfig", pulumi.Output.secret(self.kubeconfig))
        pulumi.export("registryApi", self.registry.api)
        pulumi.export("registryTraining", self.registry.training)
        pulumi.export("storeDataRaw", self.stores.data_raw)
        pulumi.export("storeDataProcessed", self.stores.data_processed)
        pulumi.export("storeModels", self.stores.models)
        pulumi.export("storeMlflowArtifacts", self.stores.mlflow_artifacts)
        pulumi.export("databaseHost", self.database.host)
        pulumi.export("databaseDsn", pulumi.Output.secret(self.database.dsn))
