"""Checkers for the HMM's state invariants: each raises `InvariantViolation` naming the broken rule.

They recompute from scratch what the transitions maintain, so a transition that forgets a rule
(or a state built by hand) is caught after any step. Each is shown failing on a planted fault in
`tests/unit/test_hmm_invariants.py`.
"""

from __future__ import annotations

from aci_ref.errors import InvariantViolation
from aci_ref.market.hmm import (
    MAX_WORD,
    Market,
    Pool,
    WorkerSupply,
    curve_constant,
    effective_supply,
    invariant,
)
from aci_ref.params import BPS


def _fail(where: str, rule: str) -> InvariantViolation:
    return InvariantViolation(f"{where}: {rule}")


def check_worker(supply: WorkerSupply, where: str = "worker") -> None:
    """HMM.md worker supply: 0 ≤ queued ≤ in_use ≤ capacity; capacity, throughput ≥ 1; q ≤ 10^4."""
    where = f"{where} {supply.worker!r}"
    if supply.capacity < 1 or supply.throughput < 1:
        raise _fail(where, "capacity and throughput must be at least 1")
    if not 0 <= supply.queued_units <= supply.in_use <= supply.capacity:
        raise _fail(where, "needs 0 <= queued_units <= in_use <= capacity")
    if not 0 <= supply.quality_bps <= BPS:
        raise _fail(where, f"quality {supply.quality_bps} outside 0..{BPS}")


def check_pool(pool: Pool) -> None:
    """HIP-004 pool, HMM.md: the derived fields match the workers, κ ≤ H < κ + Ψ, shares are whole.

    Checked: every worker (`check_worker`) under its own key; Ψ, Ψ_idle and R equal
    `effective_supply`; Θ = ceil(κ/Ψ) (0 for an empty pool); P ≥ 1, r ≥ 1; every stored number at
    most 2^64 − 1; every LP holds a positive number of shares and they sum to total_shares.
    """
    where = f"pool {pool.resource_class!r}"
    if pool.reference_price < 1 or pool.reserve_bps < 1:
        raise _fail(where, "reference price and reserve rate must be at least 1")
    for key, supply in pool.workers.items():
        if key != supply.worker:
            raise _fail(where, f"worker {supply.worker!r} filed under {key!r}")
        check_worker(supply, where)
    if (pool.psi, pool.psi_idle, pool.reserve) != effective_supply(pool.workers, pool.reserve_bps):
        raise _fail(where, "Ψ, Ψ_idle or R differs from the workers' effective supply")
    if pool.psi == 0:
        if pool.theta != 0:
            raise _fail(where, "an empty pool must have Θ = 0")
    else:
        kappa = curve_constant(pool)
        h = invariant(pool)
        if not kappa <= h < kappa + pool.psi:
            raise _fail(where, "Θ is not ceil(κ/Ψ): H must satisfy κ <= H < κ + Ψ")
    for value in (pool.psi_idle, pool.theta, pool.total_shares, pool.reference_price):
        if value > MAX_WORD:
            raise _fail(where, f"{value} exceeds 2^64 - 1")
    if any(held <= 0 for held in pool.shares.values()):
        raise _fail(where, "every LP listed must hold a positive number of shares")
    if sum(pool.shares.values()) != pool.total_shares:
        raise _fail(where, "LP shares do not sum to total_shares")


def check_market(market: Market) -> None:
    """HMM.md market: every pool filed under its own resource class and passing `check_pool`."""
    for key, pool in market.pools.items():
        if key != pool.resource_class:
            raise _fail("market", f"pool {pool.resource_class!r} filed under {key!r}")
        check_pool(pool)
