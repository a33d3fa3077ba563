"""AIVM gas (§5.3). Gas is an integer; fractional gas is always rounded up, never given away."""

from __future__ import annotations

from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params


def matmul_gas(params: Params, m: int, n: int, k: int) -> int:
    """Equation 3, §5.3: gas of TENSOR_MATMUL(A, B) for A ∈ R^{m×k}, B ∈ R^{k×n}.

    Gas = g0 + g1·m·n·k with g0 = `gas_matmul_base` and g1 = `gas_matmul_per_mac`, rounded up to a
    whole unit of gas so that splitting a product into many small ones never costs less in total
    than the exact sum of their fractional costs.
    """
    if min(m, n, k) < 0:
        raise RejectedError(Rejection.BAD_INPUT, f"negative matrix dimension in {m}x{k} · {k}x{n}")
    size_cost = params.gas_matmul_per_mac * (m * n * k)
    return params.gas_matmul_base + -(-size_cost.numerator // size_cost.denominator)
