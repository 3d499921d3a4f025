"""Stage 1 — load: a data source URL → a pandas DataFrame (features + target column).

Sources: ``default`` / ``sklearn:breast_cancer`` (bundled with scikit-learn, binary classification),
``sklearn:diabetes`` (bundled, regression), ``synthetic:<rows>`` (``make_classification`` /
``make_regression``), and CSV or Parquet from a local path or any fsspec URL (``s3://`` with the
endpoint from ``AWS_ENDPOINT_URL``; ``az://``/``abfs://`` with ``AZURE_STORAGE_CONNECTION_STRING``).
"""

from __future__ import annotations

import posixpath
from typing import Any, Literal

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.datasets import load_breast_cancer, load_diabetes, make_classification, make_regression

from training.config import DataConfig, Task
from training.errors import DataSourceError
from training.locations import access_problem

BUNDLED = {"default": "breast_cancer", "sklearn:breast_cancer": "breast_cancer"}
FileFormat = Literal["csv", "parquet"]


def load_data(config: DataConfig, *, source: str, task: Task, seed: int) -> pd.DataFrame:
    """Load ``source`` (already resolved to an absolute path or URL) as a DataFrame."""
    if source in BUNDLED or source == "sklearn:diabetes":
        frame = _bundled(source, config.target)
    elif source.startswith("synthetic:"):
        rows = int(source.removeprefix("synthetic:"))
        frame = synthetic(
            rows, config.synthetic_features, task=task, seed=seed, target=config.target
        )
    elif source.startswith("sklearn:"):
        raise DataSourceError(
            f"unknown bundled dataset {source!r} (choose sklearn:breast_cancer or sklearn:diabetes)"
        )
    else:
        frame = _read_file(source, _file_format(source, config.format))
    return frame


def _bundled(source: str, target: str) -> pd.DataFrame:
    bunch = (
        load_diabetes(as_frame=True)
        if source == "sklearn:diabetes"
        else load_breast_cancer(as_frame=True)
    )
    frame: pd.DataFrame = bunch.frame.rename(columns={"target": target})
    return frame


def synthetic_arrays(rows: int, features: int, *, task: Task, seed: int) -> tuple[Any, Any]:
    """The ``synthetic:<rows>`` data as arrays (``make_classification`` / ``make_regression``)."""
    if task == "classification":
        return make_classification(
            n_samples=rows,
            n_features=features,
            n_informative=max(2, features // 2),
            n_redundant=max(0, features // 4),
            random_state=seed,
        )
    return make_regression(
        n_samples=rows, n_features=features, n_informative=max(1, features // 2),
        noise=10.0, random_state=seed,
    )  # fmt: skip


def synthetic(rows: int, features: int, *, task: Task, seed: int, target: str) -> pd.DataFrame:
    """A deterministic synthetic dataset: ``features`` float columns ``f00…`` and ``target``."""
    x, y = synthetic_arrays(rows, features, task=task, seed=seed)
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(features)], copy=False)
    frame[target] = y.astype(np.int64 if task == "classification" else np.float64)
    return frame


def _file_format(source: str, configured: str) -> FileFormat:
    if configured == "csv":
        return "csv"
    if configured == "parquet":
        return "parquet"
    extension = posixpath.splitext(source.split("?", 1)[0])[1].lower()
    if extension in (".csv", ".txt"):
        return "csv"
    if extension in (".parquet", ".pq"):
        return "parquet"
    raise DataSourceError(
        f"cannot tell the format of {source} from its extension {extension or '(none)'!r}: "
        "expected .csv or .parquet (or set data.format)"
    )


def _read_file(source: str, file_format: FileFormat) -> pd.DataFrame:
    try:
        with fsspec.open(source, "rb") as handle:
            frame = pd.read_csv(handle) if file_format == "csv" else pd.read_parquet(handle)
    except FileNotFoundError:
        raise DataSourceError(f"data source not found: {source}") from None
    except pd.errors.EmptyDataError:
        raise DataSourceError(f"data source {source} is empty (no header, no rows)") from None
    except PermissionError as exc:
        raise DataSourceError(f"data source {source} is not readable: {exc}") from None
    except (pd.errors.ParserError, pa.ArrowException, UnicodeDecodeError, OSError) as exc:
        raise DataSourceError(
            f"cannot read {source} as {file_format}: {type(exc).__name__}: {exc}"
        ) from None
    except Exception as exc:  # the cloud SDKs' credential errors are no OSError
        problem = access_problem(source, exc)
        if problem is None:
            raise
        raise DataSourceError(f"cannot read {source}: {problem}") from None
    if len(frame) == 0:
        raise DataSourceError(
            f"data source {source} has no rows (a header of {len(frame.columns)} columns only)"
        )
    return frame
