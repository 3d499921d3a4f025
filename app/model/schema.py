"""The input contract of a served model, taken from its MLflow signature."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

NUMERIC_TYPES = {"double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32"}
INTEGER_TYPES = frozenset({"long", "integer"})


class SignatureError(ValueError):
    """The model's signature cannot be served (missing, tensor-based or non-numeric)."""


@dataclass(frozen=True)
class FeatureSchema:
    """Ordered feature names and MLflow column types; what every request is validated against.

    ``allow_nan``: every step of the model takes NaN natively (scikit-learn's ``allow_nan`` tags);
    ``missing_ok``: the columns where the model as a whole takes a missing value (its own imputer
    fills it in, or its estimator handles NaN), found by scoring examples when it is loaded.
    """

    names: tuple[str, ...]
    types: tuple[str, ...]
    allow_nan: bool = False
    missing_ok: frozenset[int] = frozenset()
    index: dict[str, int] = field(init=False, compare=False, repr=False)
    name_set: frozenset[str] = field(init=False, compare=False, repr=False)
    integer_columns: tuple[int, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.types):
            raise SignatureError("feature names and types differ in length")
        if len(set(self.names)) != len(self.names):
            raise SignatureError("feature names are not unique")
        object.__setattr__(self, "index", {name: i for i, name in enumerate(self.names)})
        object.__setattr__(self, "name_set", frozenset(self.names))
        object.__setattr__(
            self,
            "integer_columns",
            tuple(i for i, kind in enumerate(self.types) if kind in INTEGER_TYPES),
        )

    @property
    def width(self) -> int:
        return len(self.names)

    def with_missing_ok(self, columns: frozenset[int]) -> FeatureSchema:
        return replace(self, missing_ok=columns)

    def same_contract(self, other: FeatureSchema) -> bool:
        return self.names == other.names and self.types == other.types

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "datatype": NUMERIC_TYPES[kind], "shape": [-1]}
            for name, kind in zip(self.names, self.types, strict=True)
        ]

    @classmethod
    def from_column_specs(cls, specs: list[Any] | None, *, allow_nan: bool) -> FeatureSchema:
        """Build from an MLflow signature's input specs: the JSON list that ``MLmodel`` holds in
        ``signature.inputs`` (``[{"type": "double", "name": "x", "required": true}, ...]``)."""
        if specs is None:
            raise SignatureError("the model has no input signature; log it with signature=...")
        if not specs:
            raise SignatureError("the model's input signature has no columns")
        if any(isinstance(spec, dict) and spec.get("type") == "tensor" for spec in specs):
            raise SignatureError("tensor-based signatures are not served; log a column schema")
        names, types = [], []
        for spec in specs:
            name = spec.get("name") if isinstance(spec, dict) else None
            if not isinstance(name, str):
                raise SignatureError("every signature column needs a name")
            kind = str(spec.get("type"))
            if kind not in NUMERIC_TYPES:
                raise SignatureError(
                    f"column {name!r} has type {kind!r}; the service serves numeric columns "
                    f"({', '.join(NUMERIC_TYPES)})"
                )
            names.append(name)
            types.append(kind)
        return cls(names=tuple(names), types=tuple(types), allow_nan=allow_nan)
