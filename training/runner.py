"""The runner: composes the stages load → validate → land → split → train → evaluate → gate →
register → publish. Nothing touches MLflow or a model store before the data has been validated
and the estimator configuration checked, so bad input changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from training import registry
from training.config import TrainingConfig
from training.errors import ConfigError, RegistryError
from training.evaluate import evaluate, evaluation_figure
from training.features import build_pipeline
from training.gate import ChampionScore, GateDecision, decide
from training.land import LandedData, land
from training.load import load_data
from training.progress import Reporter, SilentReporter
from training.publish import Published, publish
from training.train import SearchResult, check_search_space, make_estimator, search
from training.validate import validate_data


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
    published: list[Published] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class SplitData:
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def split(frame: pd.DataFrame, config: TrainingConfig) -> SplitData:
    target = config.data.target
    x = frame.drop(columns=[target])
    y = frame[target]
    stratify = y if config.model.task == "classification" else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=config.split.test_size, random_state=config.seed, stratify=stratify
    )
    return SplitData(x_train, x_test, y_train, y_test)


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


def champion_score(
    client: MlflowClient, config: TrainingConfig, data: SplitData
) -> ChampionScore | None:
    """The current champion's primary metric — on this holdout when it takes the same columns."""
    name, metric = config.registry.model_name, config.primary_metric
    current = registry.alias_version(client, name, registry.CHAMPION)
    if current is None:
        return None
    version = str(current.version)
    try:
        model = registry.load_version(name, version)
        columns = registry.model_input_columns(model)
        if columns is not None and set(columns) == set(data.x_test.columns):
            measured = evaluate(model, data.x_test[columns], data.y_test, config.model.task)
            return ChampionScore(version, measured.metrics[metric], "the candidate's holdout")
    except Exception:  # an incompatible or unloadable champion falls back to its recorded metric
        pass
    recorded = current.tags.get(f"metric.{metric}")
    if recorded is None:
        return None
    return ChampionScore(version, float(recorded), "its own holdout (recorded)")


def run_pipeline(config: TrainingConfig, reporter: Reporter | None = None) -> RunResult:
    report = reporter or SilentReporter()
    workdir = Path(config.workdir).expanduser().resolve()
    source = config.resolve(config.data.source)

    with report.stage("load"):
        frame = load_data(config.data, source=source, task=config.model.task, seed=config.seed)
    with report.stage("validate"):
        frame = validate_data(frame, config, source)
    features = [c for c in frame.columns if c != config.data.target]
    pipeline = prepare_model(config, features)
    with report.stage("land"):
        landed = land(frame, config.resolve(config.land.processed_url))
    with report.stage("split"):
        data = split(frame, config)
        del frame

    tracking_uri = registry.resolve_tracking_uri(config.registry.tracking_uri, workdir)
    client = registry.client_for(tracking_uri)
    try:
        experiment_id = registry.ensure_experiment(
            client, config.registry.experiment, tracking_uri, workdir
        )
    except MlflowException as exc:
        raise RegistryError(
            f"cannot use the MLflow tracking server at {tracking_uri}: {exc.message}"
        ) from None
    name = config.registry.model_name
    with mlflow.start_run(experiment_id=experiment_id) as run:
        run_id = run.info.run_id
        mlflow.set_tags({"data_fingerprint": landed.fingerprint, "data_url": landed.url})
        mlflow.log_params(
            {
                "source": source,
                "task": config.model.task,
                "estimator": config.model.estimator,
                "search": config.model.search.kind,
                "rows": landed.rows,
                "seed": config.seed,
            }
        )
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        with report.stage("train"):
            result: SearchResult = search(
                pipeline,
                data.x_train,
                data.y_train,
                config=config.model,
                primary_metric=config.primary_metric,
                seed=config.seed,
                on_trial=report.trial,
            )
        if result.best_params:
            mlflow.log_params({f"best.{k}": v for k, v in result.best_params.items()})
        if result.trials:
            mlflow.log_text(json.dumps(result.trials, indent=2, default=str), "search_trials.json")
        if result.best_score is not None:
            mlflow.log_metric(f"cv_{result.scorer}", result.best_score)
        with report.stage("evaluate"):
            evaluation = evaluate(result.model, data.x_test, data.y_test, config.model.task)
            metrics = evaluation.metrics
            mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
            figure = evaluation_figure(data.y_test, evaluation.predicted, config.model.task)
            plot = (
                "confusion_matrix.png" if config.model.task == "classification" else "residuals.png"
            )
            mlflow.log_figure(figure, plot)
        with report.stage("log model"):
            model_info = registry.log_model(result.model, data.x_train)

    with report.stage("gate"):
        champion = (
            champion_score(client, config, data) if config.gate.compare_with_champion else None
        )
        decision = decide(metrics, config, champion)
    status = registry.ACCEPTED if decision.accepted else registry.REJECTED
    tags = registry.version_tags(
        fingerprint=landed.fingerprint,
        data_url=landed.url,
        config_hash=config.config_hash(),
        metrics=metrics,
        status=status,
        gate_summary=decision.summary,
        estimator=config.model.estimator,
        task=config.model.task,
    )
    with report.stage("register"):
        version = registry.register(client, name, model_info, run_id, tags)
        client.set_tag(run_id, registry.STATUS_TAG, status)
        replaced = (
            registry.move_champion(client, name, str(version.version))
            if decision.accepted
            else None
        )

    outcome = RunResult(
        model_name=name,
        version=str(version.version),
        accepted=decision.accepted,
        gate=decision,
        metrics=metrics,
        run_id=run_id,
        tracking_uri=tracking_uri,
        experiment=config.registry.experiment,
        landed=landed,
        best_params=result.best_params,
        cv_score=result.best_score,
        replaced_champion=replaced,
        timings=getattr(report, "timings", {}),
    )
    if decision.accepted and config.publish.stores:
        with report.stage("publish"):
            outcome.published = publish(
                [config.resolve(store) for store in config.publish.stores],
                name=name,
                version=outcome.version,
                run_id=run_id,
                metrics=metrics,
                tags={k: v for k, v in tags.items() if not k.startswith("metric.")},
            )
    return outcome
