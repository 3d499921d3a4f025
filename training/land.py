"""Stage 3 — land: write the validated data to the data lake's processed zone as Parquet, keyed by
its content fingerprint, so every registered model can be traced to the exact data it saw.

Layout: ``<processed_url>/<fingerprint>.parquet``. The file is content-addressed, so landing the
same data twice is a no-op; it is written under a temporary name and renamed (or, on object stores,
written as one object), so a reader never sees half a file under the final name.
"""

from __future__ import annotations

import hashlib
import posixpath
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.bundle import is_local_filesystem
from training.errors import DataSourceError

ROW_GROUP = 65_536


@dataclass(frozen=True)
class LandedData:
    fingerprint: str
    url: str
    rows: int
    columns: int
    written: bool


#: ``rows_per_chunk`` → the data's rows in order, as DataFrames of at most that many rows.
Chunks = Callable[[int], Iterator[pd.DataFrame]]


@dataclass(frozen=True)
class RowSource:
    """Data to land: its fingerprint and shape (taken from the frame itself), its Arrow schema,
    and its rows in order chunk by chunk — a frame's slices, or rebuilt from the split
    (``training/split.py:rows_in_order``) so that the frame need not be kept while landing."""

    fingerprint: str
    schema: pa.Schema
    rows: int
    columns: int
    chunks: Chunks

    @classmethod
    def of(cls, frame: pd.DataFrame, chunks: Chunks | None = None) -> RowSource:
        """``frame``'s fingerprint, schema and shape; its rows from ``chunks`` (default: the
        frame's own slices)."""
        rows, columns = frame.shape
        return cls(
            fingerprint(frame),
            pa.Schema.from_pandas(frame, preserve_index=False),
            rows,
            columns,
            chunks or (lambda size: frame_slices(frame, size)),
        )


def frame_slices(frame: pd.DataFrame, rows_per_chunk: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), rows_per_chunk):
        yield frame.iloc[start : start + rows_per_chunk]


def _header_digest(dtypes: pd.Series) -> Any:
    digest = hashlib.sha256()
    for name, dtype in dtypes.items():
        digest.update(f"{name}\0{dtype}\n".encode())
    return digest


def _row_hashes(frame: pd.DataFrame) -> bytes:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 over column names, dtypes and a vectorised hash of every row (order-sensitive)."""
    digest = _header_digest(frame.dtypes)
    digest.update(_row_hashes(frame))
    return str(digest.hexdigest())


def chunks_fingerprint(source: RowSource, rows_per_chunk: int = ROW_GROUP) -> str:
    """``fingerprint`` of the rows ``source.chunks`` yields (row hashes do not depend on the
    chunking): equal to ``source.fingerprint`` iff the chunks are the fingerprinted data."""
    digest = None
    for chunk in source.chunks(rows_per_chunk):
        if digest is None:
            digest = _header_digest(chunk.dtypes)
        digest.update(_row_hashes(chunk))
    return "" if digest is None else str(digest.hexdigest())


def land(frame: pd.DataFrame, processed_url: str) -> LandedData:
    return land_rows(RowSource.of(frame), processed_url)


def land_rows(source: RowSource, processed_url: str) -> LandedData:
    """Write ``source`` as ``<processed_url>/<fingerprint>.parquet`` (nothing if it is there).
    Chunks that are not the fingerprinted data are refused before anything is written."""
    key = source.fingerprint
    fs, root = fsspec.core.url_to_fs(processed_url)
    root = root.rstrip("/")
    target = posixpath.join(root, f"{key}.parquet")
    url = _unstrip(processed_url, target)
    rows, columns = source.rows, source.columns
    try:
        if fs.exists(target):
            return LandedData(key, url, rows, columns, written=False)
        if chunks_fingerprint(source) != key:
            raise DataSourceError(
                f"cannot land data in {processed_url}: the rows to write do not hash to the data's "
                f"fingerprint {key[:12]} (nothing was written)"
            )
        if is_local_filesystem(fs):
            # Only local directories are made: on S3/Blob, makedirs would create a missing
            # bucket/container (checked to exist beforehand, training/locations.py).
            fs.makedirs(root, exist_ok=True)
            temporary = posixpath.join(root, f".{key}.{uuid.uuid4().hex}.tmp")
            with fs.open(temporary, "wb") as handle:
                write_chunks(source, handle)
            fs.mv(temporary, target)
        else:
            with fs.open(target, "wb") as handle:
                write_chunks(source, handle)
    except OSError as exc:
        raise DataSourceError(f"cannot land data in {processed_url}: {exc}") from None
    return LandedData(key, url, rows, columns, written=True)


def write_chunks(source: RowSource, handle: Any, rows_per_group: int = ROW_GROUP) -> None:
    """Write ``source`` in row groups, converting one chunk to Arrow at a time (a whole-frame
    conversion would hold a second copy of the data in Arrow's memory pool).

    Dictionary encoding only for the columns it suits (``dictionary_columns``): on measured
    floats, where nearly every value is distinct, Arrow builds a dictionary per column chunk only
    to abandon it, which made the file larger and the write about six times slower."""
    schema = source.schema
    with pq.ParquetWriter(handle, schema, use_dictionary=dictionary_columns(schema)) as writer:
        for chunk in source.chunks(rows_per_group):
            writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Every column but the floating-point ones (categories, text, integer codes and labels)."""
    return [field.name for field in schema if not pa.types.is_floating(field.type)]


def _unstrip(url: str, path: str) -> str:
    """``path`` with the URL's scheme put back (``s3://…``), or as is for local paths."""
    if "://" in url:
        return f"{url.split('://', 1)[0]}://{path}"
    return path
