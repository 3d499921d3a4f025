"""Reading resource properties as the engine sends them (camelCase, numbers as floats).

Inside the pack, properties are the CrossGuard SDK's read-only proxies: mappings and sequences
that raise ``UnknownValueError`` when a value is not known yet (during ``pulumi preview``), which
the SDK reports as "can't run policy during preview". These helpers only use the ``Mapping`` /
``Sequence`` protocols, so they work on the proxies and on plain values alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any


def dig(value: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path (``"vpcConfig.endpointPublicAccess"``), or ``default``."""
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return default
    return value


def items(value: Any) -> list[Any]:
    """``value`` as a list: a sequence's elements (not a string's characters), else empty."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def truthy(value: Any) -> bool:
    """A boolean property that may arrive as a bool or as the string ``"true"``."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar inside ``value`` with its dotted path."""
    if isinstance(value, Mapping):
        for key in value:
            yield from leaves(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for index, item in enumerate(value):
            yield from leaves(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield prefix, value
