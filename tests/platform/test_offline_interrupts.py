"""``infra.offline.interrupts``: Ctrl-C and SIGTERM during an offline run stop it cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from infra.offline import run_stack
from infra.offline.interrupts import RunInterruptedError, deferred_interrupts, stop_if_interrupted


class TerminatedError(Exception):
    """What the test's own SIGTERM handler raises."""


@pytest.fixture
def own_sigterm_handler() -> Iterator[Callable[[int, Any], None]]:
    def handler(signum: int, frame: Any) -> None:
        raise TerminatedError()

    previous = signal.signal(signal.SIGTERM, handler)
    yield handler
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own Ctrl-C handler, as in a terminal: a test run started in the background by a
    non-interactive shell inherits SIGINT ignored (and then it stays ignored, by design)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class SignalWhileCreatingOutputs:
    """Delivers a signal from inside the Pulumi runtime, half-way through turning a resource's
    properties into outputs: after the first output made by ``transfer_properties`` from its
    ``at``-th call on. Unprotected, a KeyboardInterrupt there leaves outputs that never resolve
    (the run hangs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, signum: int, at: int = 20) -> None:
        self.signum = signum
        self.at = at
        self.transfers = 0
        self.transfers_after_signal = 0
        self.sent = False
        self._inside = False
        original_transfer = rpc.transfer_properties
        original_output_init = pulumi.Output.__init__

        def transfer_properties(*args: Any, **kwargs: Any) -> Any:
            self.transfers += 1
            if self.sent:
                self.transfers_after_signal += 1
            self._inside = self.transfers >= self.at
            try:
                return original_transfer(*args, **kwargs)
            finally:
                self._inside = False

        def output_init(output: Any, *args: Any, **kwargs: Any) -> None:
            original_output_init(output, *args, **kwargs)
            if self._inside and not self.sent:
                self.sent = True
                signal.raise_signal(self.signum)

        monkeypatch.setattr(rpc, "transfer_properties", transfer_properties)
        monkeypatch.setattr(pulumi.Output, "__init__", output_init)


@pytest.mark.timeout(60)
def test_ctrl_c_inside_the_runtime_stops_the_program_at_the_next_resource(
    monkeypatch: pytest.MonkeyPatch, default_sigint: None
) -> None:
    complete = run_stack("aws-dev", override={})
    injected = SignalWhileCreatingOutputs(monkeypatch, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run_stack("aws-dev", override={})
    assert injected.sent
    # The resource being created when the signal came is finished; the next one never starts.
    assert injected.transfers_after_signal == 0
    assert injected.transfers < len(complete.resources)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.undo()
    # Nothing of the interrupted run is left behind: the next run registers the whole stack.
    again = run_stack("aws-dev", override={})
    assert sorted(r.urn for r in again.resources) == sorted(r.urn for r in complete.resources)


@pytest.mark.timeout(60)
def test_sigterm_inside_the_runtime_reaches_the_handler_in_place_before_the_run(
    monkeypatch: pytest.MonkeyPatch, own_sigterm_handler: Callable[[int, Any], None]
) -> None:
    injected = SignalWhileCreatingOutputs(monkeypatch, signal.SIGTERM, at=5)
    with pytest.raises(TerminatedError):
        run_stack("azure-dev", override={})
    assert injected.sent
    assert signal.getsignal(signal.SIGTERM) is own_sigterm_handler


def _stop_message() -> str:
    """What ``stop_if_interrupted`` says now ("" when it lets the program go on)."""
    try:
        stop_if_interrupted()
    except RunInterruptedError as exc:
        return str(exc)
    return ""


def _deferred_run(messages: list[str], *signals: int) -> None:
    """Raise ``signals`` inside a run with a nested run (a stack reference) and note what
    ``stop_if_interrupted`` says in the nested run, then in the outer one."""
    with deferred_interrupts():
        with deferred_interrupts():
            for signum in signals:
                signal.raise_signal(signum)
            messages.append(_stop_message())
        messages.append(_stop_message())


def test_a_signal_is_recorded_and_delivered_when_the_outermost_run_ends(
    default_sigint: None,
) -> None:
    messages: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _deferred_run(messages, signal.SIGINT)
    assert messages == ["interrupted by SIGINT", "interrupted by SIGINT"]
    assert _stop_message() == ""  # the record is cleared
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_only_the_first_signal_is_delivered(
    own_sigterm_handler: Callable[[int, Any], None], default_sigint: None
) -> None:
    messages: list[str] = []
    with pytest.raises(TerminatedError):
        _deferred_run(messages, signal.SIGTERM, signal.SIGINT)
    assert messages == ["interrupted by SIGTERM", "interrupted by SIGTERM"]
    assert _stop_message() == ""


def test_without_a_signal_a_run_goes_on_and_ends_quietly(default_sigint: None) -> None:
    messages: list[str] = []
    _deferred_run(messages)
    assert messages == ["", ""]


def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_interrupts():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            assert _stop_message() == ""
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_nothing_is_deferred(default_sigint: None) -> None:
    seen: list[object] = []

    def in_a_thread() -> None:
        with deferred_interrupts():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]
