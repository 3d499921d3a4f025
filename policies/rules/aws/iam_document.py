"""IAM policy documents as resources carry them: a JSON string or an already parsed object."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from policies.rules.props import items


def statements(document: Any) -> list[Mapping[str, Any]]:
    """The statements of a policy document; an unparsable document has none."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, Mapping):
        return []
    found = document.get("Statement")
    if isinstance(found, Mapping):
        return [found]
    return [s for s in items(found) if isinstance(s, Mapping)]


def values(statement: Mapping[str, Any], key: str) -> list[str]:
    """A statement field that may be a string or a list of strings."""
    value = statement.get(key)
    if isinstance(value, str):
        return [value]
    return [str(v) for v in items(value)]


def is_public_principal(principal: Any) -> bool:
    """``"*"`` or ``{"AWS": "*"}``: anyone, including anonymous callers."""
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        aws = principal.get("AWS")
        return aws == "*" or "*" in [str(a) for a in items(aws)]
    return False
