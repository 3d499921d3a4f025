"""Judge tiny Pulumi programs with the real policy pack process.

``register(program)`` runs ``program`` (a function declaring real provider resources) through
``infra.offline``'s runner under the SDK mocks, as a shipped stack's program is run, and returns
the ``StackRun``. ``Packs`` keeps one pack process per stack name for the test session (the pack
learns its stack from its environment, as from the engine).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any
from unittest import mock

from infra.offline import StackRun, runner
from policies.engine.check import PackSession
from policies.report import StackReport


def register(
    program: Callable[[], object], stack: str = "aws-dev", config: Mapping[str, str] | None = None
) -> StackRun:
    with mock.patch.object(runner.runpy, "run_path", side_effect=lambda *_a, **_k: program()):
        return runner._run_once(stack, dict(config or {}), "stratus", runner._Mocks({}))


class Packs:
    def __init__(self) -> None:
        self._sessions: dict[str, PackSession] = {}
        self._exit = contextlib.ExitStack()

    def session(self, stack: str) -> PackSession:
        if stack not in self._sessions:
            self._sessions[stack] = self._exit.enter_context(PackSession(stack))
        return self._sessions[stack]

    def judge(
        self,
        program: Callable[[], None],
        stack: str = "aws-dev",
        config: Mapping[str, Any] | None = None,
    ) -> StackReport:
        run = register(program, stack)
        session = self.session(stack)
        if config is None:
            return session.judge(run)
        session.configure(config)
        try:
            return session.judge(run)
        finally:
            session.configure(None)

    def close(self) -> None:
        self._exit.close()


def messages(report: StackReport, policy: str) -> list[str]:
    """The messages of ``policy``'s violations in ``report``."""
    return [v.message for v in report.violations if v.policy == policy]


def exempted(report: StackReport, policy: str) -> list[str]:
    return [e.reason for e in report.exempted if e.policy == policy]
