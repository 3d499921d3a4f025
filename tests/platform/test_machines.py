"""Node capacity from machine type names (the clouds' documented naming schemes)."""

from __future__ import annotations

import pytest

from infra.machines import MachineShape, aws_shape, azure_shape, smallest


@pytest.mark.parametrize(
    ("instance_type", "shape"),
    [
        ("t3.large", MachineShape(2, 8.0)),
        ("m6i.xlarge", MachineShape(4, 16.0)),
        ("c6i.xlarge", MachineShape(4, 8.0)),
        ("r6i.2xlarge", MachineShape(8, 64.0)),
        ("g5.xlarge", MachineShape(4, 16.0)),
        ("m6i.12xlarge", MachineShape(48, 192.0)),
        ("t3.micro", None),  # too small to size a node by
        ("m6i.metal", None),
        ("p4d.24xlarge", None),  # family outside the documented table
        ("not-a-type", None),
    ],
)
def test_aws_shapes(instance_type: str, shape: MachineShape | None) -> None:
    assert aws_shape(instance_type) == shape


@pytest.mark.parametrize(
    ("vm_size", "shape"),
    [
        ("Standard_D4ds_v5", MachineShape(4, 16.0)),
        ("Standard_D16ds_v5", MachineShape(16, 64.0)),
        ("Standard_E8s_v5", MachineShape(8, 64.0)),
        ("Standard_F4s_v2", MachineShape(4, 8.0)),
        ("Standard_B2s", MachineShape(2, 4.0)),
        ("Standard_B2ms", MachineShape(2, 8.0)),
        ("Standard_NC4as_T4_v3", MachineShape(4, 28.0)),
        ("Standard_M128s", None),
        ("D4ds_v5", None),
    ],
)
def test_azure_shapes(vm_size: str, shape: MachineShape | None) -> None:
    assert azure_shape(vm_size) == shape


def test_a_pool_of_several_types_is_as_big_as_its_smallest() -> None:
    assert smallest([aws_shape("c6i.xlarge"), aws_shape("m6i.2xlarge")]) == MachineShape(4, 8.0)
    assert smallest([aws_shape("c6i.xlarge"), aws_shape("p4d.24xlarge")]) is None
