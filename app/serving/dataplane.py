"""The data plane: protocol payloads in, predictions out (the HTTP layer stays thin).

Like Seldon MLServer's ``DataPlane``: routes hand the decoded JSON body here; this module picks
the model, validates the payload against its signature, queues it on the micro-batcher and
encodes the answer in the protocol's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.model.loaded import LoadedModel
from app.model.manager import ModelManager
from app.serving import codecs
from app.serving.batcher import BatchResult, MicroBatcher
from app.serving.codecs import InputError

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class ModelNotReadyError(RuntimeError):
    """No model is loaded yet."""


class UnknownModelError(LookupError):
    """The request names a model or version that is not served."""


def _v2_datatype(array: NDArray[Any]) -> str:
    kind = array.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    return "BYTES"


def _labels(array: NDArray[Any]) -> list[Any]:
    return array.tolist() if array.dtype.kind != "O" else [str(x) for x in array.tolist()]


class DataPlane:
    def __init__(self, manager: ModelManager, batcher: MicroBatcher) -> None:
        self.manager = manager
        self.batcher = batcher

    def model(self) -> LoadedModel:
        model = self.manager.current
        if model is None:
            raise ModelNotReadyError("no model is loaded yet")
        return model

    def model_for(self, name: str, version: str | None) -> LoadedModel:
        model = self.model()
        if name != model.identity.name:
            raise UnknownModelError(
                f"model {name!r} is not served (this service serves {model.identity.name!r})"
            )
        if version is not None and version != model.identity.version:
            raise UnknownModelError(
                f"version {version!r} of {name!r} is not served (serving {model.identity.version})"
            )
        return model

    async def _run(self, model: LoadedModel, features: NDArray[np.float64]) -> BatchResult:
        return await self.batcher.submit(model, features)

    # --- simple JSON --------------------------------------------------------------------------
    async def predict(self, payload: Any) -> dict[str, Any]:
        model = self.model()
        if type(payload) is not dict or "instances" not in payload:
            raise InputError("the body must be an object with 'instances'")
        if len(payload) > 1:
            raise InputError(f"unknown key(s) {sorted(k for k in payload if k != 'instances')}")
        result = await self._run(
            model, codecs.from_rows(model.schema, payload["instances"], "instances")
        )
        answer: dict[str, Any] = {
            "model": {"name": result.model.identity.name, "version": result.model.identity.version},
            "predictions": _labels(result.labels),
        }
        if result.probabilities is not None:
            answer["classes"] = result.model.classes
            answer["probabilities"] = result.probabilities
        return answer

    # --- MLflow scoring protocol --------------------------------------------------------------
    async def invocations(self, payload: Any) -> dict[str, Any]:
        model = self.model()
        if type(payload) is not dict:
            raise InputError(f"the body must be an object with one of {', '.join(MLFLOW_FORMATS)}")
        given = [key for key in MLFLOW_FORMATS if key in payload]
        extra = [key for key in payload if key not in MLFLOW_FORMATS and key != "params"]
        if len(given) != 1 or extra:
            raise InputError(
                f"the body must have exactly one of {', '.join(MLFLOW_FORMATS)}"
                + (f" (unknown key(s) {sorted(extra)})" if extra else f" (got {given or 'none'})")
            )
        field = given[0]
        value = payload[field]
        schema = model.schema
        if field == "dataframe_split":
            features = codecs.from_split(schema, value)
        elif field == "dataframe_records":
            features = codecs.from_records(schema, value, field)
        elif type(value) is dict:
            features = codecs.from_columns(schema, value, field)
        else:
            features = codecs.from_rows(schema, value, field)
        result = await self._run(model, features)
        return {"predictions": _labels(result.labels)}

    # --- Open Inference Protocol (KServe V2) --------------------------------------------------
    def model_metadata(self, name: str, version: str | None) -> dict[str, Any]:
        model = self.model_for(name, version)
        outputs = [{"name": "predict", "datatype": "BYTES", "shape": [-1]}]
        if model.classes is not None:
            outputs.append(
                {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(model.classes)]}
            )
        return {
            "name": model.identity.name,
            "versions": [model.identity.version],
            "platform": "sklearn",
            "inputs": model.schema.describe(),
            "outputs": outputs,
            "parameters": {"classes": model.classes, "source": model.identity.source},
        }

    async def infer_v2(self, name: str, version: str | None, payload: Any) -> dict[str, Any]:
        model = self.model_for(name, version)
        if type(payload) is not dict:
            raise InputError("the body must be an inference request object with 'inputs'")
        request_id = payload.get("id")
        if request_id is not None and type(request_id) is not str:
            raise InputError("'id' must be a string")
        wanted = self._requested_outputs(payload.get("outputs"), model)
        features = codecs.from_v2_inputs(model.schema, payload.get("inputs"))
        result = await self._run(model, features)
        rows = result.labels.shape[0]
        outputs: list[dict[str, Any]] = []
        if "predict" in wanted:
            outputs.append(
                {
                    "name": "predict",
                    "shape": [rows],
                    "datatype": _v2_datatype(result.labels),
                    "data": _labels(result.labels),
                }
            )
        if "predict_proba" in wanted and result.probabilities is not None:
            probabilities = result.probabilities
            outputs.append(
                {
                    "name": "predict_proba",
                    "shape": list(probabilities.shape),
                    "datatype": "FP64",
                    "data": probabilities.ravel(),
                }
            )
        answer: dict[str, Any] = {
            "model_name": result.model.identity.name,
            "model_version": result.model.identity.version,
            "outputs": outputs,
        }
        if request_id is not None:
            answer["id"] = request_id
        return answer

    @staticmethod
    def _requested_outputs(requested: Any, model: LoadedModel) -> set[str]:
        available = {"predict"} | ({"predict_proba"} if model.classes is not None else set())
        if requested is None:
            return available
        if type(requested) is not list or any(
            type(o) is not dict or type(o.get("name")) is not str for o in requested
        ):
            raise InputError("'outputs' must be an array of {\"name\": ...} objects")
        names = {o["name"] for o in requested}
        unknown = names - available
        if unknown:
            raise InputError(f"unknown output(s) {sorted(unknown)}; available: {sorted(available)}")
        return names
