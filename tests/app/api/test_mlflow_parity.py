"""Input handling like ``mlflow models serve`` (missing values go to the model's own imputer,
features the model does not take are ignored with a warning), and the strict mode that refuses
both (``STRATUS_STRICT_INPUT=true``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.app.conftest import (
    MODEL_NAME,
    Trained,
    auth,
    publish,
    save_model_dir,
    serve,
    settings_for,
    train,
)


@pytest.fixture(scope="module")
def imputing() -> Trained:
    return train("imputing", seed=3)


@pytest.fixture(scope="module")
def imputing_store(tmp_path_factory: pytest.TempPathFactory, imputing: Trained) -> str:
    root = tmp_path_factory.mktemp("imputing-store")
    publish(str(root), imputing, "1")
    return str(root)


@pytest.fixture(scope="module")
def pyfunc(tmp_path_factory: pytest.TempPathFactory, imputing: Trained) -> Any:
    """MLflow's own pyfunc on the same model: what ``mlflow models serve`` answers."""
    path = save_model_dir(imputing, tmp_path_factory.mktemp("pyfunc") / "model")
    return mlflow.pyfunc.load_model(str(path))


@pytest.fixture
def lenient(imputing_store: str) -> Iterator[TestClient]:
    with serve(settings_for(f"{imputing_store}/{MODEL_NAME}")) as client:
        yield client


def _frame(imputing: Trained) -> pd.DataFrame:
    """Four rows with missing values and a column the model does not take."""
    frame = imputing.frame.head(4).copy()
    frame.iloc[0, 1] = np.nan
    frame.iloc[2, 0] = np.nan
    frame.iloc[2, 4] = np.nan
    frame["customer id"] = [101, 102, 103, 104]
    return frame


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_missing_values_and_extra_features_are_scored_like_mlflow(
    lenient: TestClient, imputing: Trained, pyfunc: Any, caplog: pytest.LogCaptureFixture
) -> None:
    frame = _frame(imputing)
    expected = pyfunc.predict(frame).tolist()
    probabilities = imputing.pipeline.predict_proba(frame[imputing.features])
    records = _records(frame)
    split = frame.to_dict(orient="split")
    split["data"] = [[None if v != v else v for v in row] for row in split["data"]]
    columns = {name: [r[name] for r in records] for name in frame.columns}
    bodies = {
        "/invocations": [
            {"dataframe_split": {"columns": split["columns"], "data": split["data"]}},
            {"dataframe_records": records},
            {"inputs": columns},
            {"instances": records},
        ],
        "/predict": [{"instances": records}],
    }
    with caplog.at_level(logging.WARNING, logger="stratus.dataplane"):
        for path, payloads in bodies.items():
            for body in payloads:
                answer = lenient.post(path, json=body, headers=auth())
                assert answer.status_code == 200, (path, body, answer.text)
                assert answer.json()["predictions"] == expected
                if path == "/predict":
                    np.testing.assert_allclose(answer.json()["probabilities"], probabilities)
        tensors = [
            {"name": name, "shape": [4], "datatype": "FP64", "data": values}
            for name, values in columns.items()
        ]
        v2 = lenient.post(
            f"/v2/models/{MODEL_NAME}/infer", json={"inputs": tensors}, headers=auth()
        )
        assert v2.status_code == 200, v2.text
        assert v2.json()["outputs"][0]["data"] == expected
    assert _metric(lenient, "stratus_ignored_features_total") == 6
    warnings = [r for r in caplog.records if "were ignored" in r.getMessage()]
    assert len(warnings) == 1  # once per distinct set of names, not once per request
    assert warnings[0].features == ["customer id"]  # type: ignore[attr-defined]


def test_a_feature_absent_from_some_records_is_a_missing_value(
    lenient: TestClient, imputing: Trained, pyfunc: Any
) -> None:
    records = imputing.frame.head(3).to_dict(orient="records")
    del records[1]["feature 2"]
    expected = pyfunc.predict(pd.DataFrame(records)).tolist()
    answer = lenient.post("/invocations", json={"dataframe_records": records}, headers=auth())
    assert answer.json() == {"predictions": expected}
    for record in records:
        record.pop("feature 2", None)
    absent = lenient.post("/invocations", json={"dataframe_records": records}, headers=auth())
    assert absent.status_code == 422
    assert "missing feature(s) 'feature 2'" in absent.json()["error"]


def test_a_model_without_an_imputer_refuses_missing_values_and_ignores_extras(
    client: TestClient, logistic: Trained
) -> None:
    rows = logistic.frame.head(2).to_dict(orient="records")
    rows[1]["feature 3"] = None
    answer = client.post("/predict", json={"instances": rows}, headers=auth())
    assert answer.status_code == 422
    assert answer.json()["error"] == (
        "row 1: feature 'feature 3' is missing and the model cannot fill it in; send a number"
    )
    extra = [{**row, "note": 1.0} for row in logistic.frame.head(2).to_dict(orient="records")]
    ok = client.post("/predict", json={"instances": extra}, headers=auth())
    assert ok.status_code == 200
    assert ok.json()["predictions"] == logistic.pipeline.predict(logistic.frame.head(2)).tolist()


def test_strict_input_refuses_extra_features_and_missing_values(
    imputing_store: str, imputing: Trained
) -> None:
    frame = imputing.frame.head(2)
    with serve(settings_for(f"{imputing_store}/{MODEL_NAME}", strict_input=True)) as strict:
        extra = [{**r, "customer id": 7} for r in frame.to_dict(orient="records")]
        answer = strict.post("/invocations", json={"dataframe_records": extra}, headers=auth())
        assert answer.status_code == 422
        assert "unknown feature(s) 'customer id'" in answer.json()["error"]
        split = {"columns": [*imputing.features, "x"], "data": [[0.0] * 7]}
        answer = strict.post("/invocations", json={"dataframe_split": split}, headers=auth())
        assert answer.status_code == 422
        missing = frame.to_numpy().tolist()
        missing[0][1] = None
        answer = strict.post("/predict", json={"instances": missing}, headers=auth())
        assert answer.status_code == 422
        assert "feature 'feature 1' must be a number, got null" in answer.json()["error"]
        good = strict.post(
            "/predict", json={"instances": frame.to_numpy().tolist()}, headers=auth()
        )
        assert good.json()["predictions"] == imputing.pipeline.predict(frame).tolist()


def test_the_imputed_columns_are_found_when_the_model_is_loaded(
    tmp_path: Path, imputing: Trained, logistic: Trained
) -> None:
    from app.model.loaded import ModelIdentity, load_model_dir

    for trained, expected in ((imputing, frozenset(range(6))), (logistic, frozenset())):
        path = save_model_dir(trained, tmp_path / str(id(trained)))
        loaded = load_model_dir(path, ModelIdentity("m", "1", str(path)))
        assert loaded.schema.missing_ok == expected
