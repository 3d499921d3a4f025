"""The recovery-time arithmetic of DNS failover, in one place for the stack, the docs and the drill.

When an endpoint dies, clients reach the survivors after, at worst:

* **detection** — ``interval x failure threshold``: the consecutive failed probes that mark it
  unhealthy;
* **DNS TTL** — answers naming the dead endpoint, handed out just before detection, stay cached
  this long;
* **client retry** — a client that failed waits this long before it tries again.

Their sum must not exceed the configured RTO; a configuration that cannot meet it is refused with
the sum written out, so the fix (a shorter interval, threshold, TTL or retry) is obvious.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from infra.config import StratusConfigError


class _HealthNumbers(Protocol):
    @property
    def interval_seconds(self) -> int: ...
    @property
    def failure_threshold(self) -> int: ...


class _TrafficNumbers(Protocol):
    @property
    def health_check(self) -> _HealthNumbers: ...
    @property
    def client_retry_seconds(self) -> int: ...
    @property
    def rto_seconds(self) -> int: ...


@dataclass(frozen=True)
class RtoBudget:
    """The worst-case failover time and the objective it must meet."""

    interval_seconds: int
    failure_threshold: int
    ttl_seconds: int
    client_retry_seconds: int
    objective_seconds: int
    #: Why the TTL differs from the configured one (e.g. AWS alias answers carry 60 s).
    ttl_note: str = ""

    @classmethod
    def of(cls, traffic: _TrafficNumbers, *, ttl_seconds: int, ttl_note: str = "") -> RtoBudget:
        return cls(
            interval_seconds=traffic.health_check.interval_seconds,
            failure_threshold=traffic.health_check.failure_threshold,
            ttl_seconds=ttl_seconds,
            client_retry_seconds=traffic.client_retry_seconds,
            objective_seconds=traffic.rto_seconds,
            ttl_note=ttl_note,
        )

    @property
    def detection_seconds(self) -> int:
        return self.interval_seconds * self.failure_threshold

    @property
    def total_seconds(self) -> int:
        return self.detection_seconds + self.ttl_seconds + self.client_retry_seconds

    @property
    def met(self) -> bool:
        return self.total_seconds <= self.objective_seconds

    def describe(self) -> str:
        """``detection 10 s x 3 = 30 s + DNS TTL 60 s + client retry 30 s = 120 s <= RTO 300 s``."""
        note = f" ({self.ttl_note})" if self.ttl_note else ""
        relation = "<=" if self.met else ">"
        return (
            f"detection {self.interval_seconds} s x {self.failure_threshold} = "
            f"{self.detection_seconds} s + DNS TTL {self.ttl_seconds} s{note} + client retry "
            f"{self.client_retry_seconds} s = {self.total_seconds} s {relation} RTO "
            f"{self.objective_seconds} s"
        )

    def require(self, key: str) -> None:
        """Raise when the sum exceeds the objective, naming ``key`` and showing the sum."""
        if not self.met:
            raise StratusConfigError(
                f"{key}: the failover cannot meet the RTO: {self.describe()}; lower "
                "healthCheck.intervalSeconds, healthCheck.failureThreshold, ttlSeconds or "
                "clientRetrySeconds, or raise rtoSeconds"
            )

    def wire(self) -> dict[str, int | str | bool]:
        """As a stack output."""
        return {
            "detectionSeconds": self.detection_seconds,
            "ttlSeconds": self.ttl_seconds,
            "clientRetrySeconds": self.client_retry_seconds,
            "totalSeconds": self.total_seconds,
            "objectiveSeconds": self.objective_seconds,
            "met": self.met,
            "sum": self.describe(),
        }
