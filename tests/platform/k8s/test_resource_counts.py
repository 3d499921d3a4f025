"""Objects per type in each shipped ``-apps`` stack: a change here is churn to review on purpose."""

from __future__ import annotations

import pytest

from infra.offline import run_stack

PLATFORM = {
    "kubernetes:apps/v1:Deployment": 3,  # ml-api blue + green, mlflow
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": 1,
    "kubernetes:batch/v1:CronJob": 1,
    "kubernetes:batch/v1:Job": 1,
    "kubernetes:cert-manager.io/v1:ClusterIssuer": 1,
    "kubernetes:core/v1:ConfigMap": 1,
    "kubernetes:core/v1:LimitRange": 3,
    "kubernetes:core/v1:ResourceQuota": 3,
    "kubernetes:core/v1:Service": 3,  # ml-api, ml-api-preview, mlflow
    "kubernetes:core/v1:ServiceAccount": 3,
    "kubernetes:external-secrets.io/v1:ClusterSecretStore": 1,
    "kubernetes:networking.k8s.io/v1:Ingress": 1,
    # platform namespaces: default-deny x 3 + ml-api 5 + ml-training 3 + mlflow 5 allows;
    # add-on namespaces: cert-manager and external-secrets default-deny + 4 allows each
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": 26,
    "pulumi:providers:kubernetes": 1,
    "stratus:k8s:ClusterAddons": 1,
    "stratus:k8s:MlApi": 1,
    "stratus:k8s:MlflowServer": 1,
    "stratus:k8s:PlatformNamespace": 3,
    "stratus:k8s:Training": 1,
}
GENERATED_KEYS = {
    "kubernetes:core/v1:Secret": 1,
    "kubernetes:external-secrets.io/v1:ExternalSecret": 1,  # the database URI only
    "random:index/randomPassword:RandomPassword": 2,
    "stratus:k8s:GeneratedApiKeys": 1,
    "kubernetes:policy/v1:PodDisruptionBudget": 2,  # one per colour; mlflow has 1 replica
}
SECRET_STORE_KEYS = {
    "kubernetes:external-secrets.io/v1:ExternalSecret": 2,  # database URI and API keys
    "kubernetes:policy/v1:PodDisruptionBudget": 3,  # + mlflow (2 replicas)
}

EXPECTED = {
    # + metrics-server, LB controller, cluster autoscaler, traefik; namespaces: 3 platform +
    # cert-manager, external-secrets, traefik
    "aws-dev-apps": {
        **PLATFORM,
        **GENERATED_KEYS,
        "kubernetes:helm.sh/v3:Release": 6,
        "kubernetes:core/v1:Namespace": 6,
        # + traefik: default-deny + 5 allows
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 32,
    },
    "aws-prod-apps": {
        **PLATFORM,
        **SECRET_STORE_KEYS,
        "kubernetes:helm.sh/v3:Release": 7,  # + NVIDIA device plugin
        "kubernetes:core/v1:Namespace": 7,
        # + traefik (default-deny + 5 allows), nvidia-device-plugin (default-deny only)
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 33,
    },
    "azure-dev-apps": {
        **PLATFORM,
        **GENERATED_KEYS,
        "kubernetes:helm.sh/v3:Release": 2,  # AKS runs the others itself
        "kubernetes:core/v1:Namespace": 5,
    },
    "azure-prod-apps": {
        **PLATFORM,
        **SECRET_STORE_KEYS,
        "kubernetes:helm.sh/v3:Release": 3,
        "kubernetes:core/v1:Namespace": 6,
        # + nvidia-device-plugin (default-deny only)
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 27,
    },
}


@pytest.mark.parametrize("stack", sorted(EXPECTED))
def test_objects_per_type(stack: str) -> None:
    assert run_stack(stack).count_by_type() == dict(sorted(EXPECTED[stack].items()))
