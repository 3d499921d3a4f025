"""``mutation/run.py`` (a script, not a package): how a retest's verdicts are counted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

RUN = Path(__file__).resolve().parents[2] / "mutation" / "run.py"


def _run_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_run", RUN)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_retest_keeps_the_verdicts_of_the_mutants_it_did_not_rerun() -> None:
    run = _run_module()
    last = {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 0, "m.x_f__mutmut_3": 0}
    # mutmut reruns the two survivors and forgets the first mutant's verdict
    rerun = {"m.x_f__mutmut_1": None, "m.x_f__mutmut_2": 1, "m.x_f__mutmut_3": 0}
    merged = run.merge_retest(last, rerun, ["m.x_f__mutmut_2", "m.x_f__mutmut_3"])
    assert merged == {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 1, "m.x_f__mutmut_3": 0}
    module = run.Module(name="m", source="m.py", tests=())
    outcome = run.tally(module, merged, set(), None)
    assert outcome.killed == 2
    assert outcome.survived == ("m.x_f__mutmut_3",)
    assert outcome.other == ()
