"""A loaded, warmed model: the scikit-learn estimator, its input contract and its identity."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from numpy.typing import NDArray

from app.model.schema import FeatureSchema, SignatureError

# Pipelines fitted on DataFrames warn on every ndarray call; the service validates names itself.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


class ModelLoadError(RuntimeError):
    """The model could not be loaded or failed its warm-up."""


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    version: str
    source: str
    alias: str | None = None


@dataclass(frozen=True)
class Prediction:
    """One batch's outputs: labels and (when the model has them) class probabilities."""

    labels: NDArray[Any]
    probabilities: NDArray[np.float64] | None


#: Final steps whose ``predict`` is by definition ``classes_[argmax(predict_proba)]`` (up to
#: monotone transforms), so one ``predict_proba`` call gives both outputs.
ARGMAX_CLASSIFIERS = frozenset(
    {
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
        "GradientBoostingClassifier",
        "HistGradientBoostingClassifier",
        "LogisticRegression",
        "KNeighborsClassifier",
        "GaussianNB",
        "MLPClassifier",
    }
)


FORESTS = frozenset({"RandomForestClassifier", "ExtraTreesClassifier"})


def direct_forest_proba(estimator: Any) -> Callable[[Any], NDArray[np.float64]] | None:
    """``predict_proba`` of a (pipeline ending in a) single-output forest, without joblib.

    sklearn dispatches every tree through joblib even with ``n_jobs=None``; for a small batch
    that costs ~5x the trees themselves. This sums the trees' probabilities in estimator order,
    exactly as ``ForestClassifier.predict_proba`` does, so the result is bit-identical (checked
    again at load time before it is used).
    """
    steps = [step for _, step in estimator.steps] if hasattr(estimator, "steps") else [estimator]
    forest = steps[-1]
    if type(forest).__name__ not in FORESTS or getattr(forest, "n_outputs_", 2) != 1:
        return None
    head = estimator[:-1] if len(steps) > 1 else None
    trees = list(forest.estimators_)
    width = len(forest.classes_)

    def proba(features: Any) -> NDArray[np.float64]:
        if head is not None:
            features = head.transform(features)
        x32 = np.ascontiguousarray(features, dtype=np.float32)
        out = np.zeros((x32.shape[0], width), dtype=np.float64)
        for tree in trees:
            out += tree.predict_proba(x32, check_input=False)
        out /= len(trees)
        return out

    return proba


@dataclass
class LoadedModel:
    identity: ModelIdentity
    estimator: Any
    schema: FeatureSchema
    classes: list[Any] | None
    needs_dataframe: bool = False
    labels_from_probabilities: bool = False
    loaded_at: float = field(default_factory=time.time)
    _classes_array: NDArray[Any] = field(default_factory=lambda: np.empty(0), repr=False)
    _direct_proba: Callable[[Any], NDArray[np.float64]] | None = field(default=None, repr=False)

    @property
    def has_probabilities(self) -> bool:
        return self.classes is not None

    def predict(self, features: NDArray[np.float64]) -> Prediction:
        # the service has validated types and finiteness already: skip sklearn's re-checks
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return self._predict(features)

    def _predict(self, features: NDArray[np.float64]) -> Prediction:
        inputs: Any = features
        if self.needs_dataframe:
            import pandas as pd  # only for estimators that select columns by name

            inputs = pd.DataFrame(features, columns=list(self.schema.names))
        if self._direct_proba is not None:
            probabilities = self._direct_proba(inputs)
            labels = self._classes_array[probabilities.argmax(axis=1)]
            return Prediction(labels=labels, probabilities=probabilities)
        if self.labels_from_probabilities:
            probabilities = np.asarray(self.estimator.predict_proba(inputs), dtype=np.float64)
            labels = self._classes_array[probabilities.argmax(axis=1)]
            return Prediction(labels=labels, probabilities=probabilities)
        labels = np.asarray(self.estimator.predict(inputs))
        if self.classes is None:
            return Prediction(labels=labels, probabilities=None)
        proba = np.asarray(self.estimator.predict_proba(inputs), dtype=np.float64)
        return Prediction(labels=labels, probabilities=proba)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.identity.name,
            "version": self.identity.version,
            "source": self.identity.source,
            "alias": self.identity.alias,
            "loaded_at": self.loaded_at,
            "features": list(self.schema.names),
            "classes": self.classes,
        }


def _allows_nan(estimator: Any) -> bool:
    from sklearn.utils import get_tags

    steps = [step for _, step in getattr(estimator, "steps", [])] or [estimator]
    try:
        return all(
            get_tags(step).input_tags.allow_nan
            for step in steps
            if step not in (None, "passthrough")
        )
    except (AttributeError, TypeError, ValueError):
        return False


def load_model_dir(path: Path, identity: ModelIdentity) -> LoadedModel:
    """Load the sklearn flavour of a local MLflow model directory and warm it up."""
    import mlflow.sklearn
    from mlflow.models import Model

    try:
        meta = Model.load(str(path))
    except Exception as exc:
        raise ModelLoadError(f"{path}/MLmodel is missing or unreadable: {exc}") from exc
    if "sklearn" not in meta.flavors:
        raise ModelLoadError(f"{identity.name} v{identity.version} has no sklearn flavour")
    try:
        estimator = mlflow.sklearn.load_model(str(path))
    except Exception as exc:
        raise ModelLoadError(f"cannot load {identity.name} v{identity.version}: {exc}") from exc
    try:
        schema = FeatureSchema.from_signature(meta.signature, allow_nan=_allows_nan(estimator))
    except SignatureError as exc:
        raise ModelLoadError(f"{identity.name} v{identity.version}: {exc}") from exc
    classes = None
    if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_"):
        classes = np.asarray(estimator.classes_).tolist()
    model = LoadedModel(identity=identity, estimator=estimator, schema=schema, classes=classes)
    rows = _example_rows(meta, path, schema)
    _warm_up(model, rows)
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if classes is not None and type(final).__name__ in ARGMAX_CLASSIFIERS:
        model._classes_array = np.asarray(estimator.classes_)
        full = model.predict(rows)
        model.labels_from_probabilities = True
        if not np.array_equal(model.predict(rows).labels, full.labels):  # belt and braces
            model.labels_from_probabilities = False
    direct = direct_forest_proba(estimator) if model.labels_from_probabilities else None
    if direct is not None and not model.needs_dataframe:
        probe = np.concatenate([rows, _probe_rows(rows, schema.width)])
        reference = model.predict(probe)
        model._direct_proba = direct
        fast = model.predict(probe)
        same = (
            fast.probabilities is not None
            and reference.probabilities is not None
            and np.array_equal(fast.probabilities, reference.probabilities)
            and np.array_equal(fast.labels, reference.labels)
        )
        if not same:
            model._direct_proba = None
    return model


def _probe_rows(rows: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    scale = float(np.abs(rows).max()) + 1.0 if rows.size else 1.0
    return np.random.default_rng(0).normal(size=(64, width)) * scale


def _example_rows(meta: Any, path: Path, schema: FeatureSchema) -> NDArray[np.float64]:
    try:
        example = meta.load_input_example(str(path))
        frame = example[list(schema.names)]
        return np.asarray(frame.to_numpy(dtype=np.float64))
    except Exception:
        return np.zeros((1, schema.width), dtype=np.float64)


def _warm_up(model: LoadedModel, rows: NDArray[np.float64]) -> None:
    """Run the example through the model; fall back to DataFrame input if ndarray is refused."""
    try:
        model.predict(rows)
        return
    except Exception as first:
        model.needs_dataframe = True
        try:
            model.predict(rows)
        except Exception as exc:
            raise ModelLoadError(
                f"{model.identity.name} v{model.identity.version} fails its warm-up predict: "
                f"{exc} (ndarray input: {first})"
            ) from exc
