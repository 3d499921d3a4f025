"""Every pod template the platform declares: restricted security context, requests and limits,
probes for long-running servers, its ServiceAccount bound to the workload identity, a writable
/tmp on a read-only root filesystem."""

from __future__ import annotations

from typing import Any

from infra.offline import Registered, StackRun, run_stack
from tests.platform.k8s.conftest import objects, pod_labels, pod_spec

WORKLOADS = ("Deployment", "CronJob", "Job")


PLATFORM_NAMESPACES = ("ml-api", "ml-training", "mlflow")


def _workloads(run: StackRun) -> list[Registered]:
    """The platform's own workloads (the observability ones: tests/platform/k8s/observability)."""
    return [
        w
        for kind in WORKLOADS
        for w in objects(run, kind)
        if w.get("metadata.namespace") in PLATFORM_NAMESPACES
    ]


def _identities(run: StackRun) -> dict[str, Any]:
    return dict(run_stack(run.stack.removesuffix("-apps")).outputs["identities"])


def test_every_pod_runs_restricted(apps: StackRun) -> None:
    workloads = _workloads(apps)
    assert len(workloads) == 5  # ml-api blue/green, mlflow, training CronJob and on-demand Job
    for workload in workloads:
        spec = pod_spec(workload)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert pod["runAsUser"] == 10001
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["privileged"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts["/tmp"] == "tmp"
        tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")
        assert "emptyDir" in tmp


def test_every_container_has_requests_and_limits(apps: StackRun) -> None:
    for workload in _workloads(apps):
        for container in pod_spec(workload)["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), workload.name
            assert "memory" in resources["limits"], workload.name


def test_long_running_servers_have_readiness_liveness_and_startup_probes(apps: StackRun) -> None:
    for deployment in objects(apps, "Deployment"):
        for container in pod_spec(deployment)["containers"]:
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                assert probe in container, f"{deployment.name}: no {probe}"


def test_pods_use_their_workloads_service_account_and_identity(apps: StackRun) -> None:
    identities = _identities(apps)
    by_name = {"ml-api": "ml-api", "mlflow": "mlflow", "training": "training"}
    for workload in _workloads(apps):
        name = workload.get("metadata.labels")["app.kubernetes.io/name"]
        identity = identities[by_name[name]]
        spec = pod_spec(workload)
        assert spec["serviceAccountName"] == identity["serviceAccount"]
        assert workload.get("metadata.namespace") == identity["namespace"]
        # Azure workload identity needs its label on the pod; AWS IRSA needs none.
        assert identity["podLabels"].items() <= pod_labels(workload).items()
        assert spec["automountServiceAccountToken"] is False


def test_service_accounts_carry_the_identity_annotations(apps: StackRun) -> None:
    identities = _identities(apps)
    accounts = {
        (a.get("metadata.namespace"), a.get("metadata.name")): a.get("metadata.annotations")
        for a in objects(apps, "ServiceAccount")
    }
    for workload in ("ml-api", "training", "mlflow"):
        identity = identities[workload]
        key = (identity["namespace"], identity["serviceAccount"])
        assert accounts[key] == identity["annotations"]
