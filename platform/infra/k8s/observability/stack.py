"""Compose observability into an ``-apps`` stack.

:func:`plan` runs before the platform namespaces and the ML API exist: it says what they need
from observability (extra network allows, the mesh's injection label, the ML API's OTLP and
sampling environment). :func:`deploy` then creates the observability namespaces and components.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from infra.config import StratusConfigError
from infra.foundation import FoundationContract
from infra.k8s.api import image_ref
from infra.k8s.config import AppsConfig
from infra.k8s.network import Allow
from infra.k8s.observability import namespaces, tracing
from infra.k8s.observability.logging import (
    CLIENT_CA_SECRET,
    CLIENT_PASSWORD_SECRET,
    ES_URL,
    TRACE_WRITER,
    Logging,
    LoggingArgs,
)
from infra.k8s.observability.mesh import INJECTION_LABEL, Mesh, MeshArgs
from infra.k8s.observability.monitoring import Monitoring, MonitoringArgs, ScrapeTarget
from infra.k8s.observability.rules import RuleTargets


@dataclass(frozen=True)
class Plan:
    features: namespaces.Features
    #: Allows every platform namespace gets besides its own.
    platform_allows: list[Allow] = field(default_factory=list)
    #: Labels on the platform namespaces (sidecar injection).
    namespace_labels: dict[str, str] = field(default_factory=dict)
    #: Environment of the ML API pods (OTLP endpoint, sampling).
    api_env: dict[str, str] = field(default_factory=dict)


def plan(config: AppsConfig) -> Plan:
    jaeger_es = config.tracing.enabled and config.tracing.jaeger.storage == "elasticsearch"
    if jaeger_es and not config.logging.enabled:
        raise StratusConfigError(
            "stratus:apps.tracing.jaeger.storage: 'elasticsearch' stores traces in the logging "
            "stack's Elasticsearch; set stratus:apps.logging.enabled to true or use 'memory'"
        )
    features = namespaces.Features(
        logging=config.logging.enabled,
        tracing=config.tracing.enabled,
        jaeger_on_elasticsearch=jaeger_es,
        mesh=config.mesh.enabled,
    )
    return Plan(
        features=features,
        platform_allows=namespaces.platform_allows(features),
        namespace_labels=dict(INJECTION_LABEL) if features.mesh else {},
        api_env=tracing.api_environment(config.tracing) if features.tracing else {},
    )


@dataclass(frozen=True)
class DeployArgs:
    contract: FoundationContract
    config: AppsConfig
    plan: Plan
    labels: dict[str, str]
    is_prod: bool
    api_namespace: str
    training_namespace: str
    mlflow_namespace: str
    api_services: Sequence[str]
    api_port: int
    hpa: str
    cronjob: str
    max_queue: int
    #: What the observability components wait for (cert-manager, External Secrets).
    depends_on: tuple[pulumi.Resource, ...] = ()


def deploy(name: str, args: DeployArgs, opts: pulumi.ResourceOptions) -> None:
    config = args.config
    features = args.plan.features
    platform = [args.api_namespace, args.training_namespace, args.mlflow_namespace]
    allows = namespaces.allows(args.contract, platform, features)
    levels = {
        namespaces.MONITORING: "baseline",
        namespaces.NODE_AGENTS: "privileged",
        namespaces.LOGGING: "baseline",
        namespaces.TRACING: "baseline",
    }
    created = {
        ns: namespaces.ObservabilityNamespace(
            f"{name}-{ns}",
            namespaces.ObservabilityNamespaceArgs(
                namespace=ns, level=levels[ns], allows=flows, labels=args.labels
            ),
            opts=opts,
        )
        for ns, flows in allows.items()
    }
    ready = (*args.depends_on, *created.values())
    mesh_ready: tuple[pulumi.Resource, ...] = ()
    if features.mesh:
        mesh = Mesh(
            f"{name}-mesh",
            MeshArgs(
                contract=args.contract,
                config=config.mesh,
                addons=config.addons,
                labels=args.labels,
                is_prod=args.is_prod,
                api_namespace=args.api_namespace,
                api_services=list(args.api_services),
                api_port=args.api_port,
                depends_on=args.depends_on,
            ),
            opts=opts,
        )
        mesh_ready = (mesh.istiod,)
    monitoring = Monitoring(
        f"{name}-monitoring",
        MonitoringArgs(
            contract=args.contract,
            config=config.monitoring,
            addons=config.addons,
            targets=RuleTargets(
                api_namespace=args.api_namespace,
                training_namespace=args.training_namespace,
                hpa=args.hpa,
                cronjob=args.cronjob,
                max_queue=args.max_queue,
            ),
            scrape=[
                ScrapeTarget("ml-api", args.api_namespace, colour=True),
                ScrapeTarget("mlflow", args.mlflow_namespace),
            ],
            platform_namespaces=platform,
            labels=args.labels,
            mesh=features.mesh,
            depends_on=(*ready, *mesh_ready),
        ),
        opts=opts,
    )
    backend: tracing.ElasticsearchBackend | None = None
    if features.logging:
        Logging(
            f"{name}-logging",
            LoggingArgs(
                contract=args.contract,
                config=config.logging,
                addons=config.addons,
                labels=args.labels,
                setup_image=image_ref(args.contract.registry.training, args.config.training.image),
                trace_writer=features.jaeger_on_elasticsearch,
                is_prod=args.is_prod,
                depends_on=ready,
            ),
            opts=opts,
        )
        if features.jaeger_on_elasticsearch:
            backend = tracing.ElasticsearchBackend(
                url=ES_URL,
                username=TRACE_WRITER,
                password_secret=CLIENT_PASSWORD_SECRET,
                ca_secret=CLIENT_CA_SECRET,
            )
    if features.tracing:
        tracing.Tracing(
            f"{name}-tracing",
            tracing.TracingArgs(
                contract=args.contract,
                config=config.tracing,
                addons=config.addons,
                labels=args.labels,
                elasticsearch=backend,
                depends_on=(*ready, monitoring.release),
            ),
            opts=opts,
        )
