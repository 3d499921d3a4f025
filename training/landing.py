"""Landing overlapped with training: the validated frame is written to the data lake in a
background thread while the model trains, and the run waits for it (and verifies the file)
before anything is logged or registered.

Why: hashing and writing the Parquet file (``training/land.py``) is a sizeable part of a run on
a large frame, and neither needs the model. The frame itself is not kept for it: the landing
writes the rows rebuilt from the split in their original order (``split.rows_in_order``), so
training does not hold the data twice. The guarantees of a serial landing stay:

* the file is content-addressed and complete before a model is registered: the fingerprint is
  taken from the validated frame itself, the rebuilt rows must hash to it before anything is
  written (``land_rows``), and ``wait`` returns only once ``<fingerprint>.parquet`` is written (or
  was there) and its footer says the rows and columns of the data (``verify_landed``);
* nothing is registered when landing fails: ``wait`` raises the landing's error, and the runner
  calls it before it starts the MLflow run (so there is no FAILED run either);
* no write outlives the run: leaving the ``landing_in_background`` block — normally or by an
  error in training — waits for the thread (a training error wins over a landing error).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager

import fsspec
import pyarrow.parquet as pq

from training.errors import DataSourceError
from training.land import LandedData, RowSource, land_rows
from training.progress import Reporter

REMEDY = "Remove that file and run again: the data is then landed anew."


class BackgroundLanding:
    """``land(frame, processed_url)`` running in its own thread; ``wait`` for its result."""

    def __init__(self, source: RowSource, processed_url: str, report: Reporter) -> None:
        self._report = report
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stratus-land")
        self._future: Future[LandedData] = executor.submit(
            self._land, source, processed_url, report
        )
        executor.shutdown(wait=False)  # the one thread ends with its task

    @staticmethod
    def _land(source: RowSource, processed_url: str, report: Reporter) -> LandedData:
        with report.stage("land"):
            landed = land_rows(source, processed_url)
            verify_landed(landed)
        return landed

    def wait(self) -> LandedData:
        """The landed data once it is written and verified; the landing's error otherwise."""
        if self._future.done():
            return self._future.result()
        with self._report.stage("land (wait)"):
            return self._future.result()

    def settle(self) -> None:
        """Wait until the thread is done, whatever its outcome (its error is ``wait``'s)."""
        wait([self._future])


@contextmanager
def landing_in_background(
    source: RowSource, processed_url: str, report: Reporter
) -> Iterator[BackgroundLanding]:
    """Start landing ``source``; on leaving the block, the landing has finished either way."""
    landing = BackgroundLanding(source, processed_url, report)
    try:
        yield landing
    finally:
        landing.settle()


def verify_landed(landed: LandedData) -> None:
    """The file at ``landed.url`` is a whole Parquet file of the landed shape (its footer is read:
    a truncated or foreign file has none, or another shape)."""
    try:
        with fsspec.open(landed.url, "rb") as handle:
            metadata = pq.ParquetFile(handle).metadata
    except (OSError, ValueError) as exc:
        raise DataSourceError(
            f"the landed file {landed.url} is not a readable Parquet file ({exc}); nothing was "
            f"registered. {REMEDY}"
        ) from None
    if (metadata.num_rows, metadata.num_columns) != (landed.rows, landed.columns):
        raise DataSourceError(
            f"the landed file {landed.url} holds {metadata.num_rows} rows x "
            f"{metadata.num_columns} columns, not the {landed.rows} x {landed.columns} of the "
            f"data; nothing was registered. {REMEDY}"
        )
