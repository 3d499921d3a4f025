"""``python -m infra rollout``: blue/green rollout (or rollback) of the ML API, one cloud at a time.

``--dry-run`` prints the plan (read from the stack files; no Pulumi CLI needed). A real run needs
the Pulumi CLI (Automation API) and kubectl. Exit codes: 0 done, 1 a step failed (what happened is
printed: restored or not, which clouds serve what), 2 the request or a tool is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.rollout.execute import execute
from infra.rollout.plan import (
    CLOUDS,
    Cloud,
    Outcome,
    Plan,
    PlanError,
    RolloutRequest,
    StepRecord,
    plan_rollback,
    plan_rollout,
)

console = Console(stderr=True)


def parse_clouds(value: str) -> tuple[Cloud, ...]:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [name for name in names if name not in CLOUDS]
    if unknown:
        raise PlanError(f"--clouds: unknown cloud(s) {unknown} (choose from aws, azure)")
    return names  # type: ignore[return-value]


def make_plan(
    env: str,
    image: str | None,
    model_version: int | None,
    clouds: tuple[Cloud, ...],
    rollback: bool,
) -> Plan:
    from infra.rollout.edges import read_states

    states = read_states(env, clouds)
    if rollback:
        if image is not None or model_version is not None:
            raise PlanError("--rollback takes no --image or --model-version")
        return plan_rollback(env, clouds, states)
    if image is None:
        raise PlanError("--image is required (or --rollback)")
    return plan_rollout(
        RolloutRequest(env=env, image=image, model_version=model_version, clouds=clouds), states
    )


def print_step(record: StepRecord) -> None:
    mark = {"ok": "[green]ok[/green]", "failed": "[red]FAILED[/red]", "skipped": "skipped"}
    prefix = "restore: " if record.restore else ""
    console.print(
        f"  {record.cloud:5} {prefix}{record.name}: {mark[record.status]} "
        f"({record.seconds:.1f} s){' — ' + record.detail if record.detail else ''}"
    )


def timing_table(outcome: Outcome) -> Table:
    table = Table(title=f"{outcome.plan.kind} timings")
    for column in ("cloud", "step", "status", "seconds"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for record in outcome.records:
        table.add_row(
            record.cloud,
            ("restore: " if record.restore else "") + record.name,
            record.status,
            f"{record.seconds:.1f}",
        )
    table.add_row("", "total", "", f"{outcome.seconds:.1f} (target {outcome.plan.target_seconds})")
    return table


def rollout(
    env: Annotated[str, typer.Option(help="environment: dev, staging or prod")],
    image: Annotated[
        str | None, typer.Option(help="image tag or sha256 digest for the idle colour")
    ] = None,
    model_version: Annotated[
        int | None, typer.Option(help="serve this registry version (default: keep the model)")
    ] = None,
    clouds: Annotated[str, typer.Option(help="clouds in order, e.g. aws,azure")] = "aws,azure",
    rollback: Annotated[
        bool, typer.Option("--rollback", help="serve the idle (previous) colour again")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan and stop")] = False,
    smoke_case: Annotated[
        Path | None, typer.Option(help="known-answer rows (default: the shipped case)")
    ] = None,
    wait_timeout: Annotated[float, typer.Option(help="seconds to wait for a Deployment")] = 600,
) -> None:
    """Roll the ML API out blue/green on each cloud in turn: deploy the idle colour, smoke-test
    it through the preview Service, flip, verify; restore that cloud on any failure."""
    try:
        plan = make_plan(env, image, model_version, parse_clouds(clouds), rollback)
    except (PlanError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for line in plan.describe():
        console.print(line)
    if dry_run:
        return

    from infra.rollout.edges import RolloutEdges, ToolMissingError
    from infra.rollout.smoke import SmokeCase

    try:
        edges = RolloutEdges(
            env,
            case=SmokeCase.load(smoke_case),
            api_key=os.environ.get("STRATUS_SMOKE_API_KEY"),
            wait_timeout=wait_timeout,
        )
    except ToolMissingError as exc:
        console.print(f"[red]error:[/red] {exc} (--dry-run works without it)")
        raise typer.Exit(2) from None
    try:
        outcome = execute(plan, edges, report=print_step)
    finally:
        edges.close()
    console.print(timing_table(outcome))
    console.print(outcome.summary())
    if outcome.ok:
        console.print(
            "Commit the updated stack files (stacks/Pulumi.<cloud>-" + env + "-apps.yaml): "
            "they record which colour serves which image."
        )
    else:
        raise typer.Exit(1)
