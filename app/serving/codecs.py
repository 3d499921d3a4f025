"""Request payloads → a validated float64 feature matrix, without pandas.

Every check names what is wrong (row, feature, type). The common case — rows of plain numbers
in signature order — costs a ``set(map(type, ...))`` over the values and one ``np.array``.
"""

from __future__ import annotations

import math
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.model.schema import FeatureSchema

_NUMBER_TYPES = frozenset({int, float})
_NULLABLE_NUMBER_TYPES = frozenset({int, float, type(None)})
V2_NUMERIC = frozenset(
    {
        "FP64",
        "FP32",
        "FP16",
        "INT64",
        "INT32",
        "INT16",
        "INT8",
        "UINT64",
        "UINT32",
        "UINT16",
        "UINT8",
    }
)
MAX_SHOWN_FEATURES = 8


class InputError(ValueError):
    """The payload does not match the model's input contract (answered with 422)."""


def _names(names: Any) -> str:
    shown = [repr(n) for n in list(names)[:MAX_SHOWN_FEATURES]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _type_name(value: Any) -> str:
    return {bool: "boolean", str: "string", type(None): "null", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _finish(schema: FeatureSchema, rows: list[Any], what: str) -> NDArray[np.float64]:
    """Check value types of rectangular ``rows`` (lists of width ``schema.width``) → matrix."""
    kinds = set(map(type, chain.from_iterable(rows)))
    if not kinds <= _NUMBER_TYPES and not (schema.allow_nan and kinds <= _NULLABLE_NUMBER_TYPES):
        _raise_bad_value(schema, rows, what)
    if schema.integer_columns:
        for i, row in enumerate(rows):
            for column in schema.integer_columns:
                value = row[column]
                if type(value) is float and not (math.isnan(value) or value.is_integer()):
                    raise InputError(
                        f"{what} {i}: feature {schema.names[column]!r} is an integer column, "
                        f"got {value!r}"
                    )
    try:
        matrix = np.array(rows, dtype=np.float64)
    except (OverflowError, ValueError) as exc:
        raise InputError(f"{what}s cannot be read as numbers: {exc}") from None
    if not np.isfinite(matrix).all() and (not schema.allow_nan or np.isinf(matrix).any()):
        i, j = (int(x) for x in np.argwhere(~np.isfinite(matrix))[0])
        raise InputError(
            f"{what} {i}: feature {schema.names[j]!r} is {matrix[i, j]!r}; "
            "the model needs finite numbers"
        )
    return matrix


def _raise_bad_value(schema: FeatureSchema, rows: list[Any], what: str) -> None:
    allowed = _NULLABLE_NUMBER_TYPES if schema.allow_nan else _NUMBER_TYPES
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if type(value) not in allowed:
                raise InputError(
                    f"{what} {i}: feature {schema.names[j]!r} must be a number, "
                    f"got {_type_name(value)} {value!r:.40}"
                )
    raise InputError(f"{what}s contain values that are not numbers")  # pragma: no cover


def _check_keys(schema: FeatureSchema, keys: Any, where: str) -> None:
    present = set(keys)
    missing = [n for n in schema.names if n not in present]
    unknown = sorted(str(k) for k in present - schema.name_set)
    problems = []
    if missing:
        problems.append(f"missing feature(s) {_names(missing)}")
    if unknown:
        problems.append(f"unknown feature(s) {_names(unknown)}")
    raise InputError(f"{where}: {'; '.join(problems)} (the model takes {_names(schema.names)})")


def from_rows(schema: FeatureSchema, rows: Any, field: str) -> NDArray[np.float64]:
    """``rows``: a non-empty list of rows, each a list in signature order or an object by name."""
    if not isinstance(rows, list) or not rows:
        raise InputError(f"{field!r} must be a non-empty array of rows")
    if type(rows[0]) is dict:
        return from_records(schema, rows, field)
    width = schema.width
    for i, row in enumerate(rows):
        if type(row) is not list:
            raise InputError(
                f"{field!r} row {i} must be an array of {width} numbers or an object keyed by "
                f"feature name, got {_type_name(row)}"
            )
        if len(row) != width:
            raise InputError(
                f"{field!r} row {i} has {len(row)} values; the model takes {width} features "
                f"({_names(schema.names)})"
            )
    return _finish(schema, rows, "row")


def from_records(schema: FeatureSchema, records: Any, field: str) -> NDArray[np.float64]:
    if not isinstance(records, list) or not records:
        raise InputError(f"{field!r} must be a non-empty array of objects")
    names = schema.names
    name_set = schema.name_set
    rows = []
    for i, record in enumerate(records):
        if type(record) is not dict:
            raise InputError(f"{field!r} row {i} must be an object keyed by feature name")
        if record.keys() != name_set:
            _check_keys(schema, record.keys(), f"{field!r} row {i}")
        rows.append([record[name] for name in names])
    return _finish(schema, rows, "row")


def from_columns(schema: FeatureSchema, columns: Any, field: str) -> NDArray[np.float64]:
    """``{"feature": [v0, v1, ...], ...}`` (column-oriented)."""
    if type(columns) is not dict or not columns:
        raise InputError(f"{field!r} must be an object of feature → array of values")
    if columns.keys() != schema.name_set:
        _check_keys(schema, columns.keys(), repr(field))
    lengths = set()
    for name in schema.names:
        column = columns[name]
        if type(column) is not list:
            raise InputError(f"{field!r} feature {name!r} must be an array of values")
        lengths.add(len(column))
    if len(lengths) != 1 or 0 in lengths:
        raise InputError(f"{field!r}: every feature needs the same, non-zero number of values")
    rows = [list(values) for values in zip(*(columns[n] for n in schema.names), strict=True)]
    return _finish(schema, rows, "row")


def from_split(schema: FeatureSchema, split: Any) -> NDArray[np.float64]:
    """pandas ``orient="split"``: ``{"columns": [...], "data": [[...]], "index": [...]}``."""
    if type(split) is not dict:
        raise InputError("'dataframe_split' must be an object with 'columns' and 'data'")
    unknown = set(split) - {"columns", "data", "index"}
    if unknown:
        raise InputError(f"'dataframe_split' has unknown key(s) {_names(sorted(unknown))}")
    columns = split.get("columns")
    data = split.get("data")
    if columns is None:
        return from_rows(schema, data, "dataframe_split.data")
    if type(columns) is not list or any(type(c) is not str for c in columns):
        raise InputError("'dataframe_split.columns' must be an array of feature names")
    if len(set(columns)) != len(columns):
        raise InputError("'dataframe_split.columns' has duplicate names")
    if set(columns) != schema.name_set:
        _check_keys(schema, columns, "'dataframe_split.columns'")
    if not isinstance(data, list) or not data:
        raise InputError("'dataframe_split.data' must be a non-empty array of rows")
    if tuple(columns) == schema.names:
        return from_rows(schema, data, "dataframe_split.data")
    order = [columns.index(name) for name in schema.names]
    for i, row in enumerate(data):
        if type(row) is not list or len(row) != len(columns):
            raise InputError(
                f"'dataframe_split.data' row {i} must be an array of {len(columns)} values"
            )
    return _finish(schema, [[row[k] for k in order] for row in data], "row")


def from_v2_inputs(schema: FeatureSchema, inputs: Any) -> NDArray[np.float64]:
    """Open Inference Protocol tensors: one [N, F] tensor, or one [N] tensor per feature."""
    if not isinstance(inputs, list) or not inputs:
        raise InputError("'inputs' must be a non-empty array of tensors")
    tensors = []
    for k, tensor in enumerate(inputs):
        if type(tensor) is not dict:
            raise InputError(f"inputs[{k}] must be a tensor object")
        for key in ("name", "shape", "datatype", "data"):
            if key not in tensor:
                raise InputError(f"inputs[{k}] lacks {key!r}")
        name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
        if type(name) is not str:
            raise InputError(f"inputs[{k}].name must be a string")
        if (
            type(shape) is not list
            or not shape
            or len(shape) > 2
            or any(type(d) is not int or d < 0 for d in shape)
        ):
            raise InputError(
                f"inputs[{k}] {name!r}: shape must be [N] or [N, M] of non-negative ints"
            )
        if datatype not in V2_NUMERIC:
            raise InputError(
                f"inputs[{k}] {name!r}: datatype {datatype!r} is not served "
                "(use FP64, FP32 or INT*)"
            )
        tensors.append((name, shape, _flat(tensor["data"], f"inputs[{k}] {name!r}")))
    if len(tensors) == 1 and tensors[0][0] not in schema.name_set:
        name, shape, data = tensors[0]
        if len(shape) == 1:
            shape = [1, shape[0]]
        rows_n, width = shape
        if width != schema.width:
            raise InputError(
                f"tensor {name!r} has {width} columns; the model takes {schema.width} features "
                f"({_names(schema.names)})"
            )
        _check_count(name, shape, data)
        if rows_n == 0:
            raise InputError(f"tensor {name!r} has no rows")
        return _finish(schema, [data[i * width : (i + 1) * width] for i in range(rows_n)], "row")
    by_name = {}
    for name, shape, data in tensors:
        if len(shape) == 2 and shape[1] != 1:
            raise InputError(f"tensor {name!r}: a per-feature tensor has shape [N] or [N, 1]")
        _check_count(name, shape, data)
        if name in by_name:
            raise InputError(f"tensor {name!r} is given twice")
        by_name[name] = data
    return from_columns(schema, by_name, "inputs")


def _flat(data: Any, where: str) -> list[Any]:
    if type(data) is not list:
        raise InputError(f"{where}: data must be an array")
    if data and type(data[0]) is list:
        flat: list[Any] = []
        stack = [data]
        while stack:
            item = stack.pop()
            if type(item) is list:
                stack.extend(reversed(item))
            else:
                flat.append(item)
        return flat
    return data


def _check_count(name: str, shape: list[int], data: list[Any]) -> None:
    expected = math.prod(shape)
    if len(data) != expected:
        raise InputError(f"tensor {name!r}: shape {shape} needs {expected} values, got {len(data)}")
