"""``training/registry.py`` directly: ``log_model`` hides MLflow's notice about the deliberately
chosen cloudpickle format and nothing else; what ``describe`` and an alias move report."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import PERMISSION_DENIED
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from tests.training.conftest import invoke, unique_name, write_config
from training import registry
from training.errors import RegistryError


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def recorded() -> Iterator[Recorder]:
    logger = logging.getLogger("mlflow.sklearn")
    handler = Recorder()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_log_model_without_the_pickle_notice(tmp_path: Path, recorded: Recorder) -> None:
    data = load_breast_cancer(as_frame=True)
    model = Pipeline([("model", LogisticRegression(max_iter=5000))]).fit(data.data, data.target)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("t", artifact_location=(tmp_path / "a").as_uri())
    logger = logging.getLogger("mlflow.sklearn")
    filters_before = list(logger.filters)
    with mlflow.start_run(experiment_id=experiment):
        info = registry.log_model(model, data.data)
    assert info.model_uri
    assert not [m for m in recorded.messages if m.startswith(registry.PICKLE_NOTICE)]
    assert logger.filters == filters_before  # only while Stratus logs a model
    # The same notice from anyone else's save still shows.
    mlflow.sklearn.save_model(model, str(tmp_path / "other"), serialization_format="cloudpickle")
    assert [m for m in recorded.messages if m.startswith(registry.PICKLE_NOTICE)]


def _trained(
    workspace: Path, mlflow_server: str, prefix: str, seeds: int
) -> tuple[str, MlflowClient]:
    """A fresh model name with ``seeds`` accepted training runs (seeds 1, 2, ...) registered on
    the server, and a client of it."""
    name = unique_name(prefix)
    config = write_config(
        workspace,
        {"registry": {"model_name": name}, "publish": {"stores": [str(workspace / "store")]}},
    )
    for seed in range(1, seeds + 1):
        result = invoke(
            ["run", "--config", str(config), "--seed", str(seed)],
            env={"MLFLOW_TRACKING_URI": mlflow_server},
        )
        assert result.exit_code == 0, result.output
    return name, MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)


def test_an_alias_move_describes_itself_exactly() -> None:
    first = registry.AliasMove("1", None, None, None, "training run r1", "2026-11-30T10:00:00")
    assert first.describe() == (
        "champion v- → v1, previous → none (by training run r1, started 2026-11-30T10:00:00)"
    )
    second = registry.AliasMove("3", "2", "2", "1", "promote", "2026-11-30T11:00:00")
    assert second.describe() == (
        "champion v2 → v3, previous → v2 (by promote, started 2026-11-30T11:00:00)"
    )


@pytest.mark.slow
def test_describe_lists_this_models_versions_newest_first_with_their_record(
    workspace: Path, mlflow_server: str
) -> None:
    """What ``python -m training versions NAME`` shows: only this model's versions, newest
    first, each with its aliases, status, metrics (``metric.`` tags) and creation time."""
    name, client = _trained(workspace, mlflow_server, "describe", seeds=2)
    # a version registered by hand, without Stratus' tags, and another model's version
    first = client.get_model_version(name, "1")
    source = str(first.source)
    model_id = source.removeprefix("models:/")
    third = client.create_model_version(name, source, run_id=first.run_id, model_id=model_id)
    other = unique_name("other")  # its versions stay out
    client.create_registered_model(other)
    client.create_model_version(other, source, run_id=first.run_id, model_id=model_id)

    infos = registry.describe(client, name)
    assert [info.version for info in infos] == [str(third.version), "2", "1"]
    assert [info.aliases for info in infos] == [[], ["champion"], ["previous"]]
    assert [info.status for info in infos] == ["", "accepted", "accepted"]
    for info in infos:
        version = client.get_model_version(name, info.version)
        assert info.tags == version.tags
        assert info.created == version.creation_timestamp > 0
        assert info.metrics == {
            k.removeprefix("metric."): float(v)
            for k, v in version.tags.items()
            if k.startswith("metric.")
        }
    assert "roc_auc" in infos[1].metrics
    assert infos[0].metrics == {}


def _journal(client: MlflowClient, name: str, move: registry.AliasMove) -> None:
    """Leave ``move`` journaled as if its process had been killed before finishing it."""
    client.set_registered_model_tag(name, registry.MOVE_TAG, json.dumps(asdict(move)))


@pytest.mark.slow
def test_repair_completes_an_interrupted_move_only_while_the_aliases_are_where_it_left_them(
    workspace: Path, mlflow_server: str
) -> None:
    name, client = _trained(workspace, mlflow_server, "repair", seeds=3)
    assert registry.aliases(client, name) == {"champion": "3", "previous": "2"}

    # promote v1 was killed after writing its journal: nothing moved yet
    move = registry.AliasMove("1", "3", "3", "2", "promote", "2026-11-30 10:00:00 UTC")
    _journal(client, name, move)
    assert registry.repair(client, name) == [
        f"completed the interrupted alias move: {move.describe()}"
    ]
    assert registry.aliases(client, name) == {"champion": "1", "previous": "3"}
    assert registry.pending_move(client, name) is None

    # a journal whose champion moved elsewhere since (by hand): refused, nothing changed
    stale = registry.AliasMove("2", "1", "3", "3", "promote", "2026-11-30 11:00:00 UTC")
    _journal(client, name, stale)
    with pytest.raises(RegistryError) as refused:
        registry.repair(client, name)
    assert str(refused.value) == (
        f"{name}: an interrupted alias move ({stale.describe()}) cannot be completed: the "
        "aliases changed since (now {'champion': '1', 'previous': '3'}). Set them with "
        f"`promote`, then delete the registered-model tag {registry.MOVE_TAG!r}"
    )
    assert registry.aliases(client, name) == {"champion": "1", "previous": "3"}


@pytest.mark.slow
def test_promote_refuses_a_rejected_version_unless_forced_and_names_a_missing_one(
    workspace: Path, mlflow_server: str
) -> None:
    name, store = unique_name("promote"), workspace / "store"
    overrides = {"registry": {"model_name": name}, "publish": {"stores": [str(store)]}}
    env = {"MLFLOW_TRACKING_URI": mlflow_server}
    good = write_config(workspace, overrides)
    assert invoke(["run", "--config", str(good)], env=env).exit_code == 0
    strict = write_config(workspace, {**overrides, "gate": {"min": {"roc_auc": 1.01}}}, "strict")
    assert invoke(["run", "--config", str(strict), "--seed", "2"], env=env).exit_code == 3
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    assert client.get_model_version(name, "2").tags["validation_status"] == "rejected"

    gate = client.get_model_version(name, "2").tags["gate"]
    with pytest.raises(RegistryError) as rejected:
        registry.promote(client, name, "2")
    assert str(rejected.value) == (
        f"{name} v2 was rejected by the gate ({gate}); pass --force to promote it anyway"
    )
    client.delete_model_version_tag(name, "2", "gate")  # a version rejected without reasons
    with pytest.raises(RegistryError) as unexplained:
        registry.promote(client, name, "2")
    assert str(unexplained.value) == (
        f"{name} v2 was rejected by the gate; pass --force to promote it anyway"
    )
    assert registry.aliases(client, name) == {"champion": "1"}
    assert registry.promote(client, name, "2", force=True) == ("2", "1")
    with pytest.raises(RegistryError) as missing:
        registry.promote(client, name, "9")
    assert str(missing.value) == f"model {name!r} has no version '9'"


@pytest.fixture
def tokyo_time() -> Iterator[None]:
    """The process's local time zone is 9 hours from UTC (a local time would show)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


class Stopped(BaseException):
    """Stands for the process being killed (not an ``Exception``: nothing handles it)."""


@pytest.mark.slow
def test_each_alias_move_is_journaled_under_its_command_and_checks_the_lock_first(
    workspace: Path, mlflow_server: str, tokyo_time: None
) -> None:
    name, client = _trained(workspace, mlflow_server, "journal", seeds=2)

    def lock_lost() -> None:
        raise RegistryError("the lock was lost")

    # the guard (the registry lock's check) runs before anything is written
    with pytest.raises(RegistryError, match="the lock was lost"):
        registry.promote(client, name, "1", guard=lock_lost)
    with pytest.raises(RegistryError, match="the lock was lost"):
        registry.rollback(client, name, guard=lock_lost)
    assert registry.pending_move(client, name) is None
    assert registry.aliases(client, name) == {"champion": "2", "previous": "1"}

    def killed(*args: object) -> None:
        raise Stopped

    moves = {
        "promote": lambda: registry.promote(client, name, "1"),
        "rollback": lambda: registry.rollback(client, name),
    }
    for command, move_aliases in moves.items():
        client.set_registered_model_alias = killed  # type: ignore[method-assign,assignment]
        client.delete_registered_model_alias = killed  # type: ignore[method-assign,assignment]
        with pytest.raises(Stopped):
            move_aliases()
        move = registry.pending_move(client, name)
        assert move is not None
        assert move.by == command
        # the state it started from and its target; the start time in UTC, whatever the zone
        assert (move.from_champion, move.from_previous) == ("2", "1")
        assert (move.champion, move.previous) == (
            ("1", "2") if command == "promote" else ("1", None)
        )
        started = datetime.strptime(move.started_at, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
        assert abs(datetime.now(UTC) - started) < timedelta(minutes=5)
        del client.set_registered_model_alias, client.delete_registered_model_alias
        client.delete_registered_model_tag(name, registry.MOVE_TAG)

    # a rollback: the demoted version is marked
    assert registry.rollback(client, name) == ("1", "2")
    assert registry.aliases(client, name) == {"champion": "1"}
    assert client.get_model_version(name, "2").tags["rolled_back"] == "true"
    assert "rolled_back" not in client.get_model_version(name, "1").tags

    # a previous without a champion (an edit by hand): rollback restores it, demoting nothing
    client.set_registered_model_alias(name, "previous", "2")
    client.delete_registered_model_alias(name, "champion")
    assert registry.rollback(client, name) == ("2", "")
    assert registry.aliases(client, name) == {"champion": "2"}
    assert "rolled_back" not in client.get_model_version(name, "1").tags

    # a previous without a champion, then a promote: the previous stays (rollback still works)
    client.set_registered_model_alias(name, "previous", "1")
    client.delete_registered_model_alias(name, "champion")
    assert registry.promote(client, name, "2") == ("2", None)
    assert registry.aliases(client, name) == {"champion": "2", "previous": "1"}

    # previous naming the champion itself: nothing moves until it is repaired
    client.set_registered_model_alias(name, "previous", "2")
    with pytest.raises(RegistryError) as inconsistent:
        registry.rollback(client, name)
    assert str(inconsistent.value) == (
        f"the aliases of {name} need repair before anything moves them: 'previous' and "
        "'champion' both name v2 (an interrupted alias move, or an edit by hand): there is "
        f"nothing to roll back to. Run `python -m training reconcile {name}` to repair them "
        "and the stores."
    )


def test_the_default_tracking_store_is_a_sqlite_file_in_the_workdir_made_on_demand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    workdir = tmp_path / "nested" / "workdir"
    expected = f"sqlite:///{workdir.resolve() / 'mlflow.db'}"
    assert registry.resolve_tracking_uri(None, workdir) == expected
    assert workdir.is_dir()
    assert registry.resolve_tracking_uri(None, workdir) == expected  # again: it exists now
    assert registry.resolve_tracking_uri("http://mlflow:5000", workdir) == "http://mlflow:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert registry.resolve_tracking_uri("http://mlflow:5000", workdir) == "http://env:5000"


def test_model_input_columns_are_the_names_a_model_was_fitted_with() -> None:
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    named = LogisticRegression(max_iter=50).fit(x.iloc[:100, :3], y[:100])
    assert registry.model_input_columns(named) == list(x.columns[:3])
    unnamed = LogisticRegression(max_iter=50).fit(x.iloc[:100, :3].to_numpy(), y[:100])
    assert registry.model_input_columns(unnamed) is None


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("sqlite:///tmp/mlflow.db", True),
        ("file:///tmp/mlruns", True),
        ("/tmp/mlruns", True),
        ("mlruns", True),
        ("http://mlflow:5000", False),
        ("https://mlflow.example.com", False),
        ("databricks://profile", False),
    ],
)
def test_a_tracking_store_is_local_when_it_is_a_file_or_a_path(uri: str, local: bool) -> None:
    assert registry.is_local(uri) is local


@pytest.fixture
def mlflow_globals(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's process-wide tracking and registry URIs, restored after the test."""
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    monkeypatch.setattr(mlflow.tracking._model_registry.utils, "_registry_uri", None)


def test_the_client_and_mlflows_own_calls_use_the_store_given_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_globals: None
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere:5000")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "http://another-registry:5000")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = registry.client_for(uri)
    # mlflow.start_run and log_model use the process-wide URIs: the same store as the client
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (uri, uri)
    assert (client.tracking_uri, client._registry_uri) == (uri, uri)


def test_a_new_experiment_keeps_a_local_stores_artifacts_in_the_workdir(
    tmp_path: Path, mlflow_globals: None
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = registry.client_for(uri)
    workdir = tmp_path / "work"
    created = registry.ensure_experiment(client, "fresh", uri, workdir)
    experiment = client.get_experiment(created)
    assert experiment.name == "fresh"
    assert experiment.artifact_location == (workdir.resolve() / "mlartifacts").as_uri()
    assert registry.ensure_experiment(client, "fresh", uri, tmp_path / "other") == created


def test_a_tracking_servers_experiment_keeps_its_artifacts_where_the_server_says(
    tmp_path: Path, mlflow_server: str
) -> None:
    client = MlflowClient(tracking_uri=mlflow_server)
    name = unique_name("experiment")
    created = registry.ensure_experiment(client, name, mlflow_server, tmp_path)
    experiment = client.get_experiment(created)
    assert experiment.name == name
    assert experiment.artifact_location.startswith("mlflow-artifacts:/")


def test_an_existing_experiment_is_used_without_the_right_to_create_one(
    tmp_path: Path, mlflow_globals: None
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = registry.client_for(uri)
    existing = client.create_experiment("shared")

    def refused(*args: object, **kwargs: object) -> str:
        raise MlflowException("not allowed", error_code=PERMISSION_DENIED)

    client.create_experiment = refused  # type: ignore[method-assign]
    assert registry.ensure_experiment(client, "shared", uri, tmp_path) == existing
    with pytest.raises(MlflowException, match="not allowed"):
        registry.ensure_experiment(client, "new", uri, tmp_path)


def test_shards_racing_to_create_the_experiment_all_use_the_one_created(
    tmp_path: Path, mlflow_globals: None
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = registry.client_for(uri)
    winner = MlflowClient(tracking_uri=uri)
    create = client.create_experiment
    won: list[str] = []

    def another_shard_first(name: str, **kwargs: Any) -> str:
        # the other shard creates it between this one's lookup and its create
        won.append(winner.create_experiment(name))
        return create(name, **kwargs)

    client.create_experiment = another_shard_first  # type: ignore[method-assign,assignment]
    assert registry.ensure_experiment(client, "search", uri, tmp_path) == won[0]


def test_the_code_version_is_the_images_then_the_checkouts_then_the_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # the checkout of the code, wherever the run starts
    monkeypatch.setenv("STRATUS_CODE_VERSION", "1.4.2-abc1234")
    assert registry.code_version() == "1.4.2-abc1234"
    monkeypatch.delenv("STRATUS_CODE_VERSION")
    checkout = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=Path(registry.__file__).parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert registry.code_version() == checkout
    # not a git checkout (git fails), or no git at all: the installed package's version
    monkeypatch.setenv("GIT_DIR", "/nonexistent")
    assert registry.code_version() == importlib.metadata.version("stratus")
    monkeypatch.setenv("PATH", "")
    assert registry.code_version() == importlib.metadata.version("stratus")

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert registry.code_version() == "unknown"


def test_a_logged_model_pins_its_libraries_and_carries_a_small_input_example(
    tmp_path: Path, mlflow_globals: None
) -> None:
    import cloudpickle  # type: ignore[import-untyped]
    import numpy as np
    import pandas as pd
    import sklearn
    from mlflow.models import Model

    data = load_breast_cancer(as_frame=True)
    model = Pipeline([("model", LogisticRegression(max_iter=5000))]).fit(data.data, data.target)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = registry.client_for(uri)
    experiment = registry.ensure_experiment(client, "log", uri, tmp_path)
    with mlflow.start_run(experiment_id=experiment) as run:
        info = registry.log_model(model, data.data)
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "m")))
    assert (local / "requirements.txt").read_text().split() == [
        "mlflow==" + mlflow.__version__,
        f"scikit-learn=={sklearn.__version__}",
        f"cloudpickle=={cloudpickle.__version__}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
    ]
    logged = Model.load(str(local))
    assert logged.flavors["sklearn"]["serialization_format"] == "cloudpickle"
    assert logged.signature.inputs.input_names() == list(data.data.columns)
    # the outputs are the model's predictions (class labels), as the serving signature says
    assert logged.signature.outputs.is_tensor_spec()
    assert [str(t) for t in logged.signature.outputs.numpy_types()] == ["int64"]
    example = json.loads((local / "input_example.json").read_text())
    assert len(example["data"]) == registry.INPUT_EXAMPLE_ROWS
    # named "model" in the run, as MLflow's UI and `runs:/<run id>/model` show it
    assert mlflow.get_logged_model(info.model_id).name == "model"
    loaded = mlflow.sklearn.load_model(info.model_uri)  # the fitted Pipeline itself
    assert (loaded.predict(data.data) == model.predict(data.data)).all()

    version = registry.register(client, "logged", info, run.info.run_id, {"task": "binary"})
    assert (version.name, str(version.version), version.run_id) == ("logged", "1", run.info.run_id)
    assert version.tags == {"task": "binary"}
    described = client.get_registered_model("logged").description
    assert described == "Stratus model (training pipeline)"
    again = registry.register(client, "logged", info, run.info.run_id, {})
    assert str(again.version) == "2"  # the registered model is made once


def test_a_versions_tags_carry_its_lineage_gate_and_metrics() -> None:
    tags = registry.version_tags(
        fingerprint="sha256:ab",
        data_url="s3://lake/processed/x.parquet",
        config_hash="c0ffee",
        metrics={"roc_auc": 0.9876543, "f1": 1.0},
        status="accepted",
        gate_summary="g" * 6000,
        estimator="logistic_regression",
        task="binary",
        comparability={"split": "stratified", "task": "overridden"},
    )
    assert tags == {
        "data_fingerprint": "sha256:ab",
        "data_url": "s3://lake/processed/x.parquet",
        "code_version": registry.code_version(),
        "config_hash": "c0ffee",
        "validation_status": "accepted",
        "gate": "g" * 4900,  # MLflow refuses tag values over 5,000 characters
        "estimator": "logistic_regression",
        "task": "overridden",
        "split": "stratified",
        "metric.roc_auc": "0.987654",
        "metric.f1": "1.000000",
    }


def test_reading_the_aliases_and_the_move_journal_fails_with_clear_errors(
    tmp_path: Path, mlflow_globals: None
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = registry.client_for(uri)
    with pytest.raises(RegistryError) as missing:
        registry.aliases(client, "nobody")
    assert str(missing.value) == "no registered model named 'nobody'"
    client.create_registered_model("journal")
    assert registry.alias_version(client, "journal", "champion") is None
    client.set_registered_model_tag("journal", registry.MOVE_TAG, "{" + "x" * 300)
    with pytest.raises(RegistryError) as unreadable:
        registry.pending_move(client, "journal")
    assert str(unreadable.value) == (
        f"journal carries an unreadable {registry.MOVE_TAG} tag ({('{' + 'x' * 199)!r}): an "
        "alias move was interrupted; check the aliases with `show`, then delete the tag in MLflow"
    )

    def refused(*args: object) -> None:
        raise MlflowException("not allowed", error_code=PERMISSION_DENIED)

    client.get_model_version_by_alias = refused  # type: ignore[method-assign,assignment]
    with pytest.raises(RegistryError) as unreadable_alias:
        registry.alias_version(client, "journal", "champion")
    assert str(unreadable_alias.value) == "cannot read alias 'champion' of journal: not allowed"
