"""An MLflow model directory read without importing MLflow, for the common case.

Why: ``import mlflow`` (what ``mlflow.sklearn.load_model`` and ``mlflow.models.Model`` need)
imports some 760 modules — the tracking client, tracing, GenAI evaluation — none of which scoring
uses. That was a third of the service's start-up and 32 MiB of every worker's memory. What the
service needs from the directory is small and stable: the ``MLmodel`` YAML, the ``sklearn``
flavour's pickle, the signature's column specs and the input example, all in formats MLflow
documents (``MLmodel``'s ``flavors``/``signature``/``saved_input_example_info``).

Only the plain case is read here: the ``sklearn`` flavour pickled with ``pickle`` or
``cloudpickle``, no ``code`` paths, and ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` not set. Anything
else (``skops``, code paths to put on ``sys.path``, MLflow's deserialization switch) is handed to
``mlflow.sklearn.load_model`` itself, so no MLflow feature is lost; the tests check that both ways
load the same model.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

#: the serialization formats read without MLflow (``mlflow.sklearn.SERIALIZATION_FORMAT_*``)
PICKLE_FORMATS = frozenset({"pickle", "cloudpickle"})
#: MLflow's switch for unpickling models; when it is set, MLflow decides (and may refuse)
ALLOW_PICKLE_VARIABLE = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"


class MLmodelError(ValueError):
    """The directory's ``MLmodel`` is missing, unreadable or lacks what the service needs."""


@dataclass(frozen=True)
class MLmodelFile:
    """The parts of ``MLmodel`` the service reads."""

    path: Path
    flavors: dict[str, Any]
    #: the signature's input column specs (the JSON of ``signature.inputs``), or None
    input_specs: list[Any] | None
    example_info: dict[str, Any] | None

    @classmethod
    def read(cls, path: Path) -> MLmodelFile:
        try:
            document = yaml.safe_load((path / "MLmodel").read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise MLmodelError(f"{path}/MLmodel is missing or unreadable: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("flavors"), dict):
            raise MLmodelError(f"{path}/MLmodel has no 'flavors' mapping")
        signature = document.get("signature")
        inputs = signature.get("inputs") if isinstance(signature, dict) else None
        try:
            specs = json.loads(inputs) if isinstance(inputs, str) else None
        except ValueError as exc:
            raise MLmodelError(f"{path}/MLmodel: signature.inputs is not JSON: {exc}") from exc
        if specs is not None and not isinstance(specs, list):
            raise MLmodelError(f"{path}/MLmodel: signature.inputs is not a list of columns")
        example = document.get("saved_input_example_info")
        return cls(
            path=path,
            flavors=document["flavors"],
            input_specs=specs,
            example_info=example if isinstance(example, dict) else None,
        )

    @property
    def sklearn_flavor(self) -> dict[str, Any] | None:
        flavor = self.flavors.get("sklearn")
        return flavor if isinstance(flavor, dict) else None

    def reads_without_mlflow(self) -> bool:
        """Whether :meth:`load_sklearn` unpickles the model itself (see the module docstring)."""
        flavor = self.sklearn_flavor or {}
        return (
            flavor.get("serialization_format", "pickle") in PICKLE_FORMATS
            and isinstance(flavor.get("pickled_model"), str)
            and not flavor.get("code")
            and ALLOW_PICKLE_VARIABLE not in os.environ
        )

    def load_sklearn(self) -> Any:
        """The estimator, as ``mlflow.sklearn.load_model`` returns it."""
        flavor = self.sklearn_flavor
        if flavor is None:
            raise MLmodelError(f"{self.path} has no sklearn flavour")
        if not self.reads_without_mlflow():
            import mlflow.sklearn

            return mlflow.sklearn.load_model(str(self.path))
        # as mlflow.sklearn does: what cloudpickle wrote, cloudpickle reads
        with (self.path / flavor["pickled_model"]).open("rb") as handle:
            if flavor.get("serialization_format", "pickle") == "cloudpickle":
                import cloudpickle  # type: ignore[import-untyped]

                return cloudpickle.load(handle)
            return pickle.load(handle)

    def example_rows(self, names: tuple[str, ...]) -> NDArray[np.float64] | None:
        """The input example's rows as float64, columns in ``names`` order; None when there is no
        example or it is not a data frame of those columns (MLflow writes data frames in the
        ``split`` orientation: ``{"columns": [...], "data": [[...], ...]}``)."""
        info = self.example_info
        if info is None or info.get("type") != "dataframe":
            return None
        artifact = info.get("artifact_path")
        if not isinstance(artifact, str):
            return None
        try:
            document = json.loads((self.path / artifact).read_text())
            if info.get("params") is not None:  # an example with params wraps its data
                document = document["inputs"]
            columns, data = document["columns"], document["data"]
            order = [columns.index(name) for name in names]
            rows = np.asarray([[row[k] for k in order] for row in data], dtype=np.float64)
        except (OSError, ValueError, TypeError, KeyError, IndexError):
            return None
        return rows if rows.ndim == 2 and rows.shape[0] > 0 else None
