"""Property-based fuzzing of every documented operation (schemathesis): never a 5xx.

Schema-conforming and schema-violating inputs are generated for each operation of the app's own
OpenAPI document, sent with a key that has both roles to the app under a real uvicorn server (so
the lifespan, batcher and model run), and each response is checked with ``not_a_server_error``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tests.app.conftest import BOTH_KEY, MODEL_NAME, settings_for, uvicorn_thread

EXAMPLES_PER_MODE = 25


@pytest.fixture(scope="module")
def base_url(store: str) -> Iterator[str]:
    with uvicorn_thread(settings_for(f"{store}/{MODEL_NAME}", max_queue=4096)) as url:
        yield url


def _operations(url: str) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_gives_a_server_error(base_url: str, mode: GenerationMode) -> None:
    operations = _operations(base_url)
    assert len(operations) >= 16
    fuzzed = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_MODE,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            if (
                case.path_parameters
                and "name" in case.path_parameters
                and zlib.crc32(repr(case).encode()) % 2
            ):
                case.path_parameters["name"] = MODEL_NAME  # reach the validators half the time
            response = case.call(base_url=base_url, headers={"X-API-Key": BOTH_KEY}, timeout=30)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Unsatisfiable:
            # operations without parameters or body have no schema-violating variant
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue
        fuzzed += 1
    assert fuzzed >= (16 if mode is GenerationMode.POSITIVE else 8)


#: any JSON value: what a client can put where a tensor's fields belong
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
#: well-formed tensors: JSON [1, 6], one feature per tensor, and binary (48 bytes follow)
VALID_TENSORS = (
    {"name": "x", "shape": [1, 6], "datatype": "FP64", "data": [0.5] * 6},
    {"name": "feature 0", "shape": [1], "datatype": "INT32", "data": [1]},
    {"name": "x", "shape": [1, 6], "datatype": "FP64", "parameters": {"binary_data_size": 48}},
)
VALID_OUTPUTS = (
    {"name": "predict"},
    {"name": "predict_proba", "parameters": {"binary_data": True}},
)


@st.composite
def _mutated(draw: st.DrawFn, valid: tuple[dict[str, object], ...], keys: list[str]) -> object:
    """A well-formed object with one or two of its fields replaced by any JSON value or dropped
    (so the other fields get past their checks and the odd one is reached)."""
    value = dict(draw(st.sampled_from(valid)))
    for key in draw(st.sets(st.sampled_from(keys), min_size=1, max_size=2)):
        if draw(st.integers(0, 3)) == 0:
            value.pop(key, None)
        else:
            value[key] = draw(JSON_VALUES)
    return value


TENSORS = _mutated(VALID_TENSORS, ["name", "shape", "datatype", "data", "parameters"])
INFER_BODIES = st.fixed_dictionaries(
    {"inputs": st.lists(TENSORS, min_size=1, max_size=2) | JSON_VALUES},
    optional={
        "outputs": st.lists(_mutated(VALID_OUTPUTS, ["name", "parameters"]), max_size=2)
        | JSON_VALUES,
        "parameters": st.fixed_dictionaries({"binary_data_output": st.booleans() | JSON_VALUES})
        | JSON_VALUES,
        "id": st.text(max_size=4) | JSON_VALUES,
    },
)


def test_any_json_in_v2_tensor_fields_is_never_a_server_error(base_url: str) -> None:
    """The class of input the schema-driven fuzzing above does not reach: values of any JSON
    type in each tensor field (a list or object as ``datatype``, ...), as JSON and with binary
    tensor data after the header."""
    path = f"{base_url}/v2/models/{MODEL_NAME}/infer"

    with httpx.Client(headers={"X-API-Key": BOTH_KEY}, timeout=30) as http:

        @given(
            body=INFER_BODIES,
            binary=st.binary(min_size=48, max_size=48) | st.binary(max_size=64),
            as_binary=st.booleans(),
        )
        @settings(
            max_examples=500,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(body: dict[str, object], binary: bytes, as_binary: bool) -> None:
            header = json.dumps(body).encode()  # json, not orjson: integers beyond 64 bits too
            headers = {"Content-Type": "application/json"}
            if as_binary:
                headers = {
                    "Inference-Header-Content-Length": str(len(header)),
                    "Content-Type": "application/octet-stream",
                }
                header += binary
            answer = http.post(path, content=header, headers=headers)
            assert answer.status_code < 500, (body, answer.text)
            if answer.status_code >= 400:
                assert answer.json()["code"]

        check()
