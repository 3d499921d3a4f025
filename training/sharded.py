"""The sharded search's two steps: ``run_shard`` (one slice of the trials, logged to MLflow) and
``finalize_search`` (gather every trial, pick, refit, then the usual pipeline tail).

Both start with the same ``prepare`` as a single-process run (load, validate, split, plan), so
every shard and the finalize step see the same training split, folds and candidates; the search
key (``training/shards.py``) checks that they do. ``finalize_search`` picks with ``conclude``, the
single-process search's own selection and refit, so the outcome is identical to ``run``'s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
from mlflow.exceptions import MlflowException
from sklearn.pipeline import Pipeline
from sklearn.utils.parallel import Parallel, delayed

from training.config import TrainingConfig
from training.errors import ConfigError, RegistryError
from training.lock import RegistryLock
from training.progress import Reporter, SilentReporter
from training.runner import Prepared, RunResult, finish, land_in_background, prepare
from training.shards import Shard, search_key
from training.train import SearchError, SearchPlan, conclude, run_trial
from training.trials import (
    MissingTrialsError,
    SearchRun,
    TrialScores,
    find_search,
    finished_trials,
    gather,
    log_trial,
    open_search,
)


@dataclass(frozen=True)
class ShardResult:
    search_id: str
    shard: Shard
    parent_run_id: str
    ran: int  # trials computed and logged now
    skipped: int  # trials already logged by an earlier run of this shard
    tracking_uri: str


def _plan(prepared: Prepared) -> SearchPlan:
    if prepared.plan is None:
        raise ConfigError(
            "model.search: a sharded search needs a search with several candidates "
            "(model.search.kind grid or random with a non-empty space)"
        )
    return prepared.plan


def _lock(prepared: Prepared, purpose: str) -> RegistryLock:
    registry = prepared.config.registry
    return RegistryLock(
        prepared.client,
        registry.model_name,
        purpose=purpose,
        lease_s=registry.lock_lease_s,
        wait_s=registry.lock_wait_s,
        on_wait=prepared.report.note,
    )


def run_shard(
    config: TrainingConfig,
    shard: Shard,
    search_id: str,
    reporter: Reporter | None = None,
    *,
    tracking_uri: str | None = None,
) -> ShardResult:
    """Run the trials of ``shard`` not yet logged, each logged as soon as it is scored."""
    prepared = prepare(config, reporter or SilentReporter(), tracking_uri)
    plan = _plan(prepared)
    data, report, client = prepared.data, prepared.report, prepared.client
    key = search_key(config, data.x_train, data.y_train)
    try:
        parent = open_search(
            client,
            prepared.experiment_id,
            search_id,
            key,
            shard,
            _lock(prepared, f"search {search_id}: parent run"),
        )
        done = {
            (t.candidate, t.fold) for t in finished_trials(client, prepared.experiment_id, parent)
        }
    except MlflowException as exc:
        raise RegistryError(f"the MLflow server at {prepared.uri} failed: {exc.message}") from None
    trials = plan.trials()
    mine = [trials[position] for position in shard.positions(len(trials))]
    todo = [trial for trial in mine if trial not in done]
    with report.stage(f"train shard {shard}"):
        report.trial(len(mine) - len(todo), len(mine))
        # Each trial single-threaded (like GridSearchCV's), n_jobs of them at once, each logged
        # as soon as it is done: a shard killed mid-way keeps every trial it finished.
        outcomes = Parallel(n_jobs=config.model.n_jobs, return_as="generator")(
            delayed(_score)(plan, prepared.pipeline, data.x_train, data.y_train, candidate, fold)
            for candidate, fold in todo
        )
        for count, trial in enumerate(outcomes, start=len(mine) - len(todo) + 1):
            try:
                log_trial(client, prepared.experiment_id, parent, plan, shard, trial)
            except MlflowException as exc:
                raise RegistryError(
                    f"the MLflow server at {prepared.uri} failed: {exc.message}"
                ) from None
            report.trial(count, len(mine))
    return ShardResult(
        search_id, shard, parent.run_id, len(todo), len(mine) - len(todo), prepared.uri
    )


def _score(
    plan: SearchPlan, pipeline: Pipeline, x: pd.DataFrame, y: pd.Series, candidate: int, fold: int
) -> TrialScores:
    scores, error = run_trial(plan, pipeline, x, y, candidate, fold)
    return TrialScores(candidate, fold, scores, error)


def finalize_search(
    config: TrainingConfig,
    search_id: str,
    reporter: Reporter | None = None,
    *,
    tracking_uri: str | None = None,
    wait_s: float = 0.0,
    poll_s: float = 5.0,
) -> RunResult:
    """Check every shard's trials are logged (waiting up to ``wait_s`` for them), pick the best
    candidate as the single-process search does, refit it, then evaluate, gate, register and
    publish; the model is logged into the search's parent run."""
    prepared = prepare(config, reporter or SilentReporter(), tracking_uri)
    plan = _plan(prepared)
    data, report = prepared.data, prepared.report
    key = search_key(config, data.x_train, data.y_train)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            parent, trials = _logged(prepared, search_id)
        except MlflowException as exc:
            raise RegistryError(
                f"the MLflow server at {prepared.uri} failed: {exc.message}"
            ) from None
        try:
            if parent is None:
                raise MissingTrialsError(
                    f"search {search_id!r} has no shard logged: no parent run tagged "
                    f"stratus.search_id={search_id} in experiment {config.registry.experiment!r} "
                    f"at {prepared.uri} (run the shards first: `python -m training run --shard "
                    f"I/N --search-id {search_id}`; nothing was registered)"
                )
            if parent.key != key:
                raise ConfigError(
                    f"search {search_id!r} was run with other data or another config (search key "
                    f"{parent.key[:12]}, finalize's {key[:12]}): finalize with the shards' config "
                    "(nothing was registered)"
                )
            gathered = gather(plan, trials, parent)
            break
        except MissingTrialsError:
            if time.monotonic() >= deadline:
                raise
            report.note(f"waiting for the shards of search {search_id}")
            time.sleep(poll_s)
    with land_in_background(prepared) as landing:
        with report.stage("refit"):
            try:
                result = conclude(
                    plan, prepared.pipeline, data.x_train, data.y_train, gathered.scores, []
                )
            except SearchError as exc:
                raise ConfigError(f"model.search: {exc}") from None
        result.failures = gathered.failures
        return finish(prepared, landing, result, run_id=parent.run_id)


def _logged(prepared: Prepared, search_id: str) -> tuple[SearchRun | None, list[TrialScores]]:
    parent = find_search(prepared.client, prepared.experiment_id, search_id)
    if parent is None:
        return None, []
    return parent, finished_trials(prepared.client, prepared.experiment_id, parent)
