"""``python -m policies check``: judge offline stack runs with the real policy pack process.

For each stack: run it offline (``infra.offline.run_stack``), start the pack as the engine does,
drive it through the analyzer interface (handshake, ``ConfigureStack``, ``GetAnalyzerInfo``,
``Configure`` with the reconciled config, ``Analyze`` per resource, ``AnalyzeStack``) and collect
the diagnostics. One pack process per stack, as one ``pulumi preview`` starts one: the pack learns
its stack from its environment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from infra.offline import StackRun, run_stack
from policies.engine.analyzer import AnalyzerClient
from policies.engine.host import EngineHost
from policies.engine.process import PackLaunch, PackProcess
from policies.engine.reconcile import LEVELS, reconcile
from policies.engine.resources import StackMessages, stack_urn
from policies.report import Exempted, PolicyInfo, Report, StackReport, Violation

PACK_DIR = Path(__file__).resolve().parents[1] / "pack"
PROJECT = "stratus"
ORGANIZATION = "organization"

#: Called with the pack process once it serves (the CLI reports its pid in verbose mode).
OnStart = Callable[[PackProcess], None]


def _message(diagnostic: Any) -> str:
    """The violation's own message (the SDK prefixes it with the policy description)."""
    text = str(diagnostic.message)
    prefix = str(diagnostic.description) + "\n"
    return text[len(prefix) :] if text.startswith(prefix) else text


def _collect(stack: str, response: Any, urn: str, report: StackReport) -> None:
    for diagnostic in response.diagnostics:
        report.violations.append(
            Violation(
                stack=stack,
                policy=diagnostic.policyName,
                level=LEVELS[diagnostic.enforcementLevel],
                urn=diagnostic.urn or urn,
                message=_message(diagnostic),
                description=diagnostic.description,
            )
        )
    for skipped in response.not_applicable:
        if skipped.reason.startswith("exempted") or "(exempted:" in skipped.reason:
            report.exempted.append(Exempted(stack, skipped.policy_name, urn, skipped.reason))


def judge(
    run: StackRun,
    *,
    config: Mapping[str, Any] | None = None,
    pack_dir: Path = PACK_DIR,
    on_start: OnStart | None = None,
) -> tuple[StackReport, Report]:
    """Judge one stack run with the pack; ``config`` is an engine policy-config document (what
    ``--policy-pack-config`` holds), applied over the pack's initial config."""
    messages = StackMessages(run, PROJECT)
    report = StackReport(stack=run.stack, resources=len(run.resources))
    with EngineHost(stack_urn(run, PROJECT)) as host:
        launch = PackLaunch(
            pack_dir=pack_dir,
            engine_address=host.address,
            organization=ORGANIZATION,
            project=PROJECT,
            stack=run.stack,
            config=run.config,
        )
        with PackProcess(launch) as pack, AnalyzerClient(pack.port) as client:
            if on_start is not None:
                on_start(pack)
            client.wait_ready()
            client.handshake(host.address, pack_dir)
            client.configure_stack(
                stack=run.stack,
                project=PROJECT,
                organization=ORGANIZATION,
                config=run.config,
                tags={"pulumi:project": PROJECT, "pulumi:runtime": "python"},
            )
            info = client.info()
            client.configure(reconcile(info, config))
            for resource, request in messages.analyze_requests():
                _collect(run.stack, client.analyze(request), resource.urn, report)
            _collect(run.stack, client.analyze_stack(messages.stack_request()), "", report)
        report.messages = host.messages
    pack_report = Report(
        pack=str(info.name),
        version=str(info.version),
        policies=[
            PolicyInfo(p.name, p.description, LEVELS[p.enforcementLevel]) for p in info.policies
        ],
    )
    return report, pack_report


def check(
    stacks: Iterable[str],
    *,
    config: Mapping[str, Any] | None = None,
    override: Mapping[str, Any] | None = None,
    pack_dir: Path = PACK_DIR,
    on_start: OnStart | None = None,
    on_stack: Callable[[str], None] | None = None,
) -> Report:
    """Run and judge each shipped stack (``override`` sets stack config keys, as
    ``run_stack(..., override=...)`` does)."""
    report: Report | None = None
    stack_reports = []
    for stack in stacks:
        if on_stack is not None:
            on_stack(stack)
        run = run_stack(stack, override=override) if override else run_stack(stack)
        stack_report, pack_report = judge(run, config=config, pack_dir=pack_dir, on_start=on_start)
        stack_reports.append(stack_report)
        report = report or pack_report
    if report is None:
        raise ValueError("no stack to check")
    report.stacks = stack_reports
    return report


def read_engine_config(path: Path) -> dict[str, Any]:
    """An engine policy-config JSON file (``pulumi preview --policy-pack-config``)."""
    document = json.loads(path.read_text())
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return document
