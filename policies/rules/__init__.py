"""Every Stratus rule, grouped by domain: ``aws``, ``azure``, ``kubernetes``, ``tagging``,
``cost`` and ``stack``. :data:`ALL_RULES` is what the policy pack serves."""

from __future__ import annotations

from policies.rules import aws, azure, cost, kubernetes, stack, tagging
from policies.rules.base import AnyRule

ALL_RULES: tuple[AnyRule, ...] = (
    *aws.RULES,
    *azure.RULES,
    *kubernetes.RULES,
    *tagging.RULES,
    *cost.RULES,
    *stack.RULES,
)


def rule_named(name: str) -> AnyRule:
    for rule in ALL_RULES:
        if rule.name == name:
            return rule
    raise KeyError(name)


_names = [r.name for r in ALL_RULES]
assert len(_names) == len(set(_names)), "rule names must be unique"
