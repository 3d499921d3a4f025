"""The errors the pipeline reports to its users: each says what is wrong and where."""

from __future__ import annotations

from typing import Any

#: ``run`` / ``finalize`` exit code when the gate rejected the candidate (registered as rejected).
GATE_REJECTED_EXIT = 3


class TrainingError(RuntimeError):
    """Base class: a failure the CLI reports as a clear message with a non-zero exit."""

    exit_code = 1


class ConfigError(TrainingError):
    """The pipeline configuration (YAML, environment or CLI flags) is invalid."""


class DataSourceError(TrainingError):
    """The data source is missing, unreadable or in an unknown format."""


class DataValidationError(TrainingError):
    """The data failed validation; ``failures`` lists every problem found."""

    def __init__(self, source: str, failures: list[str]) -> None:
        self.source = source
        self.failures = failures
        lines = "\n".join(f"  - {failure}" for failure in failures)
        super().__init__(
            f"data from {source} failed validation ({len(failures)} problems):\n{lines}"
        )


class StorageError(TrainingError):
    """A data lake or model store location cannot be used: its bucket/container does not exist
    (Stratus never creates one), or credentials are missing or refused."""


class RegistryError(TrainingError):
    """A registry operation (promote, rollback, show) cannot be done as asked."""


class PublishError(TrainingError):
    """Publishing the champion to one or more model stores failed."""

    exit_code = 4

    def __init__(self, message: str, results: list[Any] | None = None) -> None:
        super().__init__(message)
        self.results = results or []
