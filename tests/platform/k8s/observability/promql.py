"""The metric names a PromQL expression reads (for checking them against the metrics that exist).

PromQL's grammar is small enough to find them reliably after removing what cannot be a metric
name: string literals, label matchers ``{...}``, range and subquery brackets ``[...]``, grouping
label lists (``by``, ``without``, ``on``, ``ignoring``, ``group_left``, ``group_right``), function
names (an identifier before ``(``), keywords and numbers. The expression is parsed by ``promtool``
first, so only valid PromQL reaches this.
"""

from __future__ import annotations

import re

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(?!\s*\()")
KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
     "group_right", "inf", "nan", "Inf", "NaN", "atan2"}
)  # fmt: skip


def metric_names(expr: str) -> set[str]:
    text = _STRING.sub('""', expr)
    previous = None
    while previous != text:
        previous = text
        text = _BRACES.sub(" ", text)
        text = _BRACKETS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?\b", " ", text)
    return {name for name in _IDENTIFIER.findall(text) if name not in KEYWORDS}
