"""The runner: composes the stages load → validate → split → train (landing the data meanwhile)
→ evaluate → log → (under the model's registry lock) gate → register → move aliases → publish.

Every check that bad input or a bad config can fail runs before anything is written: the object
store locations exist and are reachable, the data validates, the estimator parameters and search
values are valid, the split leaves every class in the holdout and in every CV fold. Then the data
is landed in a background thread while the search and the refit run (``training/landing.py``);
the evaluation runs, and the landing is waited for and verified, before an MLflow run is started,
so a failure in any of them leaves no half-filled (FAILED) run behind and registers nothing.
Only the steps that read or move the aliases hold the lock (``training/lock.py``): training runs
in parallel, the gate compares with the champion it replaces, and publishing mirrors the
registry's aliases as they are then.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models.model import ModelInfo
from sklearn.pipeline import Pipeline

from training import registry
from training.compare import champion_comparison, comparability_tags, drift_reference
from training.config import TrainingConfig
from training.errors import ConfigError, DataValidationError, RegistryError
from training.evaluate import evaluate, evaluation_figure
from training.features import build_pipeline
from training.gate import GateDecision, decide
from training.land import LandedData, RowSource
from training.landing import BackgroundLanding, landing_in_background
from training.load import load_data
from training.locations import check_location
from training.lock import RegistryLock
from training.metrics import MetricSpec, metric_spec
from training.progress import Reporter, SilentReporter
from training.publish import Published, publish
from training.split import SplitData, check_split, rows_in_order, split
from training.train import (
    SearchError,
    SearchPlan,
    SearchResult,
    check_search_space,
    fold_problems,
    make_estimator,
    plan_search,
    search,
)
from training.validate import cardinality_notes, validate_data


@dataclass
class RunResult:
    model_name: str
    version: str
    accepted: bool
    gate: GateDecision
    metrics: dict[str, float]
    run_id: str
    tracking_uri: str
    experiment: str
    landed: LandedData
    best_params: dict[str, Any]
    cv_score: float | None
    replaced_champion: str | None
    metric_scope: str = ""
    published: list[Published] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def prepare_model(config: TrainingConfig, features: list[str]) -> Pipeline:
    """The untrained Pipeline; configuration mistakes become ``ConfigError`` here, before MLflow."""
    derived_inputs = {c for d in config.features.derived for c in d.columns}
    unknown = sorted(derived_inputs - set(features))
    if unknown:
        raise ConfigError(f"features.derived uses column(s) that are not features: {unknown}")
    clash = sorted({d.name for d in config.features.derived} & set(features))
    if clash:
        raise ConfigError(f"features.derived names clash with existing columns: {clash}")
    try:
        pipeline = build_pipeline(
            features,
            config.data.categorical,
            config.features,
            make_estimator(config.model, config.seed),
        )
        check_search_space(config.model, pipeline)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return pipeline


def check_locations(config: TrainingConfig) -> None:
    """The data lake and every model store exist and are reachable (nothing is created)."""
    check_location(config.resolve(config.land.processed_url), "land.processed_url")
    for store in config.publish.stores:
        check_location(config.resolve(store), "publish.stores")


def target_spec(config: TrainingConfig, y: Any, source: str) -> MetricSpec:
    try:
        return metric_spec(config.model.task, y, config.data.positive_label)
    except ValueError as exc:
        raise DataValidationError(source, [str(exc)]) from None


def plan_split(
    frame: Any, config: TrainingConfig, spec: MetricSpec, source: str
) -> tuple[SplitData, SearchPlan | None]:
    """The split and the search plan, or every reason they would give meaningless scores."""
    data = split(frame, config)
    failures = check_split(data, spec)
    plan = None
    if not failures:
        plan = plan_search(
            config.model, spec, config.primary_metric, config.seed, data.x_train, data.y_train
        )
        if plan is not None:
            failures.extend(fold_problems(plan, data.y_train))
    if failures:
        raise DataValidationError(source, failures)
    return data, plan


@dataclass
class Prepared:
    """Everything checked and computed before any data is landed or any trial runs."""

    config: TrainingConfig
    report: Reporter
    source: str
    frame: Any  # the validated frame; dropped (``None``) once landed
    data: SplitData
    spec: MetricSpec
    plan: SearchPlan | None
    pipeline: Pipeline
    uri: str
    client: MlflowClient
    experiment_id: str


def prepare(config: TrainingConfig, report: Reporter, tracking_uri: str | None = None) -> Prepared:
    """Load, validate, split and plan, and reach the registry: every check that bad input or a
    bad config can fail, before anything is written."""
    workdir = Path(config.workdir).expanduser().resolve()
    source = config.resolve(config.data.source)

    with report.stage("load"):
        check_locations(config)
        frame = load_data(config.data, source=source, task=config.model.task, seed=config.seed)
    with report.stage("validate"):
        frame = validate_data(frame, config, source)
        for note in cardinality_notes(frame, config):
            report.note(note)
        spec = target_spec(config, frame[config.data.target], source)
    features = [c for c in frame.columns if c != config.data.target]
    pipeline = prepare_model(config, features)
    with report.stage("split"):
        data, plan = plan_split(frame, config, spec, source)

    uri = tracking_uri or registry.resolve_tracking_uri(config.registry.tracking_uri, workdir)
    client = registry.client_for(uri)
    try:
        experiment_id = registry.ensure_experiment(client, config.registry.experiment, uri, workdir)
        registry.require_consistent_if_registered(client, config.registry.model_name)
    except MlflowException as exc:
        raise RegistryError(
            f"cannot use the MLflow tracking server at {uri}: {exc.message}"
        ) from None
    return Prepared(
        config, report, source, frame, data, spec, plan, pipeline, uri, client, experiment_id
    )


def run_pipeline(
    config: TrainingConfig, reporter: Reporter | None = None, *, tracking_uri: str | None = None
) -> RunResult:
    """Run the whole pipeline. ``tracking_uri`` (the CLI flag) wins over every other setting."""
    prepared = prepare(config, reporter or SilentReporter(), tracking_uri)
    report, data, plan = prepared.report, prepared.data, prepared.plan
    with land_in_background(prepared) as landing:
        with report.stage("train"):
            try:
                result = search(
                    prepared.pipeline,
                    data.x_train,
                    data.y_train,
                    plan=plan,
                    n_jobs=config.model.n_jobs,
                    on_trial=report.trial,
                )
            except SearchError as exc:
                raise ConfigError(f"model.search: {exc}") from None
        return finish(prepared, landing, result)


@contextmanager
def land_in_background(prepared: Prepared) -> Iterator[BackgroundLanding]:
    """Land the validated frame while the block trains (``training/landing.py``), from the split:
    the frame's fingerprint and schema are taken, then the frame is dropped."""
    url = prepared.config.resolve(prepared.config.land.processed_url)
    frame, data, target = prepared.frame, prepared.data, prepared.config.data.target
    columns = [str(column) for column in frame.columns]
    source = RowSource.of(frame, lambda size: rows_in_order(data, columns, target, size))
    # From here on the split is the data: the frame is dropped before training starts.
    prepared.frame = frame = None
    with landing_in_background(source, url, prepared.report) as landing:
        yield landing


def finish(
    prepared: Prepared,
    landing: BackgroundLanding,
    result: SearchResult,
    *,
    run_id: str | None = None,
) -> RunResult:
    """The pipeline's tail once the model is trained: evaluate → wait for the landed data (its
    error stops the run here: no MLflow run, nothing registered) → log (into ``run_id`` when
    given: a sharded search's parent run) → under the model's lock, gate → register → publish."""
    config, report, data, spec = prepared.config, prepared.report, prepared.data, prepared.spec
    for failure in result.failures:
        report.note(f"warning: {failure.splitlines()[0] if failure else failure}")
    with report.stage("evaluate"):
        evaluation = evaluate(result.model, data.x_test, data.y_test, spec)
        metrics = evaluation.metrics
        figure = evaluation_figure(data.y_test, evaluation.predicted, config.model.task)
    landed = landing.wait()

    logged_run_id, model_info = _log_run(
        config,
        prepared.experiment_id,
        prepared.source,
        landed,
        prepared.plan,
        result,
        metrics,
        figure,
        spec,
        data,
        report,
        run_id=run_id,
    )

    client, uri = prepared.client, prepared.uri
    lock = RegistryLock(
        client,
        config.registry.model_name,
        purpose=f"training run {logged_run_id}",
        lease_s=config.registry.lock_lease_s,
        wait_s=config.registry.lock_wait_s,
        on_wait=report.note,
    )
    candidate = Candidate(result, data, spec, metrics, landed, logged_run_id, model_info)
    try:
        with lock:
            return _decide_register_publish(client, config, lock, report, candidate, uri)
    except MlflowException as exc:
        raise RegistryError(f"the MLflow registry at {uri} failed: {exc.message}") from None


@dataclass(frozen=True)
class Candidate:
    """A trained, evaluated and logged model on its way through the gate."""

    result: SearchResult
    data: SplitData
    spec: MetricSpec
    metrics: dict[str, float]
    landed: LandedData
    run_id: str
    model_info: ModelInfo


def _decide_register_publish(
    client: MlflowClient,
    config: TrainingConfig,
    lock: RegistryLock,
    report: Reporter,
    candidate: Candidate,
    uri: str,
) -> RunResult:
    """The part of a run that holds the model's lock: gate → register → aliases → publish."""
    name, run_id = config.registry.model_name, candidate.run_id
    registry.require_consistent_if_registered(client, name)
    with report.stage("gate"):
        decision = _gate(client, config, candidate)
    status = registry.ACCEPTED if decision.accepted else registry.REJECTED
    tags = registry.version_tags(
        fingerprint=candidate.landed.fingerprint,
        data_url=candidate.landed.url,
        config_hash=config.config_hash(),
        metrics=candidate.metrics,
        status=status,
        gate_summary=decision.summary,
        estimator=config.model.estimator,
        task=config.model.task,
        comparability=comparability_tags(candidate.spec, candidate.data),
    )
    with report.stage("register"):
        lock.check()
        version = registry.register(client, name, candidate.model_info, run_id, tags)
        client.set_tag(run_id, registry.STATUS_TAG, status)
        replaced = (
            registry.move_champion(
                client, name, str(version.version), by=f"run {run_id}", guard=lock.check
            )
            if decision.accepted
            else None
        )
    outcome = RunResult(
        model_name=name,
        version=str(version.version),
        accepted=decision.accepted,
        gate=decision,
        metrics=candidate.metrics,
        run_id=run_id,
        tracking_uri=uri,
        experiment=config.registry.experiment,
        landed=candidate.landed,
        best_params=candidate.result.best_params,
        cv_score=candidate.result.best_score,
        replaced_champion=replaced,
        metric_scope=candidate.spec.describe(),
        timings=getattr(report, "timings", {}),
    )
    if decision.accepted and config.publish.stores:
        with report.stage("publish"):
            lock.check()
            outcome.published = publish(
                [config.resolve(store) for store in config.publish.stores],
                client=client,
                name=name,
            )
    return outcome


def _gate(client: MlflowClient, config: TrainingConfig, candidate: Candidate) -> GateDecision:
    name = config.registry.model_name
    current = registry.alias_version(client, name, registry.CHAMPION)
    champion = (
        champion_comparison(
            current,
            load=lambda version: registry.load_version(name, version),
            candidate=candidate.result.model,
            data=candidate.data,
            spec=candidate.spec,
            config=config,
        )
        if current is not None
        else None
    )
    reference = drift_reference(client, config, candidate.spec, candidate.data)
    return decide(candidate.metrics, config, champion, reference)


def _log_run(
    config: TrainingConfig,
    experiment_id: str,
    source: str,
    landed: LandedData,
    plan: SearchPlan | None,
    result: SearchResult,
    metrics: dict[str, float],
    figure: Any,
    spec: MetricSpec,
    data: SplitData,
    report: Reporter,
    *,
    run_id: str | None = None,
) -> tuple[str, ModelInfo]:
    """One MLflow run with everything measured (started only now: nothing above can leave a
    FAILED run behind); ``run_id``: log into that existing run instead of a new one."""
    with mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id) as run:
        mlflow.set_tags(
            {
                "data_fingerprint": landed.fingerprint,
                "data_url": landed.url,
                "metric_scope": spec.describe(),
            }
        )
        mlflow.log_params(
            {
                "source": source,
                "task": config.model.task,
                "estimator": config.model.estimator,
                "search": config.model.search.kind,
                "rows": landed.rows,
                "holdout_rows": len(data.y_test),
                "seed": config.seed,
            }
        )
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        if result.best_params:
            mlflow.log_params({f"best.{k}": v for k, v in result.best_params.items()})
        if result.trials:
            mlflow.log_text(json.dumps(result.trials, indent=2, default=str), "search_trials.json")
        if result.failures:
            mlflow.log_text("\n\n".join(result.failures), "search_failures.txt")
        if result.best_score is not None and plan is not None:
            mlflow.log_metric(f"cv_{plan.primary}", result.best_score)
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
        plot = "confusion_matrix.png" if config.model.task == "classification" else "residuals.png"
        mlflow.log_figure(figure, plot)
        with report.stage("log model"):
            model_info = registry.log_model(result.model, data.x_train)
        return str(run.info.run_id), model_info
