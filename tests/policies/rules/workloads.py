"""Real ``pulumi_kubernetes`` workloads for the rule tests: a compliant pod template, and the
knobs that break it."""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

ECR_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stratus-dev/ml-api:1.4.2"
LABELS = {
    "app.kubernetes.io/part-of": "stratus",
    "stratus.io/environment": "dev",
    "stratus.io/owner": "ml-platform-team",
    "stratus.io/cost-center": "ml-platform-dev",
}


def container(**overrides: Any) -> k8s.core.v1.ContainerArgs:
    args: dict[str, Any] = {
        "name": "api",
        "image": ECR_IMAGE,
        "security_context": k8s.core.v1.SecurityContextArgs(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        ),
        "resources": k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "500m", "memory": "512Mi"}, limits={"memory": "1Gi"}
        ),
        "readiness_probe": k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/readyz", port=8080)
        ),
        "liveness_probe": k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/healthz", port=8080)
        ),
    }
    args.update(overrides)
    return k8s.core.v1.ContainerArgs(**args)


def pod_spec(
    containers: list[k8s.core.v1.ContainerArgs] | None = None, **overrides: Any
) -> k8s.core.v1.PodSpecArgs:
    args: dict[str, Any] = {
        "security_context": k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=10001,
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        "containers": containers or [container()],
    }
    args.update(overrides)
    return k8s.core.v1.PodSpecArgs(**args)


def deployment(
    name: str,
    spec: k8s.core.v1.PodSpecArgs | None = None,
    *,
    namespace: str = "ml-api",
    replicas: int = 1,
    app: str | None = None,
) -> k8s.apps.v1.Deployment:
    selector = {"app": app or name}
    return k8s.apps.v1.Deployment(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=LABELS),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=replicas,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels={**LABELS, **selector}),
                spec=spec or pod_spec(),
            ),
        ),
    )
