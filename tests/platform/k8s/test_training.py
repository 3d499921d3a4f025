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


def test_final_outcomes_are_not_retried_and_evictions_are_not_counted(apps: StackRun) -> None:
    # Another attempt after the gate rejected the candidate (3) or a store failed to publish (4)
    # would train and register a second version; a spot node reclaimed is no failure of the run.
    cron = named(apps, "CronJob", "training", "ml-training")
    on_demand = named(apps, "Job", "training-on-demand", "ml-training")
    policy = cron.get("spec.jobTemplate.spec.podFailurePolicy")
    assert on_demand.get("spec.podFailurePolicy") == policy
    assert policy["rules"] == [
        {
            "action": "Ignore",
            "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
        },
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "training", "operator": "In", "values": [3, 4]},
        },
    ]
    assert pod_spec(cron)["containers"][0]["name"] == "training"


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


SHARDED = {"shards": 3, "resources": {"cpu": "1", "memory": "2Gi", "memoryLimit": "3Gi"}}


def test_a_sharded_search_runs_as_an_indexed_job_whose_shard_zero_finalizes() -> None:
    run = _with_training("aws-dev-apps", sharded=SHARDED)
    cron = named(run, "CronJob", "training", "ml-training")
    on_demand = named(run, "Job", "training-on-demand", "ml-training")
    for job in (cron.get("spec.jobTemplate.spec"), on_demand.get("spec")):
        assert job["completionMode"] == "Indexed"
        assert job["completions"] == job["parallelism"] == 3
        # Each shard has its own retries; a shard out of them fails the Job at once, instead
        # of shard 0 waiting for it until the deadline.
        assert job["backoffLimitPerIndex"] == 1
        assert job["maxFailedIndexes"] == 0
        assert "backoffLimit" not in job  # it would be shared by every shard
    assert on_demand.get("spec.template") == cron.get("spec.jobTemplate.spec.template")
    spec = pod_spec(cron)
    assert spec["nodeSelector"] == {"stratus.io/pool": "training"}  # the spot pool
    (container,) = spec["containers"]
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}
    assert container["resources"]["limits"]["memory"] == "3Gi"
    assert container["args"] == [
        "run", "--config", "/etc/stratus/training/config.yaml", "--finalize-wait", "21600",
    ]  # fmt: skip
    env = {e["name"]: e for e in container["env"]}
    assert env["STRATUS_TRAINING_SHARD_COUNT"]["value"] == "3"
    # The search id: the Job's name and uid, from the labels the Job controller sets on its pods.
    assert env["STRATUS_JOB_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['batch.kubernetes.io/job-name']"
    )
    assert env["STRATUS_JOB_UID"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['batch.kubernetes.io/controller-uid']"
    )
    names = [e["name"] for e in container["env"]]
    assert names.index("STRATUS_TRAINING_SEARCH_ID") > names.index("STRATUS_JOB_UID")
    assert env["STRATUS_TRAINING_SEARCH_ID"]["value"] == "$(STRATUS_JOB_NAME)-$(STRATUS_JOB_UID)"
    # The namespace quota makes room for two overlapping runs of three pods each.
    quota = named(run, "ResourceQuota", "compute", "ml-training")
    assert int(quota.get("spec.hard")["pods"]) >= 6


def test_one_pod_runs_the_search_by_default(apps: StackRun) -> None:
    cron = named(apps, "CronJob", "training", "ml-training")
    job = cron.get("spec.jobTemplate.spec")
    assert "completionMode" not in job
    assert "parallelism" not in job
    (container,) = pod_spec(cron)["containers"]
    assert "STRATUS_TRAINING_SHARD_COUNT" not in {e["name"] for e in container["env"]}


def test_the_pipeline_the_cluster_would_run_reads_its_shard_from_the_pod(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rendered environment, as the kubelet expands it, is what the CLI reads."""
    from training.shards import Shard, check_search_id, resolve_shard

    run = _with_training("aws-dev-apps", sharded=SHARDED)
    (container,) = pod_spec(named(run, "CronJob", "training"))["containers"]
    labels = {
        "batch.kubernetes.io/job-name": "training-29400180",
        "batch.kubernetes.io/controller-uid": "4e7bd2f2-1a5b-4c1e-9f7c-3c2f0e0b8d11",
    }
    env: dict[str, str] = {"JOB_COMPLETION_INDEX": "2"}
    for item in container["env"]:
        if "valueFrom" in item:
            path = item["valueFrom"]["fieldRef"]["fieldPath"]
            env[item["name"]] = labels[path.removeprefix("metadata.labels['").removesuffix("']")]
        else:
            value = item["value"]
            for name, known in env.items():
                value = value.replace(f"$({name})", known)
            env[item["name"]] = value
    assert resolve_shard(None, env) == Shard(2, 3)
    assert check_search_id(env["STRATUS_TRAINING_SEARCH_ID"]) == (
        "training-29400180-4e7bd2f2-1a5b-4c1e-9f7c-3c2f0e0b8d11"
    )


def test_sharding_needs_a_search_with_a_trial_per_shard() -> None:
    section = apps_section("azure-dev-apps")
    section["training"]["sharded"] = {"shards": 3}
    section["training"]["pipeline"]["model"]["search"] = {"kind": "none", "space": {}}
    with pytest.raises(StratusConfigError, match="sharded: the pipeline has no search to shard"):
        run_stack("azure-dev-apps", override={"stratus:apps": section})
    section = apps_section("azure-dev-apps")
    section["training"]["sharded"] = {"shards": 64}
    with pytest.raises(StratusConfigError, match=r"sharded\.shards: 64 shards for \d+ trials"):
        run_stack("azure-dev-apps", override={"stratus:apps": section})


def test_sharded_objects_are_valid_kubernetes() -> None:
    import kubernetes_validate

    from infra.render import kubernetes_objects

    run = _with_training("azure-prod-apps", sharded=SHARDED)
    version = f"{run_stack('azure-prod').outputs['cluster']['kubernetesVersion']}.0"
    jobs = [
        m
        for _, m in kubernetes_objects(run)
        if m["kind"] in ("Job", "CronJob") and m["metadata"]["namespace"] == "ml-training"
    ]
    assert len(jobs) == 2
    for manifest in jobs:
        kubernetes_validate.validate(manifest, version, strict=True)
