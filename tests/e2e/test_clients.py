"""The ecosystem's own clients, unchanged, against the service as a real process (``python -m
app`` under uvicorn): MLflow's ``ScoringServerClient``, the KServe SDK's ``InferenceRESTClient``
and Triton's ``tritonclient.http`` (binary tensor data, its default, and JSON)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from tests.app.conftest import MODEL_NAME, PREDICT_KEY, Trained, publish, save_model_dir, train
from tests.e2e.conftest import service

pytestmark = pytest.mark.slow
HEADERS = {"X-API-Key": PREDICT_KEY}


def _headers() -> dict[str, str]:
    """A fresh dict per call: KServe's and Triton's clients write Inference-Header-Content-Length
    into the headers they are given, and a stale one would describe another request's body."""
    return dict(HEADERS)


@pytest.fixture(scope="module")
def logistic() -> Trained:
    return train("logistic", seed=11)


@pytest.fixture(scope="module")
def imputing() -> Trained:
    return train("imputing", seed=12)


@pytest.fixture(scope="module")
def v2_server(tmp_path_factory: pytest.TempPathFactory, logistic: Trained) -> Iterator[str]:
    """The service with API keys (the V2 clients send them as headers)."""
    workdir = tmp_path_factory.mktemp("v2-clients")
    publish(str(workdir / "store"), logistic, "1")
    with service({"STRATUS_MODEL_URI": f"{workdir}/store/{MODEL_NAME}"}, workdir) as server:
        yield server.url


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, imputing: Trained) -> Iterator[str]:
    """The service with auth disabled: MLflow's scoring client sends no credentials."""
    workdir = tmp_path_factory.mktemp("mlflow-client")
    publish(str(workdir / "store"), imputing, "1")
    env = {"STRATUS_MODEL_URI": f"{workdir}/store/{MODEL_NAME}", "STRATUS_AUTH_MODE": "disabled"}
    with service(env, workdir) as server:
        yield server.url


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


# --- MLflow ----------------------------------------------------------------------------------


def test_mlflow_scoring_server_client(
    mlflow_server: str, imputing: Trained, tmp_path: Path
) -> None:
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    client = ScoringServerClient(*_host_port(mlflow_server))
    client.wait_server_ready(timeout=30)  # GET /ping
    assert client.get_version() == mlflow.__version__

    reference = mlflow.pyfunc.load_model(str(save_model_dir(imputing, tmp_path / "model")))
    frame = imputing.frame.head(5).copy()
    frame.iloc[1, 2] = np.nan  # the pipeline's imputer fills it in
    frame["request source"] = "batch-job"  # not a feature: ignored, as MLflow does
    answer = client.invoke(frame)
    assert answer["predictions"] == reference.predict(frame).tolist()

    rows = imputing.frame.head(5)
    expected = reference.predict(rows).tolist()
    assert client.invoke(rows.to_numpy())["predictions"] == expected  # {"inputs": [[...]]}
    assert client.invoke(rows.to_numpy().tolist())["predictions"] == expected


# --- KServe ----------------------------------------------------------------------------------


def test_kserve_inference_rest_client(v2_server: str, logistic: Trained) -> None:
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
    from kserve.protocol.infer_type import RequestedOutput

    rows = logistic.frame.head(4).to_numpy()
    labels = logistic.pipeline.predict(logistic.frame.head(4))
    probabilities = logistic.pipeline.predict_proba(logistic.frame.head(4))

    def request(binary_in: bool, binary_out: bool) -> InferRequest:
        tensor = InferInput("input-0", list(rows.shape), "FP64")
        tensor.set_data_from_numpy(rows, binary_data=binary_in)
        outputs = [
            RequestedOutput("predict", {"binary_data": binary_out}),
            RequestedOutput("predict_proba", {"binary_data": binary_out}),
        ]
        return InferRequest(MODEL_NAME, [tensor], request_outputs=outputs)

    async def scenario() -> None:
        async with InferenceRESTClient(RESTConfig(protocol="v2", timeout=30)) as client:
            assert await client.is_server_live(v2_server, headers=_headers()) is True
            assert await client.is_server_ready(v2_server, headers=_headers()) is True
            assert await client.is_model_ready(v2_server, MODEL_NAME, headers=_headers()) is True
            assert await client.is_model_ready(v2_server, "other", headers=_headers()) is False
            for binary_in, binary_out in ((False, False), (True, False), (True, True)):
                answer = await client.infer(
                    v2_server, request(binary_in, binary_out), MODEL_NAME, headers=_headers()
                )
                outputs = {output.name: output for output in answer.outputs}
                assert answer.model_name == MODEL_NAME
                np.testing.assert_array_equal(outputs["predict"].as_numpy(), labels)
                np.testing.assert_allclose(outputs["predict_proba"].as_numpy(), probabilities)

    asyncio.run(scenario())


# --- Triton ----------------------------------------------------------------------------------


def test_tritonclient_http(v2_server: str, logistic: Trained) -> None:
    import tritonclient.http as triton

    frame = logistic.frame.head(6)
    rows = frame.to_numpy()
    labels = logistic.pipeline.predict(frame)
    probabilities = logistic.pipeline.predict_proba(frame)
    client = triton.InferenceServerClient(url=v2_server.removeprefix("http://"))
    try:
        assert client.is_server_live(headers=_headers())
        assert client.is_server_ready(headers=_headers())
        assert client.is_model_ready(MODEL_NAME, headers=_headers())
        assert client.is_model_ready(MODEL_NAME, "1", headers=_headers())
        assert not client.is_model_ready(MODEL_NAME, "2", headers=_headers())
        assert "binary_tensor_data" in client.get_server_metadata(headers=_headers())["extensions"]
        metadata = client.get_model_metadata(MODEL_NAME, headers=_headers())
        assert {o["name"]: o["datatype"] for o in metadata["outputs"]} == {
            "predict": "INT64",
            "predict_proba": "FP64",
        }

        # tritonclient's defaults: binary inputs, and (no outputs named) binary outputs
        tensor = triton.InferInput("input-0", list(rows.shape), "FP64")
        tensor.set_data_from_numpy(rows)
        result = client.infer(MODEL_NAME, [tensor], headers=_headers())
        np.testing.assert_array_equal(result.as_numpy("predict"), labels)
        np.testing.assert_allclose(result.as_numpy("predict_proba"), probabilities)
        assert result.as_numpy("predict").dtype == np.int64

        # FP32 per-feature tensors in binary, JSON outputs, a model version
        per_feature = []
        for name in logistic.features:
            column = triton.InferInput(name, [len(rows)], "FP32")
            column.set_data_from_numpy(frame[name].to_numpy(np.float32))
            per_feature.append(column)
        outputs = [triton.InferRequestedOutput("predict", binary_data=False)]
        result = client.infer(
            MODEL_NAME, per_feature, model_version="1", outputs=outputs, headers=_headers()
        )
        expected = logistic.pipeline.predict(pd.DataFrame(frame.to_numpy(np.float32).astype(float)))
        np.testing.assert_array_equal(result.as_numpy("predict"), expected)
        assert result.get_output("predict_proba") is None

        # all JSON
        tensor.set_data_from_numpy(rows, binary_data=False)
        outputs = [triton.InferRequestedOutput(n, binary_data=False) for n in ("predict",)]
        result = client.infer(MODEL_NAME, [tensor], outputs=outputs, headers=_headers())
        np.testing.assert_array_equal(result.as_numpy("predict"), labels)

        with pytest.raises(Exception, match=r"401|API key"):
            client.infer(MODEL_NAME, [tensor])
    finally:
        client.close()


def test_plain_http_sees_the_same_protocol(v2_server: str, logistic: Trained) -> None:
    """What curl (or a Kubernetes probe) sees: no credentials needed for health and server
    metadata, JSON in and out for inference."""
    import httpx

    assert httpx.get(f"{v2_server}/v2/health/ready").json() == {"ready": True}
    assert httpx.get(f"{v2_server}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{v2_server}/v2").json()["extensions"] == ["binary_tensor_data"]
    ping = httpx.get(f"{v2_server}/ping")
    assert (ping.status_code, ping.text) == (200, "\n")
    tensor = {"name": "x", "shape": [1, 6], "datatype": "FP64", "data": logistic.rows(1)[0]}
    answer = httpx.post(
        f"{v2_server}/v2/models/{MODEL_NAME}/infer", json={"inputs": [tensor]}, headers=HEADERS
    )
    assert answer.headers["content-type"] == "application/json"
    assert (
        answer.json()["outputs"][0]["data"]
        == logistic.pipeline.predict(logistic.frame.head(1)).tolist()
    )
