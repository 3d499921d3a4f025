"""Object-store locations (data lake, model stores, data sources), checked before any write.

fsspec's S3 and Blob filesystems create a missing bucket or container when asked to make a
directory in it (``makedirs``, and ``put(recursive=True)`` makes directories), so a mistyped
``s3://modles-typo/...`` would silently become a new bucket. Stratus never creates buckets or
containers: ``check_location`` looks the bucket/container up first and turns a missing one, missing
credentials or a denied access into one clear error naming the URL. Local paths are directories
and are created as needed.
"""

from __future__ import annotations

from typing import Any

import fsspec

from training.bundle import is_local_filesystem
from training.errors import StorageError

AWS_CREDENTIALS = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a workload identity"
)
AZURE_CREDENTIALS = (
    "set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with a credential"
)


def access_problem(url: str, exc: BaseException) -> str | None:
    """A message for credential / permission failures of the cloud SDKs (else ``None``)."""
    kind = type(exc).__name__
    module = type(exc).__module__
    if kind in ("NoCredentialsError", "PartialCredentialsError") and module.startswith("botocore"):
        return f"no AWS credentials to reach {url} ({AWS_CREDENTIALS})"
    if kind == "ClientAuthenticationError" and module.startswith("azure"):
        return f"Azure refused the credentials for {url}: {_first_line(exc)}"
    if isinstance(exc, ValueError) and "connection_string or account_name" in str(exc):
        return f"no Azure storage account or credentials for {url} ({AZURE_CREDENTIALS})"
    if isinstance(exc, PermissionError):
        return f"access denied to {url}: {_first_line(exc)}"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ValueError as exc:
        problem = access_problem(url, exc)
        raise StorageError(problem or f"cannot open {url}: {exc}") from None
    except ImportError as exc:
        raise StorageError(f"no filesystem for {url}: {exc}") from None
    return fs, str(path)


def check_location(url: str, what: str) -> None:
    """Raise ``StorageError`` unless ``url``'s bucket/container exists and is reachable.

    ``what`` names the setting in the message (``publish.stores``, ``land.processed_url``).
    """
    fs, path = _filesystem(url)
    if is_local_filesystem(fs):
        return
    bucket = path.strip("/").split("/", 1)[0]
    scheme = url.split("://", 1)[0]
    noun = "container" if scheme in ("az", "abfs", "abfss", "adl") else "bucket"
    try:
        fs.info(bucket)
    except FileNotFoundError:
        raise StorageError(
            f"{what}: {noun} {bucket!r} does not exist ({url}); Stratus never creates "
            f"{noun}s — check the name, or create it first"
        ) from None
    except Exception as exc:  # the SDKs' own credential/permission errors, translated below
        problem = access_problem(url, exc)
        if problem is None:
            raise StorageError(f"{what}: cannot reach {url}: {type(exc).__name__}: {exc}") from None
        raise StorageError(f"{what}: {problem}") from None
