from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.app.conftest import (
    ADMIN_KEY,
    BOTH_KEY,
    MODEL_NAME,
    PREDICT_KEY,
    Trained,
    auth,
    boundary_rows,
    publish,
    serve,
    settings_for,
    train,
)


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    ping = client.get("/ping")
    assert (ping.status_code, ping.text) == (200, "\n")
    assert client.get("/health").status_code == 200
    assert client.get(f"/v2/models/{MODEL_NAME}/ready").json() == {
        "name": MODEL_NAME,
        "ready": True,
    }
    assert client.get(f"/v2/models/{MODEL_NAME}/versions/1/ready").status_code == 200
    assert client.get(f"/v2/models/{MODEL_NAME}/versions/9/ready").status_code == 404
    assert client.get("/v2/models/other/ready").status_code == 404


def test_the_three_protocols_agree(client: TestClient, logistic: Trained) -> None:
    rows = logistic.rows(5)
    expected = logistic.pipeline.predict(logistic.frame.head(5)).tolist()
    probabilities = logistic.pipeline.predict_proba(logistic.frame.head(5))

    simple = client.post("/predict", json={"instances": rows}, headers=auth()).json()
    assert simple["predictions"] == expected
    assert simple["model"] == {"name": MODEL_NAME, "version": "1"}
    assert simple["classes"] == [0, 1]
    np.testing.assert_allclose(simple["probabilities"], probabilities)

    records = [dict(zip(logistic.features, row, strict=True)) for row in rows]
    assert client.post("/predict", json={"instances": records}, headers=auth()).json() == simple

    for body in (
        {"dataframe_split": {"columns": logistic.features, "data": rows}},
        {"dataframe_records": records},
        {"instances": rows},
        {"inputs": {name: [r[i] for r in rows] for i, name in enumerate(logistic.features)}},
    ):
        answer = client.post("/invocations", json=body, headers=auth())
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": expected}

    tensor = {
        "name": "input-0",
        "shape": [5, len(logistic.features)],
        "datatype": "FP64",
        "data": [value for row in rows for value in row],
    }
    for path in (f"/v2/models/{MODEL_NAME}/infer", f"/v2/models/{MODEL_NAME}/versions/1/infer"):
        v2 = client.post(path, json={"id": "r1", "inputs": [tensor]}, headers=auth()).json()
        assert v2["model_name"] == MODEL_NAME
        assert v2["model_version"] == "1"
        assert v2["id"] == "r1"
        outputs = {o["name"]: o for o in v2["outputs"]}
        assert outputs["predict"]["data"] == expected
        assert outputs["predict"]["datatype"] == "INT64"
        assert outputs["predict_proba"]["shape"] == [5, 2]
        assert outputs["predict_proba"]["data"] == pytest.approx(probabilities.ravel().tolist())
    only = client.post(
        f"/v2/models/{MODEL_NAME}/infer",
        json={"inputs": [tensor], "outputs": [{"name": "predict"}]},
        headers=auth(),
    ).json()
    assert [o["name"] for o in only["outputs"]] == ["predict"]


def test_v2_metadata(client: TestClient, logistic: Trained) -> None:
    meta = client.get(f"/v2/models/{MODEL_NAME}", headers=auth()).json()
    assert meta["name"] == MODEL_NAME
    assert meta["versions"] == ["1"]
    assert [i["name"] for i in meta["inputs"]] == logistic.features
    assert client.get(f"/v2/models/{MODEL_NAME}/versions/1", headers=auth()).status_code == 200
    missing = client.get(f"/v2/models/{MODEL_NAME}/versions/7", headers=auth())
    assert missing.status_code == 404
    assert "version '7'" in missing.json()["error"]


@pytest.mark.parametrize(
    ("path", "method", "key", "status"),
    [
        ("/predict", "post", None, 401),
        ("/predict", "post", "wrong-key", 401),
        ("/predict", "post", ADMIN_KEY, 403),
        ("/predict", "post", PREDICT_KEY, 200),
        ("/invocations", "post", ADMIN_KEY, 403),
        ("/invocations", "post", PREDICT_KEY, 200),
        (f"/v2/models/{MODEL_NAME}/infer", "post", None, 401),
        (f"/v2/models/{MODEL_NAME}/infer", "post", PREDICT_KEY, 200),
        (f"/v2/models/{MODEL_NAME}", "get", None, 401),
        (f"/v2/models/{MODEL_NAME}", "get", PREDICT_KEY, 200),
        ("/admin/model", "get", None, 401),
        ("/admin/model", "get", PREDICT_KEY, 403),
        ("/admin/model", "get", ADMIN_KEY, 200),
        ("/admin/reload", "post", PREDICT_KEY, 403),
        ("/admin/reload", "post", ADMIN_KEY, 200),
        ("/admin/rollback", "post", PREDICT_KEY, 403),
        ("/healthz", "get", None, 200),
        ("/readyz", "get", None, 200),
        ("/metrics", "get", None, 200),
    ],
)
def test_auth_matrix(
    client: TestClient, logistic: Trained, path: str, method: str, key: str | None, status: int
) -> None:
    headers = {"X-API-Key": key} if key else {}
    body: dict[str, Any]
    if path.endswith("/infer"):
        body = {
            "inputs": [
                {"name": "x", "shape": [1, 6], "datatype": "FP64", "data": logistic.rows(1)[0]}
            ]
        }
    else:
        body = {"instances": logistic.rows(1)}
    kwargs = {"json": body} if method == "post" and not path.startswith("/admin") else {}
    answer = client.request(method.upper(), path, headers=headers, **kwargs)
    assert answer.status_code == status, answer.text
    if status == 401:
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["code"] == "unauthenticated"


def test_bearer_api_key(client: TestClient, logistic: Trained) -> None:
    answer = client.post(
        "/predict",
        json={"instances": logistic.rows(1)},
        headers={"Authorization": f"Bearer {PREDICT_KEY}"},
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b"{not json", {}, 400, "malformed_json"),
        (b"", {}, 400, "empty_body"),
        (b'{"instances": [[1]]}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b'{"instances": [[1, 2]]}', {}, 422, "invalid_input"),
        (b'{"rows": [[1, 2]]}', {}, 422, "invalid_input"),
        (b"[1, 2]", {}, 422, "invalid_input"),
        (b'{"instances": [[1, 2, 3, 4, 5, NaN]]}', {}, 400, "malformed_json"),
        (b'{"instances": [[1, 2, 3, 4, 5, 1e999]]}', {}, 400, "malformed_json"),
        (b'{"instances": [[1, 2, 3, 4, 5, null]]}', {}, 422, "invalid_input"),
        (b'{"instances": [{"feature 0": 1}]}', {}, 422, "invalid_input"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    client: TestClient, content: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    answer = client.post(
        "/predict",
        content=content,
        headers={"Content-Type": "application/json", **auth(), **headers},
    )
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code
    assert body["error"]
    assert body["request_id"] == answer.headers["x-request-id"]


def test_body_over_the_limit(store: str) -> None:
    with serve(settings_for(f"{store}/{MODEL_NAME}", max_body_bytes=2048)) as small:
        big = {"instances": [[1.0] * 6] * 200}
        answer = small.post("/predict", json=big, headers=auth())
        assert answer.status_code == 413
        assert answer.json()["code"] == "body_too_large"


def test_unknown_model_and_route(client: TestClient) -> None:
    answer = client.post("/v2/models/nope/infer", json={"inputs": []}, headers=auth())
    assert answer.status_code == 404
    assert "'nope' is not served" in answer.json()["error"]
    assert client.get("/nowhere").json()["code"] == "not_found"


def test_request_id_is_accepted_or_generated(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 16


def test_metrics(client: TestClient, logistic: Trained) -> None:
    client.post("/predict", json={"instances": logistic.rows(2)}, headers=auth())
    client.post("/predict", json={"instances": [[1]]}, headers=auth())
    text = client.get("/metrics").text
    assert 'stratus_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'stratus_requests_total{method="POST",route="/predict",status="422"} 1.0' in text
    assert (
        'stratus_request_duration_seconds_bucket{le="0.5",method="POST",route="/predict",status="200"}'
        in text
    )
    assert "stratus_batch_size_rows_bucket" in text
    assert "stratus_queue_depth 0.0" in text
    assert f'stratus_model_info{{name="{MODEL_NAME}",source=' in text
    assert 'stratus_model_loads_total{version="1"} 1.0' in text
    assert "stratus_model_swaps_total 0.0" in text


def test_not_ready_without_a_model(tmp_path_factory: pytest.TempPathFactory) -> None:
    empty = tmp_path_factory.mktemp("empty")
    with serve(settings_for(f"{empty}/{MODEL_NAME}")) as unready:
        assert unready.get("/healthz").status_code == 200
        assert unready.get("/readyz").status_code == 503
        assert unready.get(f"/v2/models/{MODEL_NAME}/ready").status_code == 503
        answer = unready.post("/predict", json={"instances": [[1]]}, headers=auth())
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        status = unready.get("/admin/model", headers=auth(BOTH_KEY)).json()
        assert status["ready"] is False
        assert "no pointer" in status["last_error"]


def test_openapi_documents_every_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/predict",
        "/invocations",
        "/healthz",
        "/readyz",
        "/metrics",
        "/admin/model",
        "/admin/reload",
        "/admin/rollback",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{name}",
        "/v2/models/{name}/ready",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}",
        "/v2/models/{name}/versions/{version}/ready",
        "/v2/models/{name}/versions/{version}/infer",
    ):
        assert path in paths, path
    predict = paths["/predict"]["post"]
    assert predict["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "instances"
    ]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(schema["components"]["securitySchemes"])


def _publish_and_serve(tmp_path: Path, trained: Trained, **overrides: Any) -> Any:
    publish(str(tmp_path), trained, "1")
    return serve(settings_for(f"{tmp_path}/{MODEL_NAME}", **overrides))


def test_labels_equal_the_models_own_predict_at_the_decision_boundary(
    client: TestClient, logistic: Trained
) -> None:
    rows = boundary_rows(logistic)
    pipeline = logistic.pipeline
    own = [int(pipeline.predict(rows[i : i + 1])[0]) for i in range(len(rows))]
    probabilities = pipeline.predict_proba(rows)
    # the case that matters: predict_proba ties, and the model's predict is not the argmax
    assert any(p[0] == p[1] and label == 1 for p, label in zip(probabilities, own, strict=True)), (
        "no boundary row where argmax and predict differ: the test would prove nothing"
    )
    instances = rows.tolist()
    answer = client.post("/predict", json={"instances": instances}, headers=auth())
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == own
    mlflow = client.post("/invocations", json={"instances": instances}, headers=auth())
    assert mlflow.json()["predictions"] == own
    tensor = {
        "name": "x",
        "shape": list(rows.shape),
        "datatype": "FP64",
        "data": rows.ravel().tolist(),
    }
    v2 = client.post(f"/v2/models/{MODEL_NAME}/infer", json={"inputs": [tensor]}, headers=auth())
    assert v2.json()["outputs"][0]["data"] == own


def test_inputs_the_model_cannot_score_finitely_are_422_like_sklearn(tmp_path: Path) -> None:
    """Huge but finite inputs: where sklearn refuses them (a step's output overflows) or the
    model's output is not finite, 422; otherwise the model's own answer."""
    small = train("logistic", scale=0.01)  # features ~0.01: scaling a huge value overflows
    base = small.frame.to_numpy()[0]
    cases = []
    for value in (1e300, 1e306, 1.7e308, -1.7e308):
        for feature in range(3):
            row = base.copy()
            row[feature] = value
            cases.append(row)
    refused = served = 0
    with _publish_and_serve(tmp_path, small) as client:
        for row in cases:
            frame = pd.DataFrame([row], columns=small.features)
            try:
                label = small.pipeline.predict(frame).tolist()
                probabilities = small.pipeline.predict_proba(frame)
                finite = bool(np.isfinite(probabilities).all())
            except ValueError:
                finite = False
            answer = client.post("/predict", json={"instances": [row.tolist()]}, headers=auth())
            if not finite:
                refused += 1
                assert answer.status_code == 422, (row, answer.text)
                assert answer.json()["code"] == "model_rejected_input"
            else:
                served += 1
                assert answer.status_code == 200, (row, answer.text)
                assert answer.json()["predictions"] == label
                np.testing.assert_array_equal(answer.json()["probabilities"], probabilities)
    assert refused
    assert served


def test_a_non_finite_prediction_is_422_not_null(tmp_path: Path) -> None:
    ridge = train("ridge", scale=0.1)  # |coefficients| add up to more than 1
    row = (np.sign(ridge.pipeline[-1].coef_) * 1e308).tolist()
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(ridge.pipeline.predict(np.array([row]))).all()
    with _publish_and_serve(tmp_path, ridge) as client:
        answer = client.post("/predict", json={"instances": [row]}, headers=auth())
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "model_rejected_input"
        assert "non-finite" in answer.json()["error"]
        fine = client.post("/predict", json={"instances": ridge.rows(2)}, headers=auth())
        assert fine.json()["predictions"] == pytest.approx(
            ridge.pipeline.predict(ridge.frame.head(2)).tolist()
        )


def test_a_model_raising_on_validated_input_is_422_model_rejected_input(tmp_path: Path) -> None:
    refusing = train("refusing")
    row = refusing.rows(1)[0]
    row[2] = 5e6  # a plain finite number: valid input, which the model refuses
    with _publish_and_serve(tmp_path, refusing) as client:
        for path, body in (
            ("/predict", {"instances": [row]}),
            ("/invocations", {"instances": [row]}),
        ):
            answer = client.post(path, json=body, headers=auth())
            assert answer.status_code == 422, answer.text
            assert answer.json()["code"] == "model_rejected_input"
            assert "outside what the model was built for" in answer.json()["error"]
            assert answer.json()["request_id"] == answer.headers["x-request-id"]
        good = client.post("/predict", json={"instances": refusing.rows(2)}, headers=auth())
        assert good.status_code == 200


def test_columns_in_another_order_than_the_signature_give_the_same_predictions(
    client: TestClient, logistic: Trained
) -> None:
    rows = logistic.frame.head(6)
    expected = logistic.pipeline.predict(rows).tolist()
    reversed_columns = {name: rows[name].tolist() for name in reversed(logistic.features)}
    assert list(reversed_columns) != logistic.features
    for field in ("inputs", "instances"):
        answer = client.post("/invocations", json={field: reversed_columns}, headers=auth())
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": expected}
    tensors = [
        {"name": name, "shape": [6], "datatype": "FP64", "data": values}
        for name, values in reversed_columns.items()
    ]
    v2 = client.post(f"/v2/models/{MODEL_NAME}/infer", json={"inputs": tensors}, headers=auth())
    assert v2.json()["outputs"][0]["data"] == expected


def test_mlflow_scoring_server_routes(client: TestClient, tmp_path: Path) -> None:
    import mlflow

    version = client.get("/version")
    assert (version.status_code, version.text) == (200, mlflow.__version__)
    with serve(settings_for(f"{tmp_path}/{MODEL_NAME}")) as unready:
        for path in ("/ping", "/health"):
            answer = unready.get(path)
            assert answer.status_code == 404
            assert answer.json()["code"] == "not_ready"
        assert unready.get("/v2/health/ready").json() == {"ready": False}
        assert unready.get("/v2/health/live").json() == {"live": True}
