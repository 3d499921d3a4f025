"""Report formats: a table for people, JSON for tools, SARIF 2.1.0 for code-scanning UIs."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from policies.report import Report
from policies.rules import ALL_RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"mandatory": "error", "advisory": "warning", "disabled": "none"}
CONTROLS = {rule.name: list(rule.controls) for rule in ALL_RULES}


def table(report: Report, console: Console) -> None:
    violations = sorted(
        report.violations, key=lambda v: (v.level != "mandatory", v.stack, v.policy)
    )
    if violations:
        grid = Table(title="Policy violations", show_lines=False)
        for column in ("stack", "policy", "level", "resource URN", "message"):
            grid.add_column(column, overflow="fold")
        for v in violations:
            style = "red" if v.level == "mandatory" else "yellow"
            grid.add_row(v.stack, v.policy, f"[{style}]{v.level}[/]", v.urn or "(stack)", v.message)
        console.print(grid)
    exempted = [e for s in report.stacks for e in s.exempted]
    for e in exempted:
        console.print(f"[dim]exempted[/] {e.stack} {e.policy} {e.urn}: {e.reason}")
    for stack in report.stacks:
        mandatory = sum(v.level == "mandatory" for v in stack.violations)
        advisory = len(stack.violations) - mandatory
        verdict = "[red]FAIL[/]" if mandatory else "[green]PASS[/]"
        console.print(
            f"{verdict} {stack.stack}: {stack.resources} resources, {mandatory} mandatory, "
            f"{advisory} advisory, {len(stack.exempted)} exempted"
        )


def as_json(report: Report) -> str:
    document: dict[str, Any] = {
        "pack": {"name": report.pack, "version": report.version},
        "passed": not report.mandatory,
        "stacks": [
            {
                "stack": s.stack,
                "resources": s.resources,
                "violations": [asdict(v) for v in s.violations],
                "exempted": [asdict(e) for e in s.exempted],
            }
            for s in report.stacks
        ],
    }
    return json.dumps(document, indent=2)


def as_sarif(report: Report) -> str:
    rules = sorted(report.policies, key=lambda p: p.name)
    index = {p.name: i for i, p in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for stack in report.stacks:
        location = {"artifactLocation": {"uri": f"stacks/Pulumi.{stack.stack}.yaml"}}
        for v in stack.violations:
            result: dict[str, Any] = {
                "ruleId": v.policy,
                "level": SARIF_LEVELS.get(v.level, "warning"),
                "message": {"text": v.message or v.description},
                "locations": [
                    {
                        "physicalLocation": location,
                        "logicalLocations": [
                            {
                                "fullyQualifiedName": v.urn or f"stack {stack.stack}",
                                "kind": "resource",
                            }
                        ],
                    }
                ],
                "properties": {"stack": stack.stack, "enforcementLevel": v.level},
            }
            if v.policy in index:
                result["ruleIndex"] = index[v.policy]
            results.append(result)
        for e in stack.exempted:
            results.append(
                {
                    "ruleId": e.policy,
                    "level": "note",
                    "message": {"text": e.reason},
                    "locations": [
                        {
                            "physicalLocation": location,
                            "logicalLocations": [{"fullyQualifiedName": e.urn, "kind": "resource"}],
                        }
                    ],
                    "suppressions": [{"kind": "external", "justification": e.reason}],
                    "properties": {"stack": stack.stack},
                }
            )
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": f"{report.pack} policy pack",
                        "version": report.version,
                        "rules": [
                            {
                                "id": p.name,
                                "name": p.name,
                                "shortDescription": {"text": p.description},
                                "defaultConfiguration": {
                                    "level": SARIF_LEVELS.get(p.level, "warning")
                                },
                                "properties": {"controls": CONTROLS.get(p.name, [])},
                            }
                            for p in rules
                        ],
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(document, indent=2)
