"""Store doubles shared by the bundle and sync tests."""

from __future__ import annotations

from typing import Any

from fsspec.implementations.local import LocalFileSystem


class FailingAfter(LocalFileSystem):  # type: ignore[misc]
    """A local store whose connection drops after ``uploads`` files (a mid-upload failure)."""

    def __init__(self, uploads: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.remaining = uploads

    def put_file(self, lpath: str, rpath: str, **kwargs: Any) -> None:
        if self.remaining == 0:
            raise ConnectionError("connection reset by peer")
        self.remaining -= 1
        super().put_file(lpath, rpath, **kwargs)
