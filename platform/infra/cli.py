"""The ``python -m infra`` command: one typer app, one module per sub-command.

Sub-commands live next to what they drive (``infra.cost`` for ``cost``, ``infra.render`` for
``render``); add a sibling with ``app.command("<name>")(<function>)``.
"""

from __future__ import annotations

import typer

from infra.changed import changed_stacks
from infra.cost import cost
from infra.render import render
from infra.rollout.command import rollout

app = typer.Typer(
    name="infra",
    help="Stratus infrastructure tools (offline runs of the shipped Pulumi stacks).",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Stratus infrastructure tools (offline runs of the shipped Pulumi stacks)."""


app.command("cost")(cost)
app.command("render")(render)
app.command("rollout")(rollout)
app.command("changed-stacks")(changed_stacks)
