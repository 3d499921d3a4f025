"""The ML API: blue/green Deployments, stable and preview Services, the HPA on the active colour,
PDBs, the Ingress, and the config checks that guard them."""

from __future__ import annotations

import pytest

from infra.config import StratusConfigError
from infra.offline import StackRun, run_stack
from tests.platform.k8s.conftest import apps_section, named, objects, pod_spec


def _flip(stack: str, **api: object) -> StackRun:
    section = apps_section(stack)
    section["api"].update(api)
    return run_stack(stack, override={"stratus:apps": section})


def test_stable_service_selects_the_active_colour_and_preview_the_idle_one(apps: StackRun) -> None:
    active = apps_section(apps.stack)["api"]["activeColour"]
    idle = "green" if active == "blue" else "blue"
    stable = named(apps, "Service", "ml-api", "ml-api")
    preview = named(apps, "Service", "ml-api-preview", "ml-api")
    assert stable.get("spec.selector") == {
        "app.kubernetes.io/name": "ml-api",
        "stratus.io/colour": active,
    }
    assert preview.get("spec.selector") == {
        "app.kubernetes.io/name": "ml-api",
        "stratus.io/colour": idle,
    }
    for colour in ("blue", "green"):
        deployment = named(apps, "Deployment", f"ml-api-{colour}", "ml-api")
        template = deployment.get("spec.template.metadata.labels")
        assert deployment.get("spec.selector.matchLabels").items() <= template.items()
        assert template["stratus.io/colour"] == colour


def test_flipping_the_active_colour_flips_services_hpa_and_replicas() -> None:
    before = run_stack("aws-prod-apps")
    after = _flip("aws-prod-apps", activeColour="green")
    assert named(before, "HorizontalPodAutoscaler", "ml-api").get("spec.scaleTargetRef.name") == (
        "ml-api-blue"
    )
    assert named(after, "HorizontalPodAutoscaler", "ml-api").get("spec.scaleTargetRef.name") == (
        "ml-api-green"
    )
    assert named(after, "Service", "ml-api").get("spec.selector")["stratus.io/colour"] == "green"
    assert named(after, "Service", "ml-api-preview").get("spec.selector")["stratus.io/colour"] == (
        "blue"
    )
    # The HPA owns the active colour's size; the idle colour waits at idleReplicas.
    assert named(after, "Deployment", "ml-api-green").get("spec.replicas") is None
    assert named(after, "Deployment", "ml-api-blue").get("spec.replicas") == 1
    assert after.outputs["activeColour"] == "green"


def test_each_colour_runs_its_own_image_and_model_from_config() -> None:
    run = _flip(
        "azure-prod-apps",
        blue={"image": "1.4.2", "model": {"alias": "champion"}},
        green={
            "image": "sha256:" + "ab" * 32,
            "model": {"name": "stratus-classifier", "version": 7},
        },
    )
    foundation = run_stack("azure-prod")
    registry = foundation.outputs["registry"]["api"]
    models = foundation.outputs["stores"]["models"]
    blue = pod_spec(named(run, "Deployment", "ml-api-blue"))["containers"][0]
    green = pod_spec(named(run, "Deployment", "ml-api-green"))["containers"][0]
    assert blue["image"] == f"{registry}:1.4.2"
    assert green["image"] == f"{registry}@sha256:{'ab' * 32}"
    env_blue = {e["name"]: e.get("value") for e in blue["env"]}
    env_green = {e["name"]: e.get("value") for e in green["env"]}
    # Each cloud serves from its own model store (keeps serving when the other is down).
    assert env_blue["STRATUS_MODEL_URI"] == f"{models}/stratus-classifier@champion"
    assert env_green["STRATUS_MODEL_URI"] == "models:/stratus-classifier/7"
    assert env_green["STRATUS_MLFLOW_TRACKING_URI"] == run.outputs["mlflowUrl"]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("latest", "'latest' is not a release"),
        ("my image", "is neither an image tag nor a sha256"),
        ("sha256:abc", "is neither an image tag nor a sha256"),
    ],
)
def test_mutable_or_malformed_images_are_refused(image: str, message: str) -> None:
    section = apps_section("aws-dev-apps")
    section["api"]["green"]["image"] = image
    with pytest.raises(StratusConfigError) as caught:
        run_stack("aws-dev-apps", override={"stratus:apps": section})
    assert "stratus:apps.api.green.image" in str(caught.value)
    assert message in str(caught.value)


def test_hpa_bounds_target_and_scale_down_come_from_config(apps: StackRun) -> None:
    api = apps_section(apps.stack)["api"]
    hpa = named(apps, "HorizontalPodAutoscaler", "ml-api")
    assert hpa.get("spec.minReplicas") == api["replicas"]["min"]
    assert hpa.get("spec.maxReplicas") == api["replicas"]["max"]
    (metric,) = hpa.get("spec.metrics")
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["averageUtilization"] == api.get("cpuTargetPercent", 70)
    assert hpa.get("spec.behavior.scaleDown.stabilizationWindowSeconds") == 300


def test_prod_defaults_are_the_seeds_3_to_20_pods() -> None:
    for stack in ("aws-prod-apps", "azure-prod-apps"):
        hpa = named(run_stack(stack), "HorizontalPodAutoscaler", "ml-api")
        assert (hpa.get("spec.minReplicas"), hpa.get("spec.maxReplicas")) == (3, 20)


def test_rollouts_never_drop_capacity_and_pods_drain_before_exit(apps: StackRun) -> None:
    api = apps_section(apps.stack)["api"]
    for colour in ("blue", "green"):
        deployment = named(apps, "Deployment", f"ml-api-{colour}")
        assert deployment.get("spec.strategy.rollingUpdate.maxUnavailable") == 0
        spec = pod_spec(deployment)
        (container,) = spec["containers"]
        pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pause == api.get("preStopSeconds", 10)
        drain = api.get("gracefulShutdownSeconds", 30)
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["STRATUS_GRACEFUL_TIMEOUT_S"] == str(drain)
        # The grace period covers the pause and the service's own drain.
        assert spec["terminationGracePeriodSeconds"] > pause + drain


def test_probes_read_the_services_health_routes(apps: StackRun) -> None:
    (container,) = pod_spec(named(apps, "Deployment", "ml-api-blue"))["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    startup = container["startupProbe"]
    # Model load may take startupSeconds before liveness counts.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


def test_replicas_spread_over_zones_and_nodes_on_the_api_pool(apps: StackRun) -> None:
    spec = pod_spec(named(apps, "Deployment", "ml-api-green"))
    assert spec["nodeSelector"] == {"stratus.io/pool": "api"}
    keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


def test_api_keys_come_from_a_mounted_secret(apps: StackRun) -> None:
    spec = pod_spec(named(apps, "Deployment", "ml-api-blue"))
    (container,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STRATUS_AUTH_MODE"] == "api-key"
    assert env["STRATUS_API_KEYS_FILE"] == "/etc/stratus/api-keys/keys.json"
    volume = next(v for v in spec["volumes"] if v["name"] == "api-keys")
    assert volume["secret"]["secretName"] == "ml-api-keys"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "api-keys")
    assert mount["readOnly"] is True


def test_dev_generates_its_keys_and_prod_reads_them_from_the_secret_store() -> None:
    dev = run_stack("aws-dev-apps")
    secret = named(dev, "Secret", "ml-api-keys", "ml-api")
    assert secret.is_secret("stringData")
    assert "apiKeys" in dev.secret_outputs
    assert set(dev.outputs["apiKeys"]) == {"predict", "admin"}
    prod = run_stack("aws-prod-apps")
    assert not [r for r in objects(prod, "Secret") if r.get("metadata.namespace") == "ml-api"]
    external = named(prod, "ExternalSecret", "ml-api-keys", "ml-api")
    foundation = run_stack("aws-prod")
    (item,) = external.get("spec.data")
    assert item == {
        "secretKey": "keys.json",
        "remoteRef": {"key": foundation.outputs["secretStore"]["apiKeys"]["name"]},
    }


def test_each_colour_has_a_disruption_budget(apps: StackRun) -> None:
    for colour in ("blue", "green"):
        pdb = named(apps, "PodDisruptionBudget", f"ml-api-{colour}")
        assert pdb.get("spec.maxUnavailable") == 1
        assert pdb.get("spec.selector.matchLabels")["stratus.io/colour"] == colour


def test_ingress_serves_the_configured_host_with_a_cert_manager_certificate(apps: StackRun) -> None:
    ingress = named(apps, "Ingress", "ml-api", "ml-api")
    foundation = run_stack(apps.stack.removesuffix("-apps")).outputs
    host = apps.outputs["ingressHost"]
    env = apps.stack.split("-")[1]
    assert host == f"ml-api.{env}.ml.example.org"
    assert ingress.get("spec.ingressClassName") == foundation["ingress"]["className"]
    assert ingress.get("spec.tls") == [{"hosts": [host], "secretName": "ml-api-tls"}]
    assert ingress.get("metadata.annotations")["cert-manager.io/cluster-issuer"] == "letsencrypt"
    (rule,) = ingress.get("spec.rules")
    assert rule["host"] == host
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "ml-api"
    assert apps.outputs["healthUrl"] == f"https://{host}/readyz"
    assert apps.outputs["ingressAddress"]


def test_the_same_host_on_both_clouds_of_an_environment() -> None:
    for env in ("dev", "prod"):
        hosts = {
            run_stack(f"{cloud}-{env}-apps").outputs["ingressHost"] for cloud in ("aws", "azure")
        }
        assert len(hosts) == 1


def test_capacity_shortfall_is_refused_with_the_missing_amount() -> None:
    """aws-dev's api pool is 4 x t3.large (2 vCPU, 8 GiB): 20 replicas of 1 CPU do not fit."""
    section = apps_section("aws-dev-apps")
    section["api"]["replicas"] = {"min": 3, "max": 20}
    section["api"]["resources"] = {
        "cpu": "1",
        "memory": "512Mi",
        "cpuLimit": "1",
        "memoryLimit": "1Gi",
    }
    with pytest.raises(StratusConfigError) as caught:
        run_stack("aws-dev-apps", override={"stratus:apps": section})
    message = str(caught.value)
    assert message.startswith("stratus:apps.api.replicas.max: 20 replicas (+1 idle, +1 surge)")
    # 22 pods x 1 CPU = 22 CPU needed; 4 nodes x 2 vCPU x 80% = 6.4 CPU available.
    assert "15.6 CPU short (22.0 needed, 6.4 available)" in message
    assert "Raise the api pool's maxSize to 14" in message


def test_missing_dns_zone_shows_the_command() -> None:
    from infra.offline import stack_config

    config = {k: v for k, v in stack_config("azure-dev-apps").items() if k != "stratus:dnsZone"}
    with pytest.raises(StratusConfigError, match=r"pulumi config set 'stratus:dnsZone'"):
        run_stack("azure-dev-apps", config=config)
