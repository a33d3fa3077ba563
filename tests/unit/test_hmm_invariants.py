"""Each HMM invariant checker passes on a real market and fails on a planted fault."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from aci_ref.errors import InvariantViolation
from aci_ref.market.hmm import (
    MAX_WORD,
    Market,
    Pool,
    add_liquidity,
    add_worker,
    buy,
    create_pool,
)
from aci_ref.market.hmm_invariants import check_market, check_pool, check_worker
from aci_ref.params import default_params

P = default_params()


def healthy() -> Market:
    market = create_pool(Market(), P, "gpu")
    market = add_worker(market, P, "gpu", "a", 40, 10, 9_000)
    market = add_worker(market, P, "gpu", "b", 20, 5, 6_000)
    market, _ = buy(market, P, "gpu", 7, MAX_WORD)
    market, _ = add_liquidity(market, P, "gpu", "lp", 500)
    return market


def test_the_checkers_pass_on_a_real_market() -> None:
    market = healthy()
    check_market(market)
    pool = market.pools["gpu"]
    check_pool(pool)
    for supply in pool.workers.values():
        check_worker(supply)


def _worker_fault(**changes: int) -> Callable[[Pool], Pool]:
    def plant(pool: Pool) -> Pool:
        supply = replace(pool.workers["a"], **changes)  # type: ignore[arg-type]
        return replace(pool, workers=pool.workers.set("a", supply))

    return plant


POOL_FAULTS: dict[str, Callable[[Pool], Pool]] = {
    "Ψ off by one": lambda p: replace(p, psi=p.psi + 1),
    "Ψ_idle off by one": lambda p: replace(p, psi_idle=p.psi_idle - 1),
    "reserve off by one": lambda p: replace(p, reserve=p.reserve + 1),
    "Θ rounded down": lambda p: replace(p, theta=p.theta - 1),
    "Θ one too high": lambda p: replace(p, theta=p.theta + p.psi_idle),
    "Θ on an empty curve": lambda p: replace(
        p, workers=p.workers.delete("a").delete("b"), psi=0, psi_idle=0, reserve=0, theta=1
    ),
    "zero reference price": lambda p: replace(p, reference_price=0),
    "zero reserve rate": lambda p: replace(p, reserve_bps=0),
    "shares not whole": lambda p: replace(p, total_shares=p.total_shares + 1),
    "zero-share LP": lambda p: replace(p, shares=p.shares.set("ghost", 0)),
    "worker under a wrong key": lambda p: replace(p, workers=p.workers.set("z", p.workers["a"])),
    "in use beyond capacity": _worker_fault(in_use=41, queued_units=41),
    "queued beyond in use": _worker_fault(queued_units=99),
    "negative in use": _worker_fault(in_use=-1, queued_units=-1),
    "quality beyond 1": _worker_fault(quality_bps=10_001),
    "zero throughput": _worker_fault(throughput=0),
    "beyond 64 bits": lambda p: replace(
        p, total_shares=MAX_WORD + 1, shares=p.shares.set("lp", MAX_WORD + 1)
    ),
}


@pytest.mark.parametrize("fault", sorted(POOL_FAULTS))
def test_check_pool_catches(fault: str) -> None:
    market = healthy()
    broken = POOL_FAULTS[fault](market.pools["gpu"])
    with pytest.raises(InvariantViolation):
        check_pool(broken)
    with pytest.raises(InvariantViolation):
        check_market(Market(pools=market.pools.set("gpu", broken)))


def test_check_worker_catches_a_planted_fault() -> None:
    supply = healthy().pools["gpu"].workers["a"]
    with pytest.raises(InvariantViolation):
        check_worker(replace(supply, capacity=0))


def test_check_market_catches_a_pool_under_a_wrong_key() -> None:
    market = healthy()
    with pytest.raises(InvariantViolation):
        check_market(Market(pools=market.pools.set("cpu", market.pools["gpu"])))
