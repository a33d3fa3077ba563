"""On-chain tensors: TENSOR_MATMUL is exact integer arithmetic rounded once, the same everywhere."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aci_ref.aivm.fixed import INT32_MAX, INT32_MIN, ONE, fixed_matmul, matmul_exact, to_fixed
from aci_ref.errors import RejectedError, Rejection

int32 = st.integers(min_value=INT32_MIN, max_value=INT32_MAX)


@st.composite
def operands(draw: st.DrawFn, bound: st.SearchStrategy[int] = int32) -> tuple[list, list]:
    m, k, n = (draw(st.integers(min_value=1, max_value=5)) for _ in range(3))
    left = [[draw(bound) for _ in range(k)] for _ in range(m)]
    right = [[draw(bound) for _ in range(n)] for _ in range(k)]
    return left, right


def exact(left: list, right: list) -> list:
    return [[sum(a * b for a, b in zip(row, col, strict=True)) for col in zip(*right, strict=True)]
            for row in left]  # fmt: skip


@given(operands())
def test_the_exact_product_is_the_integer_product(pair: tuple[list, list]) -> None:
    left, right = pair
    product = matmul_exact(np.array(left, dtype=np.int64), np.array(right, dtype=np.int64))
    assert product.tolist() == exact(left, right)


@given(operands(st.integers(min_value=-(1 << 20), max_value=1 << 20)))
def test_the_result_is_rounded_once_to_nearest_ties_up(pair: tuple[list, list]) -> None:
    left, right = pair
    result = fixed_matmul(np.array(left, dtype=np.int64), np.array(right, dtype=np.int64))
    want = [[(v + (1 << 15)) >> 16 for v in row] for row in exact(left, right)]
    assert result.tolist() == want


def test_ties_round_toward_plus_infinity() -> None:
    half = np.array([[1]], dtype=np.int64)  # 2^-16 · 2^-16 · 2^16 ... a product of 2^15 units
    assert fixed_matmul(np.array([[1 << 15]], dtype=np.int64), half).tolist() == [[1]]
    assert fixed_matmul(np.array([[-(1 << 15)]], dtype=np.int64), half).tolist() == [[0]]


def test_one_is_the_identity() -> None:
    values = np.array([[to_fixed(1.5), to_fixed(-2.25)]], dtype=np.int64)
    identity = np.array([[ONE, 0], [0, ONE]], dtype=np.int64)
    assert fixed_matmul(values, identity).tolist() == values.tolist()


def test_a_result_that_does_not_fit_is_refused_not_wrapped() -> None:
    big = np.array([[INT32_MAX, INT32_MAX]], dtype=np.int64)
    with pytest.raises(RejectedError) as caught:
        fixed_matmul(big, big.T)
    assert caught.value.rejection is Rejection.TENSOR_OVERFLOW


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(RejectedError) as caught:
        fixed_matmul(np.ones((2, 3), dtype=np.int64), np.ones((2, 3), dtype=np.int64))
    assert caught.value.rejection is Rejection.BAD_INPUT


def test_bit_exact_across_runs_and_thread_counts() -> None:
    import torch  # threads matter to float code; this must not care

    rng = np.random.default_rng(7)
    left = rng.integers(-(1 << 20), 1 << 20, size=(32, 48), dtype=np.int64)
    right = rng.integers(-(1 << 20), 1 << 20, size=(48, 16), dtype=np.int64)
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(fixed_matmul(left, right).tobytes())
    finally:
        torch.set_num_threads(before)
    assert results[0] == results[1] == fixed_matmul(left, right).tobytes()


# ---- softmax, layer norm, the exponential ------------------------------------------------------


def test_the_constants_are_ln2_and_log2e_to_32_bits() -> None:
    from decimal import Decimal, getcontext

    from aci_ref.aivm.fixed import LN2_Q32, LOG2E_Q32

    getcontext().prec = 60
    ln2 = Decimal(2).ln()
    assert LN2_Q32 == int((ln2 * 2**32).to_integral_value())
    assert LOG2E_Q32 == int((2**32 / ln2).to_integral_value())


@given(st.integers(min_value=-40 * ONE, max_value=0))
def test_the_exponential_is_within_2_to_the_minus_26(value: int) -> None:
    import math

    from aci_ref.aivm.fixed import exp_negative

    assert abs(exp_negative(value) / 2**32 - math.exp(value / ONE)) < 2**-26


def test_the_exponential_refuses_positive_arguments() -> None:
    from aci_ref.aivm.fixed import exp_negative

    with pytest.raises(RejectedError) as caught:
        exp_negative(1)
    assert caught.value.rejection is Rejection.BAD_INPUT


rows = st.lists(
    st.lists(st.integers(min_value=-8 * ONE, max_value=8 * ONE), min_size=1, max_size=12),
    min_size=1,
    max_size=3,
).filter(lambda r: len({len(row) for row in r}) == 1)


@given(rows)
def test_softmax_is_close_to_the_real_one_and_sums_to_one(values: list[list[int]]) -> None:
    from aci_ref.aivm.fixed import fixed_softmax

    result = fixed_softmax(np.array(values, dtype=np.int64))
    real = np.exp(np.array(values) / ONE - np.max(np.array(values) / ONE, axis=1, keepdims=True))
    real /= real.sum(axis=1, keepdims=True)
    assert np.abs(result / ONE - real).max() < 2**-15
    for row in result.tolist():
        assert abs(sum(row) - ONE) <= len(row)  # each element rounded once
        assert min(row) >= 0


@given(rows)
def test_layer_norm_is_close_to_the_real_one(values: list[list[int]]) -> None:
    from aci_ref.aivm.fixed import fixed_layer_norm

    result = fixed_layer_norm(np.array(values, dtype=np.int64), (1, 100_000))
    real = np.array(values) / ONE
    real = (real - real.mean(axis=1, keepdims=True)) / np.sqrt(
        real.var(axis=1, keepdims=True) + 1e-5
    )
    assert np.abs(result / ONE - real).max() < 2**-12


def test_softmax_and_norm_are_bit_exact_across_runs() -> None:
    from aci_ref.aivm.fixed import fixed_layer_norm, fixed_softmax

    values = np.random.default_rng(3).integers(-4 * ONE, 4 * ONE, size=(8, 64), dtype=np.int64)
    assert fixed_softmax(values).tobytes() == fixed_softmax(values.copy()).tobytes()
    norm = fixed_layer_norm(values, (1, 100_000))
    assert norm.tobytes() == fixed_layer_norm(values.copy(), (1, 100_000)).tobytes()
