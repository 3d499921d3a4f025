"""Stage 4 — preprocessing + feature engineering as one sklearn ``Pipeline``.

``derive`` (configured derived columns) → ``preprocess`` (``ColumnTransformer``: impute + scale
numeric columns, impute + one-hot categorical columns; ``SelectColumns`` when every column passes
through untouched) → ``model`` (the estimator). The whole
Pipeline is what gets logged to MLflow, so serving applies exactly the training transformations to
the raw input columns.

One-hot output is sparse and bounded: at most ``features.max_categories`` columns per feature, the
rarest categories (and those below ``features.min_frequency``) sharing one "infrequent" column,
which also takes categories unseen in training. The ``ColumnTransformer`` stacks its output sparse
when it is mostly zeros (sklearn's ``sparse_threshold``), so a wide categorical costs memory per
non-zero, not per cell; ``hist_gradient_boosting``, which takes no sparse input, gets it dense.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from training.config import DerivedFeature, FeaturesConfig


class DerivedFeatures(TransformerMixin, BaseEstimator):
    """Appends derived columns (ratio, product, sum, difference, log1p) to a DataFrame.

    ``specs`` holds ``(name, kind, columns)`` tuples. Division by zero yields NaN, which the
    imputer downstream fills; ``log1p`` is applied to ``max(x, 0)``.
    """

    def __init__(self, specs: tuple[tuple[str, str, tuple[str, ...]], ...] = ()) -> None:
        self.specs = specs

    def fit(self, frame: pd.DataFrame, y: Any = None) -> DerivedFeatures:
        missing = {c for _, _, columns in self.specs for c in columns} - set(frame.columns)
        if missing:
            raise ValueError(f"derived features need missing columns: {sorted(missing)}")
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not self.specs:
            return frame
        derived = {name: _derive(frame, kind, columns) for name, kind, columns in self.specs}
        return frame.assign(**derived)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [*self.feature_names_in_, *(name for name, _, _ in self.specs)]
        return np.asarray(names, dtype=object)


def _derive(frame: pd.DataFrame, kind: str, columns: tuple[str, ...]) -> pd.Series:
    first = frame[columns[0]].astype("float64")
    if kind == "log1p":
        return pd.Series(np.log1p(np.clip(first.to_numpy(), 0.0, None)), index=frame.index)
    second = frame[columns[1]].astype("float64")
    if kind == "ratio":
        return first / second.where(second != 0)
    if kind == "product":
        return first * second
    if kind == "sum":
        return first + second
    if kind == "difference":
        return first - second
    raise ValueError(f"unknown derived feature kind {kind!r}")


def derived_specs(derived: list[DerivedFeature]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return tuple((d.name, d.kind, tuple(d.columns)) for d in derived)


class SelectColumns(TransformerMixin, BaseEstimator):
    """The named columns of a DataFrame as one array: the preprocessing when every column passes
    through untouched (numeric columns, no imputer, no scaling, nothing categorical).

    Why not a ``ColumnTransformer`` with ``"passthrough"``: it stacks the selected columns into
    a new array, a copy of the training rows held for the whole fit (about 0.75x the dataset at
    the run's peak, ``bench.training``). Here the columns of a one-dtype frame come back as a
    view of its memory (pandas copy-on-write), or as one copy for mixed dtypes. Like the
    ``ColumnTransformer``, it selects by name, so it refuses a bare array.
    """

    def __init__(self, columns: tuple[str, ...] = ()) -> None:
        self.columns = columns

    def fit(self, frame: pd.DataFrame, y: Any = None) -> SelectColumns:
        self._selected(frame)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = len(frame.columns)
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self._selected(frame).to_numpy()

    def _selected(self, frame: Any) -> pd.DataFrame:
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(
                f"selecting columns by name needs a DataFrame, not {type(frame).__name__}"
            )
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"columns are missing: {missing}")
        return frame[list(self.columns)]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.columns, dtype=object)


def build_preprocessing(
    numeric: list[str], categorical: list[str], config: FeaturesConfig, *, dense: bool = False
) -> ColumnTransformer | SelectColumns:
    numeric_steps: list[tuple[str, Any]] = []
    if config.numeric_imputer != "none":
        numeric_steps.append(("impute", SimpleImputer(strategy=config.numeric_imputer)))
    if config.scale:
        numeric_steps.append(("scale", StandardScaler()))
    if not numeric_steps and not categorical:
        # Without imputation or scaling the numeric columns pass through untouched (no copies:
        # the median imputer alone costs ~3x the data's memory while fitting).
        return SelectColumns(tuple(numeric))
    numeric_transformer: Any = Pipeline(numeric_steps) if numeric_steps else "passthrough"
    transformers: list[tuple[str, Any, list[str]]] = [("numeric", numeric_transformer, numeric)]
    if categorical:
        categorical_steps = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                (
                    "onehot",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        sparse_output=True,
                        max_categories=config.max_categories,
                        min_frequency=config.min_frequency,
                    ),
                ),
            ]
        )
        transformers.append(("categorical", categorical_steps, categorical))
    return ColumnTransformer(
        transformers,
        remainder="drop",
        verbose_feature_names_out=False,
        **({"sparse_threshold": 0.0} if dense else {}),
    )


def accepts_sparse(estimator: Any) -> bool:
    """Whether the estimator's ``fit`` takes a sparse matrix (sklearn's input tags)."""
    return bool(estimator.__sklearn_tags__().input_tags.sparse)


def build_pipeline(
    features: list[str], categorical: list[str], config: FeaturesConfig, estimator: Any
) -> Pipeline:
    """The full model: derived features → column preprocessing → estimator."""
    derived_names = [d.name for d in config.derived]
    numeric = [c for c in features if c not in set(categorical)] + derived_names
    return Pipeline(
        [
            ("derive", DerivedFeatures(derived_specs(config.derived))),
            (
                "preprocess",
                build_preprocessing(
                    numeric, categorical, config, dense=not accepts_sparse(estimator)
                ),
            ),
            ("model", estimator),
        ]
    )
