"""The rollout's smoke test of one ML API endpoint (the preview or the stable Service):

* readiness: ``GET /readyz`` and the V2 model readiness answer 200 / ready;
* the served model version: V2 metadata ``versions`` is the expected one;
* a known answer per protocol: the same rows through ``/predict``, ``/invocations`` and V2
  ``infer`` give the case's expected labels, and each names the expected version where the
  protocol reports it.

Any failed check raises :class:`~infra.rollout.execute.StepFailedError` with what was wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from infra.rollout.execute import StepFailedError


@dataclass(frozen=True)
class SmokeCase:
    model: str
    rows: list[dict[str, float]]
    expected: list[Any]

    @classmethod
    def load(cls, path: Path | None = None, model: str = "stratus-classifier") -> SmokeCase:
        """A case file (``{"model", "rows", "expected"}``), by default the shipped one."""
        if path is None:
            text = (resources.files("infra.rollout") / "smoke_cases" / f"{model}.json").read_text()
        else:
            text = path.read_text()
        document = json.loads(text)
        rows, expected = document["rows"], document["expected"]
        if not rows or len(rows) != len(expected):
            raise ValueError("a smoke case needs rows and one expected answer per row")
        return cls(model=document["model"], rows=rows, expected=expected)


class SmokeTester:
    """Checks one base URL; ``api_key`` needs the ``predict`` role."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url, headers={"X-API-Key": api_key}, timeout=timeout
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SmokeTester:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _get(self, path: str) -> Any:
        return self._json("GET", path)

    def _post(self, path: str, body: Any) -> Any:
        return self._json("POST", path, body)

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise StepFailedError(f"{method} {self.base_url}{path}: {exc}") from None
        if response.status_code != 200:
            raise StepFailedError(
                f"{method} {path} answered {response.status_code}: {response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError:
            raise StepFailedError(f"{method} {path} did not answer JSON") from None

    def served_version(self, model: str) -> str:
        metadata = self._get(f"/v2/models/{model}")
        versions = metadata.get("versions") or []
        if not versions:
            raise StepFailedError(f"GET /v2/models/{model} names no version")
        return str(versions[0])

    def check(self, case: SmokeCase, expected_version: str) -> None:
        self._get("/readyz")
        ready = self._get(f"/v2/models/{case.model}/ready")
        if ready.get("ready") is False:
            raise StepFailedError(f"model {case.model} is not ready")
        served = self.served_version(case.model)
        if served != expected_version:
            raise StepFailedError(
                f"serves version {served} of {case.model}, expected version {expected_version}"
            )
        answers = {
            "/predict": self._predict(case),
            "/invocations": self._invocations(case),
            "v2 infer": self._infer(case, expected_version),
        }
        for protocol, labels in answers.items():
            if labels != case.expected:
                raise StepFailedError(
                    f"{protocol} answered {labels} for the known rows, expected {case.expected}"
                )

    def _predict(self, case: SmokeCase) -> list[Any]:
        answer = self._post("/predict", {"instances": case.rows})
        version = (answer.get("model") or {}).get("version")
        if version is not None and str(version) != self.served_version(case.model):
            raise StepFailedError(f"/predict answered with model version {version}")
        return list(answer.get("predictions") or [])

    def _invocations(self, case: SmokeCase) -> list[Any]:
        answer = self._post("/invocations", {"dataframe_records": case.rows})
        return list(answer.get("predictions") or [])

    def _infer(self, case: SmokeCase, expected_version: str) -> list[Any]:
        columns = list(case.rows[0])
        body = {
            "inputs": [
                {
                    "name": column,
                    "shape": [len(case.rows)],
                    "datatype": "FP64",
                    "data": [row[column] for row in case.rows],
                }
                for column in columns
            ],
            "outputs": [{"name": "predict"}],
        }
        answer = self._post(f"/v2/models/{case.model}/infer", body)
        if str(answer.get("model_version")) != expected_version:
            raise StepFailedError(
                f"v2 infer answered with model version {answer.get('model_version')}, "
                f"expected {expected_version}"
            )
        outputs = {o.get("name"): o for o in answer.get("outputs") or []}
        if "predict" not in outputs:
            raise StepFailedError("v2 infer returned no 'predict' output")
        return list(outputs["predict"].get("data") or [])
