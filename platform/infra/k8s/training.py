"""Training on the cluster: a CronJob for scheduled retraining and a suspended Job for on-demand
runs, both running ``python -m training run`` with a config from a ConfigMap, the cloud's stores
and the in-cluster MLflow, on the spot ``training`` pool (or the ``gpu`` pool when GPUs are asked
for).

On-demand: ``kubectl -n ml-training create job --from=cronjob/training training-$(date +%s)``
(repeatable), or unsuspend the template once: ``kubectl -n ml-training patch job
training-on-demand -p '{"spec":{"suspend":false}}'`` (the next ``pulumi up`` re-arms it after it
has finished and expired).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pydantic import ValidationError

from infra.config import StratusConfigError
from infra.foundation import FoundationContract
from infra.k8s import pods
from infra.k8s.config import TrainingConfig

NAME = "training"
CONFIG_MOUNT = "/etc/stratus/training"
CONFIG_FILE = "config.yaml"
GPU_RESOURCE = "nvidia.com/gpu"
#: The sharded search's environment (``training/shards.py``): the shard count, and the search id
#: built from the Job's name and uid (unique per Job; shared by its pods and their retries).
SHARD_COUNT_ENV = "STRATUS_TRAINING_SHARD_COUNT"
SEARCH_ID_ENV = "STRATUS_TRAINING_SEARCH_ID"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
#: Keys of the pipeline config the platform sets from the foundation (users may not).
PLATFORM_KEYS = ("workdir", "land.processed_url", "registry.tracking_uri", "publish.stores")


def pipeline_config(
    contract: FoundationContract, config: TrainingConfig, mlflow_url: str
) -> dict[str, Any]:
    """The pipeline's config: the stack's ``pipeline`` section plus the platform's stores,
    landing zone, tracking server and work directory, validated by the pipeline's own model."""
    pipeline = dict(config.pipeline)
    for dotted in PLATFORM_KEYS:
        node: Any = pipeline
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            raise StratusConfigError(
                f"stratus:apps.training.pipeline.{dotted}: set by the platform from the "
                "foundation contract; remove it"
            )
    merged: dict[str, Any] = {
        **pipeline,
        "workdir": "/tmp/stratus",
        "land": {**pipeline.get("land", {}), "processed_url": contract.stores.data_processed},
        "registry": {**pipeline.get("registry", {}), "tracking_uri": mlflow_url},
        "publish": {**pipeline.get("publish", {}), "stores": [contract.stores.models]},
    }
    from training.config import TrainingConfig as PipelineConfig

    try:
        validated = PipelineConfig(**merged)
    except ValidationError as exc:
        problems = [
            f"stratus:apps.training.pipeline.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
        ]
        raise StratusConfigError(
            "invalid training pipeline config:\n  " + "\n  ".join(problems)
        ) from None
    if config.sharded is not None:
        _check_shardable(validated, config.sharded.shards)
    return merged


def _check_shardable(pipeline: Any, shards: int) -> None:
    """A sharded search needs a search, and at least one trial per shard."""
    from training.train import candidates

    options = candidates(pipeline.model, pipeline.seed)
    if len(options) == 1 and not options[0]:
        raise StratusConfigError(
            "stratus:apps.training.sharded: the pipeline has no search to shard "
            "(set pipeline.model.search.kind and .space, or remove sharded)"
        )
    trials = len(options) * pipeline.model.search.cv
    if shards > trials:
        raise StratusConfigError(
            f"stratus:apps.training.sharded.shards: {shards} shards for {trials} trials "
            f"({len(options)} candidates x {pipeline.model.search.cv} folds): some pods would "
            "have nothing to do"
        )


@dataclass(frozen=True)
class TrainingArgs:
    contract: FoundationContract
    config: TrainingConfig
    image: str
    image_version: str
    namespace: str
    service_account: pulumi.Input[str]
    mlflow_url: str
    labels: Mapping[str, str]


class Training(pulumi.ComponentResource):
    config_map: k8s.core.v1.ConfigMap
    cron_job: k8s.batch.v1.CronJob
    on_demand: k8s.batch.v1.Job

    def __init__(
        self, name: str, args: TrainingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:k8s:Training", name, None, opts)
        contract = args.contract
        config = args.config
        labels = {**args.labels, "app.kubernetes.io/name": NAME}
        document = pipeline_config(contract, config, args.mlflow_url)
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{NAME}-config", namespace=args.namespace, labels=labels
            ),
            data={CONFIG_FILE: yaml.safe_dump(document, sort_keys=True)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        template = self._pod_template(args, labels)
        job_spec = _job_spec(config, template)
        self.cron_job = k8s.batch.v1.CronJob(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=args.namespace, labels=labels),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=config.schedule,
                time_zone=config.time_zone,
                # Two trainings of one model never run at once (alias moves would interleave).
                concurrency_policy="Forbid",
                starting_deadline_seconds=3600,
                successful_jobs_history_limit=config.successful_jobs_history,
                failed_jobs_history_limit=config.failed_jobs_history,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=job_spec
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.on_demand = k8s.batch.v1.Job(
            f"{name}-on-demand",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{NAME}-on-demand",
                namespace=args.namespace,
                labels=labels,
                # Pulumi would otherwise wait for a Job that is suspended on purpose.
                annotations={"pulumi.com/skipAwait": "true"},
            ),
            spec=_job_spec(config, template, suspend=True),
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["spec"]),
        )
        self.register_outputs({"cronJob": self.cron_job.metadata.name})

    def _pod_template(
        self, args: TrainingArgs, labels: Mapping[str, str]
    ) -> k8s.core.v1.PodTemplateSpecArgs:
        contract = args.contract
        config = args.config
        gpu = config.gpus > 0
        scheduling = contract.schedule("gpu" if gpu else "training")
        identity = contract.identity("training")
        environment = {
            "HOME": "/tmp",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "STRATUS_CODE_VERSION": args.image_version,
            **contract.stores.environment,
        }
        run_args = ["run", "--config", f"{CONFIG_MOUNT}/{CONFIG_FILE}"]
        env = pods.env(environment)
        if config.sharded is not None:
            environment[SHARD_COUNT_ENV] = str(config.sharded.shards)
            env = [*pods.env(environment), *_search_id_env()]
            # Shard 0 waits for the others (bounded by the Job's deadline), then finalizes.
            run_args += ["--finalize-wait", str(config.active_deadline_seconds)]
        container = k8s.core.v1.ContainerArgs(
            name=NAME,
            image=args.image,
            command=["python", "-m", "training"],
            args=run_args,
            env=env,
            resources=pods.resources(
                config.pod_resources, {GPU_RESOURCE: str(config.gpus)} if gpu else None
            ),
            security_context=pods.container_security_context(),
            volume_mounts=[
                pods.tmp_mount(),
                k8s.core.v1.VolumeMountArgs(name="config", mount_path=CONFIG_MOUNT, read_only=True),
            ],
        )
        return k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                labels=pods.pod_labels(labels, identity),
                # Spot nodes go away; a training pod must not block their drain.
                annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"},
            ),
            spec=k8s.core.v1.PodSpecArgs(
                service_account_name=args.service_account,
                automount_service_account_token=False,
                restart_policy="Never",
                security_context=pods.pod_security_context(),
                node_selector=dict(scheduling.node_selector),
                tolerations=pods.tolerations(scheduling),
                containers=[container],
                volumes=[
                    pods.tmp_volume("20Gi"),
                    k8s.core.v1.VolumeArgs(
                        name="config",
                        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                            name=self.config_map.metadata.name
                        ),
                    ),
                ],
            ),
        )


def _job_spec(
    config: TrainingConfig, template: k8s.core.v1.PodTemplateSpecArgs, *, suspend: bool = False
) -> k8s.batch.v1.JobSpecArgs:
    """The one Job spec of scheduled and on-demand runs."""
    return k8s.batch.v1.JobSpecArgs(
        suspend=suspend or None,
        active_deadline_seconds=config.active_deadline_seconds,
        ttl_seconds_after_finished=config.ttl_seconds_after_finished,
        pod_failure_policy=_failure_policy(),
        template=template,
        **_retries_and_shards(config),
    )


def _retries_and_shards(config: TrainingConfig) -> dict[str, Any]:
    """One pod: ``backoffLimit`` retries. A sharded search: an Indexed Job, one pod per shard,
    all at once (Kubernetes gives each its ``JOB_COMPLETION_INDEX``); each shard gets its own
    ``backoff_limit`` retries (``backoffLimitPerIndex``: one flaky shard does not use up the
    others' retries), and a shard out of retries fails the Job at once (``maxFailedIndexes: 0``)
    instead of leaving shard 0 waiting for it until the deadline."""
    if config.sharded is None:
        return {"backoff_limit": config.backoff_limit}
    shards = config.sharded.shards
    return {
        "completion_mode": "Indexed",
        "completions": shards,
        "parallelism": shards,
        "backoff_limit_per_index": config.backoff_limit,
        "max_failed_indexes": 0,
    }


def _failure_policy() -> k8s.batch.v1.PodFailurePolicyArgs:
    """Which pod failures are retried. A pod evicted or preempted (a spot node reclaimed or
    drained: the ``DisruptionTarget`` condition) is retried without counting against the
    retries. A run that ended with a final outcome fails the Job at once: the gate rejected the
    candidate (exit 3, registered as rejected) or a store failed to publish (exit 4,
    ``reconcile`` retries that); another attempt would train and register a second version.
    Any other failure (exit 1: config, data, credentials, MLflow unreachable) uses the retries."""
    from training.errors import GATE_REJECTED_EXIT, PublishError

    return k8s.batch.v1.PodFailurePolicyArgs(
        rules=[
            k8s.batch.v1.PodFailurePolicyRuleArgs(
                action="Ignore",
                on_pod_conditions=[
                    k8s.batch.v1.PodFailurePolicyOnPodConditionsPatternArgs(
                        type="DisruptionTarget", status="True"
                    )
                ],
            ),
            k8s.batch.v1.PodFailurePolicyRuleArgs(
                action="FailJob",
                on_exit_codes=k8s.batch.v1.PodFailurePolicyOnExitCodesRequirementArgs(
                    container_name=NAME,
                    operator="In",
                    values=[GATE_REJECTED_EXIT, PublishError.exit_code],
                ),
            ),
        ]
    )


def _search_id_env() -> list[k8s.core.v1.EnvVarArgs]:
    """``STRATUS_TRAINING_SEARCH_ID=<job name>-<job uid>`` from the labels the Job controller puts
    on its pods (the downward API): every pod of one Job, and every retry of a pod, shares it."""

    def label(name: str, key: str) -> k8s.core.v1.EnvVarArgs:
        return k8s.core.v1.EnvVarArgs(
            name=name,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                field_ref=k8s.core.v1.ObjectFieldSelectorArgs(
                    field_path=f"metadata.labels['{key}']"
                )
            ),
        )

    return [
        label("STRATUS_JOB_NAME", JOB_NAME_LABEL),
        label("STRATUS_JOB_UID", JOB_UID_LABEL),
        k8s.core.v1.EnvVarArgs(name=SEARCH_ID_ENV, value="$(STRATUS_JOB_NAME)-$(STRATUS_JOB_UID)"),
    ]
