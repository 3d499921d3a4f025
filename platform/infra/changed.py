"""``python -m infra changed-stacks --base REF``: which shipped stacks a change touches (JSON list),
for the pull-request previews.

* a change to the Pulumi program (``platform/``, ``Pulumi.yaml``, ``pyproject.toml``) touches
  every stack;
* a change to ``stacks/Pulumi.<stack>.yaml`` touches that stack and, for a foundation, its
  ``-apps`` stack (which reads its contract) and the global stack of the environment;
* ``stacks/offline-overrides.yaml``, the policy pack (``python -m policies check --all`` judges
  every stack on every pull request anyway), the service and the training pipeline touch no stack
  (images are previewed as images).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from typing import Annotated

import typer

from infra.offline import shipped_stacks

_STACK_FILE = re.compile(r"^stacks/Pulumi\.(?P<stack>[a-z0-9-]+)\.yaml$")
_PROGRAM = ("platform/", "Pulumi.yaml", "pyproject.toml")


def stacks_for(paths: Iterable[str], shipped: Iterable[str]) -> list[str]:
    known = sorted(shipped)
    touched: set[str] = set()
    for path in paths:
        if path.startswith(_PROGRAM):
            return known
        match = _STACK_FILE.match(path)
        if match is None:
            continue
        stack = match["stack"]
        touched.add(stack)
        cloud, _, rest = stack.partition("-")
        if cloud in ("aws", "azure") and not rest.endswith("-apps"):
            touched.add(f"{stack}-apps")
            touched.add(f"global-{rest}")
    return [stack for stack in known if stack in touched]


def changed_stacks(
    base: Annotated[str, typer.Option(help="the git ref to compare with, e.g. origin/main")],
) -> None:
    """Print the shipped stacks changed since BASE as a JSON list."""
    result = subprocess.run(
        ["git", "diff", "--name-only", f"{base}...HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        typer.echo(f"error: git diff against {base!r} failed: {result.stderr.strip()}", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(stacks_for(result.stdout.splitlines(), shipped_stacks())))
