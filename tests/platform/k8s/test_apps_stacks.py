"""The ``-apps`` stacks: they read their foundation through a StackReference and bind the
workloads' service accounts to the foundation's cloud identities, on both clouds alike."""

from __future__ import annotations

import pytest

from infra.config import StratusConfigError
from infra.offline import StackRun, run_stack, stack_config

APPS = ("aws-dev-apps", "aws-prod-apps", "azure-dev-apps", "azure-prod-apps")


@pytest.fixture(scope="module", params=APPS)
def apps(request: pytest.FixtureRequest) -> StackRun:
    return run_stack(request.param)


@pytest.fixture(scope="module")
def foundations() -> dict[str, StackRun]:
    return {s: run_stack(s) for s in ("aws-dev", "aws-prod", "azure-dev", "azure-prod")}


def test_apps_stack_reads_its_own_foundation(apps: StackRun) -> None:
    foundation = apps.stack.removesuffix("-apps")
    assert apps.outputs["foundationStack"] == f"organization/stratus/{foundation}"
    assert apps.outputs["cloud"] == foundation.split("-")[0]


def test_every_kubernetes_object_uses_the_foundation_kubeconfig_provider(apps: StackRun) -> None:
    (provider,) = apps.of_type("pulumi:providers:kubernetes")
    assert provider.is_secret("kubeconfig")
    objects = [r for r in apps.resources if r.type.startswith("kubernetes:")]
    assert objects
    for obj in objects:
        assert obj.provider.startswith(provider.urn + "::"), obj.name


def test_namespaces_enforce_pod_security_standards(apps: StackRun) -> None:
    namespaces = {
        n.get("metadata.name"): n.get("metadata.labels")
        for n in apps.of_type("kubernetes:core/v1:Namespace")
    }
    assert {"ml-api", "ml-training", "mlflow", "cert-manager", "external-secrets"} <= set(
        namespaces
    )
    # Host access: the GPU device plugin (device files), the node agents (node-exporter on the
    # host network, Fluent Bit reading /var/log) and Istio's CNI agent. The observability stacks'
    # charts run baseline pods (restricted is audited and warned about there).
    privileged = {"nvidia-device-plugin", "node-agents", "istio-system"}
    baseline = {"monitoring", "logging", "tracing"}
    for name, labels in namespaces.items():
        expected = (
            "privileged" if name in privileged else "baseline" if name in baseline else "restricted"
        )
        assert labels["pod-security.kubernetes.io/enforce"] == expected, name
        assert labels["app.kubernetes.io/part-of"] == "stratus"


def test_service_accounts_carry_the_foundation_identity(
    apps: StackRun, foundations: dict[str, StackRun]
) -> None:
    identities = foundations[apps.stack.removesuffix("-apps")].outputs["identities"]
    accounts = apps.of_type("kubernetes:core/v1:ServiceAccount")
    assert len(accounts) == 3  # add-on charts create their own, from the same contract
    for account in accounts:
        workload = account.get("metadata.labels")["app.kubernetes.io/name"]
        identity = identities[workload]
        assert account.get("metadata.name") == identity["serviceAccount"]
        assert account.get("metadata.namespace") == identity["namespace"]
        assert account.get("metadata.annotations") == identity["annotations"]
        assert account.get("automountServiceAccountToken") is False


def test_both_clouds_declare_the_same_workloads(foundations: dict[str, StackRun]) -> None:
    """Same component code: the platform's own objects are the same on both clouds; only the
    add-ons the contract says a cloud lacks differ, and the values come from the contract."""
    for env in ("dev", "prod"):
        shapes = []
        for cloud in ("aws", "azure"):
            run = run_stack(f"{cloud}-{env}-apps")
            platform = {r.urn for r in run.resources if r.type.startswith("stratus:k8s:")}
            platform -= {r.urn for r in run.of_type("stratus:k8s:ClusterAddons")}
            shapes.append(
                sorted(
                    (r.type, r.get("metadata.namespace"), r.get("metadata.name"))
                    for r in run.resources
                    if r.type.startswith("kubernetes:")
                    and any(r.parent == urn or r.parent.startswith(urn + "$") for urn in platform)
                )
            )
        assert shapes[0] == shapes[1]
        assert len(shapes[0]) > 30


def test_addons_follow_the_contracts_capabilities(foundations: dict[str, StackRun]) -> None:
    def charts(stack: str) -> set[str]:
        return {r.get("chart") for r in run_stack(stack).of_type("kubernetes:helm.sh/v3:Release")}

    everywhere = {"cert-manager", "external-secrets"}
    # Observability in every stack; the mesh in prod (stratus:apps.mesh.enabled).
    observability = {
        "kube-prometheus-stack",
        "eck-operator",
        "fluent-bit",
        "opentelemetry-collector",
        "jaeger",
    }
    mesh = {"base", "istiod", "cni"}
    aws_only = {"metrics-server", "aws-load-balancer-controller", "cluster-autoscaler", "traefik"}
    assert charts("aws-dev-apps") == everywhere | observability | aws_only
    assert charts("aws-prod-apps") == (
        everywhere | observability | mesh | aws_only | {"nvidia-device-plugin"}
    )
    assert charts("azure-dev-apps") == everywhere | observability
    assert charts("azure-prod-apps") == everywhere | observability | mesh | {"nvidia-device-plugin"}


def test_missing_pulumi_org_shows_the_command_to_run() -> None:
    config = {k: v for k, v in stack_config("aws-dev-apps").items() if k != "stratus:pulumiOrg"}
    with pytest.raises(StratusConfigError) as caught:
        run_stack("aws-dev-apps", config=config)
    message = str(caught.value)
    assert "stratus:pulumiOrg: required" in message
    assert "pulumi config set 'stratus:pulumiOrg' <your-pulumi-org> --stack aws-dev-apps" in message


def test_a_foundation_of_another_cloud_is_refused(foundations: dict[str, StackRun]) -> None:
    with pytest.raises(StratusConfigError, match="is the azure dev foundation, but aws-dev-apps"):
        run_stack(
            "aws-dev-apps",
            override={"stratus:foundationStack": "azure-dev"},
            references={"azure-dev": foundations["azure-dev"]},
        )


def test_the_shipped_apps_stack_files_hold_no_org_specific_value() -> None:
    for stack in APPS:
        assert "stratus:pulumiOrg" not in stack_config(stack, with_overrides=False)
