"""Structured JSON logs (one object per line) carrying the current request id."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

import orjson

request_id_var: ContextVar[str | None] = ContextVar("stratus_request_id", default=None)

_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Stamp each record with the request id when it is created (handlers may format later)."""
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


logging.setLogRecordFactory(_record_with_request_id)

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {
    "message",
    "asctime",
    "color_message",
    "taskName",
    "request_id",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    """Route every logger (ours and uvicorn's) through one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the service writes its own access log


audit_log = logging.getLogger("stratus.audit")


class AccessLog:
    """One JSON line per request, written in batches (``logger`` ``stratus.access``).

    The access log is on the hot path: building a ``LogRecord``, formatting it and flushing the
    stream once per request costs more than scoring a batched row. Lines are encoded with orjson
    into a buffer that is written out every ``interval_s`` or when it passes ``max_bytes``.
    """

    def __init__(self, stream: IO[bytes], *, max_bytes: int = 64 * 1024) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        self._lines: list[bytes] = []
        self._size = 0

    def write(self, entry: dict[str, Any]) -> None:
        line = orjson.dumps(
            {
                "ts": datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="milliseconds"),
                "level": "INFO",
                "logger": "stratus.access",
                "message": "request",
                **entry,
            }
        )
        self._lines.append(line)
        self._size += len(line) + 1
        if self._size >= self.max_bytes:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        data = b"\n".join(self._lines) + b"\n"
        self._lines.clear()
        self._size = 0
        try:
            self.stream.write(data)
            self.stream.flush()
        except (OSError, ValueError):  # a closed stream must not break a request
            pass

    async def run(self, interval_s: float = 0.5) -> None:
        try:
            while True:
                await asyncio.sleep(interval_s)
                self.flush()
        finally:
            self.flush()
