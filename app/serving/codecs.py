"""Request payloads → a validated float64 feature matrix, without pandas.

Every check names what is wrong (row, feature, type). The common case — rows of plain numbers
in signature order — costs a ``set(map(type, ...))`` over the values and one ``np.array``.

How forgiving decoding is comes from an :class:`InputPolicy` (``STRATUS_STRICT_INPUT``). The
default follows ``mlflow models serve``: features the model does not take are ignored (and
reported to ``InputPolicy.ignored``), and a missing value (``null``, an absent key in one of
several records, NaN in a binary tensor) goes to the model when the model fills it in itself
(``FeatureSchema.missing_ok``). Strict decoding refuses both, unless every step of the model
takes NaN natively.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.model.schema import FeatureSchema

_NUMBER_TYPES = frozenset({int, float})
_NULLABLE_NUMBER_TYPES = frozenset({int, float, type(None)})
#: Open Inference Protocol datatypes served, with their little-endian binary layout
V2_BINARY_DTYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(code)
    for name, code in {
        "FP64": "<f8",
        "FP32": "<f4",
        "FP16": "<f2",
        "INT64": "<i8",
        "INT32": "<i4",
        "INT16": "<i2",
        "INT8": "i1",
        "UINT64": "<u8",
        "UINT32": "<u4",
        "UINT16": "<u2",
        "UINT8": "u1",
    }.items()
}
V2_NUMERIC = frozenset(V2_BINARY_DTYPES)
MAX_SHOWN_FEATURES = 8


class InputError(ValueError):
    """The payload does not match the model's input contract (answered with 422)."""


def _report_nothing(names: Sequence[str]) -> None:
    return None


@dataclass(frozen=True)
class InputPolicy:
    """How forgiving decoding is. ``ignored`` is told the unknown feature names that were
    ignored (never called when ``strict``)."""

    strict: bool = False
    ignored: Callable[[Sequence[str]], None] = _report_nothing


LENIENT = InputPolicy()
STRICT = InputPolicy(strict=True)


def _names(names: Any) -> str:
    shown = [repr(n) for n in list(names)[:MAX_SHOWN_FEATURES]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _type_name(value: Any) -> str:
    return {bool: "boolean", str: "string", type(None): "null", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _takes_missing(schema: FeatureSchema, policy: InputPolicy) -> bool:
    return schema.allow_nan if policy.strict else bool(schema.missing_ok) or schema.allow_nan


def _finish(
    schema: FeatureSchema, rows: list[Any], what: str, policy: InputPolicy
) -> NDArray[np.float64]:
    """Check value types of rectangular ``rows`` (lists of width ``schema.width``) → matrix."""
    kinds = set(map(type, chain.from_iterable(rows)))
    if not kinds <= _NUMBER_TYPES and not (
        kinds <= _NULLABLE_NUMBER_TYPES and _takes_missing(schema, policy)
    ):
        _raise_bad_value(schema, rows, what, policy)
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
    if not np.isfinite(matrix).all():
        _check_missing(schema, matrix, what, policy)
    return matrix


def _check_missing(
    schema: FeatureSchema, matrix: NDArray[np.float64], what: str, policy: InputPolicy
) -> None:
    """Infinity is never served; NaN (a missing value) only where the model takes it."""
    infinite = np.argwhere(np.isinf(matrix))
    if infinite.size:
        i, j = (int(x) for x in infinite[0])
        raise InputError(
            f"{what} {i}: feature {schema.names[j]!r} is {float(matrix[i, j])!r}; "
            "the model needs finite numbers"
        )
    if schema.allow_nan:
        return
    allowed = frozenset() if policy.strict else schema.missing_ok
    for i, j in np.argwhere(np.isnan(matrix)):
        if int(j) not in allowed:
            raise InputError(
                f"{what} {int(i)}: feature {schema.names[j]!r} is missing and the model cannot "
                "fill it in; send a number"
            )


def _raise_bad_value(
    schema: FeatureSchema, rows: list[Any], what: str, policy: InputPolicy
) -> None:
    allowed = _NULLABLE_NUMBER_TYPES if _takes_missing(schema, policy) else _NUMBER_TYPES
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            # a null the model fills in is no problem: name the value that is
            if (
                value is None
                and not policy.strict
                and not (schema.allow_nan or j in schema.missing_ok)
            ):
                raise InputError(
                    f"{what} {i}: feature {schema.names[j]!r} is missing and the model cannot "
                    "fill it in; send a number"
                )
            if type(value) not in allowed:
                raise InputError(
                    f"{what} {i}: feature {schema.names[j]!r} must be a number, "
                    f"got {_type_name(value)} {value!r:.40}"
                )
    raise InputError(f"{what}s contain values that are not numbers")  # pragma: no cover


def _check_keys(schema: FeatureSchema, keys: Any, where: str, policy: InputPolicy) -> None:
    """``keys`` differ from the signature's names: refuse, or (lenient, nothing missing) report
    the unknown ones as ignored."""
    present = set(keys)
    missing = [n for n in schema.names if n not in present]
    unknown = sorted(str(k) for k in present - schema.name_set)
    if not missing and not policy.strict:
        policy.ignored(unknown)
        return
    problems = []
    if missing:
        problems.append(f"missing feature(s) {_names(missing)}")
    if unknown:
        problems.append(f"unknown feature(s) {_names(unknown)}")
    raise InputError(f"{where}: {'; '.join(problems)} (the model takes {_names(schema.names)})")


def from_rows(
    schema: FeatureSchema, rows: Any, field: str, policy: InputPolicy = LENIENT
) -> NDArray[np.float64]:
    """``rows``: a non-empty list of rows, each a list in signature order or an object by name."""
    if not isinstance(rows, list) or not rows:
        raise InputError(f"{field!r} must be a non-empty array of rows")
    if type(rows[0]) is dict:
        return from_records(schema, rows, field, policy)
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
    return _finish(schema, rows, "row", policy)


def from_records(
    schema: FeatureSchema, records: Any, field: str, policy: InputPolicy = LENIENT
) -> NDArray[np.float64]:
    if not isinstance(records, list) or not records:
        raise InputError(f"{field!r} must be a non-empty array of objects")
    names = schema.names
    name_set = schema.name_set
    rows = []
    irregular = False
    for i, record in enumerate(records):
        if type(record) is not dict:
            raise InputError(f"{field!r} row {i} must be an object keyed by feature name")
        if record.keys() == name_set:
            rows.append([record[name] for name in names])
        elif policy.strict:
            _check_keys(schema, record.keys(), f"{field!r} row {i}", policy)
        else:
            irregular = True
            rows.append([record.get(name) for name in names])
    if irregular:
        # like a DataFrame built from the records: a feature absent from every record is
        # missing from the input; absent from some, it is a missing value in those rows
        present = set(chain.from_iterable(r.keys() for r in records))
        _check_keys(schema, present, repr(field), policy)
    return _finish(schema, rows, "row", policy)


def from_columns(
    schema: FeatureSchema, columns: Any, field: str, policy: InputPolicy = LENIENT
) -> NDArray[np.float64]:
    """``{"feature": [v0, v1, ...], ...}`` (column-oriented)."""
    if type(columns) is not dict or not columns:
        raise InputError(f"{field!r} must be an object of feature → array of values")
    if columns.keys() != schema.name_set:
        _check_keys(schema, columns.keys(), repr(field), policy)
    lengths = set()
    for name in schema.names:
        column = columns[name]
        if type(column) is not list:
            raise InputError(f"{field!r} feature {name!r} must be an array of values")
        lengths.add(len(column))
    if len(lengths) != 1 or 0 in lengths:
        raise InputError(f"{field!r}: every feature needs the same, non-zero number of values")
    rows = [list(values) for values in zip(*(columns[n] for n in schema.names), strict=True)]
    return _finish(schema, rows, "row", policy)


def from_split(
    schema: FeatureSchema, split: Any, policy: InputPolicy = LENIENT
) -> NDArray[np.float64]:
    """pandas ``orient="split"``: ``{"columns": [...], "data": [[...]], "index": [...]}``."""
    if type(split) is not dict:
        raise InputError("'dataframe_split' must be an object with 'columns' and 'data'")
    unknown = set(split) - {"columns", "data", "index"}
    if unknown:
        raise InputError(f"'dataframe_split' has unknown key(s) {_names(sorted(unknown))}")
    columns = split.get("columns")
    data = split.get("data")
    if columns is None:
        return from_rows(schema, data, "dataframe_split.data", policy)
    if type(columns) is not list or any(type(c) is not str for c in columns):
        raise InputError("'dataframe_split.columns' must be an array of feature names")
    if len(set(columns)) != len(columns):
        raise InputError("'dataframe_split.columns' has duplicate names")
    if set(columns) != schema.name_set:
        _check_keys(schema, columns, "'dataframe_split.columns'", policy)
    if not isinstance(data, list) or not data:
        raise InputError("'dataframe_split.data' must be a non-empty array of rows")
    if tuple(columns) == schema.names:
        return from_rows(schema, data, "dataframe_split.data", policy)
    order = [columns.index(name) for name in schema.names]
    for i, row in enumerate(data):
        if type(row) is not list or len(row) != len(columns):
            raise InputError(
                f"'dataframe_split.data' row {i} must be an array of {len(columns)} values"
            )
    return _finish(schema, [[row[k] for k in order] for row in data], "row", policy)


def from_v2_inputs(
    schema: FeatureSchema,
    inputs: Any,
    policy: InputPolicy = LENIENT,
    binary: bytes | memoryview = b"",
) -> NDArray[np.float64]:
    """Open Inference Protocol tensors: one [N, F] tensor, or one [N] tensor per feature.

    A tensor's values are in its ``data``, or (binary tensor extension) in ``binary`` — the bytes
    after the JSON header — when its ``parameters.binary_data_size`` says how many bytes are its
    own, in order, little-endian.
    """
    if not isinstance(inputs, list) or not inputs:
        raise InputError("'inputs' must be a non-empty array of tensors")
    tensors = []
    offset = 0
    for k, tensor in enumerate(inputs):
        if type(tensor) is not dict:
            raise InputError(f"inputs[{k}] must be a tensor object")
        for key in ("name", "shape", "datatype"):
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
        if type(datatype) is not str or datatype not in V2_NUMERIC:
            raise InputError(
                f"inputs[{k}] {name!r}: datatype {datatype!r:.40} is not served "
                "(use FP64, FP32, FP16, INT* or UINT*)"
            )
        where = f"inputs[{k}] {name!r}"
        size = _binary_size(tensor, where)
        if size is None:
            if "data" not in tensor:
                raise InputError(f"inputs[{k}] lacks 'data' (or parameters.binary_data_size)")
            data = _flat(tensor["data"], where)
        else:
            if "data" in tensor:
                raise InputError(f"{where}: give 'data' or binary data, not both")
            data = _from_binary(binary[offset : offset + size], datatype, shape, where)
            offset += size
        tensors.append((name, shape, data))
    if offset != len(binary):
        raise InputError(
            f"the binary data has {len(binary)} bytes; the inputs' binary_data_size add up to "
            f"{offset}"
        )
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
        rows = [data[i * width : (i + 1) * width] for i in range(rows_n)]
        return _finish(schema, rows, "row", policy)
    by_name = {}
    for name, shape, data in tensors:
        if len(shape) == 2 and shape[1] != 1:
            raise InputError(f"tensor {name!r}: a per-feature tensor has shape [N] or [N, 1]")
        _check_count(name, shape, data)
        if name in by_name:
            raise InputError(f"tensor {name!r} is given twice")
        by_name[name] = data
    return from_columns(schema, by_name, "inputs", policy)


def _binary_size(tensor: dict[str, Any], where: str) -> int | None:
    parameters = tensor.get("parameters")
    if parameters is None:
        return None
    if type(parameters) is not dict:
        raise InputError(f"{where}: parameters must be an object")
    size = parameters.get("binary_data_size")
    if size is None:
        return None
    if type(size) is not int or size < 0:
        raise InputError(f"{where}: parameters.binary_data_size must be a non-negative integer")
    return size


def _from_binary(
    chunk: bytes | memoryview, datatype: str, shape: list[int], where: str
) -> list[Any]:
    dtype = V2_BINARY_DTYPES[datatype]
    expected = math.prod(shape) * dtype.itemsize
    if len(chunk) != expected:
        raise InputError(
            f"{where}: shape {shape} of {datatype} needs {expected} bytes of binary data, "
            f"got {len(chunk)}"
        )
    values: list[Any] = np.frombuffer(chunk, dtype=dtype).astype(np.float64).tolist()
    return values


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
