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


# ---- softmax and layer normalisation, in integers ------------------------------------------------

EXP_BITS: Final = 32
"""Internal precision of the exponential: Q0.32."""

LN2_Q32: Final = 2977044472
"""ln 2 · 2^32, rounded to nearest (ln 2 = 0.693147180559945...)."""

LOG2E_Q32: Final = 6196328019
"""log2(e) · 2^32, rounded to nearest (log2 e = 1.442695040888963...)."""

EXP_TERMS: Final = 10
"""Taylor terms of e^-y on [0, ln 2): the truncation error is below 2^-32."""


def exp_negative(value: int) -> int:
    """ref: fixed point (errata E101) — e^(value / 2^16) for value ≤ 0, in Q0.32, in integers.

    With t = value · log2(e) (exact, then floored to Q32) = −(q + f), q a whole number and f in
    [0, 1): e^value = 2^−f · 2^−q. 2^−f = e^(−f ln 2) is a Taylor sum of EXP_TERMS terms, every
    term floored to Q32, and 2^−q a right shift. Every step is an integer operation, so the result
    is the same on every machine.
    """
    if value > 0:
        raise RejectedError(Rejection.BAD_INPUT, "exp_negative takes values ≤ 0")
    t = (-value * LOG2E_Q32) >> FRACTION_BITS  # −t in Q32, ≥ 0
    whole, fraction = t >> EXP_BITS, t & ((1 << EXP_BITS) - 1)
    if whole >= EXP_BITS:
        return 0
    y = (fraction * LN2_Q32) >> EXP_BITS  # f · ln 2 in Q32, in [0, ln 2)
    term, total = 1 << EXP_BITS, 1 << EXP_BITS
    for k in range(1, EXP_TERMS):
        term = (term * y) // (k << EXP_BITS)
        total += -term if k % 2 else term
    return total >> whole


def fixed_softmax(values: Ints) -> Ints:
    """Table 4 TENSOR_SOFTMAX (arithmetic, errata E101): each row's softmax, Q16.16 in and out.

    Per row: d_i = x_i − max (exact); e_i = `exp_negative(d_i)` in Q0.32; p_i = e_i · 2^16 / Σe,
    rounded to nearest with ties toward +∞. The largest element's e is 2^32, so Σe > 0.
    """
    if values.ndim != 2:
        raise RejectedError(Rejection.BAD_INPUT, f"softmax of a {values.ndim}-d tensor")
    out = np.zeros(values.shape, dtype=np.int64)
    for r, row in enumerate(values.tolist()):
        top = max(row)
        exps = [exp_negative(x - top) for x in row]
        total = sum(exps)
        out[r] = [(2 * e * ONE + total) // (2 * total) for e in exps]
    return out


def fixed_layer_norm(values: Ints, epsilon: tuple[int, int]) -> Ints:
    """Table 4 TENSOR_NORM (arithmetic, errata E101): each row normalised to mean 0, variance 1.

    For a row of n Q16.16 values and ε = num/den: c_i = n · x_i − Σx (exact); D = (Σc² · 2^32 +
    n³ · 2^64 · ε) / n, floored; S = ⌊√D⌋ (an integer square root); y_i = c_i · 2^32 / S rounded
    to nearest, ties toward +∞. This is (x_i − μ) / √(σ² + ε) in Q16.16 with one rounding of the
    root and one of the quotient. Refuses a result outside 32 bits with `tensor_overflow`.
    """
    import math

    num, den = epsilon
    if values.ndim != 2 or num < 0 or den <= 0:
        raise RejectedError(Rejection.BAD_INPUT, "layer norm of a 2-d tensor with ε ≥ 0")
    out = np.zeros(values.shape, dtype=np.int64)
    for r, row in enumerate(values.tolist()):
        n, total = len(row), sum(row)
        centred = [n * x - total for x in row]
        squares = sum(c * c for c in centred)
        scaled = (squares * den * (1 << 32) + n**3 * (1 << 64) * num) // (n * den)
        root = math.isqrt(scaled)
        if root == 0:
            continue  # a constant row with ε = 0: every centred value is 0
        result = [(2 * c * (1 << 32) + root) // (2 * root) for c in centred]
        if min(result) < INT32_MIN or max(result) > INT32_MAX:
            raise RejectedError(Rejection.TENSOR_OVERFLOW, "a normalised value does not fit")
        out[r] = result
    return out


# ---- logarithms and the KL divergence, in integers -----------------------------------------------

LOG_BITS: Final = 30
"""Internal precision of the logarithm: Q30, so a mantissa's square fits int64."""

LN2_Q62: Final = 3196577161300663915
"""ln 2 · 2^62, rounded to nearest: turns a sum of Q16 · Q30 log2 terms into Q16.16 nats."""

KL_INFINITE: Final = INT32_MAX
"""ref: fixed point (errata E101) — KL_DIVERGE's value where q is 0 and p is not: +∞, saturated."""


def log2_fixed(values: Ints) -> Ints:
    """ref: fixed point (errata E101) — ⌊log2(x) · 2^30⌋-like base-2 logarithms of integers x ≥ 1.

    For x with bit length b + 1: the whole part is b; the mantissa m = x · 2^30 / 2^b (exact, in
    [1, 2) in Q30) yields one fractional bit per step by squaring: m ← ⌊m² / 2^30⌋, and when
    m ≥ 2 the bit is 1 and m halves. Thirty steps give thirty bits, each result truncated, so the
    result is below the true log2(x) by less than 30 · 2^-30 and the same on every machine. All
    arithmetic is int64 (m < 2^31, m² < 2^62).
    """
    if values.size and int(values.min()) < 1:
        raise RejectedError(Rejection.BAD_INPUT, "log2 of a value below 1")
    whole = np.zeros(values.shape, dtype=np.int64)
    # bit length by binary search on shifts: exact and vectorised
    rest = values.astype(np.int64).copy()
    for shift in (32, 16, 8, 4, 2, 1):
        big = rest >= (1 << shift)
        whole += np.where(big, shift, 0)
        rest = np.where(big, rest >> shift, rest)
    mantissa = np.where(
        whole <= LOG_BITS,
        values << np.maximum(LOG_BITS - whole, 0),
        values >> np.maximum(whole - LOG_BITS, 0),
    ).astype(np.int64)
    fraction = np.zeros(values.shape, dtype=np.int64)
    for bit in range(LOG_BITS - 1, -1, -1):
        mantissa = (mantissa * mantissa) >> LOG_BITS
        high = mantissa >= (2 << LOG_BITS)
        fraction += np.where(high, 1 << bit, 0)
        mantissa = np.where(high, mantissa >> 1, mantissa)
    result: Ints = (whole << LOG_BITS) + fraction
    return result


def fixed_kl_divergence(p: Ints, q: Ints) -> Ints:
    """Table 4 KL_DIVERGE (arithmetic, errata E101): each row's KL(p ‖ q) in Q16.16 nats.

    p and q are rows of Q16.16 probabilities, each element in [0, 1] (else `bad_input`); rows
    need not sum to exactly 1 (a fixed-point softmax rarely does), so a row's value may be
    slightly negative. KL = ln 2 · Σ_{p_i > 0} p_i · (log2 p_i − log2 q_i), with `log2_fixed`;
    the sum is exact and rounded once to Q16.16 (ties toward +∞), a finite value saturating at
    `KL_INFINITE` − 1. A row where some q_i = 0 < p_i is `KL_INFINITE`.
    """
    if p.ndim != 2 or p.shape != q.shape:
        raise RejectedError(Rejection.BAD_INPUT, f"KL of {p.shape} and {q.shape}")
    for side in (p, q):
        if side.size and (int(side.min()) < 0 or int(side.max()) > ONE):
            raise RejectedError(Rejection.BAD_INPUT, "a probability outside [0, 1]")
    log_p = log2_fixed(np.maximum(p, 1))
    log_q = log2_fixed(np.maximum(q, 1))
    out = np.zeros(p.shape[0], dtype=np.int64)
    for r in range(p.shape[0]):
        support = p[r] > 0
        if bool(np.any(support & (q[r] == 0))):
            out[r] = KL_INFINITE
            continue
        terms = (p[r] * (log_p[r] - log_q[r]))[support]  # each below 2^17 · 2^35
        total = sum(int(t) for t in terms.tolist())  # exact: Python integers
        value = (total * LN2_Q62 + (1 << 91)) >> 92  # Q46 · Q62 → Q16
        out[r] = min(max(value, INT32_MIN), KL_INFINITE - 1)  # finite stays below +∞
    return out
