"""``mutation/run.py`` (a script, not a package): its modules table, the servers it shares
across mutants and how a retest's verdicts are counted."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import httpx
import pytest

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


def test_every_module_of_modules_toml_gets_a_mutmut_table_with_its_tests_and_limits() -> None:
    run = _run_module()
    modules = {m.name: m for m in run.load_modules()}
    for module in modules.values():
        assert (RUN.parents[1] / module.source).is_file(), module.source
        assert all((RUN.parents[1] / test).is_file() for test in module.tests), module.name
        assert set(module.servers) <= set(run.SERVER_ENV), module.name
    # the slow MLflow-backed modules share one server for all their mutants
    assert modules["registry"].servers == ("mlflow",)
    assert modules["publish"].servers == ("mlflow",)
    batcher = modules["batcher"]
    assert batcher.test_timeout_s is not None
    table = run.mutmut_config(batcher)
    assert f'"--timeout={batcher.test_timeout_s}"' in table
    assert '"tests/app/serving/test_batcher.py"' in table
    assert "--timeout" not in run.mutmut_config(modules["codecs"])


def test_a_module_naming_an_unknown_server_is_refused_before_anything_runs() -> None:
    run = _run_module()
    module = run.Module(name="m", source="m.py", tests=(), servers=("postgres",))
    with pytest.raises(SystemExit, match="unknown server"), run.shared_servers(module):
        pass


def test_the_shared_mlflow_server_is_up_for_the_run_and_stopped_after_it() -> None:
    run = _run_module()
    module = run.Module(name="m", source="m.py", tests=(), servers=("mlflow",))
    with run.shared_servers(module) as env:
        url = env["STRATUS_TEST_MLFLOW_URL"]
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=2)


def test_only_survivors_above_the_not_equivalent_section_count_as_equivalent(
    tmp_path: Path,
) -> None:
    run = _run_module()
    listing = tmp_path / "equivalent.md"
    listing.write_text(
        "# Surviving mutants judged equivalent\n\n## m.py\n\n"
        "- `m.x_f__mutmut_1`: only its truth is read.\n\n"
        "## Not equivalent, not reachable by a deterministic test (counted as survivors)\n\n"
        "- `m.x_f__mutmut_2`: only timing shows it.\n"
    )
    assert run.load_equivalent(listing) == {"m.x_f__mutmut_1"}
    verdicts = {"m.x_f__mutmut_1": 0, "m.x_f__mutmut_2": 0, "m.x_f__mutmut_3": 1}
    outcome = run.tally(run.Module("m", "m.py", ()), verdicts, run.load_equivalent(listing), None)
    assert outcome.equivalent == ("m.x_f__mutmut_1",)
    assert outcome.survived == ("m.x_f__mutmut_2",)
    assert outcome.killed == 1
    # the project's own listing parses, and its "not equivalent" names are not in it
    assert "app.serving.batcher.xǁMicroBatcherǁsubmit__mutmut_14" not in run.load_equivalent()


#: A script's start: mutation/run.py (argv[1]) loaded as ``run``, SIGTERM ending it as in a run.
_LOAD_RUN = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("mutation_run", sys.argv[1])
run = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = run
spec.loader.exec_module(run)
run.stop_on_sigterm()
"""

_HOLD_A_SERVER = (
    _LOAD_RUN
    + """
with run.shared_servers(run.Module("m", "m.py", (), servers=("mlflow",))) as env:
    print(env["STRATUS_TEST_MLFLOW_URL"], flush=True)
    time.sleep(600)
"""
)


@contextmanager
def _script(source: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run ``source`` (a ``_LOAD_RUN`` script) and yield it with the first line it prints."""
    holder = subprocess.Popen(
        [sys.executable, "-c", source, str(RUN)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=RUN.parents[1],
    )
    try:
        assert holder.stdout is not None
        yield holder, holder.stdout.readline().strip()
    finally:
        holder.kill()
        holder.wait()


def test_a_run_stopped_with_sigterm_stops_its_shared_server(tmp_path: Path) -> None:
    with _script(_HOLD_A_SERVER) as (holder, url):
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        holder.send_signal(signal.SIGTERM)
        assert holder.wait(timeout=60) == 128 + signal.SIGTERM
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=2)


_RUN_A_FORKING_TOOL = (
    _LOAD_RUN
    + """
import pathlib
# a tool that, like mutmut, forks a worker: the worker prints its pid and works on
tool = ["sleep 600 & echo $!; wait"]
run.run_in_own_group(["sh", "-c", *tool], cwd=pathlib.Path.cwd(), env={"PATH": "/usr/bin:/bin"})
"""
)


def _running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_run_stopped_with_sigterm_stops_the_tools_workers_too() -> None:
    with _script(_RUN_A_FORKING_TOOL) as (holder, printed):
        worker = int(printed)
        assert _running(worker)
        holder.send_signal(signal.SIGTERM)
        assert holder.wait(timeout=60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 10
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(worker)


def test_the_tools_exit_code_is_the_runs() -> None:
    run = _run_module()
    assert run.run_in_own_group(["sh", "-c", "exit 3"], cwd=RUN.parent, env={}) == 3
