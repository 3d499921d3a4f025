"""Objects per type in each shipped ``-apps`` stack: a change here is churn to review on purpose."""

from __future__ import annotations

import pytest

from infra.offline import run_stack

PLATFORM = {
    "kubernetes:apps/v1:Deployment": 3,  # ml-api blue + green, mlflow
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": 1,
    "kubernetes:batch/v1:CronJob": 1,
    "kubernetes:batch/v1:Job": 2,  # training-on-demand, elasticsearch-setup
    # ACME + the internal CA's self-signed root issuer and CA issuer (logging)
    "kubernetes:cert-manager.io/v1:ClusterIssuer": 3,
    # training-config, 3 dashboards, elasticsearch-setup
    "kubernetes:core/v1:ConfigMap": 5,
    "kubernetes:core/v1:LimitRange": 3,
    "kubernetes:core/v1:ResourceQuota": 3,
    "kubernetes:core/v1:Service": 3,  # ml-api, ml-api-preview, mlflow
    "kubernetes:core/v1:ServiceAccount": 3,
    "kubernetes:external-secrets.io/v1:ClusterSecretStore": 1,
    "kubernetes:networking.k8s.io/v1:Ingress": 1,
    "pulumi:providers:kubernetes": 1,
    # Observability (infra.k8s.observability)
    "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch": 1,
    "kubernetes:kibana.k8s.elastic.co/v1:Kibana": 1,
    "kubernetes:monitoring.coreos.com/v1:PodMonitor": 2,  # ml-api (both colours), mlflow
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": 2,  # SLOs, alerts
    "stratus:k8s:Logging": 1,
    "stratus:k8s:Monitoring": 1,
    "stratus:k8s:Tracing": 1,
    "stratus:k8s:ClusterAddons": 1,
    "stratus:k8s:MlApi": 1,
    "stratus:k8s:MlflowServer": 1,
    "stratus:k8s:PlatformNamespace": 3,
    "stratus:k8s:Training": 1,
}
# Platform policies: default-deny x 3 + ml-api 5 + ml-training 3 + mlflow 5 allows, + OTLP x 3.
# Observability: monitoring 9 + tracing, node-agents 3, logging 6, tracing 5, each + deny.
DEV_POLICIES = 16 + 3 + (1 + 10) + (1 + 3) + (1 + 6) + (1 + 5)
# + mesh: istiod per platform namespace, monitoring → istiod, istio-system 5 + deny;
# + jaeger → elasticsearch (tracing egress; logging's ingress only gains a peer).
PROD_POLICIES = DEV_POLICIES + 3 + 1 + (1 + 5) + 1
# Add-on namespaces: cert-manager and external-secrets, default-deny + 4 allows each.
ADDON_POLICIES = 2 * (1 + 4)
GENERATED_KEYS = {
    # ml-api-keys, alertmanager config (no receivers), ES roles, log writer (ES user + client)
    "kubernetes:core/v1:Secret": 5,
    "kubernetes:external-secrets.io/v1:ExternalSecret": 1,  # the database URI only
    # 2 API keys + the log writer
    "random:index/randomPassword:RandomPassword": 3,
    "kubernetes:cert-manager.io/v1:Certificate": 3,  # internal CA, ES HTTP, Fluent Bit's CA
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": DEV_POLICIES,
    "stratus:k8s:ObservabilityNamespace": 4,
    "stratus:k8s:GeneratedApiKeys": 1,
    "kubernetes:policy/v1:PodDisruptionBudget": 2,  # one per colour; mlflow has 1 replica
}
SECRET_STORE_KEYS = {
    # ES roles, log and trace writers (ES user + client each)
    "kubernetes:core/v1:Secret": 5,
    # database URI, API keys, Alertmanager's receivers
    "kubernetes:external-secrets.io/v1:ExternalSecret": 3,
    "random:index/randomPassword:RandomPassword": 2,  # log and trace writers
    "kubernetes:cert-manager.io/v1:Certificate": 4,  # + Jaeger's CA
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": PROD_POLICIES,
    # the mesh (prod)
    "kubernetes:security.istio.io/v1:PeerAuthentication": 2,  # mesh-wide STRICT, ML API edge
    "kubernetes:networking.istio.io/v1:DestinationRule": 2,  # ml-api, ml-api-preview
    "stratus:k8s:Mesh": 1,
    "stratus:k8s:ObservabilityNamespace": 5,  # + istio-system
    "kubernetes:policy/v1:PodDisruptionBudget": 3,  # + mlflow (2 replicas)
}

EXPECTED = {
    # + metrics-server, LB controller, cluster autoscaler, traefik; namespaces: 3 platform +
    # cert-manager, external-secrets, traefik
    "aws-dev-apps": {
        **PLATFORM,
        **GENERATED_KEYS,
        "kubernetes:helm.sh/v3:Release": 6 + 5,  # + observability
        "kubernetes:core/v1:Namespace": 6 + 4,
        # + traefik: default-deny + 5 allows
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": DEV_POLICIES + ADDON_POLICIES + 6,
    },
    "aws-prod-apps": {
        **PLATFORM,
        **SECRET_STORE_KEYS,
        "kubernetes:helm.sh/v3:Release": 7 + 5 + 3,  # + NVIDIA device plugin, mesh
        "kubernetes:core/v1:Namespace": 7 + 5,
        # + traefik (default-deny + 5 allows), nvidia-device-plugin (default-deny only)
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": PROD_POLICIES + ADDON_POLICIES + 7,
    },
    "azure-dev-apps": {
        **PLATFORM,
        **GENERATED_KEYS,
        "kubernetes:helm.sh/v3:Release": 2 + 5,  # AKS runs the others itself
        "kubernetes:core/v1:Namespace": 5 + 4,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": DEV_POLICIES + ADDON_POLICIES,
    },
    "azure-prod-apps": {
        **PLATFORM,
        **SECRET_STORE_KEYS,
        "kubernetes:helm.sh/v3:Release": 3 + 5 + 3,
        "kubernetes:core/v1:Namespace": 6 + 5,
        # + nvidia-device-plugin (default-deny only)
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": PROD_POLICIES + ADDON_POLICIES + 1,
    },
}


@pytest.mark.parametrize("stack", sorted(EXPECTED))
def test_objects_per_type(stack: str) -> None:
    assert run_stack(stack).count_by_type() == dict(sorted(EXPECTED[stack].items()))
