"""What a worker imports to start: only what serving needs (each library costs every new pod
start-up time and memory; README "Inference service" → "Speed")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.app.conftest import API_KEYS, MODEL_NAME, Trained, publish, train

#: a fresh interpreter: the start-up of ``python -m app`` up to a loaded model (lifespan)
_START = """
import asyncio, json, sys
import app.__main__
from app.main import app_from_environment
application = app_from_environment()
async def start():
    async with application.app.router.lifespan_context(application.app):
        assert application.state.manager.ready
asyncio.run(start())
print(json.dumps(sorted(sys.modules)))
"""
#: libraries the service uses only in some configurations, imported when those need them
_ON_DEMAND = {
    "mlflow": "models:/ URIs, or a model MLflow must load itself",
    "jwt": "STRATUS_AUTH_MODE=jwt",
    "cryptography": "STRATUS_AUTH_MODE=jwt (PyJWT's algorithms)",
    "httpx": "STRATUS_AUTH_MODE=jwt (the JWKS client)",
    "pygments": "nothing (httpx's command line)",
    "opentelemetry.sdk": "an OTLP endpoint",
    "pandas": "estimators that select columns by name, MLflow (app/model/sklearn_import.py)",
}


def _started_modules(tmp_path: Path, env: dict[str, str]) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", _START],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_an_api_key_worker_serving_a_store_imports_no_on_demand_library(tmp_path: Path) -> None:
    trained: Trained = train("forest", width=4)
    publish(str(tmp_path), trained, "1")
    modules = _started_modules(
        tmp_path,
        {
            "STRATUS_MODEL_URI": f"{tmp_path}/{MODEL_NAME}",
            "STRATUS_API_KEYS": API_KEYS,
            "STRATUS_WATCH_INTERVAL_S": "0",
            "STRATUS_LOG_LEVEL": "WARNING",
        },
    )
    assert "sklearn.ensemble" in modules  # the inspection sees the start-up
    imported = {
        name: why
        for name, why in _ON_DEMAND.items()
        if any(module == name or module.startswith(f"{name}.") for module in modules)
    }
    assert imported == {}


def test_a_model_that_selects_columns_by_name_gets_pandas_when_it_loads(tmp_path: Path) -> None:
    """scikit-learn is imported without pandas (app/model/sklearn_import.py); a model that needs
    a DataFrame still loads, warms up and serves (the loader imports pandas for it)."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    plain = train("logistic", width=4)
    by_name = make_pipeline(
        make_column_transformer(
            (StandardScaler(), ["feature 0", "feature 2"]), remainder="passthrough"
        ),
        LogisticRegression(),
    ).fit(plain.frame, plain.pipeline.predict(plain.frame))
    publish(str(tmp_path), Trained(by_name, plain.frame), "1")
    modules = _started_modules(
        tmp_path,
        {
            "STRATUS_MODEL_URI": f"{tmp_path}/{MODEL_NAME}",
            "STRATUS_API_KEYS": API_KEYS,
            "STRATUS_WATCH_INTERVAL_S": "0",
            "STRATUS_LOG_LEVEL": "WARNING",
        },
    )
    assert "pandas" in modules
