"""Training on the cluster: the CronJob and the suspended on-demand Job on the spot pool (GPU
only when asked for), the pipeline config filled in from the foundation, and MLflow."""

from __future__ import annotations

import pytest
import yaml

from infra.config import StratusConfigError
from infra.foundation import FoundationContractError
from infra.offline import StackRun, run_stack
from tests.platform.k8s.conftest import apps_section, named, pod_spec


def _with_training(stack: str, **training: object) -> StackRun:
    section = apps_section(stack)
    section["training"].update(training)
    return run_stack(stack, override={"stratus:apps": section})


def test_scheduled_and_on_demand_runs_share_one_job_spec(apps: StackRun) -> None:
    config = apps_section(apps.stack)["training"]
    cron = named(apps, "CronJob", "training", "ml-training")
    assert cron.get("spec.schedule") == config["schedule"]
    assert cron.get("spec.concurrencyPolicy") == "Forbid"
    assert cron.get("spec.timeZone") == "Etc/UTC"
    job = cron.get("spec.jobTemplate.spec")
    assert job["backoffLimit"] == 1
    assert job["activeDeadlineSeconds"] == 6 * 3600
    assert job["ttlSecondsAfterFinished"] == 7 * 24 * 3600
    on_demand = named(apps, "Job", "training-on-demand", "ml-training")
    assert on_demand.get("spec.suspend") is True
    # Pulumi must not wait for a Job that is suspended on purpose.
    assert on_demand.get("metadata.annotations") == {"pulumi.com/skipAwait": "true"}
    assert on_demand.get("spec.template") == cron.get("spec.jobTemplate.spec.template")
    (container,) = pod_spec(cron)["containers"]
    assert container["command"] == ["python", "-m", "training"]
    assert container["args"] == ["run", "--config", "/etc/stratus/training/config.yaml"]
    assert pod_spec(cron)["restartPolicy"] == "Never"


def test_training_lands_on_the_spot_pool_and_tolerates_it(apps: StackRun) -> None:
    spec = pod_spec(named(apps, "CronJob", "training"))
    assert spec["nodeSelector"] == {"stratus.io/pool": "training"}
    tolerated = {(t["key"], t["value"]) for t in spec["tolerations"]}
    assert ("stratus.io/pool", "training") in tolerated
    assert ("kubernetes.azure.com/scalesetpriority", "spot") in tolerated
    (container,) = spec["containers"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]


def test_gpus_schedule_on_the_gpu_pool_when_the_foundation_has_one() -> None:
    run = _with_training("aws-prod-apps", gpus=1)
    spec = pod_spec(named(run, "CronJob", "training"))
    assert spec["nodeSelector"] == {"stratus.io/pool": "gpu"}
    assert ("nvidia.com/gpu", "present") in {(t["key"], t["value"]) for t in spec["tolerations"]}
    (container,) = spec["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_gpus_without_a_gpu_pool_are_refused() -> None:
    with pytest.raises(FoundationContractError, match="has no 'gpu' pool"):
        _with_training("aws-dev-apps", gpus=1)


def test_the_pipeline_config_points_at_this_clouds_stores_and_mlflow(apps: StackRun) -> None:
    stores = run_stack(apps.stack.removesuffix("-apps")).outputs["stores"]
    config_map = named(apps, "ConfigMap", "training-config", "ml-training")
    document = yaml.safe_load(config_map.get("data")["config.yaml"])
    assert document["publish"]["stores"] == [stores["models"]]
    assert document["land"]["processed_url"] == stores["dataProcessed"]
    assert document["registry"]["tracking_uri"] == apps.outputs["mlflowUrl"]
    assert document["workdir"] == "/tmp/stratus"
    # The stack's own pipeline settings are kept.
    config = apps_section(apps.stack)["training"]["pipeline"]
    assert document["model"] == config["model"]
    # The ML API reads exactly where training publishes: <models store>/<name>@champion.
    blue = pod_spec(named(apps, "Deployment", "ml-api-blue"))["containers"][0]
    uri = {e["name"]: e.get("value") for e in blue["env"]}["STRATUS_MODEL_URI"]
    assert uri == f"{stores['models']}/stratus-classifier@champion"


def test_platform_owned_pipeline_keys_are_refused() -> None:
    section = apps_section("azure-dev-apps")
    section["training"]["pipeline"]["publish"] = {"stores": ["s3://elsewhere"]}
    with pytest.raises(StratusConfigError, match=r"pipeline\.publish\.stores: set by the platform"):
        run_stack("azure-dev-apps", override={"stratus:apps": section})


def test_an_invalid_pipeline_is_refused_by_the_pipelines_own_validation() -> None:
    section = apps_section("azure-dev-apps")
    section["training"]["pipeline"]["model"]["estimator"] = "deep_forest"
    with pytest.raises(StratusConfigError) as caught:
        run_stack("azure-dev-apps", override={"stratus:apps": section})
    assert "stratus:apps.training.pipeline.model.estimator" in str(caught.value)


def test_mlflow_reads_its_database_uri_from_the_secret_store(apps: StackRun) -> None:
    foundation = run_stack(apps.stack.removesuffix("-apps")).outputs
    database = foundation["database"]
    external = named(apps, "ExternalSecret", "mlflow-database", "mlflow")
    assert external.get("spec.secretStoreRef") == {
        "kind": "ClusterSecretStore",
        "name": "stratus-platform",
    }
    (item,) = external.get("spec.data")
    expected_ref = {"key": database["password"]["name"]}
    if database["password"]["property"]:
        expected_ref["property"] = database["password"]["property"]
    assert item == {"secretKey": "password", "remoteRef": expected_ref}
    template = external.get("spec.target.template.data")["MLFLOW_BACKEND_STORE_URI"]
    assert template == (
        f"postgresql://{database['user']}:{{{{ .password | urlquery }}}}@{database['host']}:"
        f"{database['port']}/{database['name']}?sslmode=require"
    )
    (container,) = pod_spec(named(apps, "Deployment", "mlflow", "mlflow"))["containers"]
    uri = next(e for e in container["env"] if e["name"] == "MLFLOW_BACKEND_STORE_URI")
    assert uri["valueFrom"]["secretKeyRef"] == {
        "name": "mlflow-database",
        "key": "MLFLOW_BACKEND_STORE_URI",
    }
    args = container["args"]
    assert args[args.index("--backend-store-uri") + 1] == "$(MLFLOW_BACKEND_STORE_URI)"
    assert "--serve-artifacts" in args
    destination = args[args.index("--artifacts-destination") + 1]
    assert destination == foundation["stores"]["mlflowArtifactsUri"]


def test_mlflow_is_highly_available_in_prod(apps: StackRun) -> None:
    deployment = named(apps, "Deployment", "mlflow", "mlflow")
    prod = apps.stack.endswith("prod-apps")
    assert deployment.get("spec.replicas") == (2 if prod else 1)
    pdbs = [
        p
        for p in apps.resources
        if p.type.endswith(":PodDisruptionBudget") and p.get("metadata.namespace") == "mlflow"
    ]
    assert len(pdbs) == (1 if prod else 0)
    assert pod_spec(deployment)["nodeSelector"] == {"stratus.io/pool": "system"}
