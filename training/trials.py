"""MLflow as the sharded search's meeting point: one parent run per search, one child run per trial.

The parent run (tags ``stratus.role=search``, ``stratus.search_id``, ``stratus.search_key``,
``stratus.shards``) is created by whichever shard comes first. Shards start together and race to
create it, and MLflow has no create-if-absent for runs, so get-or-create runs under the model's
registry lock (``training/lock.py``, held for that one lookup): every shard finds the same parent.

A trial's child run (``stratus.role=trial``, ``stratus.candidate``, ``stratus.fold``,
``stratus.shard``) is created only once the trial is computed, holds the raw scorer value of every
metric as ``score_<metric>`` (NaN for a failed fit, its error in ``stratus.trial_error``) and is
ended FINISHED at once. Only FINISHED trial runs count: a shard killed while logging leaves at most
one unfinished run, which is ignored and redone when the shard is re-run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run, RunStatus, RunTag, ViewType
from mlflow.environment_variables import MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from training.errors import ConfigError
from training.lock import RegistryLock
from training.shards import Shard
from training.train import SearchPlan

ROLE_TAG = "stratus.role"
SEARCH_ID_TAG = "stratus.search_id"
SEARCH_KEY_TAG = "stratus.search_key"
SHARDS_TAG = "stratus.shards"
SHARD_TAG = "stratus.shard"
CANDIDATE_TAG = "stratus.candidate"
FOLD_TAG = "stratus.fold"
ERROR_TAG = "stratus.trial_error"
SCORE_PREFIX = "score_"
FINISHED = RunStatus.to_string(RunStatus.FINISHED)

LockFactory = Callable[[str], RegistryLock]


@dataclass(frozen=True)
class SearchRun:
    """The parent run of a search."""

    run_id: str
    search_id: str
    key: str
    shards: int


def _search_runs(client: MlflowClient, experiment_id: str, query: str) -> list[Run]:
    runs: list[Run] = []
    token: str | None = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=query,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def find_search(client: MlflowClient, experiment_id: str, search_id: str) -> SearchRun | None:
    """The search's parent run (the oldest, should two ever exist), or ``None``."""
    query = f"tags.`{ROLE_TAG}` = 'search' and tags.`{SEARCH_ID_TAG}` = '{search_id}'"
    runs = _search_runs(client, experiment_id, query)
    if not runs:
        return None
    tags = runs[0].data.tags
    return SearchRun(
        runs[0].info.run_id, search_id, tags.get(SEARCH_KEY_TAG, ""), int(tags[SHARDS_TAG])
    )


def open_search(
    client: MlflowClient,
    experiment_id: str,
    search_id: str,
    key: str,
    shard: Shard,
    lock: RegistryLock,
) -> SearchRun:
    """Get or create the search's parent run (under ``lock``), refusing a search id already used
    with other data/config or another shard count."""
    with lock:
        found = find_search(client, experiment_id, search_id)
        if found is None:
            run = client.create_run(
                experiment_id,
                run_name=search_id,
                tags={
                    ROLE_TAG: "search",
                    SEARCH_ID_TAG: search_id,
                    SEARCH_KEY_TAG: key,
                    SHARDS_TAG: str(shard.count),
                },
            )
            found = SearchRun(run.info.run_id, search_id, key, shard.count)
    if found.key != key:
        raise ConfigError(
            f"search {search_id!r} was started with other data or another config (search key "
            f"{found.key[:12]}, this shard's {key[:12]}): re-run with the same config and data, "
            "or use a new --search-id"
        )
    if found.shards != shard.count:
        raise ConfigError(
            f"search {search_id!r} was started with {found.shards} shards, not {shard.count} "
            f"(--shard {shard})"
        )
    return found


@dataclass(frozen=True)
class TrialScores:
    """One logged trial: its raw scorer values (NaN: the fit failed, ``error`` says why)."""

    candidate: int
    fold: int
    scores: dict[str, float]
    error: str | None


def finished_trials(
    client: MlflowClient, experiment_id: str, search: SearchRun
) -> list[TrialScores]:
    """Every FINISHED trial run of the search under its key (the first logged, if repeated)."""
    query = (
        f"tags.`{ROLE_TAG}` = 'trial' and tags.`{SEARCH_ID_TAG}` = '{search.search_id}' "
        f"and tags.`{SEARCH_KEY_TAG}` = '{search.key}' and attributes.status = '{FINISHED}'"
    )
    seen: dict[tuple[int, int], TrialScores] = {}
    for run in _search_runs(client, experiment_id, query):
        tags = run.data.tags
        trial = (int(tags[CANDIDATE_TAG]), int(tags[FOLD_TAG]))
        if trial in seen:
            continue
        scores = {
            name.removeprefix(SCORE_PREFIX): float(value)
            for name, value in run.data.metrics.items()
            if name.startswith(SCORE_PREFIX)
        }
        seen[trial] = TrialScores(*trial, scores, tags.get(ERROR_TAG))
    return list(seen.values())


def log_trial(
    client: MlflowClient,
    experiment_id: str,
    search: SearchRun,
    plan: SearchPlan,
    shard: Shard,
    trial: TrialScores,
) -> str:
    """One computed trial as a FINISHED child run of the search's parent run."""
    tags = {
        MLFLOW_PARENT_RUN_ID: search.run_id,
        MLFLOW_RUN_NAME: f"{search.search_id}-c{trial.candidate}-f{trial.fold}",
        ROLE_TAG: "trial",
        SEARCH_ID_TAG: search.search_id,
        SEARCH_KEY_TAG: search.key,
        SHARD_TAG: str(shard),
        CANDIDATE_TAG: str(trial.candidate),
        FOLD_TAG: str(trial.fold),
    }
    if trial.error:
        tags[ERROR_TAG] = trial.error[:4000]
    run = client.create_run(experiment_id, tags=tags)
    run_id = run.info.run_id
    params = {k.removeprefix("model__"): v for k, v in plan.candidates[trial.candidate].items()}
    client.log_batch(
        run_id,
        metrics=[
            Metric(f"{SCORE_PREFIX}{name}", value, 0, 0) for name, value in trial.scores.items()
        ],
        params=[Param(key, str(value)[:6000]) for key, value in params.items()],
        tags=[RunTag(MLFLOW_RUN_NAME, tags[MLFLOW_RUN_NAME])],
    )
    with _quiet_run_links():
        client.set_terminated(run_id, FINISHED)
    return run_id


@contextmanager
def _quiet_run_links() -> Iterator[None]:
    """MLflow prints two "View run/experiment at" lines each time a run on a tracking server ends:
    one trial at a time, they would bury the shard's own output (``MLFLOW_SUPPRESS_PRINTING_URL_
    TO_STDOUT`` is MLflow's switch for exactly that, set here only while a trial run ends)."""
    name = MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.name
    before = os.environ.get(name)
    os.environ[name] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@dataclass(frozen=True)
class Gathered:
    """Every trial of a search, as (candidates x folds) matrices per metric."""

    scores: dict[str, np.ndarray]
    failures: list[str]


class MissingTrialsError(ConfigError):
    """Some shards have not logged all their trials (see ``gather``)."""


def gather(plan: SearchPlan, trials: list[TrialScores], search: SearchRun) -> Gathered:
    """The search's fold scores, or ``MissingTrialsError`` naming each shard with trials missing."""
    shape = (len(plan.candidates), len(plan.folds))
    scores = {metric: np.full(shape, np.nan) for metric in plan.scoring}
    present: set[tuple[int, int]] = set()
    failures: list[str] = []
    for trial in trials:
        if trial.candidate >= shape[0] or trial.fold >= shape[1]:
            continue
        present.add((trial.candidate, trial.fold))
        for metric in plan.scoring:
            scores[metric][trial.candidate, trial.fold] = trial.scores.get(metric, np.nan)
        if trial.error:
            failures.append(
                f"candidate {trial.candidate}, fold {trial.fold}: {trial.error.splitlines()[0]}"
            )
    missing: dict[int, int] = {}
    for position, trial_id in enumerate(plan.trials()):
        if trial_id not in present:
            owner = position % search.shards
            missing[owner] = missing.get(owner, 0) + 1
    if missing:
        detail = ", ".join(
            f"shard {index}/{search.shards} ({count} trial(s))"
            for index, count in sorted(missing.items())
        )
        rerun = " ".join(
            f"`python -m training run --shard {index}/{search.shards} "
            f"--search-id {search.search_id}`"
            for index in sorted(missing)
        )
        raise MissingTrialsError(
            f"search {search.search_id!r} is incomplete: missing trials of {detail}; run {rerun} "
            "(nothing was registered)"
        )
    return Gathered(scores, sorted(failures))
