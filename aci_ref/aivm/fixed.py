"""On-chain tensors in exact fixed point: every machine computes the same bits (errata E101).

A tensor element is a signed 32-bit integer read as a Q16.16 number: the value x stands for
x / 2^16. Products are formed exactly (in integers wider than any intermediate) and rescaled
once, rounding to the nearest representable value with ties toward +∞ (add 2^15, then shift
right arithmetically). A result outside the 32-bit range is refused with `tensor_overflow`, never
wrapped or saturated. Nothing here uses floating point.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from aci_ref.errors import RejectedError, Rejection

FRACTION_BITS: Final = 16
"""Q16.16: 16 fractional bits."""

ONE: Final = 1 << FRACTION_BITS
"""The fixed-point encoding of 1."""

INT32_MIN: Final = -(1 << 31)
INT32_MAX: Final = (1 << 31) - 1

Ints = npt.NDArray[np.int64]


def to_fixed(value: float) -> int:
    """ref: fixed point (errata E101) — the Q16.16 integer nearest `value` (ties toward +∞)."""
    scaled = int(np.floor(value * ONE + 0.5))
    if not INT32_MIN <= scaled <= INT32_MAX:
        raise RejectedError(Rejection.TENSOR_OVERFLOW, f"{value} is outside Q16.16")
    return scaled


def rescale(products: npt.NDArray[np.object_] | Ints | int) -> Ints:
    """ref: fixed point (errata E101) — exact products (scale 2^32) back to Q16.16, rounded.

    Round to nearest, ties toward +∞: (x + 2^15) >> 16, an arithmetic shift. Refuses a result
    outside the signed 32-bit range with `tensor_overflow`.
    """
    exact = np.asarray(products, dtype=object)
    rounded = (exact + (1 << (FRACTION_BITS - 1))) >> FRACTION_BITS
    if rounded.size and (rounded.min() < INT32_MIN or rounded.max() > INT32_MAX):
        raise RejectedError(Rejection.TENSOR_OVERFLOW, "a result does not fit 32 bits")
    return rounded.astype(np.int64)


def _halves(values: Ints) -> tuple[Ints, Ints]:
    """Split signed 32-bit values into a signed high and an unsigned low 16-bit half."""
    low = values & 0xFFFF
    return (values - low) >> 16, low


def matmul_exact(left: Ints, right: Ints) -> npt.NDArray[np.object_]:
    """ref: fixed point (errata E101) — the exact integer product of int32 matrices.

    Each operand is split into 16-bit halves, so every partial product is below 2^32 and every
    partial sum of k ≤ 2^30 terms fits int64; the four partial matrices are combined in
    unbounded integers. The result equals Σ_k a_ik · b_kj exactly, whatever k.
    """
    a_high, a_low = _halves(left)
    b_high, b_low = _halves(right)
    high = (a_high @ b_high).astype(object)
    cross = (a_high @ b_low).astype(object) + (a_low @ b_high).astype(object)
    low = (a_low @ b_low).astype(object)
    result: npt.NDArray[np.object_] = (high << 32) + (cross << 16) + low
    return result


def check_operand(values: Ints, rows: int, cols: int, max_elements: int) -> None:
    """ref: fixed point (errata E101) — a tensor operand's shape and range, or `bad_input`."""
    if rows < 1 or cols < 1 or rows * cols > max_elements:
        raise RejectedError(
            Rejection.BAD_INPUT, f"a {rows}×{cols} tensor (at most {max_elements} elements)"
        )
    if values.shape != (rows, cols):
        raise RejectedError(Rejection.BAD_INPUT, f"expected {rows}×{cols}, got {values.shape}")


def fixed_matmul(left: Ints, right: Ints) -> Ints:
    """Table 4 TENSOR_MATMUL (arithmetic, errata E101): Q16.16 A (m×k) · B (k×n), exact, rounded.

    Refuses mismatched inner dimensions with `bad_input` and a result outside 32 bits with
    `tensor_overflow`.
    """
    if left.ndim != 2 or right.ndim != 2 or left.shape[1] != right.shape[0]:
        raise RejectedError(Rejection.BAD_INPUT, f"{left.shape} · {right.shape}")
    return rescale(matmul_exact(left, right))
