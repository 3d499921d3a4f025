"""The MLflow model directory read without MLflow: the same model, schema and example as MLflow's
own loader gives, and MLflow itself for everything outside the plain pickle case."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pytest
import yaml
from mlflow.models import Model, infer_signature

from app.model.loaded import ModelIdentity, ModelLoadError, load_model_dir
from app.model.mlmodel import MLmodelError, MLmodelFile
from app.model.schema import FeatureSchema, SignatureError
from tests.app.conftest import PIP_REQUIREMENTS, Trained, save_model_dir, train


def _save(trained: Trained, path: Path, **options: object) -> Path:
    mlflow.sklearn.save_model(
        trained.pipeline,
        str(path),
        signature=infer_signature(trained.frame, trained.pipeline.predict(trained.frame)),
        input_example=trained.frame.head(3),
        pip_requirements=PIP_REQUIREMENTS,
        **options,  # type: ignore[arg-type]
    )
    return path


@pytest.mark.parametrize("serialization", ["cloudpickle", "pickle"])
def test_reads_what_mlflow_reads(tmp_path: Path, serialization: str) -> None:
    trained = train("imputing", width=5, seed=2)
    path = _save(trained, tmp_path / "model", serialization_format=serialization)
    meta = MLmodelFile.read(path)
    assert meta.reads_without_mlflow()

    ours, theirs = meta.load_sklearn(), mlflow.sklearn.load_model(str(path))
    rows = trained.frame.to_numpy()
    assert type(ours) is type(theirs)
    assert np.array_equal(ours.predict_proba(rows), theirs.predict_proba(rows))

    signature = Model.load(str(path)).signature
    schema = FeatureSchema.from_column_specs(meta.input_specs, allow_nan=False)
    assert list(schema.names) == signature.inputs.input_names()
    assert list(schema.types) == [spec.type.name for spec in signature.inputs.inputs]

    example = Model.load(str(path)).load_input_example(str(path))
    expected = example[list(schema.names)].to_numpy(dtype=np.float64)
    assert np.array_equal(meta.example_rows(schema.names), expected)  # type: ignore[arg-type]
    reordered = tuple(reversed(schema.names))
    assert np.array_equal(meta.example_rows(reordered), expected[:, ::-1])  # type: ignore[arg-type]


def test_code_paths_and_skops_go_through_mlflow(tmp_path: Path) -> None:
    trained = train("logistic", width=4)
    helper = tmp_path / "stratus_helper_module.py"
    helper.write_text("VALUE = 1\n")
    with_code = _save(trained, tmp_path / "with-code", code_paths=[str(helper)])
    skops = _save(
        trained,
        tmp_path / "skops",
        serialization_format="skops",
        skops_trusted_types=[
            "sklearn.linear_model._logistic.LogisticRegression",
            "sklearn.pipeline.Pipeline",
            "sklearn.preprocessing._data.StandardScaler",
        ],
    )
    rows = trained.frame.head(5).to_numpy()
    for path in (with_code, skops):
        meta = MLmodelFile.read(path)
        assert not meta.reads_without_mlflow()
        model = load_model_dir(path, ModelIdentity("m", "1", str(path)))
        assert model.predict(rows).labels.tolist() == trained.pipeline.predict(rows).tolist()


def test_mlflow_decides_when_its_pickle_switch_is_set(
    tmp_path: Path, logistic: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_model_dir(logistic, tmp_path / "model")
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    assert not MLmodelFile.read(path).reads_without_mlflow()
    with pytest.raises(ModelLoadError, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        load_model_dir(path, ModelIdentity("m", "1", str(path)))


def test_unreadable_or_incomplete_directories_are_refused(
    tmp_path: Path, logistic: Trained
) -> None:
    identity = ModelIdentity("m", "1", "here")
    with pytest.raises(ModelLoadError, match="MLmodel is missing or unreadable"):
        load_model_dir(tmp_path, identity)
    (tmp_path / "MLmodel").write_text("- just\n- a list\n")
    with pytest.raises(MLmodelError, match="no 'flavors'"):
        MLmodelFile.read(tmp_path)

    path = save_model_dir(logistic, tmp_path / "model")
    document = yaml.safe_load((path / "MLmodel").read_text())
    del document["flavors"]["sklearn"]
    (path / "MLmodel").write_text(yaml.safe_dump(document))
    with pytest.raises(ModelLoadError, match="has no sklearn flavour"):
        load_model_dir(path, identity)


def test_a_missing_or_unusable_example_warms_up_on_zeros(tmp_path: Path) -> None:
    trained = train("logistic", width=4)
    path = _save(trained, tmp_path / "model")
    meta = MLmodelFile.read(path)
    (path / "input_example.json").write_text(json.dumps({"columns": ["other"], "data": [[1.0]]}))
    assert meta.example_rows(("feature 0",)) is None
    (path / "input_example.json").unlink()
    assert meta.example_rows(("feature 0",)) is None
    model = load_model_dir(path, ModelIdentity("m", "1", str(path)))
    rows = trained.frame.head(3).to_numpy()
    assert model.predict(rows).labels.tolist() == trained.pipeline.predict(rows).tolist()


@pytest.mark.parametrize(
    ("example", "message"),
    [
        (np.zeros((3, 2)), "tensor-based signatures are not served"),
        ({"a": [1.0], "b": ["x"]}, "column 'b' has type 'string'"),
    ],
)
def test_signatures_the_service_cannot_serve(example: object, message: str) -> None:
    import pandas as pd

    data = pd.DataFrame(example) if isinstance(example, dict) else example
    specs = json.loads(infer_signature(data).to_dict()["inputs"])
    with pytest.raises(SignatureError, match=message):
        FeatureSchema.from_column_specs(specs, allow_nan=False)


def test_unnamed_or_missing_signatures_are_refused() -> None:
    with pytest.raises(SignatureError, match="no input signature"):
        FeatureSchema.from_column_specs(None, allow_nan=False)
    with pytest.raises(SignatureError, match="needs a name"):
        FeatureSchema.from_column_specs([{"type": "double"}], allow_nan=False)
