"""Stage 2 — validate: a pandera schema built from the config, checked lazily so that every failure
(missing columns, types, infinite values, ranges, nulls, duplicates, categorical cardinality,
target classes, row count) is reported at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors

from training.config import TrainingConfig
from training.errors import DataValidationError

MAX_SHOWN_CASES = 5


def feature_columns(frame: pd.DataFrame, config: TrainingConfig) -> list[str]:
    """The configured features, or every column except the target."""
    if config.data.features is not None:
        return list(config.data.features)
    return [str(column) for column in frame.columns if column != config.data.target]


def build_schema(features: list[str], config: TrainingConfig) -> pa.DataFrameSchema:
    data, rules = config.data, config.validation
    categorical = set(data.categorical)
    columns: dict[str, pa.Column] = {}
    frame_checks: list[pa.Check] = [
        pa.Check(
            lambda df: len(df) >= rules.min_rows,
            error=f"needs at least {rules.min_rows} rows",
            name="min_rows",
        ),
    ]
    for name in features:
        checks: list[pa.Check] = []
        if name not in categorical:
            checks.append(
                pa.Check(
                    lambda s: (
                        pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                    ),
                    element_wise=False,
                    error="must be numeric (declare it in data.categorical if it is a category)",
                    name="numeric",
                )
            )
            checks.append(_finite_check())
        bounds = rules.ranges.get(name)
        if bounds is not None and bounds.min is not None:
            checks.append(pa.Check.ge(bounds.min))
        if bounds is not None and bounds.max is not None:
            checks.append(pa.Check.le(bounds.max))
        columns[name] = pa.Column(nullable=rules.max_null_fraction > 0, checks=checks)
        if rules.max_null_fraction > 0:
            frame_checks.append(
                pa.Check(
                    lambda df, column=name: (
                        column not in df
                        or float(df[column].isna().mean()) <= rules.max_null_fraction
                    ),
                    error=f"column {name!r} has more than {rules.max_null_fraction:.0%} "
                    "missing values",
                    name=f"null_fraction[{name}]",
                )
            )
    for name in rules.ranges:
        if name not in columns:
            frame_checks.append(
                pa.Check(
                    lambda df: False,
                    error=f"validation.ranges names {name!r}, which is not a feature",
                    name="unknown_range_column",
                )
            )
    columns[data.target] = pa.Column(nullable=False, checks=_target_checks(config))
    if rules.max_duplicate_fraction < 1.0:
        frame_checks.append(
            pa.Check(
                lambda df: duplicate_fraction(df) <= rules.max_duplicate_fraction,
                error=f"more than {rules.max_duplicate_fraction:.0%} of the rows are duplicates",
                name="duplicates",
            )
        )
    return pa.DataFrameSchema(columns=columns, checks=frame_checks, strict=False)


def duplicate_fraction(frame: pd.DataFrame) -> float:
    """Share of rows that repeat an earlier row.

    One 64-bit hash per row finds the candidates cheaply (``DataFrame.duplicated`` factorises every
    column, which costs several times the data's memory); only rows whose hash repeats are
    compared exactly, so a hash collision cannot produce a false duplicate.
    """
    if frame.empty:
        return 0.0
    hashes = pd.util.hash_pandas_object(frame, index=False)
    candidates = hashes.duplicated(keep=False).to_numpy()
    if not candidates.any():
        return 0.0
    return float(frame.loc[candidates].duplicated().sum()) / len(frame)


def _finite_check() -> pa.Check:
    """NaN is the null checks' business; ``inf``/``-inf`` would poison every fit and metric."""

    def finite(column: pd.Series) -> pd.Series | bool:
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            return True  # reported by the numeric check
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        return pd.Series(~np.isinf(values), index=column.index)

    return pa.Check(
        finite, element_wise=False, error="contains infinite values (inf/-inf)", name="finite"
    )


def _target_checks(config: TrainingConfig) -> list[pa.Check]:
    if config.model.task == "regression":
        return [
            pa.Check(
                lambda s: pd.api.types.is_numeric_dtype(s),
                element_wise=False,
                error="regression target must be numeric",
                name="numeric_target",
            ),
            _finite_check(),
        ]
    minimum = config.validation.min_class_count
    return [
        pa.Check(
            lambda s: s.nunique() >= 2,
            element_wise=False,
            error="target needs at least two classes",
            name="two_classes",
        ),
        pa.Check(
            lambda s: s.empty or int(s.value_counts().min()) >= minimum,
            element_wise=False,
            error=f"every class needs at least {minimum} rows",
            name="class_count",
        ),
    ]


def validate_data(frame: pd.DataFrame, config: TrainingConfig, source: str) -> pd.DataFrame:
    """The validated frame restricted to features + target; raises with every failure otherwise."""
    features = feature_columns(frame, config)
    failures: list[str] = []
    if not features:
        failures.append("no feature columns (the data holds only the target, or nothing)")
    unknown_categorical = [c for c in config.data.categorical if c not in features]
    failures.extend(
        f"data.categorical names {name!r}, which is not a feature" for name in unknown_categorical
    )
    failures.extend(cardinality_failures(frame, config))
    schema = build_schema(features, config)
    try:
        # inplace: the schema only checks (no coercion, no defaults), so pandera's defensive deep
        # copy of the whole frame would cost its size in memory and time for nothing.
        schema.validate(frame, lazy=True, inplace=True)
    except SchemaErrors as exc:
        failures.extend(_describe(exc.failure_cases))
    except SchemaError as exc:  # raised for problems pandera cannot defer
        failures.append(str(exc))
    if failures:
        raise DataValidationError(source, failures)
    return frame[[*features, config.data.target]]


def _distinct(frame: pd.DataFrame, config: TrainingConfig) -> dict[str, int]:
    return {
        name: int(frame[name].nunique(dropna=True))
        for name in config.data.categorical
        if name in frame.columns
    }


def cardinality_failures(frame: pd.DataFrame, config: TrainingConfig) -> list[str]:
    """A categorical with more distinct values than ``validation.max_cardinality`` (an identifier,
    a free-text field) is an error: it would add a column per value and generalise to nothing."""
    limit = config.validation.max_cardinality
    return [
        f"column {name!r}: {count} distinct values in {len(frame)} rows, more than "
        f"validation.max_cardinality={limit} (an identifier or free text is not a category: "
        "drop it from data.features, or raise the limit)"
        for name, count in _distinct(frame, config).items()
        if count > limit
    ]


def cardinality_notes(frame: pd.DataFrame, config: TrainingConfig) -> list[str]:
    """Warnings for categoricals wider than ``features.max_categories`` (grouped, not dropped)."""
    width = config.features.max_categories
    if width is None:
        return []
    return [
        f"warning: column {name!r} has {count} distinct values; the {width - 1} most frequent get "
        "a one-hot column each, the rest share one 'infrequent' column (features.max_categories)"
        for name, count in _distinct(frame, config).items()
        if width < count <= config.validation.max_cardinality
    ]


def _describe(cases: pd.DataFrame) -> list[str]:
    messages: list[str] = []
    missing = cases["check"] == "column_in_dataframe"
    messages.extend(
        f"column {name!r}: missing column" for name in cases.loc[missing, "failure_case"]
    )
    cases = cases.loc[~missing]
    for (context, column, check), group in cases.groupby(
        ["schema_context", "column", "check"], dropna=False, sort=False
    ):
        where = _where(context, column)
        examples = _examples(group)
        messages.append(f"{where}: {_check_text(str(check))}{examples}")
    return messages


def _where(context: Any, column: Any) -> str:
    if context == "Column" and isinstance(column, str):
        return f"column {column!r}"
    return "data"


def _check_text(check: str) -> str:
    if check == "column_in_dataframe":
        return "missing column"
    if check == "not_nullable":
        return "contains missing values (NaN/null)"
    if check.startswith("greater_than_or_equal_to("):
        return f"values below the allowed minimum {check[len('greater_than_or_equal_to(') : -1]}"
    if check.startswith("less_than_or_equal_to("):
        return f"values above the allowed maximum {check[len('less_than_or_equal_to(') : -1]}"
    return check


def _examples(group: pd.DataFrame) -> str:
    if "index" not in group or group["index"].isna().all():
        return ""
    rows = group["index"].dropna().tolist()
    shown = ", ".join(str(row) for row in rows[:MAX_SHOWN_CASES])
    more = f" … ({len(rows)} rows)" if len(rows) > MAX_SHOWN_CASES else ""
    return f" (rows {shown}{more})"
