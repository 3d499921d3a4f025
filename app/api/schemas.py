"""OpenAPI shapes of the hot routes (bodies are parsed with orjson, not by these schemas)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

_NUMBER_ROW = {"type": "array", "items": {"type": "number"}, "minItems": 1}
_RECORD = {"type": "object", "additionalProperties": {"type": "number"}, "minProperties": 1}
_ROWS = {"type": "array", "minItems": 1, "items": {"anyOf": [_NUMBER_ROW, _RECORD]}}
_COLUMNS = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {"type": "array", "items": {"type": "number"}, "minItems": 1},
}


def json_body(schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }


PREDICT_BODY = json_body(
    {
        "type": "object",
        "required": ["instances"],
        "additionalProperties": False,
        "properties": {"instances": _ROWS},
    },
    {"instances": [[14.1, 19.3, 91.9]]},
)

INVOCATIONS_BODY = json_body(
    {
        "type": "object",
        "description": "exactly one of dataframe_split, dataframe_records, instances, inputs",
        "minProperties": 1,
        "maxProperties": 2,
        "properties": {
            "dataframe_split": {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "data": {
                        "type": "array",
                        "items": {"type": "array", "items": {"type": "number"}},
                    },
                    "index": {"type": "array", "items": {"type": "integer"}},
                },
            },
            "dataframe_records": {"type": "array", "items": _RECORD, "minItems": 1},
            "instances": {"anyOf": [_ROWS, _COLUMNS]},
            "inputs": {"anyOf": [_ROWS, _COLUMNS]},
            "params": {"type": "object"},
        },
    },
    {"dataframe_split": {"columns": ["mean radius"], "data": [[14.1]]}},
)

_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
        "datatype": {
            "type": "string",
            "enum": [
                *("FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8"),
                *("UINT64", "UINT32", "UINT16", "UINT8"),
            ],
        },
        "data": {"type": "array", "items": {"type": "number"}},
        "parameters": {
            "type": "object",
            "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
        },
    },
}

INFER_BODY = json_body(
    {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {
                "type": "object",
                "properties": {"binary_data_output": {"type": "boolean"}},
            },
            "inputs": {"type": "array", "items": _TENSOR, "minItems": 1},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "parameters": {
                            "type": "object",
                            "properties": {"binary_data": {"type": "boolean"}},
                        },
                    },
                },
            },
        },
    },
    {
        "inputs": [
            {"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": [14.1, 19.3, 91.9]}
        ]
    },
)


class ErrorBody(BaseModel):
    error: str = Field(description="what is wrong")
    code: str = Field(description="stable error kind, e.g. invalid_input, overloaded")
    request_id: str | None = None


class ModelRef(BaseModel):
    name: str
    version: str


class PredictAnswer(BaseModel):
    model: ModelRef
    predictions: list[Any]
    classes: list[Any] | None = None
    probabilities: list[list[float]] | None = None


class InvocationsAnswer(BaseModel):
    predictions: list[Any]


class OutputTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any] | None = Field(None, description="absent when sent as binary data")
    parameters: dict[str, Any] | None = Field(
        None, description="binary_data_size: this output's bytes after the JSON header"
    )


class InferAnswer(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[OutputTensor]


class MetadataTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]
    parameters: dict[str, Any]


class Health(BaseModel):
    status: str


class V2Live(BaseModel):
    live: bool


class V2Ready(BaseModel):
    ready: bool


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ModelStatus(BaseModel):
    ready: bool
    model: dict[str, Any] | None
    source: str
    following: str
    pinned: bool
    watch_interval_s: float
    last_check: float | None
    last_error: str | None


class ReloadAnswer(BaseModel):
    outcome: str
    model: dict[str, Any]


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "malformed JSON or empty body",
        401: "missing or invalid credentials",
        403: "the credential lacks the role",
        404: "unknown model or version",
        413: "body over the size limit",
        415: "not JSON",
        422: "the input does not match the model's signature",
        503: "not ready, overloaded (Retry-After) or shutting down",
        504: "the per-request timeout passed",
    }.items()
}
