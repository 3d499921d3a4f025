"""The data plane: protocol payloads in, predictions out (the HTTP layer stays thin).

Like Seldon MLServer's ``DataPlane``: routes hand the decoded JSON body here; this module picks
the model, validates the payload against its signature, queues it on the micro-batcher and
encodes the answer in the protocol's shape.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from app import __version__
from app.core.metrics import Metrics
from app.model.loaded import LoadedModel
from app.model.manager import ModelManager
from app.serving import codecs
from app.serving.batcher import BatchResult, MicroBatcher
from app.serving.codecs import InputError, InputPolicy

logger = logging.getLogger("stratus.dataplane")

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
#: Open Inference Protocol extensions this server implements (``GET /v2``)
V2_EXTENSIONS = ("binary_tensor_data",)
_MAX_REMEMBERED_WARNINGS = 256


class ModelNotReadyError(RuntimeError):
    """No model is loaded yet."""


class UnknownModelError(LookupError):
    """The request names a model or version that is not served."""


def v2_datatype(dtype: np.dtype[Any]) -> str:
    """The Open Inference Protocol datatype of labels of this numpy dtype, as ``infer`` sends
    them (model metadata declares the same)."""
    kind = dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    return "BYTES"


def _labels(array: NDArray[Any]) -> list[Any]:
    return array.tolist() if array.dtype.kind not in "OUS" else [str(x) for x in array.tolist()]


def _binary(array: NDArray[Any], datatype: str) -> bytes:
    """A tensor in the binary tensor extension's layout: little-endian, row-major; ``BYTES``
    elements each as a 4-byte little-endian length and the UTF-8 bytes."""
    if datatype == "BYTES":
        parts = []
        for value in _labels(array.ravel()):
            encoded = str(value).encode()
            parts.append(len(encoded).to_bytes(4, "little") + encoded)
        return b"".join(parts)
    layout = {"BOOL": "?", "INT64": "<i8", "FP64": "<f8"}[datatype]
    return np.ascontiguousarray(array, dtype=layout).tobytes()


@dataclass
class V2Answer:
    """An inference response: the JSON header, and the binary outputs that follow it (binary
    tensor extension) in the order of the header's outputs."""

    header: dict[str, Any]
    binary: list[bytes] = field(default_factory=list)


class IgnoredFeatures:
    """Told of unknown features that lenient decoding ignored: counts every such request and
    logs each distinct set of names once (``mlflow models serve`` logs a warning too)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._logged: set[tuple[str, ...]] = set()

    def __call__(self, names: Sequence[str]) -> None:
        self.metrics.ignored_features.inc()
        shown = tuple(name[:100] for name in names[: codecs.MAX_SHOWN_FEATURES])
        if shown not in self._logged and len(self._logged) < _MAX_REMEMBERED_WARNINGS:
            self._logged.add(shown)
            logger.warning(
                "input features that the model does not take were ignored",
                extra={"features": list(shown), "count": len(names)},
            )


class DataPlane:
    def __init__(
        self,
        manager: ModelManager,
        batcher: MicroBatcher,
        *,
        strict_input: bool = False,
        metrics: Metrics | None = None,
        server_name: str = "stratus-inference",
    ) -> None:
        self.manager = manager
        self.batcher = batcher
        self.server_name = server_name
        self.policy = (
            codecs.STRICT
            if strict_input
            else InputPolicy(ignored=IgnoredFeatures(metrics or manager.metrics))
        )

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

    async def _run(
        self, model: LoadedModel, features: NDArray[np.float64], deadline: float | None
    ) -> BatchResult:
        return await self.batcher.submit(model, features, deadline)

    # --- simple JSON --------------------------------------------------------------------------
    async def predict(self, payload: Any, deadline: float | None = None) -> dict[str, Any]:
        model = self.model()
        if type(payload) is not dict or "instances" not in payload:
            raise InputError("the body must be an object with 'instances'")
        if len(payload) > 1:
            raise InputError(f"unknown key(s) {sorted(k for k in payload if k != 'instances')}")
        features = codecs.from_rows(model.schema, payload["instances"], "instances", self.policy)
        result = await self._run(model, features, deadline)
        answer: dict[str, Any] = {
            "model": {"name": result.model.identity.name, "version": result.model.identity.version},
            "predictions": _labels(result.labels),
        }
        if result.probabilities is not None:
            answer["classes"] = result.model.classes
            answer["probabilities"] = result.probabilities
        return answer

    # --- MLflow scoring protocol --------------------------------------------------------------
    async def invocations(self, payload: Any, deadline: float | None = None) -> dict[str, Any]:
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
        name = given[0]
        value = payload[name]
        schema = model.schema
        if name == "dataframe_split":
            features = codecs.from_split(schema, value, self.policy)
        elif name == "dataframe_records":
            features = codecs.from_records(schema, value, name, self.policy)
        elif type(value) is dict:
            features = codecs.from_columns(schema, value, name, self.policy)
        else:
            features = codecs.from_rows(schema, value, name, self.policy)
        result = await self._run(model, features, deadline)
        return {"predictions": _labels(result.labels)}

    # --- Open Inference Protocol (KServe V2) --------------------------------------------------
    def server_metadata(self) -> dict[str, Any]:
        return {
            "name": self.server_name,
            "version": __version__,
            "extensions": list(V2_EXTENSIONS),
        }

    def model_metadata(self, name: str, version: str | None) -> dict[str, Any]:
        """What ``infer`` takes and returns. Parameter values are strings, numbers or booleans
        (the protocol's rule): ``classes`` is the JSON text of the class list, in the column
        order of ``predict_proba``. Where the model is stored is for admins (``/admin/model``)."""
        model = self.model_for(name, version)
        outputs = [{"name": "predict", "datatype": v2_datatype(model.label_dtype), "shape": [-1]}]
        parameters: dict[str, Any] = {}
        if model.classes is not None:
            outputs.append(
                {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(model.classes)]}
            )
            parameters["classes"] = orjson.dumps(model.classes).decode()
        return {
            "name": model.identity.name,
            "versions": [model.identity.version],
            "platform": "sklearn",
            "inputs": model.schema.describe(),
            "outputs": outputs,
            "parameters": parameters,
        }

    async def infer_v2(
        self,
        name: str,
        version: str | None,
        payload: Any,
        binary: bytes | memoryview = b"",
        deadline: float | None = None,
    ) -> V2Answer:
        model = self.model_for(name, version)
        if type(payload) is not dict:
            raise InputError("the body must be an inference request object with 'inputs'")
        request_id = payload.get("id")
        if request_id is not None and type(request_id) is not str:
            raise InputError("'id' must be a string")
        wanted = self._requested_outputs(payload, model)
        features = codecs.from_v2_inputs(model.schema, payload.get("inputs"), self.policy, binary)
        result = await self._run(model, features, deadline)
        rows = result.labels.shape[0]
        tensors: list[tuple[str, list[int], str, NDArray[Any]]] = []
        if "predict" in wanted:
            labels = result.labels
            tensors.append(("predict", [rows], v2_datatype(labels.dtype), labels))
        if "predict_proba" in wanted and result.probabilities is not None:
            probabilities = result.probabilities
            tensors.append(("predict_proba", list(probabilities.shape), "FP64", probabilities))
        answer = V2Answer(
            {
                "model_name": result.model.identity.name,
                "model_version": result.model.identity.version,
                "outputs": [],
            }
        )
        for tensor_name, shape, datatype, values in tensors:
            output: dict[str, Any] = {"name": tensor_name, "shape": shape, "datatype": datatype}
            if wanted[tensor_name]:
                chunk = _binary(values, datatype)
                output["parameters"] = {"binary_data_size": len(chunk)}
                answer.binary.append(chunk)
            else:
                output["data"] = _labels(values) if tensor_name == "predict" else values.ravel()
            answer.header["outputs"].append(output)
        if request_id is not None:
            answer.header["id"] = request_id
        return answer

    @staticmethod
    def _requested_outputs(payload: dict[str, Any], model: LoadedModel) -> dict[str, bool]:
        """Output name → whether it is sent as binary data (``binary_data`` on the output, else
        the request's ``binary_data_output``)."""
        available = ["predict"] + (["predict_proba"] if model.classes is not None else [])
        parameters = payload.get("parameters")
        if parameters is not None and type(parameters) is not dict:
            raise InputError("'parameters' must be an object")
        default = _flag(parameters or {}, "binary_data_output", "parameters") is True
        requested = payload.get("outputs")
        if requested is None:
            return dict.fromkeys(available, default)
        if type(requested) is not list or any(
            type(o) is not dict or type(o.get("name")) is not str for o in requested
        ):
            raise InputError("'outputs' must be an array of {\"name\": ...} objects")
        unknown = {o["name"] for o in requested} - set(available)
        if unknown:
            raise InputError(f"unknown output(s) {sorted(unknown)}; available: {available}")
        wanted = {}
        for output in requested:
            where = f"output {output['name']!r}"
            options = output.get("parameters") or {}
            if type(options) is not dict:
                raise InputError(f"{where}: parameters must be an object")
            if "classification" in options:
                raise InputError(f"{where}: the classification extension is not served")
            binary = _flag(options, "binary_data", where)
            wanted[output["name"]] = default if binary is None else binary
        return wanted


def _flag(parameters: dict[str, Any], key: str, where: str) -> bool | None:
    value = parameters.get(key)
    if value is not None and type(value) is not bool:
        raise InputError(f"{where}: {key} must be true or false")
    return value
