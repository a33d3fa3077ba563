"""Equation 3: the gas of a matrix product."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aci_ref.aivm.gas import matmul_gas
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params

P = default_params()


def test_papers_constants() -> None:
    paper = dataclasses.replace(P, gas_matmul_base=100, gas_matmul_per_mac=Fraction(1, 1000))
    assert matmul_gas(paper, 0, 0, 0) == 100
    assert matmul_gas(paper, 10, 10, 10) == 101
    assert matmul_gas(paper, 10, 10, 11) == 102  # 1.1 gas of work rounds up
    assert matmul_gas(paper, 1000, 1000, 1000) == 100 + 1_000_000


def test_the_shipped_schedule_charges_a_mac_as_a_plain_instruction() -> None:
    """E106: g0 stays the paper's 100; g1 is one unit of gas, one fuel unit, per MAC."""
    assert matmul_gas(P, 10, 10, 10) == 100 + 1000
    assert matmul_gas(P, 16, 16, 16) == 100 + 4096


@given(st.integers(0, 300), st.integers(0, 300), st.integers(0, 300))
def test_gas_is_exact_ceiling_and_monotone(m: int, n: int, k: int) -> None:
    gas = matmul_gas(P, m, n, k)
    exact = P.gas_matmul_base + P.gas_matmul_per_mac * m * n * k
    assert exact <= gas < exact + 1
    assert matmul_gas(P, m + 1, n, k) >= gas


def test_other_constants() -> None:
    params = dataclasses.replace(P, gas_matmul_base=7, gas_matmul_per_mac=Fraction(1, 3))
    assert matmul_gas(params, 1, 1, 1) == 8


def test_negative_dimension_refused() -> None:
    with pytest.raises(RejectedError) as caught:
        matmul_gas(P, -1, 2, 3)
    assert caught.value.rejection is Rejection.BAD_INPUT
