"""A transformer step that takes a while, so requests are in flight long enough to observe.

Pickled by reference (cloudpickle keeps importable functions by name), so the service process
imports it from this module.
"""

from __future__ import annotations

import time
from typing import Any

SECONDS = 1.0


def slow_identity(features: Any) -> Any:
    time.sleep(SECONDS)
    return features
