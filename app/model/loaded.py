"""A loaded, warmed model: the scikit-learn estimator, its input contract and its identity."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.model.mlmodel import MLmodelError, MLmodelFile
from app.model.schema import FeatureSchema, SignatureError
from app.model.sklearn_import import import_sklearn

sklearn = import_sklearn()  # without pandas: app/model/sklearn_import.py

# Pipelines fitted on DataFrames warn on every ndarray call; the service validates names itself.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


class ModelLoadError(RuntimeError):
    """The model could not be loaded or failed its warm-up."""


class NonFiniteOutputError(ValueError):
    """The model produced NaN or infinity (its input lies outside what it can score)."""


#: When a row's two highest class probabilities are closer than this, the row is a near tie: its
#: label comes from the model's own ``predict`` on that row alone (see ``LoadedModel.predict``).
TIE_TOLERANCE = 1e-9


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


def direct_forest_proba(estimator: Any) -> Callable[[Any], NDArray[np.float64] | None] | None:
    """``predict_proba`` of a (pipeline ending in a) single-output forest, without joblib.

    sklearn dispatches every tree through joblib even with ``n_jobs=None``; for a small batch
    that costs ~5x the trees themselves. This sums the trees' probabilities in estimator order,
    exactly as ``ForestClassifier.predict_proba`` does, so the result is bit-identical (checked
    again at load time before it is used). For input that is not finite as float32 (NaN, or
    values beyond float32's range) it returns None: the caller then asks sklearn itself, which
    refuses or handles such input by its own rules.
    """
    steps = [step for _, step in estimator.steps] if hasattr(estimator, "steps") else [estimator]
    forest = steps[-1]
    if type(forest).__name__ not in FORESTS or getattr(forest, "n_outputs_", 2) != 1:
        return None
    head = estimator[:-1] if len(steps) > 1 else None
    trees = list(forest.estimators_)
    width = len(forest.classes_)

    def proba(features: Any) -> NDArray[np.float64] | None:
        if head is not None:
            features = head.transform(features)
        x32 = np.ascontiguousarray(features, dtype=np.float32)
        if not np.isfinite(x32).all():
            return None
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
    label_dtype: np.dtype[Any] = field(default_factory=lambda: np.dtype(object))
    loaded_at: float = field(default_factory=time.time)
    _classes_array: NDArray[Any] = field(default_factory=lambda: np.empty(0), repr=False)
    _direct_proba: Callable[[Any], NDArray[np.float64] | None] | None = field(
        default=None, repr=False
    )

    @property
    def has_probabilities(self) -> bool:
        return self.classes is not None

    def predict(self, features: NDArray[np.float64]) -> Prediction:
        """Labels (and class probabilities) for ``features``, as the model's own methods give them.

        * sklearn's finiteness checks stay on (only its parameter re-validation is skipped): an
          input that overflows inside the pipeline is refused exactly where sklearn refuses it.
        * NaN or infinity in the outputs raises :class:`NonFiniteOutputError`.
        * Labels equal the model's own ``predict``. Where they are taken from the probabilities
          (one call instead of two), a row whose top two probabilities are within
          ``TIE_TOLERANCE`` is re-labelled by ``predict`` on that row alone; elsewhere the
          argmax is what ``predict`` returns. So a row's label does not depend on the batch it
          was scored in; its probabilities may differ by float rounding (BLAS kernels differ
          by batch size).
        """
        with sklearn.config_context(assume_finite=False, skip_parameter_validation=True):
            prediction = self._predict(features)
        _check_finite(prediction)
        return prediction

    def _predict(self, features: NDArray[np.float64]) -> Prediction:
        inputs: Any = features
        if self.needs_dataframe:
            import pandas as pd  # only for estimators that select columns by name

            inputs = pd.DataFrame(features, columns=list(self.schema.names))
        if self.labels_from_probabilities:
            probabilities = self._direct_proba(inputs) if self._direct_proba is not None else None
            if probabilities is None:
                probabilities = np.asarray(self.estimator.predict_proba(inputs), dtype=np.float64)
            return Prediction(self._labels_of(inputs, probabilities), probabilities)
        labels = np.asarray(self.estimator.predict(inputs))
        if self.classes is None:
            return Prediction(labels=labels, probabilities=None)
        proba = np.asarray(self.estimator.predict_proba(inputs), dtype=np.float64)
        return Prediction(labels=labels, probabilities=proba)

    def _labels_of(self, inputs: Any, probabilities: NDArray[np.float64]) -> NDArray[Any]:
        labels: NDArray[Any] = self._classes_array[probabilities.argmax(axis=1)]
        for row in np.flatnonzero(_near_ties(probabilities)):
            one = inputs.iloc[row : row + 1] if self.needs_dataframe else inputs[row : row + 1]
            labels[row] = np.asarray(self.estimator.predict(one))[0]
        return labels

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


def _near_ties(probabilities: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Rows whose two highest probabilities are within ``TIE_TOLERANCE`` of each other."""
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        return np.zeros(probabilities.shape[0], dtype=bool)
    if probabilities.shape[1] == 2:
        gap = np.abs(probabilities[:, 1] - probabilities[:, 0])
    else:
        top = np.partition(probabilities, -2, axis=1)
        gap = top[:, -1] - top[:, -2]
    return gap <= TIE_TOLERANCE


def _check_finite(prediction: Prediction) -> None:
    probabilities, labels = prediction.probabilities, prediction.labels
    finite_probabilities = probabilities is None or bool(np.isfinite(probabilities).all())
    finite_labels = labels.dtype.kind != "f" or bool(np.isfinite(labels).all())
    if not (finite_probabilities and finite_labels):
        bad = np.zeros(labels.shape[0], dtype=bool)
        if probabilities is not None:
            bad |= ~np.isfinite(probabilities).all(axis=1)
        if labels.dtype.kind == "f":
            bad |= ~np.isfinite(labels.reshape(labels.shape[0], -1)).all(axis=1)
        rows = np.flatnonzero(bad)
        shown = ", ".join(str(r) for r in rows[:5]) + (" ..." if len(rows) > 5 else "")
        raise NonFiniteOutputError(
            f"the model produced a non-finite value (NaN or infinity) for row(s) {shown}; "
            "the input is outside the range the model can score"
        )


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
    try:
        meta = MLmodelFile.read(path)
    except MLmodelError as exc:
        raise ModelLoadError(str(exc)) from exc
    if meta.sklearn_flavor is None:
        raise ModelLoadError(f"{identity.name} v{identity.version} has no sklearn flavour")
    try:
        estimator = meta.load_sklearn()
    except Exception as exc:
        raise ModelLoadError(f"cannot load {identity.name} v{identity.version}: {exc}") from exc
    try:
        schema = FeatureSchema.from_column_specs(meta.input_specs, allow_nan=_allows_nan(estimator))
    except SignatureError as exc:
        raise ModelLoadError(f"{identity.name} v{identity.version}: {exc}") from exc
    classes = None
    if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_"):
        classes = np.asarray(estimator.classes_).tolist()
    model = LoadedModel(identity=identity, estimator=estimator, schema=schema, classes=classes)
    rows = meta.example_rows(schema.names)
    if rows is None:
        rows = np.zeros((1, schema.width), dtype=np.float64)
    _warm_up(model, rows)
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    full = model.predict(rows)
    model.label_dtype = full.labels.dtype
    if classes is not None and type(final).__name__ in ARGMAX_CLASSIFIERS:
        model._classes_array = np.asarray(estimator.classes_)
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
    model.schema = schema.with_missing_ok(_missing_value_columns(model, rows))
    return model


def _missing_value_columns(model: LoadedModel, rows: NDArray[np.float64]) -> frozenset[int]:
    """The columns where the model takes a missing value (NaN): the pipeline's own imputer fills
    it in or the estimator handles NaN. Found as ``mlflow models serve`` would find out: by
    scoring example rows with the column missing (sklearn's checks on, outputs finite)."""

    def takes_missing(columns: list[int]) -> bool:
        probe = rows[:2].copy()
        probe[:, columns] = np.nan
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.predict(probe)
        except Exception:
            return False
        return True

    every = list(range(model.schema.width))
    if takes_missing(every):
        return frozenset(every)
    return frozenset(column for column in every if takes_missing([column]))


def _probe_rows(rows: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    scale = float(np.abs(rows).max()) + 1.0 if rows.size else 1.0
    return np.random.default_rng(0).normal(size=(64, width)) * scale


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
