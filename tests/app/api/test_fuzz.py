"""Property-based fuzzing of every documented operation (schemathesis): never a 5xx.

Schema-conforming and schema-violating inputs are generated for each operation of the app's own
OpenAPI document, sent with a key that has both roles to the app under a real uvicorn server (so
the lifespan, batcher and model run), and each response is checked with ``not_a_server_error``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
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
