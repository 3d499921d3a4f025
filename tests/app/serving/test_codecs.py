from __future__ import annotations

import math

import numpy as np
import pytest

from app.model.schema import FeatureSchema
from app.serving import codecs
from app.serving.codecs import LENIENT, STRICT, InputError, InputPolicy

SCHEMA = FeatureSchema(names=("mean radius", "b", "c"), types=("double", "double", "double"))
ROWS = [[1.0, 2, 3.5], [4, 5.0, 6]]
EXPECTED = np.array(ROWS, dtype=np.float64)


def test_rows_in_signature_order() -> None:
    matrix = codecs.from_rows(SCHEMA, ROWS, "instances")
    assert matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix, EXPECTED)


def test_records_columns_split_and_v2_give_the_same_matrix() -> None:
    records = [dict(zip(SCHEMA.names, row, strict=True)) for row in ROWS]
    columns = {name: [row[i] for row in ROWS] for i, name in enumerate(SCHEMA.names)}
    shuffled = ["c", "mean radius", "b"]
    split = {"columns": shuffled, "data": [[r[2], r[0], r[1]] for r in ROWS]}
    tensor = [
        {
            "name": "x",
            "shape": [2, 3],
            "datatype": "FP64",
            "data": [value for row in ROWS for value in row],
        }
    ]
    nested = [{"name": "x", "shape": [2, 3], "datatype": "FP64", "data": ROWS}]
    per_feature = [
        {"name": name, "shape": [2], "datatype": "FP64", "data": values}
        for name, values in columns.items()
    ]
    for matrix in (
        codecs.from_records(SCHEMA, records, "dataframe_records"),
        codecs.from_rows(SCHEMA, records, "instances"),
        codecs.from_columns(SCHEMA, columns, "inputs"),
        codecs.from_split(SCHEMA, split),
        codecs.from_v2_inputs(SCHEMA, tensor),
        codecs.from_v2_inputs(SCHEMA, nested),
        codecs.from_v2_inputs(SCHEMA, per_feature),
    ):
        np.testing.assert_array_equal(matrix, EXPECTED)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "non-empty"),
        ({"a": 1}, "non-empty array"),
        ([[1, 2]], "row 0 has 2 values; the model takes 3 features"),
        ([[1, 2, 3], 5], "row 1 must be an array"),
        ([[1, "x", 3]], "feature 'b' must be a number, got string"),
        ([[1, True, 3]], "feature 'b' must be a number, got boolean"),
        ([[1, None, 3]], "feature 'b' must be a number, got null"),
        ([[1, [2], 3]], "feature 'b' must be a number, got array"),
        ([{"mean radius": 1, "b": 2}], "missing feature(s) 'c'"),
        ([{"mean radius": 1, "b": 2, "c": 3, "d": 4}], "unknown feature(s) 'd'"),
    ],
)
def test_bad_rows_name_the_problem(rows: object, message: str) -> None:
    with pytest.raises(InputError) as caught:
        codecs.from_rows(SCHEMA, rows, "instances", STRICT)
    assert message in str(caught.value)


def test_nan_allowed_only_when_the_model_takes_it() -> None:
    with pytest.raises(InputError, match="'b' must be a number, got null"):
        codecs.from_rows(SCHEMA, [[1, None, 3]], "instances", STRICT)
    with pytest.raises(InputError, match="'b' is missing and the model cannot fill it in"):
        codecs.from_rows(SCHEMA, [[1, None, 3]], "instances")
    native = FeatureSchema(names=SCHEMA.names, types=SCHEMA.types, allow_nan=True)
    for policy in (LENIENT, STRICT):
        matrix = codecs.from_rows(native, [[1, None, 3]], "instances", policy)
        assert math.isnan(matrix[0, 1])


def test_lenient_input_takes_what_the_model_fills_in_and_ignores_unknown_features() -> None:
    imputes_b = SCHEMA.with_missing_ok(frozenset({1}))
    ignored: list[list[str]] = []
    policy = InputPolicy(ignored=lambda names: ignored.append(list(names)))
    records = [{"mean radius": 1, "b": None, "c": 3, "id": 7}, {"mean radius": 4, "c": 6}]
    matrix = codecs.from_records(imputes_b, records, "dataframe_records", policy)
    np.testing.assert_array_equal(matrix, [[1, np.nan, 3], [4, np.nan, 6]])
    assert ignored == [["id"]]
    with pytest.raises(InputError, match="'c' is missing and the model cannot fill it in"):
        codecs.from_rows(imputes_b, [[1, 2, None]], "instances", policy)
    with pytest.raises(InputError, match="'mean radius' is missing"):
        codecs.from_records(imputes_b, [{"b": 1, "c": 2, "mean radius": None}], "r", policy)
    with pytest.raises(InputError, match="missing feature"):
        codecs.from_records(imputes_b, [{"b": 1, "c": 2}], "r", policy)
    with pytest.raises(InputError, match="is inf"):
        codecs.from_v2_inputs(
            imputes_b,
            [
                {
                    "name": "x",
                    "shape": [1, 3],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": 24},
                }
            ],
            policy,
            np.array([1, np.inf, 3], "<f8").tobytes(),
        )
    columns = {"c": [3, 6], "id": [1, 2], "b": [2, 5], "mean radius": [1, 4]}
    np.testing.assert_array_equal(
        codecs.from_columns(imputes_b, columns, "inputs", policy), [[1, 2, 3], [4, 5, 6]]
    )
    split = {"columns": ["id", "c", "b", "mean radius"], "data": [[9, 3, 2, 1]]}
    np.testing.assert_array_equal(codecs.from_split(imputes_b, split, policy), [[1, 2, 3]])
    assert ignored == [["id"]] * 3


def test_binary_tensors_decode_like_json_ones() -> None:
    values = np.array(ROWS, dtype="<f4")
    tensor = {"name": "x", "shape": [2, 3], "datatype": "FP32"}
    binary = values.tobytes()
    as_binary = codecs.from_v2_inputs(
        SCHEMA, [{**tensor, "parameters": {"binary_data_size": len(binary)}}], binary=binary
    )
    np.testing.assert_array_equal(as_binary, EXPECTED)
    per_feature = [
        {"name": name, "shape": [2], "datatype": "INT64", "parameters": {"binary_data_size": 16}}
        for name in SCHEMA.names
    ]
    integers = np.array([[1, 2, 3], [4, 5, 6]], dtype="<i8")
    binary = b"".join(integers[:, j].tobytes() for j in range(3))
    np.testing.assert_array_equal(
        codecs.from_v2_inputs(SCHEMA, per_feature, binary=binary), integers
    )
    mixed = [per_feature[0], {"name": "b", "shape": [2], "datatype": "FP64", "data": [2, 5]}]
    mixed.append(per_feature[2])
    binary = integers[:, 0].tobytes() + integers[:, 2].tobytes()
    np.testing.assert_array_equal(codecs.from_v2_inputs(SCHEMA, mixed, binary=binary), integers)


def test_integers_beyond_float_range_are_refused() -> None:
    with pytest.raises(InputError, match="cannot be read as numbers"):
        codecs.from_rows(SCHEMA, [[1, 10**400, 3]], "instances")


def test_integer_columns_refuse_fractions() -> None:
    schema = FeatureSchema(names=("n", "x"), types=("long", "double"))
    np.testing.assert_array_equal(codecs.from_rows(schema, [[2, 0.5]], "i"), [[2.0, 0.5]])
    with pytest.raises(InputError, match="'n' is an integer column"):
        codecs.from_rows(schema, [[2.5, 0.5]], "i")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([], "non-empty array of tensors"),
        ([{"name": "x", "shape": [1, 3], "datatype": "FP64"}], "lacks 'data'"),
        ([{"name": "x", "shape": [1, 3], "datatype": "BYTES", "data": [1, 2, 3]}], "BYTES"),
        ([{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2]}], "needs 3 values"),
        ([{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}], "4 columns"),
        ([{"name": "x", "shape": [-1, 3], "datatype": "FP64", "data": [1, 2, 3]}], "shape"),
        ([{"name": "x", "shape": [0, 3], "datatype": "FP64", "data": []}], "no rows"),
        ([{"name": "x", "shape": [1, 3], "datatype": [], "data": [1, 2, 3]}], "datatype []"),
        ([{"name": "x", "shape": [1, 3], "datatype": {}, "data": [1, 2, 3]}], "datatype {}"),
        ([{"name": "x", "shape": [1, 3], "datatype": 7, "data": [1, 2, 3]}], "datatype 7"),
        ([{"name": "x", "shape": [1, 3], "datatype": None, "data": [1, 2, 3]}], "datatype"),
        ([{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3], "parameters": []}],
         "parameters must be an object"),
        ([{"name": "x", "shape": [1, 3], "datatype": "FP64",
           "parameters": {"binary_data_size": "24"}}], "binary_data_size must be"),
        ([{"name": "x", "shape": [1, 3], "datatype": "FP64",
           "parameters": {"binary_data_size": 24}}], "needs 24 bytes of binary data, got 0"),
        ([{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3],
           "parameters": {"binary_data_size": 0}}], "not both"),
    ],
)  # fmt: skip
def test_bad_v2_tensors(inputs: object, message: str) -> None:
    with pytest.raises(InputError) as caught:
        codecs.from_v2_inputs(SCHEMA, inputs)
    assert message in str(caught.value)


def test_binary_data_must_be_used_exactly() -> None:
    tensor = {"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}
    with pytest.raises(InputError, match="binary data has 8 bytes"):
        codecs.from_v2_inputs(SCHEMA, [tensor], binary=b"\0" * 8)


def test_split_errors() -> None:
    with pytest.raises(InputError, match="duplicate"):
        codecs.from_split(SCHEMA, {"columns": ["b", "b", "c"], "data": [[1, 2, 3]]})
    with pytest.raises(InputError, match="missing feature"):
        codecs.from_split(SCHEMA, {"columns": ["b", "c"], "data": [[1, 2]]})
    with pytest.raises(InputError, match="unknown key"):
        codecs.from_split(SCHEMA, {"columns": list(SCHEMA.names), "data": ROWS, "x": 1})
