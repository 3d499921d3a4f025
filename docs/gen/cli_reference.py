"""The command-line reference page, generated from the commands' own ``--help``.

Typer commands are asked through typer's test runner (the same help a user gets), argparse ones
through their ``main(["--help"])``; so the page lists exactly the options the code parses.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import typer
from typer.testing import CliRunner

import app.keys
import bench.failover
import bench.inference
import bench.training
import infra.cli
import policies.cli
import training.cli

#: (command line, typer app, what it is for)
TYPER_COMMANDS: list[tuple[str, typer.Typer, str]] = [
    ("python -m training", training.cli.app, "the training pipeline ([Training](../training.md))"),
    (
        "python -m infra",
        infra.cli.app,
        "offline tools for the shipped stacks: cost, render, "
        "rollout, changed-stacks ([Delivery](../delivery.md), [Cost](../cost.md))",
    ),
    ("python -m policies", policies.cli.app, "the policy check ([Policies](../policies.md))"),
    (
        "python -m app.keys",
        app.keys.cli,
        "make an API key ([Inference service](../inference.md#authentication))",
    ),
]

#: (command line, its argparse ``main``, what it is for)
ARGPARSE_COMMANDS: list[tuple[str, Callable[[list[str]], object], str]] = [
    ("python -m bench.training", bench.training.main, "[Benchmarks](../benchmarks.md)"),
    ("python -m bench.inference", bench.inference.main, "[Benchmarks](../benchmarks.md)"),
    ("python -m bench.failover", bench.failover.main, "[Multi-cloud](../multi-cloud.md)"),
]

#: Typer renders help for a terminal this wide.
WIDTH = 100


def typer_help(command: typer.Typer, prog: str, args: list[str]) -> str:
    result = CliRunner().invoke(
        command,
        [*args, "--help"],
        prog_name=prog,
        env={"COLUMNS": str(WIDTH), "NO_COLOR": "1"},
        terminal_width=WIDTH,
    )
    if result.exit_code != 0:
        raise RuntimeError(f"{prog} {' '.join(args)} --help failed: {result.output}")
    return "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())


def subcommands(command: typer.Typer) -> list[str]:
    group = typer.main.get_command(command)
    names = getattr(group, "commands", {})
    return [name for name, sub in names.items() if not sub.hidden]


def argparse_help(main: Callable[[list[str]], object]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["--help"])
    return out.getvalue().rstrip()


def _block(text: str) -> str:
    return f"```text\n{text}\n```\n"


def page() -> str:
    parts = [
        "# Command-line reference\n",
        "Generated at build time from each command's own `--help` "
        "(`docs/gen/cli_reference.py`). `python -m app` takes no arguments: it is configured by "
        "[environment settings](configuration.md#inference-service-settings-environment).\n",
    ]
    for prog, command, purpose in TYPER_COMMANDS:
        parts += [f"## `{prog}`\n", f"For {purpose}.\n", _block(typer_help(command, prog, []))]
        for name in subcommands(command):
            parts += [f"### `{prog} {name}`\n", _block(typer_help(command, prog, [name]))]
    for prog, main, where in ARGPARSE_COMMANDS:
        parts += [f"## `{prog}`\n", f"See {where}.\n", _block(argparse_help(main))]
    return "\n".join(parts)
