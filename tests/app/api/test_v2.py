"""Open Inference Protocol details: server and model metadata, and the binary tensor extension
(raw bodies built here by hand; ``tests/e2e/test_clients.py`` uses the real clients)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from app import __version__
from tests.app.conftest import MODEL_NAME, Trained, auth, publish, serve, settings_for, train

INFER = f"/v2/models/{MODEL_NAME}/infer"


def _binary_request(header: dict[str, Any], *chunks: bytes) -> tuple[bytes, dict[str, str]]:
    encoded = orjson.dumps(header)
    return encoded + b"".join(chunks), {
        "Inference-Header-Content-Length": str(len(encoded)),
        "Content-Type": "application/octet-stream",
        **auth(),
    }


def _split(body: bytes, header_length: int) -> tuple[dict[str, Any], bytes]:
    return orjson.loads(body[:header_length]), body[header_length:]


def test_server_metadata(client: TestClient) -> None:
    answer = client.get("/v2")  # no credentials, like the health routes
    assert answer.status_code == 200
    assert answer.json() == {
        "name": "stratus-inference",
        "version": __version__,
        "extensions": ["binary_tensor_data"],
    }


def test_model_metadata_describes_what_infer_returns(
    client: TestClient, logistic: Trained, store: str
) -> None:
    meta = client.get(f"/v2/models/{MODEL_NAME}", headers=auth()).json()
    tensor = {"name": "x", "shape": [2, 6], "datatype": "FP64", "data": logistic.rows(2)}
    infer = client.post(INFER, json={"inputs": [tensor]}, headers=auth()).json()
    declared = {o["name"]: o["datatype"] for o in meta["outputs"]}
    returned = {o["name"]: o["datatype"] for o in infer["outputs"]}
    assert declared == returned == {"predict": "INT64", "predict_proba": "FP64"}
    for value in meta["parameters"].values():
        assert isinstance(value, str | int | float | bool)
    assert orjson.loads(meta["parameters"]["classes"]) == [0, 1]
    assert "source" not in meta["parameters"]
    assert store not in orjson.dumps(meta).decode()  # where the model is stored: admins only


def test_binary_inputs_and_outputs(client: TestClient, logistic: Trained) -> None:
    rows = logistic.frame.head(3).to_numpy()
    raw = rows.astype("<f8").tobytes()
    header = {
        "inputs": [
            {"name": "x", "shape": [3, 6], "datatype": "FP64"}
            | {"parameters": {"binary_data_size": len(raw)}}
        ],
        "parameters": {"binary_data_output": True},
    }
    body, headers = _binary_request(header, raw)
    answer = client.post(INFER, content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/octet-stream"
    meta, data = _split(answer.content, int(answer.headers["inference-header-content-length"]))
    predict, proba = meta["outputs"]
    assert "data" not in predict
    assert predict["parameters"] == {"binary_data_size": 3 * 8}
    assert proba["parameters"] == {"binary_data_size": 3 * 2 * 8}
    labels = np.frombuffer(data[:24], "<i8")
    probabilities = np.frombuffer(data[24:], "<f8").reshape(3, 2)
    np.testing.assert_array_equal(labels, logistic.pipeline.predict(logistic.frame.head(3)))
    np.testing.assert_allclose(
        probabilities, logistic.pipeline.predict_proba(logistic.frame.head(3))
    )

    # one output in binary, the other as JSON; the input as JSON
    mixed = {
        "inputs": [{"name": "x", "shape": [3, 6], "datatype": "FP64", "data": rows.tolist()}],
        "outputs": [
            {"name": "predict_proba", "parameters": {"binary_data": True}},
            {"name": "predict"},
        ],
    }
    answer = client.post(INFER, json=mixed, headers=auth())
    meta, data = _split(answer.content, int(answer.headers["inference-header-content-length"]))
    outputs = {o["name"]: o for o in meta["outputs"]}
    assert outputs["predict"]["data"] == labels.tolist()
    np.testing.assert_array_equal(np.frombuffer(data, "<f8").reshape(3, 2), probabilities)


def test_json_requests_still_get_json(client: TestClient, logistic: Trained) -> None:
    tensor = {"name": "x", "shape": [1, 6], "datatype": "FP64", "data": logistic.rows(1)[0]}
    answer = client.post(INFER, json={"inputs": [tensor]}, headers=auth())
    assert answer.headers["content-type"] == "application/json"
    assert "inference-header-content-length" not in answer.headers


@pytest.mark.parametrize(
    ("header_length", "content_type", "status", "code"),
    [
        ("0", "application/octet-stream", 400, "malformed_request"),
        ("99999", "application/octet-stream", 400, "malformed_request"),
        ("-5", "application/octet-stream", 400, "malformed_request"),
        ("abc", None, 400, "malformed_request"),
        (None, "application/octet-stream", 415, "unsupported_media_type"),
        ("LEN", "text/plain", 415, "unsupported_media_type"),
        ("LEN", None, 422, "invalid_input"),  # 40 bytes for a 48-byte tensor
    ],
)
def test_bad_binary_requests_are_clear_4xx(
    client: TestClient, header_length: str | None, content_type: str | None, status: int, code: str
) -> None:
    raw = np.zeros(5, "<f8").tobytes()
    header = {
        "inputs": [
            {"name": "x", "shape": [1, 6], "datatype": "FP64"}
            | {"parameters": {"binary_data_size": 48}}
        ]
    }
    body, headers = _binary_request(header, raw)
    if header_length is None:
        del headers["Inference-Header-Content-Length"]
    elif header_length != "LEN":
        headers["Inference-Header-Content-Length"] = header_length
    if content_type is None:
        del headers["Content-Type"]
    else:
        headers["Content-Type"] = content_type
    answer = client.post(INFER, content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code


@pytest.mark.parametrize("datatype", [[], {}, 3, None, True, ["FP64"]])
def test_a_datatype_that_is_not_a_string_is_422(
    client: TestClient, logistic: Trained, datatype: Any
) -> None:
    tensor = {"name": "x", "shape": [1, 6], "datatype": datatype, "data": logistic.rows(1)[0]}
    answer = client.post(INFER, json={"inputs": [tensor]}, headers=auth())
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_input"


def test_string_classes_are_bytes_tensors(tmp_path: Path) -> None:
    base = train()
    names = np.where(base.pipeline.predict(base.frame) == 1, "malignant", "benign")
    named = Trained(make_pipeline(StandardScaler(), LogisticRegression()), base.frame)
    named.pipeline.fit(base.frame, names)
    publish(str(tmp_path), named, "1")
    expected = named.pipeline.predict(base.frame.head(2)).tolist()
    with serve(settings_for(f"{tmp_path}/{MODEL_NAME}")) as client:
        meta = client.get(f"/v2/models/{MODEL_NAME}", headers=auth()).json()
        assert meta["outputs"][0] == {"name": "predict", "datatype": "BYTES", "shape": [-1]}
        tensor = {"name": "x", "shape": [2, 6], "datatype": "FP64", "data": base.rows(2)}
        answer = client.post(
            INFER,
            json={"inputs": [tensor], "outputs": [{"name": "predict"}]},
            headers=auth(),
        ).json()
        assert answer["outputs"][0]["datatype"] == "BYTES"
        assert answer["outputs"][0]["data"] == expected
        binary = client.post(
            INFER,
            json={
                "inputs": [tensor],
                "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
            },
            headers=auth(),
        )
        meta, data = _split(binary.content, int(binary.headers["inference-header-content-length"]))
        decoded = []
        while data:
            (length,) = struct.unpack("<I", data[:4])
            decoded.append(data[4 : 4 + length].decode())
            data = data[4 + length :]
        assert decoded == expected
