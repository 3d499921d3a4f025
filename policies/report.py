"""What a policy check found, per stack: violations (mandatory or advisory), exemptions."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Violation:
    stack: str
    policy: str
    level: str  # "mandatory" | "advisory"
    urn: str  # "" when the stack as a whole is blamed
    message: str
    description: str


@dataclass(frozen=True)
class Exempted:
    stack: str
    policy: str
    urn: str
    reason: str


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    level: str


@dataclass
class StackReport:
    stack: str
    resources: int
    violations: list[Violation] = field(default_factory=list)
    exempted: list[Exempted] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@dataclass
class Report:
    pack: str
    version: str
    policies: list[PolicyInfo] = field(default_factory=list)
    stacks: list[StackReport] = field(default_factory=list)

    @property
    def violations(self) -> list[Violation]:
        return [v for s in self.stacks for v in s.violations]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    def policies_violated(self, stack: str | None = None) -> set[str]:
        return {v.policy for v in self.violations if stack is None or v.stack == stack}
