"""What Level 1 knows about a model and a machine, so metrics can be checked without torch.

A `ModelProfile` is computed from a workload's architecture (`aci_ref.poai.workloads`); a
`HardwareClass` is what a worker declares about its machine when it joins a resource pool. Both are
plain integers so that the metrics check of Algorithm 2 line 4 is exact.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from aci_ref.errors import RejectedError, Rejection


class InputEncoding(StrEnum):
    """ref: model inputs (errata E71) — how a model reads its input bytes."""

    FLOAT32_VECTOR = "float32_vector"  # little-endian float32 values, every one finite
    TEXT = "text"  # ASCII characters drawn from the rule's alphabet


@dataclass(frozen=True, slots=True)
class InputRule:
    """ref: model inputs (errata E71) — the one input shape a model can run.

    `length` is the exact input size in bytes; `alphabet` the characters a TEXT input may use.
    """

    encoding: InputEncoding
    length: int
    alphabet: str = ""


def check_input(rule: InputRule, data: bytes, max_bytes: int) -> None:
    """ref: model inputs (errata E71) — refuse an input no worker could run, before it is stored.

    In order: more than `max_bytes` → `input_too_large`; not exactly `rule.length` bytes, a
    non-finite float32, or a character outside the alphabet → `input_unrunnable`.
    """
    if len(data) > max_bytes:
        raise RejectedError(Rejection.INPUT_TOO_LARGE, f"{len(data)} bytes > {max_bytes}")
    if len(data) != rule.length:
        raise RejectedError(Rejection.INPUT_UNRUNNABLE, f"{len(data)} bytes, needs {rule.length}")
    if rule.encoding is InputEncoding.FLOAT32_VECTOR:
        if len(data) % 4 or not all(math.isfinite(v) for (v,) in struct.iter_unpack("<f", data)):
            raise RejectedError(Rejection.INPUT_UNRUNNABLE, "not finite float32 values")
    elif not set(data.decode("latin-1")) <= set(rule.alphabet):
        raise RejectedError(Rejection.INPUT_UNRUNNABLE, "a character outside the vocabulary")


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """ref: metrics consistency (errata E9, E51) — a model's known cost per input.

    `flops_per_input` counts 2 FLOPs per multiply-accumulate of every matrix product the reference
    procedure performs on one input (element-wise operations are not counted); `weight_bytes` is
    the size of the canonical weights (the bytes `h_model` hashes, without their framing).
    """

    flops_per_input: int
    weight_bytes: int


@dataclass(frozen=True, slots=True)
class HardwareClass:
    """ref: metrics consistency (errata E9, E51) — a worker's declared machine.

    `peak_flops_per_ms` bounds how fast any honest run can be; `memory_bytes` bounds the memory a
    run can claim to have used.
    """

    name: str
    peak_flops_per_ms: int
    memory_bytes: int


HARDWARE_CLASSES: Final[Mapping[str, HardwareClass]] = MappingProxyType(
    {
        # A small CPU box: 50 GFLOP/s peak, 4 GiB for the workload.
        "cpu-small": HardwareClass("cpu-small", 50_000_000, 4 << 30),
        # A single data-centre GPU: 400 TFLOP/s peak (dense, low precision), 80 GiB.
        "gpu-large": HardwareClass("gpu-large", 400_000_000_000, 80 << 30),
    }
)
"""ref: declared hardware classes (errata E51) — the machines the simulated resource pools hold.

These are declarations a worker makes when it registers, not protocol constants: Level 1 uses the
declared peak rate to refuse a duration too short for the claimed FLOPs.
"""
