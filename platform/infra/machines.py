"""vCPUs and memory of a node's machine type, from the clouds' documented naming schemes.

The foundation contract tells the upper layers how much a pool can hold (the ML API's config
validation checks that the ``api`` pool's maximum can fit the HPA's maximum). The figures come from
the machine type's name, following each cloud's published naming conventions:

* AWS (``<family><generation><options>.<size>``): ``large`` is 2 vCPUs, ``xlarge`` 4,
  ``<N>xlarge`` 4 times N; memory per vCPU by family: compute ``c`` 2 GiB, general ``m``/``t``
  and GPU ``g`` 4 GiB, memory ``r`` 8 GiB, ``x`` 16 GiB.
* Azure (``Standard_<family><vCPUs><features>_v<N>``): the number after the family is the vCPU
  count; memory per vCPU by family: ``F`` 2 GiB, ``D`` 4 GiB (``Dl`` 2), ``E`` 8 GiB, ``B`` 4 GiB
  (``B…s`` 2), ``NC…as_T4`` 7 GiB.

A type outside these families yields ``None`` (unknown): checks that need capacity then say they
could not check, instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class MachineShape:
    vcpus: int
    memory_gib: float


_AWS = re.compile(r"^(?P<family>[a-z]+)(?P<gen>\d+)(?P<options>[a-z-]*)\.(?P<size>[a-z0-9]+)$")
_AWS_MEMORY_PER_VCPU = {"c": 2.0, "m": 4.0, "t": 4.0, "g": 4.0, "r": 8.0, "x": 16.0}
_AWS_SIZE = re.compile(r"^(?P<n>\d*)xlarge$")

_AZURE = re.compile(
    r"^Standard_(?P<family>[A-Z]+)(?P<vcpus>\d+)(?P<features>[a-z]*)(?P<accel>_[A-Z0-9]+)?"
    r"(?:_v(?P<version>\d+))?$"
)
_AZURE_MEMORY_PER_VCPU = {"F": 2.0, "D": 4.0, "E": 8.0, "B": 4.0}


def aws_shape(instance_type: str) -> MachineShape | None:
    match = _AWS.match(instance_type)
    if match is None:
        return None
    per_vcpu = _AWS_MEMORY_PER_VCPU.get(match["family"])
    if per_vcpu is None:
        return None
    size = match["size"]
    if size == "large":
        vcpus = 2
    else:
        sized = _AWS_SIZE.match(size)
        if sized is None:
            return None  # nano..medium (burstable, too small for a node) and metal
        vcpus = 4 * int(sized["n"] or 1)
    return MachineShape(vcpus=vcpus, memory_gib=vcpus * per_vcpu)


def azure_shape(vm_size: str) -> MachineShape | None:
    match = _AZURE.match(vm_size)
    if match is None:
        return None
    family, vcpus, features = match["family"], int(match["vcpus"]), match["features"]
    if family == "NC" and match["accel"] == "_T4":
        per_vcpu = 7.0
    elif (family == "D" and features.startswith("l")) or (
        family == "B" and features in ("s", "ls")
    ):
        per_vcpu = 2.0
    elif match["accel"] is None and family in _AZURE_MEMORY_PER_VCPU:
        per_vcpu = _AZURE_MEMORY_PER_VCPU[family]
    else:
        return None
    return MachineShape(vcpus=vcpus, memory_gib=vcpus * per_vcpu)


def smallest(shapes: list[MachineShape | None]) -> MachineShape | None:
    """The smallest of several candidate types (a node group mixing types): what every node has
    at least. ``None`` when any candidate is unknown."""
    known = [s for s in shapes if s is not None]
    if not known or len(known) != len(shapes):
        return None
    return MachineShape(
        vcpus=min(s.vcpus for s in known), memory_gib=min(s.memory_gib for s in known)
    )
