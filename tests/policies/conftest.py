"""Fixtures of the policy tests: the real pack processes, one per stack name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.policies.harness import Packs


@pytest.fixture(scope="session")
def packs() -> Iterator[Packs]:
    found = Packs()
    try:
        yield found
    finally:
        found.close()
