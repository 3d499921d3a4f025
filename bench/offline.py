"""Benchmark: how long each shipped stack's real Pulumi program takes offline.

    python -m bench.offline            # every shipped stack, 3 runs each
    python -m bench.offline --quick    # 1 run each

Every run is a fresh Python process (what CI, ``render``, ``python -m policies check`` and
``python -m infra cost`` pay per stack), timed two ways: the whole process (interpreter start,
imports, program) and the program alone (``infra.offline.run_stack``; for an ``-apps`` stack that
includes the offline run of the foundation it references). Goal: 15 s per stack. Figures are
medians; the machine's load is printed, since runs share its cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 15.0
RESULTS = ROOT / "bench" / "results"

_CHILD = """
import json, sys, time
started = time.perf_counter()
from infra.offline import run_stack
imported = time.perf_counter()
run = run_stack(sys.argv[1])
done = time.perf_counter()
print(json.dumps({"imports": imported - started, "program": done - imported,
                  "resources": len(run.resources)}))
"""


def measure(stack: str) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, stack],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}"},
    )
    wall = time.perf_counter() - started
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return {**figures, "wall": wall}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.offline")
    parser.add_argument("--quick", action="store_true", help="one run per stack")
    parser.add_argument("--stack", action="append", help="only these stacks")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
    from infra.offline import shipped_stacks

    stacks = args.stack or shipped_stacks()
    runs = 1 if args.quick else 3
    console = Console()
    console.print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    results: dict[str, list[dict[str, float]]] = {stack: [] for stack in stacks}
    for _ in range(runs):
        for stack in stacks:
            results[stack].append(measure(stack))
    table = Table(
        title=f"offline runs of the shipped stacks (median of {runs}, goal {GOAL_SECONDS:.0f} s)"
    )
    for column in ("stack", "resources", "program s", "imports s", "process s", "vs goal"):
        table.add_column(column, justify="left" if column == "stack" else "right")
    summary = {}
    for stack, figures in results.items():
        program = statistics.median(f["program"] for f in figures)
        wall = statistics.median(f["wall"] for f in figures)
        imports = statistics.median(f["imports"] for f in figures)
        summary[stack] = {"program": program, "wall": wall, "imports": imports}
        table.add_row(
            stack,
            str(int(figures[0]["resources"])),
            f"{program:.2f}",
            f"{imports:.2f}",
            f"{wall:.2f}",
            f"{wall / GOAL_SECONDS:.0%}",
        )
    console.print(table)
    console.print(f"load average after: {os.getloadavg()[0]:.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "offline.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
