"""``python -m policies check``: judge offline stack runs with the real policy pack process.

For each stack: run it offline (``infra.offline.run_stack``), start the pack as the engine does,
drive it through the analyzer interface (handshake, ``ConfigureStack``, ``GetAnalyzerInfo``,
``Configure`` with the reconciled config, ``Analyze`` per resource, ``AnalyzeStack``) and collect
the diagnostics. One pack process per stack, as one ``pulumi preview`` starts one: the pack learns
its stack from its environment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from infra.offline import StackRun, encode_config, run_stack, stack_config
from policies.engine.analyzer import AnalyzerClient
from policies.engine.host import EngineHost
from policies.engine.process import PackLaunch, PackProcess
from policies.engine.reconcile import LEVELS, reconcile
from policies.engine.resources import StackMessages
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


class PackSession(contextlib.AbstractContextManager["PackSession"]):
    """A pack process started for ``stack`` and configured as the engine does, ready to judge
    runs of that stack: ``with PackSession("aws-dev", config) as pack: pack.judge(run)``."""

    def __init__(
        self,
        stack: str,
        *,
        stack_config: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
        pack_dir: Path = PACK_DIR,
        on_start: OnStart | None = None,
    ) -> None:
        self.stack = stack
        self.stack_config = dict(stack_config or {})
        self.config = config
        self.pack_dir = pack_dir
        self.on_start = on_start
        self._exit = contextlib.ExitStack()
        self._client: AnalyzerClient | None = None
        self._info: Any = None

    def __enter__(self) -> PackSession:
        """Start the engine host and the pack process; the pack is connected and configured on
        first use (:meth:`ready`), so the caller can run the stack while the pack starts."""
        with self._exit as stack:
            self.host = stack.enter_context(EngineHost(self._root_urn()))
            launch = PackLaunch(
                pack_dir=self.pack_dir,
                engine_address=self.host.address,
                organization=ORGANIZATION,
                project=PROJECT,
                stack=self.stack,
                config=self.stack_config,
            )
            self.pack = PackProcess(launch)
            stack.callback(self.pack.stop)
            self.pack.spawn()
            self._exit = stack.pop_all()
        return self

    def ready(self) -> AnalyzerClient:
        """Connect to the pack and configure it as the engine does (once)."""
        if self._client is not None:
            return self._client
        port = self.pack.wait_port()
        client = self._exit.enter_context(AnalyzerClient(port))
        if self.on_start is not None:
            self.on_start(self.pack)
        client.wait_ready()
        client.handshake(self.host.address, self.pack_dir)
        client.configure_stack(
            stack=self.stack,
            project=PROJECT,
            organization=ORGANIZATION,
            config=self.stack_config,
            tags={"pulumi:project": PROJECT, "pulumi:runtime": "python"},
        )
        self._info = client.info()
        self._client = client
        self.configure(self.config)
        return client

    @property
    def info(self) -> Any:
        """The pack's ``AnalyzerInfo``."""
        self.ready()
        return self._info

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._exit.close()

    def _root_urn(self) -> str:
        return f"urn:pulumi:{self.stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{self.stack}"

    def configure(self, config: Mapping[str, Any] | None) -> None:
        """Reconcile ``config`` (an engine policy-config document) with the pack's own and send
        it, as the engine does once per update."""
        self.ready().configure(reconcile(self.info, config))

    def judge(self, run: StackRun) -> StackReport:
        client = self.ready()
        messages = StackMessages(run, PROJECT)
        report = StackReport(stack=run.stack, resources=len(run.resources))
        for resource, request in messages.analyze_requests():
            _collect(run.stack, client.analyze(request), resource.urn, report)
        _collect(run.stack, client.analyze_stack(messages.stack_request()), "", report)
        report.messages = self.host.messages
        return report

    def report(self, stacks: list[StackReport]) -> Report:
        return Report(
            pack=str(self.info.name),
            version=str(self.info.version),
            policies=[
                PolicyInfo(p.name, p.description, LEVELS[p.enforcementLevel])
                for p in self.info.policies
            ],
            stacks=stacks,
        )


def _stack_config(stack: str, override: Mapping[str, Any] | None) -> dict[str, str]:
    """The config ``run_stack(stack, override=override)`` runs the program with."""
    values = stack_config(stack)
    values.update(encode_config(override or {}))
    return values


def check(
    stacks: Iterable[str],
    *,
    config: Mapping[str, Any] | None = None,
    override: Mapping[str, Any] | None = None,
    pack_dir: Path = PACK_DIR,
    on_start: OnStart | None = None,
    on_stack: Callable[[str], None] | None = None,
) -> Report:
    """Run each shipped stack offline and judge it with a pack process of its own (``override``
    sets stack config keys, as ``run_stack(..., override=...)`` does). The pack starts while the
    stack runs."""
    reports: list[StackReport] = []
    last: PackSession | None = None
    for stack in stacks:
        if on_stack is not None:
            on_stack(stack)
        values = _stack_config(stack, override)  # an unknown stack fails here, before any pack
        with PackSession(
            stack, stack_config=values, config=config, pack_dir=pack_dir, on_start=on_start
        ) as session:
            run = run_stack(stack, override=override) if override else run_stack(stack)
            if dict(run.config) != values:
                raise RuntimeError(f"{stack}: the pack was started with another config")
            reports.append(session.judge(run))
        last = session
    if last is None:
        raise ValueError("no stack to check")
    return last.report(reports)
