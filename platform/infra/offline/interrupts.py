"""Ctrl-C and SIGTERM while a Pulumi program runs offline: acted on only where it is safe.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be. Inside the Pulumi
runtime that can be half-way through creating a resource's outputs (measured: in
``Output.__init__``'s ``ensure_future``). The runtime then waits forever for outputs that will
never resolve, or finishes the program as if nothing had happened: a ``python -m policies check``
interrupted at the wrong moment hung or exited 0.

So while a program runs (:func:`deferred_interrupts`), SIGINT and SIGTERM are only recorded. The
program stops at the next safe point: the start of a resource's construction, before the runtime
holds any state for it, or the next mocked registration or invoke. It stops with
:class:`RunInterruptedError`, an ordinary program error the runtime winds down cleanly. When the
outermost run is over, the signal is raised again, so the handler in place before the run
(``KeyboardInterrupt``, a CLI's own SIGTERM handler, or the default action) acts on it then.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

#: The signals that are deferred while a program runs.
DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterruptedError(Exception):
    """Raised inside the program at a safe point after SIGINT or SIGTERM arrived."""


#: The deferred signals received during the current run, in order (read from the mocks' threads).
_signals: list[int] = []
_depth = 0


def _record(signum: int, frame: object) -> None:
    _signals.append(signum)


def stop_if_interrupted() -> None:
    """Raise :class:`RunInterruptedError` if a deferred signal arrived (at safe points only)."""
    if _signals:
        raise RunInterruptedError(f"interrupted by {signal.Signals(_signals[0]).name}")


def stop_before_construction(args: Any) -> None:
    """A Pulumi stack transformation: runs at the start of every resource's construction, in the
    program's thread, before the runtime holds any state for the resource. Changes nothing."""
    stop_if_interrupted()


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Record SIGINT and SIGTERM instead of acting on them; re-raise the first one on the way
    out. Nested uses, and uses outside the main thread (where Python cannot install handlers),
    change nothing. A signal the process ignores stays ignored."""
    global _depth
    if _depth or threading.current_thread() is not threading.main_thread():
        yield
        return
    # A handler set outside Python (getsignal gives None) could not be restored: left alone.
    previous = {
        signum: handler
        for signum in DEFERRED_SIGNALS
        if (handler := signal.getsignal(signum)) not in (signal.SIG_IGN, None)
    }
    _depth += 1
    try:
        for signum in previous:
            signal.signal(signum, _record)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _depth -= 1
        pending = _signals[:1]
        _signals.clear()
        if pending:
            # The restored handler runs now (raising KeyboardInterrupt, say), or the default action.
            signal.raise_signal(pending[0])
