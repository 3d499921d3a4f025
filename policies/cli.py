"""``python -m policies``: judge stacks offline with the real policy pack, print the config."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from enum import StrEnum
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from infra.offline import OfflineError, shipped_stacks
from policies import render
from policies.config import PolicyConfigError, load_policy_config, pulumi_policy_config
from policies.engine.check import PACK_DIR, check
from policies.engine.process import PackError, PackProcess
from policies.engine.reconcile import PolicyConfigInvalidError
from policies.rules import ALL_RULES

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
#: Exit codes: 0 no mandatory violation, 1 a mandatory violation, 2 the check could not run.
EXIT_VIOLATIONS = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class Format(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


class TerminatedError(Exception):
    """SIGTERM, raised in the main thread so the pack process is stopped on the way out."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise TerminatedError()


@app.command("check")
def check_command(
    stack: list[str] = typer.Option([], "--stack", "-s", help="stack to judge (repeatable)"),
    all_stacks: bool = typer.Option(False, "--all", help="judge every shipped stack"),
    output_format: Format = typer.Option(Format.table, "--format", "-f"),
    config: Path | None = typer.Option(
        None, "--config", help="a Stratus policy config (YAML) applied over the pack's own"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="write the report here"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="progress on stderr"),
) -> None:
    """Run stacks offline and judge them with the policy pack through the analyzer interface.

    Exit 0 when no mandatory policy is violated (advisory findings are reported), 1 when one
    is, 2 when the check cannot run (unknown stack, invalid config, the pack fails)."""
    err = Console(stderr=True)
    if all_stacks == bool(stack):
        err.print("[red]error:[/] give --stack NAME (repeatable) or --all")
        raise typer.Exit(EXIT_ERROR)
    names = shipped_stacks() if all_stacks else stack
    signal.signal(signal.SIGTERM, _on_sigterm)

    def started(pack: PackProcess) -> None:
        if verbose:
            err.print(f"policy pack started: pid {pack.pid}, port {pack.port}")

    def stack_started(name: str) -> None:
        if verbose:
            err.print(f"judging {name}")

    try:
        engine_config = pulumi_policy_config(load_policy_config(config)) if config else None
        report = check(names, config=engine_config, on_start=started, on_stack=stack_started)
    except (OfflineError, PolicyConfigError, PolicyConfigInvalidError, PackError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_ERROR) from None
    except (KeyboardInterrupt, TerminatedError):
        err.print("interrupted: the policy pack was stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if output_format is Format.table:
        with output.open("w") if output else contextlib.nullcontext(sys.stdout) as stream:
            # Logs and files get the whole URN on one line; a terminal gets its own width.
            wide = None if stream.isatty() else 240
            render.table(report, Console(file=stream, width=wide))
    else:
        text = render.as_json(report) if output_format is Format.json else render.as_sarif(report)
        if output:
            output.write_text(text + "\n")
        else:
            sys.stdout.write(text + "\n")
    if report.mandatory:
        raise typer.Exit(EXIT_VIOLATIONS)


@app.command("config")
def config_command(
    config: Path | None = typer.Option(None, "--config", help="Stratus policy config (YAML)"),
) -> None:
    """Print the engine policy-config JSON for ``pulumi preview --policy-pack-config FILE``."""
    try:
        document = pulumi_policy_config(load_policy_config(config))
    except PolicyConfigError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_ERROR) from None
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


@app.command("rules")
def rules_command() -> None:
    """List every rule: name, default level and the controls it mirrors (Markdown table)."""
    sys.stdout.write("| rule | level | mirrors |\n|---|---|---|\n")
    for rule in ALL_RULES:
        sys.stdout.write(f"| `{rule.name}` | {rule.level} | {'; '.join(rule.controls)} |\n")


__all__ = ["PACK_DIR", "app"]
