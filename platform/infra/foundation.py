"""The foundation contract: what a cloud foundation stack exports for the layers above it.

Both ``infra.aws`` and ``infra.azure`` build a :class:`CloudFoundation` and call
:meth:`CloudFoundation.export`, which writes one stack output per contract section (validated
against the models below, so what is written is what the reader accepts). The ``-apps`` and
``global`` stacks read it back with :meth:`FoundationOutputs.from_stack_reference`, which fails with
a message naming the stack and the missing or malformed output. Nothing else of a foundation stack
is part of the contract; the clouds differ only below it.

Contract version 1 — stack outputs:

==================  ==========================================================================
``contractVersion`` ``1``
``cloud``           ``aws`` | ``azure``
``environment``     ``dev`` | ``staging`` | ``prod``
``region``          the cloud region
``cluster``         name, Kubernetes version, API endpoint, OIDC issuer
``kubeconfig``      (secret) kubeconfig for the cluster (exec-based credentials, no static token)
``registry``        registry server and the ``api`` / ``training`` repositories
``stores``          fsspec URLs of the four stores, fsspec storage options, pod environment
``database``        MLflow's PostgreSQL: host, port, database, user, and where its password is
``secretStore``     the cloud secret store External Secrets reads (Secrets Manager / Key Vault)
``identities``      per workload: namespace, service account, its annotations, pod labels
``ingress``         ingress class, controller, annotations for Ingresses and Services
``storageClass``    the default block-storage class
``scheduling``      per pool class: node selector and tolerations
``pools``           per pool: sizes, machine types, spot, per-node vCPUs / memory
``network``         network id, CIDRs, pod / service CIDRs and cloud-specific ids (for the VPN)
``capabilities``    what the cloud runs itself vs. what the in-cluster layer must install
==================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pulumi.runtime.sync_await import _sync_await
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from infra.scheduling import POOLS, Pool, pod_scheduling

CONTRACT_VERSION = 1

Cloud = Literal["aws", "azure"]

#: The workloads that get a cloud identity, with their namespace and service account.
WORKLOADS: dict[str, tuple[str, str]] = {
    "ml-api": ("ml-api", "ml-api"),
    "training": ("ml-training", "training"),
    "mlflow": ("mlflow", "mlflow"),
    "external-secrets": ("external-secrets", "external-secrets"),
}
#: Identities only the AWS foundation creates (AKS runs these controllers itself).
AWS_ADDON_WORKLOADS: dict[str, tuple[str, str]] = {
    "cluster-autoscaler": ("kube-system", "cluster-autoscaler"),
    "aws-load-balancer-controller": ("kube-system", "aws-load-balancer-controller"),
}


class ContractModel(BaseModel):
    """A contract section: camelCase on the wire, immutable; fields a newer foundation of the
    same contract version adds are ignored by older readers."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


class ClusterInfo(ContractModel):
    name: str
    kubernetes_version: str
    endpoint: str
    oidc_issuer_url: str


class RegistryInfo(ContractModel):
    server: str
    api: str
    training: str


class StoresInfo(ContractModel):
    """fsspec URLs (``s3://bucket`` / ``az://container``)."""

    data_raw: str
    data_processed: str
    models: str
    mlflow_artifacts: str
    #: What fsspec needs besides the URL (e.g. ``account_name`` for Azure).
    storage_options: dict[str, str] = Field(default_factory=dict)
    #: Environment variables a pod needs to reach the stores with its workload identity.
    environment: dict[str, str] = Field(default_factory=dict)
    #: MLflow's own URI for the artifacts store (``s3://...`` / ``wasbs://...``).
    mlflow_artifacts_uri: str


SecretStoreKind = Literal["aws-secrets-manager", "azure-key-vault"]


class SecretRef(ContractModel):
    """One secret in the cloud secret store: its name (ARN / Key Vault secret name) and, for JSON
    secrets, the property holding the value."""

    store: SecretStoreKind
    name: str
    property: str | None = None


class DatabaseInfo(ContractModel):
    host: str
    port: int
    name: str
    user: str
    ssl_mode: str = "require"
    password: SecretRef


class SecretStoreInfo(ContractModel):
    """The store External Secrets reads, and the platform secrets in it."""

    kind: SecretStoreKind
    region: str | None = None
    vault_url: str | None = None
    #: The ML API's key entries (a JSON list, see ``python -m app.keys``), put there by operators.
    api_keys: SecretRef


class IdentityInfo(ContractModel):
    namespace: str
    service_account: str
    annotations: dict[str, str] = Field(default_factory=dict)
    pod_labels: dict[str, str] = Field(default_factory=dict)


IngressController = Literal["traefik", "aks-app-routing"]


class IngressInfo(ContractModel):
    """How the ML API is exposed: an Ingress of ``class_name``, TLS terminated in the cluster
    (certificates from cert-manager), the controller's pods in ``namespace``."""

    class_name: str
    #: Who implements ``class_name``: ``traefik`` (installed by the in-cluster layer, exposed by
    #: a cloud load balancer described by ``service_annotations``) or the cloud's own controller.
    controller: IngressController
    namespace: str
    #: Annotations for the Ingress objects.
    annotations: dict[str, str] = Field(default_factory=dict)
    #: Annotations for the controller's ``LoadBalancer`` Service (when the layer installs it).
    service_annotations: dict[str, str] = Field(default_factory=dict)


class Toleration(ContractModel):
    key: str
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "NoExecute", "PreferNoSchedule"]


class SchedulingInfo(ContractModel):
    node_selector: dict[str, str]
    tolerations: list[Toleration] = Field(default_factory=list)


class PoolInfo(ContractModel):
    min_size: int
    max_size: int
    desired_size: int
    machine_types: list[str]
    spot: bool
    #: Per node, from the machine type (the smallest of several); ``None`` when unknown.
    node_vcpus: int | None = None
    node_memory_gib: float | None = None


class NetworkInfo(ContractModel):
    id: str
    cidrs: list[str]
    pod_cidr: str | None = None
    service_cidr: str
    #: Cloud-specific ids the cross-cloud VPN needs (resource group, VNet name, route tables...).
    details: dict[str, Any] = Field(default_factory=dict)


Provision = Literal["cloud", "install"]


class CapabilitiesInfo(ContractModel):
    """Whether the cloud provides a cluster function (``cloud``) or the in-cluster layer must
    install it (``install``, with the identity of the same name where it needs one)."""

    metrics_server: Provision
    cluster_autoscaler: Provision
    gpu_device_plugin: Provision
    #: The controller that turns ``LoadBalancer`` Services into cloud load balancers.
    load_balancer_controller: Provision


class FoundationContract(ContractModel):
    """The whole contract, every output but the secret kubeconfig."""

    contract_version: int
    cloud: Cloud
    environment: str
    region: str
    cluster: ClusterInfo
    registry: RegistryInfo
    stores: StoresInfo
    database: DatabaseInfo
    secret_store: SecretStoreInfo
    identities: dict[str, IdentityInfo]
    ingress: IngressInfo
    storage_class: str
    scheduling: dict[str, SchedulingInfo | None]
    pools: dict[str, PoolInfo]
    network: NetworkInfo
    capabilities: CapabilitiesInfo

    def identity(self, workload: str) -> IdentityInfo:
        try:
            return self.identities[workload]
        except KeyError:
            raise FoundationContractError(
                f"the {self.cloud} foundation has no identity for {workload!r} "
                f"(it has: {', '.join(sorted(self.identities))})"
            ) from None

    def schedule(self, pool: Pool) -> SchedulingInfo:
        found = self.scheduling.get(pool)
        if found is None:
            raise FoundationContractError(
                f"the {self.cloud} foundation has no {pool!r} pool; enable it in the "
                f"foundation stack's config first"
            )
        return found


#: Contract sections, in output order; ``kubeconfig`` is the one secret output besides them.
SECTIONS: dict[str, str] = {
    to_camel(name): name for name in FoundationContract.model_fields if name != "contract_version"
}
KUBECONFIG = "kubeconfig"
VERSION_OUTPUT = "contractVersion"


class FoundationContractError(ValueError):
    """A foundation stack's outputs do not satisfy the contract; the message names the stack and
    the output."""


def scheduling_for(pools: Mapping[str, object]) -> dict[str, Any]:
    """The ``scheduling`` section for the pools a foundation has (``None`` for a missing one)."""
    return {pool: (pod_scheduling(pool) if pool in pools else None) for pool in POOLS}


@dataclass(frozen=True)
class CloudFoundation:
    """What a foundation hands to :meth:`export`: every section as (possibly unresolved) values
    shaped like the contract models; ``kubeconfig`` is kept secret."""

    cloud: Cloud
    environment: str
    region: pulumi.Input[str]
    cluster: pulumi.Input[Mapping[str, Any]]
    kubeconfig: pulumi.Output[str]
    registry: pulumi.Input[Mapping[str, Any]]
    stores: pulumi.Input[Mapping[str, Any]]
    database: pulumi.Input[Mapping[str, Any]]
    secret_store: pulumi.Input[Mapping[str, Any]]
    identities: pulumi.Input[Mapping[str, Any]]
    ingress: pulumi.Input[Mapping[str, Any]]
    storage_class: str
    scheduling: Mapping[str, Any]
    pools: pulumi.Input[Mapping[str, Any]]
    network: pulumi.Input[Mapping[str, Any]]
    capabilities: Mapping[str, str]

    def sections(self) -> dict[str, pulumi.Input[Any]]:
        return {
            "cloud": self.cloud,
            "environment": self.environment,
            "region": self.region,
            "cluster": self.cluster,
            "registry": self.registry,
            "stores": self.stores,
            "database": self.database,
            "secretStore": self.secret_store,
            "identities": self.identities,
            "ingress": self.ingress,
            "storageClass": self.storage_class,
            "scheduling": self.scheduling,
            "pools": self.pools,
            "network": self.network,
            "capabilities": self.capabilities,
        }

    def export(self) -> pulumi.Output[FoundationContract]:
        """Export the contract: one output per section, each validated first (a foundation that
        would write a malformed contract fails here, naming the section)."""
        sections = {
            name: pulumi.Output.from_input(value) for name, value in self.sections().items()
        }

        def validate(values: dict[str, Any]) -> FoundationContract:
            return _validated("this foundation", {VERSION_OUTPUT: CONTRACT_VERSION, **values})

        contract: pulumi.Output[FoundationContract] = pulumi.Output.all(**sections).apply(validate)
        pulumi.export(VERSION_OUTPUT, CONTRACT_VERSION)
        for output, field in SECTIONS.items():
            pulumi.export(output, contract.apply(_section_getter(field)))
        pulumi.export(KUBECONFIG, pulumi.Output.secret(self.kubeconfig))
        return contract


def _section_getter(field: str) -> Callable[[FoundationContract], Any]:
    return lambda contract: _wire(getattr(contract, field))


def _wire(value: Any) -> Any:
    if isinstance(value, ContractModel):
        return value.wire()
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire(item) for item in value]
    return value


def _validated(stack: str, outputs: Mapping[str, Any]) -> FoundationContract:
    version = outputs.get(VERSION_OUTPUT)
    if version is None:
        raise FoundationContractError(
            f"stack {stack}: output {VERSION_OUTPUT!r} is missing — is it a Stratus foundation "
            "stack, and has `pulumi up` run on it?"
        )
    if version != CONTRACT_VERSION:
        raise FoundationContractError(
            f"stack {stack}: output {VERSION_OUTPUT!r} is {version!r}, this code reads contract "
            f"version {CONTRACT_VERSION}; update the foundation stack or this layer"
        )
    missing = [name for name in SECTIONS if outputs.get(name) is None]
    if missing:
        raise FoundationContractError(
            f"stack {stack}: output(s) {', '.join(repr(m) for m in missing)} missing from the "
            f"foundation contract v{CONTRACT_VERSION} — run `pulumi up` on the foundation stack"
        )
    try:
        return FoundationContract.model_validate(dict(outputs))
    except ValidationError as exc:
        problems = [
            f"output {'.'.join(str(p) for p in err['loc'])!r}: {err['msg']}" for err in exc.errors()
        ]
        raise FoundationContractError(
            f"stack {stack}: malformed foundation contract v{CONTRACT_VERSION}:\n  "
            + "\n  ".join(problems)
        ) from None


@dataclass(frozen=True)
class FoundationOutputs:
    """A foundation stack's contract as read by an upper layer: plain, validated values (so the
    layer's resource graph may depend on them) and the kubeconfig as a secret output."""

    stack: str
    contract: FoundationContract
    kubeconfig: pulumi.Output[str]

    @classmethod
    def from_values(
        cls, stack: str, outputs: Mapping[str, Any], *, kubeconfig: pulumi.Input[str] | None
    ) -> FoundationOutputs:
        """Validate outputs already read (a dict of output name → value)."""
        contract = _validated(stack, outputs)
        if kubeconfig is None:
            raise FoundationContractError(
                f"stack {stack}: output {KUBECONFIG!r} is missing — run `pulumi up` on the "
                "foundation stack"
            )
        return cls(stack=stack, contract=contract, kubeconfig=pulumi.Output.secret(kubeconfig))

    @classmethod
    def from_stack_reference(
        cls, reference: pulumi.StackReference, stack: str
    ) -> FoundationOutputs:
        """Read the contract through ``reference`` (the qualified name ``stack``).

        Stack outputs are known during preview, so they are read as plain values here (the same
        way the SDK's synchronous invokes wait for their results).
        """
        values: dict[str, Any] = {}
        for name in (VERSION_OUTPUT, *SECTIONS):
            details = _sync_await(reference.get_output_details(name))
            if details.secret_value is not None:
                raise FoundationContractError(
                    f"stack {stack}: output {name!r} is secret; the contract keeps only "
                    f"{KUBECONFIG!r} secret"
                )
            values[name] = details.value
        kube = _sync_await(reference.get_output_details(KUBECONFIG))
        kubeconfig = kube.secret_value if kube.secret_value is not None else kube.value
        if kube.value is not None:
            pulumi.log.warn(f"stack {stack}: output {KUBECONFIG!r} is not marked secret")
        return cls.from_values(stack, values, kubeconfig=kubeconfig)


def reference_foundation(
    resource_name: str, *, org: str, project: str, stack: str
) -> FoundationOutputs:
    """A ``StackReference`` to ``org/project/stack`` and its contract, read and validated."""
    qualified = f"{org}/{project}/{stack}"
    reference = pulumi.StackReference(resource_name, stack_name=qualified)
    return FoundationOutputs.from_stack_reference(reference, qualified)
