"""`make mutation`: mutation testing of the critical modules with mutmut, one module at a time.

mutmut reads one configuration (``[tool.mutmut]`` of the ``pyproject.toml`` in its working
directory) and keeps one ``mutants/`` tree, so each module gets its own working directory under
``.stratus/mutation/<module>/``: links to the sources and tests, and a ``pyproject.toml`` that is
the project's own plus a ``[tool.mutmut]`` table naming only that module's source file and only
its tests (``mutation/modules.toml``). Each run starts from a fresh ``mutants/`` tree, so the
figures never mix results of older code; ``--retest`` instead reruns, in the kept tree, only the
mutants no test killed last time (after adding tests; the module's source must be unchanged).
The kill rate is read back from mutmut's per-file results (``mutants/<source>.meta``) and printed
as one table; survivors judged equivalent are listed, with the reason, in
``mutation/equivalent.md`` and counted apart.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES_FILE = ROOT / "mutation" / "modules.toml"
EQUIVALENT_FILE = ROOT / "mutation" / "equivalent.md"
WORK_ROOT = ROOT / ".stratus" / "mutation"
#: the packages copied into each mutants/ tree: the tests import both
SOURCE_PACKAGES = ("app", "training")
#: the mutant verdicts (mutmut's exit codes) that count as caught: a failing test, a test run
#: that hung until the CPU limit, or an internal pytest error
KILLED_CODES = {1, 3, 24, -24, 36, 152, 255}
SURVIVED_CODES = {0}
NO_TESTS_CODES = {5, 33}
#: the servers a module's tests may share across mutants, and the variable that hands each
#: one's URL to the tests' session fixture
SERVER_ENV = {"mlflow": "STRATUS_TEST_MLFLOW_URL"}
#: the section of equivalent.md listing survivors that are not equivalent (only timing shows them)
NOT_EQUIVALENT_HEADING = "\n## Not equivalent"
#: a mutant name in equivalent.md: `module.path.x_function__mutmut_N` (methods: `xǁClassǁname`)
EQUIVALENT_NAME = re.compile(r"`([\w.]+\.x\S*__mutmut_\d+)`")


@dataclass(frozen=True)
class Module:
    """One module under mutation and the tests relevant to it."""

    name: str
    source: str
    tests: tuple[str, ...]
    #: real servers the tests need, started once for the whole run instead of once per mutant
    servers: tuple[str, ...] = ()
    #: pytest-timeout's limit per test (seconds): a mutant that makes a test hang fails at it
    test_timeout_s: int | None = None


@dataclass(frozen=True)
class Outcome:
    """The verdicts of one module's mutants."""

    module: Module
    killed: int
    survived: tuple[str, ...]
    equivalent: tuple[str, ...]
    no_tests: tuple[str, ...]
    other: tuple[str, ...]
    #: None: read back from an earlier run (--report)
    seconds: float | None

    @property
    def total(self) -> int:
        return (
            self.killed
            + len(self.survived)
            + len(self.equivalent)
            + len(self.no_tests)
            + len(self.other)
        )

    @property
    def rate(self) -> float:
        """Killed over all mutants: equivalents count as not killed here."""
        return self.killed / self.total if self.total else 0.0

    @property
    def rate_without_equivalent(self) -> float:
        """Killed over the mutants a test could kill (the equivalents judged in equivalent.md
        left out)."""
        killable = self.total - len(self.equivalent)
        return self.killed / killable if killable else 0.0


def load_modules(path: Path = MODULES_FILE) -> list[Module]:
    """The modules of ``modules.toml``, in file order (fastest tests first)."""
    table = tomllib.loads(path.read_text())["modules"]
    return [
        Module(
            name=name,
            source=entry["source"],
            tests=tuple(entry["tests"]),
            servers=tuple(entry.get("servers", ())),
            test_timeout_s=entry.get("test_timeout_s"),
        )
        for name, entry in table.items()
    ]


def load_equivalent(path: Path = EQUIVALENT_FILE) -> set[str]:
    """The mutant names judged equivalent (each with its reason) in ``equivalent.md``: those
    above its ``## Not equivalent`` section, whose survivors still count as survivors."""
    if not path.exists():
        return set()
    judged = path.read_text().split(NOT_EQUIVALENT_HEADING, 1)[0]
    return set(EQUIVALENT_NAME.findall(judged))


def mutmut_config(module: Module) -> str:
    """The ``[tool.mutmut]`` table for one module: mutate only its file, run only its tests,
    one worker process (a shared 2-core machine)."""
    lines = [
        "",
        "[tool.mutmut]",
        f"source_paths = {json.dumps(list(SOURCE_PACKAGES))}",
        f"only_mutate = {json.dumps([module.source])}",
        f"pytest_add_cli_args_test_selection = {json.dumps(list(module.tests))}",
        f"pytest_add_cli_args = {json.dumps(pytest_args(module))}",
        "use_git_change_detection = false",
        "",
    ]
    return "\n".join(lines)


def pytest_args(module: Module) -> list[str]:
    """pytest's options for every test run of the module's mutants."""
    args = ["-p", "no:cacheprovider"]
    if module.test_timeout_s is not None:
        args.append(f"--timeout={module.test_timeout_s}")
    return args


@contextmanager
def shared_servers(module: Module) -> Iterator[dict[str, str]]:
    """The module's servers, started once for all its mutants: the environment that points the
    tests' session fixtures at them (``tests/conftest.py``). mutmut runs pytest anew for every
    mutant, so a session fixture would otherwise start its server once per mutant."""
    unknown = sorted(set(module.servers) - set(SERVER_ENV))
    if unknown:
        raise SystemExit(
            f"{module.name}: unknown server(s) {', '.join(unknown)}; known: {', '.join(SERVER_ENV)}"
        )
    if not module.servers:
        yield {}
        return
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # run as a script: the tests' server helpers
    from tests import servers

    starters = {"mlflow": servers.mlflow_server}
    with ExitStack() as stack:
        env: dict[str, str] = {}
        for kind in module.servers:
            workdir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix=f"stratus-mutation-{kind}-")
            )
            server = stack.enter_context(starters[kind](Path(workdir)))
            env[SERVER_ENV[kind]] = server.url
        yield env


def prepare_workdir(module: Module, *, keep: bool = False) -> Path:
    """The working directory of one module: links to the code, the project's pyproject.toml with
    this module's mutmut table, and no mutants/ from an earlier run unless ``keep``."""
    workdir = WORK_ROOT / module.name
    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for name in (*SOURCE_PACKAGES, "tests"):
        link = workdir / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name, target_is_directory=True)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (workdir / "pyproject.toml").write_text(pyproject + mutmut_config(module))
    return workdir


def meta_path(module: Module) -> Path:
    """mutmut's verdicts for the module's file."""
    return WORK_ROOT / module.name / "mutants" / f"{module.source}.meta"


def run_module(module: Module, equivalent: set[str], *, retest: bool = False) -> Outcome:
    """Run mutmut for one module (one worker) and read its verdicts back. ``retest``: only the
    mutants the last run left alive, in its kept mutants/ tree."""
    names: list[str] = []
    last: dict[str, int | None] = {}
    if retest:
        if not meta_path(module).exists():
            raise SystemExit(f"--retest: no earlier run of {module.name} to retest")
        last = json.loads(meta_path(module).read_text())["exit_code_by_key"]
        names = sorted(n for n, code in last.items() if code not in KILLED_CODES)
    workdir = prepare_workdir(module, keep=retest)
    mutmut = Path(sys.executable).parent / "mutmut"
    started = time.monotonic()
    with shared_servers(module) as server_env:
        returncode = run_in_own_group(
            [str(mutmut), "run", "--max-children", "1", *names],
            cwd=workdir,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **server_env},
        )
    seconds = time.monotonic() - started
    meta = meta_path(module)
    if returncode != 0 or not meta.exists():
        raise SystemExit(f"mutmut failed for {module.name} ({module.source}): see its output above")
    document = json.loads(meta.read_text())
    verdicts: dict[str, int | None] = document["exit_code_by_key"]
    if retest:
        # mutmut forgets the verdicts of the mutants it did not rerun: keep the last run's, so
        # the figure is the module's kill rate and the next --retest reruns only survivors.
        verdicts = merge_retest(last, verdicts, names)
        document["exit_code_by_key"] = verdicts
        meta.write_text(json.dumps(document))
    return tally(module, verdicts, equivalent, seconds)


#: The signals that stop a run (Ctrl-C, ``kill``).
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def run_in_own_group(command: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> int:
    """Run ``command`` in a process group of its own and return its exit code. If the run is
    stopped (Ctrl-C, SIGTERM), the whole group is stopped too: mutmut forks a worker per
    mutant, which killing mutmut alone would leave running its tests."""
    # A stop arriving while the process starts is held (blocked) until it can reach the group;
    # the process itself starts with the signals as they were.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            preexec_fn=functools.partial(signal.pthread_sigmask, signal.SIG_SETMASK, previous),
        )
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a held stop is raised here
        return process.wait()
    except BaseException:
        _stop_group(process)
        raise


def _stop_group(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM to the process's group, SIGKILL to what is left after ``grace_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def merge_retest(
    last: dict[str, int | None], rerun: dict[str, int | None], names: Sequence[str]
) -> dict[str, int | None]:
    """The verdict of every mutant after a retest: the new one for the mutants rerun
    (``names``), the last run's for the others."""
    merged = dict(last)
    merged.update({name: rerun.get(name) for name in names})
    for name, code in rerun.items():
        merged.setdefault(name, code)
    return merged


def tally(
    module: Module, verdicts: dict[str, int | None], equivalent: set[str], seconds: float | None
) -> Outcome:
    """Sort mutmut's exit codes into killed / survived / equivalent / no tests / other."""
    killed = 0
    survived: list[str] = []
    judged: list[str] = []
    no_tests: list[str] = []
    other: list[str] = []
    for name, code in sorted(verdicts.items()):
        if code in KILLED_CODES:
            killed += 1
        elif code in SURVIVED_CODES:
            (judged if name in equivalent else survived).append(name)
        elif code in NO_TESTS_CODES:
            no_tests.append(name)
        else:
            other.append(f"{name} (exit code {code})")
    return Outcome(
        module=module,
        killed=killed,
        survived=tuple(survived),
        equivalent=tuple(judged),
        no_tests=tuple(no_tests),
        other=tuple(other),
        seconds=seconds,
    )


def report(outcomes: Sequence[Outcome]) -> str:
    """The kill-rate table, then every mutant no test killed."""
    header = (
        f"{'module':<26} {'killed':>7} {'total':>6} {'kill %':>7} "
        f"{'equiv':>6} {'% w/o eq':>9} {'time':>8}"
    )
    lines = ["", header, "-" * len(header)]
    for o in outcomes:
        lines.append(
            f"{o.module.source:<26} {o.killed:>7} {o.total:>6} {100 * o.rate:>6.1f}% "
            f"{len(o.equivalent):>6} {100 * o.rate_without_equivalent:>8.1f}% "
            + (f"{o.seconds:>7.0f}s" if o.seconds is not None else f"{'-':>8}")
        )
    for o in outcomes:
        for title, names in (
            ("survived", o.survived),
            ("no test reached", o.no_tests),
            ("other verdict", o.other),
        ):
            if names:
                lines.append(f"\n{o.module.name}: {title} (`mutmut show NAME` in {o.module.name}/)")
                lines.extend(f"  {name}" for name in names)
    return "\n".join(lines)


def stop_on_sigterm() -> None:
    """``kill`` (SIGTERM) ends the run like Ctrl-C does: the shared servers are stopped on the way
    out instead of being left running."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def main(argv: Sequence[str] | None = None) -> int:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "modules", nargs="*", help="module names of mutation/modules.toml (default: all)"
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="only print the table of the last run of each module (runs nothing)",
    )
    parser.add_argument(
        "--retest",
        action="store_true",
        help="rerun only the mutants the last run of each module left alive",
    )
    args = parser.parse_args(argv)
    modules = load_modules()
    known = {m.name: m for m in modules}
    unknown = [name for name in args.modules if name not in known]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [known[name] for name in args.modules] if args.modules else modules
    equivalent = load_equivalent()
    outcomes: list[Outcome] = []
    for module in chosen:
        if args.report:
            if meta_path(module).exists():
                verdicts = json.loads(meta_path(module).read_text())["exit_code_by_key"]
                outcomes.append(tally(module, verdicts, equivalent, seconds=None))
            continue
        print(f"== mutation: {module.name} ({module.source}) ==", flush=True)
        outcomes.append(run_module(module, equivalent, retest=args.retest))
        print(report(outcomes[-1:]), flush=True)
    print(report(outcomes))
    print(f"\nworking directories: {WORK_ROOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
