"""scikit-learn for a serving worker, imported without pandas.

``sklearn.base`` (so every estimator) imports ``sklearn.utils.fixes``, which at import time does
``try: import pandas except ImportError: pd = None`` and keeps ``pd`` for nothing: its only pandas
helper takes pandas as an argument. Importing pandas there cost a worker about 0.8 s of its start
and 55 MiB of resident memory (``python -X importtime``, ``bench.inference``), for the
estimators the service serves, which score numpy matrices.

:func:`import_sklearn` imports scikit-learn with pandas hidden for that one import, then unhides
it: every later ``import pandas`` gets the real package, at the time it is needed (the loader's
path for estimators that select columns by name, scikit-learn functions that take DataFrames,
MLflow). scikit-learn's own checks for a DataFrame look pandas up in ``sys.modules`` and answer
"not a DataFrame" while it is not imported, which is true. Nothing is hidden when pandas or
scikit-learn is already imported (a process that uses pandas anyway gains nothing from it).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType


class _HidePandas(importlib.abc.MetaPathFinder):
    """Answers "not installed" for pandas while scikit-learn is being imported."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def import_sklearn() -> ModuleType:
    """``import sklearn`` (with ``sklearn.base``), without importing pandas on the way."""
    if "sklearn.base" in sys.modules or "pandas" in sys.modules:
        return importlib.import_module("sklearn")
    finder = _HidePandas()
    sys.meta_path.insert(0, finder)
    try:
        importlib.import_module("sklearn.base")
    finally:
        sys.meta_path.remove(finder)
    return importlib.import_module("sklearn")
