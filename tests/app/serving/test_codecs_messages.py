"""Every refusal of the codecs names what is wrong and where, word for word: the message is what
a caller reads in the 422's JSON error, so a garbled, truncated or misplaced one is a bug."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.model.schema import FeatureSchema
from app.serving import codecs
from app.serving.codecs import STRICT, InputError

SCHEMA = FeatureSchema(names=("mean radius", "b", "c"), types=("double", "double", "double"))
NAMES = "'mean radius', 'b', 'c'"
TAKES = f"(the model takes {NAMES})"
#: 'b' is filled in by the model's own imputer (missing_ok); the others are not
FILLS_B = SCHEMA.with_missing_ok(frozenset({1}))
NAN_NATIVE = FeatureSchema(names=("a", "b", "c"), types=("double",) * 3, allow_nan=True)
INTEGER_B = FeatureSchema(names=("a", "b", "c"), types=("double", "long", "double"))
NULL_B = "row 0: feature 'b' must be a number, got null None"
WIDE = FeatureSchema(names=tuple(f"f{i}" for i in range(10)), types=("double",) * 10)
NINE = FeatureSchema(names=WIDE.names[:9], types=("double",) * 9)


def tensor(name: str, shape: Any, data: Any = None, datatype: Any = "FP64") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
    if data is not None:
        out["data"] = data
    return out


def per_feature(b: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Three per-feature tensors of two rows each; ``b`` replaces the 'b' tensor's fields."""
    tensors = [tensor(n, [2], [1.0, 2.0]) for n in SCHEMA.names]
    tensors[1].update(b or {})
    return tensors


CASES: dict[str, tuple[Callable[[], Any], str]] = {
    # rows (instances)
    "rows empty": (
        lambda: codecs.from_rows(SCHEMA, [], "instances"),
        "'instances' must be a non-empty array of rows",
    ),
    "row not an array": (
        lambda: codecs.from_rows(SCHEMA, [[1, 2, 3], 5], "instances"),
        "'instances' row 1 must be an array of 3 numbers or an object keyed by feature name, "
        "got int",
    ),
    "row null": (
        lambda: codecs.from_rows(SCHEMA, [None], "instances"),
        "'instances' row 0 must be an array of 3 numbers or an object keyed by feature name, "
        "got null",
    ),
    "row too short": (
        lambda: codecs.from_rows(SCHEMA, [[1, 2]], "instances"),
        f"'instances' row 0 has 2 values; the model takes 3 features ({NAMES})",
    ),
    "many names are cut short": (
        lambda: codecs.from_rows(WIDE, [[1]], "instances"),
        "'instances' row 0 has 1 values; the model takes 10 features "
        "('f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7' and 2 more)",
    ),
    "one name past the shown ones": (
        lambda: codecs.from_rows(NINE, [[1]], "instances"),
        "'instances' row 0 has 1 values; the model takes 9 features "
        "('f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7' and 1 more)",
    ),
    "a string value": (
        lambda: codecs.from_rows(SCHEMA, [[1, 2, 3], [1, "x", 3]], "instances"),
        "row 1: feature 'b' must be a number, got string 'x'",
    ),
    "a boolean value": (
        lambda: codecs.from_rows(SCHEMA, [[True, 2, 3]], "instances"),
        "row 0: feature 'mean radius' must be a number, got boolean True",
    ),
    "an object value": (
        lambda: codecs.from_rows(SCHEMA, [[1, 2, {}]], "instances"),
        "row 0: feature 'c' must be a number, got object {}",
    ),
    "an array value": (
        lambda: codecs.from_rows(SCHEMA, [[1, [], 3]], "instances"),
        "row 0: feature 'b' must be a number, got array []",
    ),
    "a value of another type": (
        lambda: codecs.from_rows(SCHEMA, [[1, (1, 2), 3]], "instances"),
        "row 0: feature 'b' must be a number, got tuple (1, 2)",
    ),
    "a null the model cannot fill in": (
        lambda: codecs.from_rows(SCHEMA, [[1, None, 3]], "instances"),
        "row 0: feature 'b' is missing and the model cannot fill it in; send a number",
    ),
    "a NaN the model cannot fill in": (
        lambda: codecs.from_rows(SCHEMA, [[1, 2, 3], [1, math.nan, 3]], "instances"),
        "row 1: feature 'b' is missing and the model cannot fill it in; send a number",
    ),
    "infinity": (
        lambda: codecs.from_rows(NAN_NATIVE, [[1, 2, 3], [1, 2, -math.inf]], "instances"),
        "row 1: feature 'c' is -inf; the model needs finite numbers",
    ),
    "strict: a null even where the imputer fills it in": (
        lambda: codecs.from_rows(FILLS_B, [[1, None, 3]], "instances", STRICT),
        "row 0: feature 'b' must be a number, got null None",
    ),
    "strict: a NaN even where the imputer fills it in": (
        lambda: codecs.from_rows(FILLS_B, [[1, math.nan, 3]], "instances", STRICT),
        "row 0: feature 'b' is missing and the model cannot fill it in; send a number",
    ),
    "strict, NaN-native model: the null passes, the string is named": (
        lambda: codecs.from_rows(NAN_NATIVE, [[None, "x", 1]], "instances", STRICT),
        "row 0: feature 'b' must be a number, got string 'x'",
    ),
    "lenient: a null the imputer fills in, then a string": (
        lambda: codecs.from_rows(FILLS_B, [[1, None, "x"]], "instances"),
        "row 0: feature 'c' must be a number, got string 'x'",
    ),
    "a NaN in an integer column is a missing value, not a fraction": (
        lambda: codecs.from_rows(INTEGER_B, [[1, math.nan, 3]], "instances"),
        "row 0: feature 'b' is missing and the model cannot fill it in; send a number",
    ),
    # records (dataframe_records, or instances as objects)
    "records empty": (
        lambda: codecs.from_records(SCHEMA, [], "dataframe_records"),
        "'dataframe_records' must be a non-empty array of objects",
    ),
    "records an object": (
        lambda: codecs.from_records(SCHEMA, {"b": 1}, "dataframe_records"),
        "'dataframe_records' must be a non-empty array of objects",
    ),
    "a record not an object": (
        lambda: codecs.from_records(SCHEMA, [{"mean radius": 1, "b": 2, "c": 3}, [1]], "x"),
        "'x' row 1 must be an object keyed by feature name",
    ),
    "strict: a record with an unknown feature": (
        lambda: codecs.from_records(
            SCHEMA,
            [{"mean radius": 1, "b": 2, "c": 3}, {"mean radius": 1, "b": 2, "c": 3, "z": 4}],
            "dataframe_records",
            STRICT,
        ),
        f"'dataframe_records' row 1: unknown feature(s) 'z' {TAKES}",
    ),
    "a feature absent from every record": (
        lambda: codecs.from_records(
            SCHEMA, [{"mean radius": 1, "b": 2}, {"mean radius": 1}], "dataframe_records"
        ),
        f"'dataframe_records': missing feature(s) 'c' {TAKES}",
    ),
    "instances as objects are records": (
        lambda: codecs.from_rows(SCHEMA, [{"mean radius": 1, "b": 2}], "instances"),
        f"'instances': missing feature(s) 'c' {TAKES}",
    ),
    "a string in a record": (
        lambda: codecs.from_records(SCHEMA, [{"mean radius": 1, "b": "x", "c": 3}], "r"),
        "row 0: feature 'b' must be a number, got string 'x'",
    ),
    "a string in an irregular record": (
        lambda: codecs.from_records(
            FILLS_B, [{"mean radius": 1, "b": 2, "c": 3}, {"mean radius": "x", "c": 3}], "r"
        ),
        "row 1: feature 'mean radius' must be a number, got string 'x'",
    ),
    # columns (inputs as an object)
    "columns not an object": (
        lambda: codecs.from_columns(SCHEMA, [1], "inputs"),
        "'inputs' must be an object of feature → array of values",
    ),
    "columns: a feature missing": (
        lambda: codecs.from_columns(SCHEMA, {"mean radius": [1], "b": [2]}, "inputs"),
        f"'inputs': missing feature(s) 'c' {TAKES}",
    ),
    "strict columns: missing and unknown": (
        lambda: codecs.from_columns(
            SCHEMA, {"mean radius": [1], "b": [2], "z": [3]}, "inputs", STRICT
        ),
        f"'inputs': missing feature(s) 'c'; unknown feature(s) 'z' {TAKES}",
    ),
    "columns: a feature not an array": (
        lambda: codecs.from_columns(SCHEMA, {"mean radius": [1], "b": 2, "c": [3]}, "inputs"),
        "'inputs' feature 'b' must be an array of values",
    ),
    "columns of different lengths": (
        lambda: codecs.from_columns(SCHEMA, {"mean radius": [1, 2], "b": [2], "c": [3, 4]}, "i"),
        "'i': every feature needs the same, non-zero number of values",
    ),
    "columns of one value and none": (
        lambda: codecs.from_columns(SCHEMA, {"mean radius": [1], "b": [], "c": [3]}, "i"),
        "'i': every feature needs the same, non-zero number of values",
    ),
    "empty columns": (
        lambda: codecs.from_columns(SCHEMA, {"mean radius": [], "b": [], "c": []}, "i"),
        "'i': every feature needs the same, non-zero number of values",
    ),
    "a string in a column": (
        lambda: codecs.from_columns(SCHEMA, {"mean radius": [1], "b": ["x"], "c": [3]}, "i"),
        "row 0: feature 'b' must be a number, got string 'x'",
    ),
    # dataframe_split
    "split not an object": (
        lambda: codecs.from_split(SCHEMA, []),
        "'dataframe_split' must be an object with 'columns' and 'data'",
    ),
    "split with an unknown key": (
        lambda: codecs.from_split(SCHEMA, {"columns": list(SCHEMA.names), "rows": []}),
        "'dataframe_split' has unknown key(s) 'rows'",
    ),
    "split columns a string": (
        lambda: codecs.from_split(SCHEMA, {"columns": "abc", "data": [[1, 2, 3]]}),
        "'dataframe_split.columns' must be an array of feature names",
    ),
    "split columns not strings": (
        lambda: codecs.from_split(SCHEMA, {"columns": [1, 2, 3], "data": [[1, 2, 3]]}),
        "'dataframe_split.columns' must be an array of feature names",
    ),
    "split columns twice": (
        lambda: codecs.from_split(SCHEMA, {"columns": ["b", "b", "c"], "data": [[1, 2, 3]]}),
        "'dataframe_split.columns' has duplicate names",
    ),
    "split columns lack a feature": (
        lambda: codecs.from_split(SCHEMA, {"columns": ["b", "c"], "data": [[1, 2]]}),
        f"'dataframe_split.columns': missing feature(s) 'mean radius' {TAKES}",
    ),
    "split data empty": (
        lambda: codecs.from_split(SCHEMA, {"columns": ["c", "b", "mean radius"], "data": []}),
        "'dataframe_split.data' must be a non-empty array of rows",
    ),
    "split data an object": (
        lambda: codecs.from_split(SCHEMA, {"columns": ["c", "b", "mean radius"], "data": {"a": 1}}),
        "'dataframe_split.data' must be a non-empty array of rows",
    ),
    "split without columns: rows in signature order": (
        lambda: codecs.from_split(SCHEMA, {"data": [[1, 2]]}),
        f"'dataframe_split.data' row 0 has 2 values; the model takes 3 features ({NAMES})",
    ),
    "split in signature order: a short row": (
        lambda: codecs.from_split(SCHEMA, {"columns": list(SCHEMA.names), "data": [[1, 2]]}),
        f"'dataframe_split.data' row 0 has 2 values; the model takes 3 features ({NAMES})",
    ),
    "split in another order: a short row": (
        lambda: codecs.from_split(SCHEMA, {"columns": ["c", "b", "mean radius"], "data": [[1]]}),
        "'dataframe_split.data' row 0 must be an array of 3 values",
    ),
    "split in another order: a row not an array": (
        lambda: codecs.from_split(
            SCHEMA, {"columns": ["c", "b", "mean radius"], "data": [[1, 2, 3], "abc"]}
        ),
        "'dataframe_split.data' row 1 must be an array of 3 values",
    ),
    "split in another order: a string": (
        lambda: codecs.from_split(
            SCHEMA, {"columns": ["c", "b", "mean radius"], "data": [[1, "x", 3]]}
        ),
        "row 0: feature 'b' must be a number, got string 'x'",
    ),
    # Open Inference Protocol tensors
    "inputs empty": (
        lambda: codecs.from_v2_inputs(SCHEMA, []),
        "'inputs' must be a non-empty array of tensors",
    ),
    "a tensor not an object": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [1, 3], [1, 2, 3]), 7]),
        "inputs[1] must be a tensor object",
    ),
    "a tensor without a shape": (
        lambda: codecs.from_v2_inputs(SCHEMA, [{"name": "x", "datatype": "FP64", "data": []}]),
        "inputs[0] lacks 'shape'",
    ),
    "a tensor name not a string": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor(3, [1, 3], [1, 2, 3])]),  # type: ignore[arg-type]
        "inputs[0].name must be a string",
    ),
    "a shape of three dimensions": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [1, 3, 1], [1, 2, 3])]),
        "inputs[0] 'x': shape must be [N] or [N, M] of non-negative ints",
    ),
    "an empty shape": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [], [1, 2, 3])]),
        "inputs[0] 'x': shape must be [N] or [N, M] of non-negative ints",
    ),
    "a shape not an array": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", "13", [1, 2, 3])]),
        "inputs[0] 'x': shape must be [N] or [N, M] of non-negative ints",
    ),
    "a shape of a float": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [1, 3.0], [1, 2, 3])]),
        "inputs[0] 'x': shape must be [N] or [N, M] of non-negative ints",
    ),
    "an unserved datatype": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [1, 3], [1, 2, 3], "BYTES")]),
        "inputs[0] 'x': datatype 'BYTES' is not served (use FP64, FP32, FP16, INT* or UINT*)",
    ),
    "bad parameters": (
        lambda: codecs.from_v2_inputs(SCHEMA, [{**tensor("x", [1, 3]), "parameters": []}]),
        "inputs[0] 'x': parameters must be an object",
    ),
    "data not an array": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [1, 3], {"a": 1})]),
        "inputs[0] 'x': data must be an array",
    ),
    "binary data of the wrong size": (
        lambda: codecs.from_v2_inputs(
            SCHEMA,
            [{**tensor("x", [1, 3]), "parameters": {"binary_data_size": 16}}],
            binary=bytes(16),
        ),
        "inputs[0] 'x': shape [1, 3] of FP64 needs 24 bytes of binary data, got 16",
    ),
    "one tensor of the wrong width": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [2], [1, 2])]),
        f"tensor 'x' has 2 columns; the model takes 3 features ({NAMES})",
    ),
    "one tensor with too few values": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [2, 3], [1, 2, 3])]),
        "tensor 'x': shape [2, 3] needs 6 values, got 3",
    ),
    "one tensor of shape [N] is one row": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [3], [1, 2, 3, 4])]),
        "tensor 'x': shape [1, 3] needs 3 values, got 4",
    ),
    "one tensor with a string": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [1, 3], [1, "x", 3])]),
        "row 0: feature 'b' must be a number, got string 'x'",
    ),
    "a per-feature tensor of two columns": (
        lambda: codecs.from_v2_inputs(SCHEMA, per_feature({"shape": [1, 2]})),
        "tensor 'b': a per-feature tensor has shape [N] or [N, 1]",
    ),
    "a per-feature tensor with too few values": (
        lambda: codecs.from_v2_inputs(SCHEMA, per_feature({"data": [1.0]})),
        "tensor 'b': shape [2] needs 2 values, got 1",
    ),
    "a feature given twice": (
        lambda: codecs.from_v2_inputs(SCHEMA, [*per_feature(), tensor("b", [2], [1.0, 2.0])]),
        "tensor 'b' is given twice",
    ),
    "a per-feature tensor with a string": (
        lambda: codecs.from_v2_inputs(SCHEMA, per_feature({"data": [1.0, "x"]})),
        "row 1: feature 'b' must be a number, got string 'x'",
    ),
    "per-feature tensors lack a feature": (
        lambda: codecs.from_v2_inputs(SCHEMA, per_feature()[:2]),
        f"'inputs': missing feature(s) 'c' {TAKES}",
    ),
    # strict decoding reaches every path: a null is refused even where the imputer fills it in
    "strict split without columns": (
        lambda: codecs.from_split(FILLS_B, {"data": [[1, None, 3]]}, STRICT),
        NULL_B,
    ),
    "strict split in signature order": (
        lambda: codecs.from_split(
            FILLS_B, {"columns": list(SCHEMA.names), "data": [[1, None, 3]]}, STRICT
        ),
        NULL_B,
    ),
    "strict split in another order": (
        lambda: codecs.from_split(
            FILLS_B, {"columns": ["c", "b", "mean radius"], "data": [[3, None, 1]]}, STRICT
        ),
        NULL_B,
    ),
    "strict columns": (
        lambda: codecs.from_columns(
            FILLS_B, {"mean radius": [1], "b": [None], "c": [3]}, "i", STRICT
        ),
        NULL_B,
    ),
    "strict one tensor": (
        lambda: codecs.from_v2_inputs(FILLS_B, [tensor("x", [1, 3], [1, None, 3])], STRICT),
        NULL_B,
    ),
    "strict per-feature tensors": (
        lambda: codecs.from_v2_inputs(
            FILLS_B, [tensor(n, [1], [None if n == "b" else 1]) for n in SCHEMA.names], STRICT
        ),
        NULL_B,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_refusal_says_exactly_what_and_where(case: str) -> None:
    decode, message = CASES[case]
    with pytest.raises(InputError) as caught:
        decode()
    assert str(caught.value) == message


NAN = math.nan
ACCEPTED: dict[str, tuple[Callable[[], Any], list[list[float]]]] = {
    "nulls and NaNs the imputer fills in, among ints and floats": (
        lambda: codecs.from_rows(FILLS_B, [[1, None, 2.5], [1.5, NAN, 3]], "instances"),
        [[1, NAN, 2.5], [1.5, NAN, 3]],
    ),
    "a NaN in an integer column the imputer fills in": (
        lambda: codecs.from_rows(INTEGER_B.with_missing_ok(frozenset({1})), [[1, NAN, 3]], "i"),
        [[1, NAN, 3]],
    ),
    "split with an index": (
        lambda: codecs.from_split(
            SCHEMA, {"columns": ["b", "c", "mean radius"], "data": [[2, 3, 1]], "index": [7]}
        ),
        [[1, 2, 3]],
    ),
    "one nested row": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [1, 3], [[1, 2, 3]])]),
        [[1, 2, 3]],
    ),
    "one tensor of shape [N]": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("x", [3], [1, 2, 3])]),
        [[1, 2, 3]],
    ),
    "per-feature tensors of shape [N, 1]": (
        lambda: codecs.from_v2_inputs(
            SCHEMA, [tensor(n, [2, 1], [[i], [i + 10]]) for i, n in enumerate(SCHEMA.names)]
        ),
        [[0, 1, 2], [10, 11, 12]],
    ),
    "lenient: an unknown tensor first is ignored": (
        lambda: codecs.from_v2_inputs(SCHEMA, [tensor("z", [2], [9, 9]), *per_feature()]),
        [[1, 1, 1], [2, 2, 2]],
    ),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_accepted_input_decodes_to_the_matrix(case: str) -> None:
    decode, expected = ACCEPTED[case]
    np.testing.assert_array_equal(decode(), np.array(expected, dtype=np.float64))
