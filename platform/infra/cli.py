"""The ``python -m infra`` command line: thin wrappers over the infra modules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.config import StratusConfigError
from infra.foundation import FoundationContractError
from infra.offline import OfflineError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Stratus platform tools: render the stacks' Kubernetes objects offline.",
)
console = Console(stderr=True)


@app.callback()
def main() -> None:
    """Stratus platform tools."""


@app.command()
def render(
    stack: Annotated[str, typer.Option(help="a shipped stack, e.g. aws-dev-apps")],
    out: Annotated[Path, typer.Option(help="directory to write the YAML files to")],
) -> None:
    """Write every Kubernetes object of STACK as YAML (<namespace>/<kind>-<name>.yaml) and each
    Helm release as its chart reference + values file; Secret values are redacted."""
    from infra.render import render_stack

    try:
        written = render_stack(stack, out)
    except (OfflineError, StratusConfigError, FoundationContractError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    objects = sum(1 for item in written if item.kind != "HelmRelease")
    releases = len(written) - objects
    console.print(f"{stack}: {objects} objects and {releases} Helm releases written to {out}")
