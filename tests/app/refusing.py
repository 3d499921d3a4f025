"""A pipeline step that refuses some inputs the service's validation accepts (a model raising on
well-formed input), for the tests of that path."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

LIMIT = 1e6


class RefusesHugeValues(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Passes its input on unchanged; raises ``ValueError`` for a value beyond ±``LIMIT``."""

    def fit(self, x: Any, y: Any = None) -> RefusesHugeValues:
        return self

    def transform(self, x: Any) -> Any:
        if (np.abs(np.asarray(x, dtype=np.float64)) > LIMIT).any():
            raise ValueError(f"a value is beyond ±{LIMIT:g}, outside what the model was built for")
        return x
