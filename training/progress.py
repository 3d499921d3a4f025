"""Progress reporting for the runner: silent (library, tests, bench) or rich (the CLI)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class Reporter(Protocol):
    def stage(self, name: str) -> AbstractContextManager[None]: ...

    def trial(self, done: int, total: int) -> None: ...

    def note(self, message: str) -> None: ...


class SilentReporter:
    """Records stage durations, prints nothing."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = time.perf_counter() - started

    def trial(self, done: int, total: int) -> None:
        return None

    def note(self, message: str) -> None:
        return None


class RichReporter(SilentReporter):
    """A rich progress display: one line per stage, a bar for the search trials."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._trials: TaskID | None = None

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.progress.stop()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        task = self.progress.add_task(name, total=1)
        with super().stage(name):
            try:
                yield
            except BaseException:
                self.progress.update(task, description=f"[red]{name} (failed)")
                raise
        self.progress.update(task, completed=1)

    def trial(self, done: int, total: int) -> None:
        if total == 0:
            return
        if self._trials is None:
            self._trials = self.progress.add_task("  search trials (candidate x fold)", total=total)
        self.progress.update(self._trials, completed=done, total=total)

    def note(self, message: str) -> None:
        self.progress.console.print(message)
