"""Value types every section of ``stratus:apps`` shares: CPU and memory quantities, container
resources, pinned Helm charts. Kept apart from the sections so the workloads' config
(``infra.k8s.config``) and the observability config (``infra.k8s.observability.config``) can both
use them without importing each other."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from infra.config import ConfigModel

_CPU = re.compile(r"^(\d+m|\d+(\.\d{1,3})?)$")
_MEMORY = re.compile(r"^\d+(Ki|Mi|Gi|Ti)$")


def _cpu(value: str) -> str:
    if not _CPU.match(value):
        raise ValueError(f"{value!r} is not a CPU quantity like '500m' or '2'")
    return value


def _memory(value: str) -> str:
    if not _MEMORY.match(value):
        raise ValueError(f"{value!r} is not a memory quantity like '512Mi' or '2Gi'")
    return value


Cpu = Annotated[str, AfterValidator(_cpu)]
Memory = Annotated[str, AfterValidator(_memory)]


def cpu_cores(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def memory_gib(quantity: str) -> float:
    number, unit = int(quantity[:-2]), quantity[-2:]
    return number * {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1.0, "Ti": 1024.0}[unit]


class Resources(ConfigModel):
    """Container requests and limits. CPU limit optional (see the ML API's note)."""

    cpu: Cpu
    memory: Memory
    cpu_limit: Cpu | None = None
    memory_limit: Memory

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Self:
        if self.cpu_limit is not None and cpu_cores(self.cpu_limit) < cpu_cores(self.cpu):
            raise ValueError(f"cpuLimit {self.cpu_limit} is below the cpu request {self.cpu}")
        if memory_gib(self.memory_limit) < memory_gib(self.memory):
            raise ValueError(
                f"memoryLimit {self.memory_limit} is below the memory request {self.memory}"
            )
        return self

    def requirements(self) -> dict[str, dict[str, str]]:
        limits = {"memory": self.memory_limit}
        if self.cpu_limit is not None:
            limits["cpu"] = self.cpu_limit
        return {"requests": {"cpu": self.cpu, "memory": self.memory}, "limits": limits}


class Chart(ConfigModel):
    """A pinned Helm chart (repository, chart name, exact version)."""

    repository: str
    chart: str
    version: str = Field(pattern=r"^v?\d+\.\d+\.\d+$")
