"""A state machine over the HMM market: pools, workers joining and leaving, quality and capacity
changes, jobs bought and released, LPs depositing and withdrawing, refused calls included.

After every step: every pool passes `check_market`, κ ≤ H, each worker's in_use equals the units
of its open jobs, LP shares equal the stake bonded minus the stake withdrawn, and a refused call
left the market's canonical bytes as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.market.hmm import (
    Market,
    add_liquidity,
    add_worker,
    buy,
    create_pool,
    curve_constant,
    lp_weights,
    quote,
    release,
    remove_liquidity,
    remove_worker,
    set_capacity,
    set_quality,
    spot_price,
)
from aci_ref.market.hmm import invariant as hamiltonian
from aci_ref.market.hmm_invariants import check_market
from aci_ref.params import BPS
from tests.properties.test_hmm import hmm_params

T = TypeVar("T")
PARAMS = hmm_params(5000)
POOLS = ("gpu", "cpu")
pools = st.sampled_from((*POOLS, "tpu"))  # "tpu" is never created
workers = st.sampled_from(("w0", "w1", "w2", "w3"))
providers = st.sampled_from(("a", "b", "c"))
qualities = st.sampled_from((0, 3000, 5000, 8000, BPS, BPS + 1))
sizes = st.integers(-1, 40)


class MarketMachine(RuleBasedStateMachine):
    """Drives one market through random transitions and keeps a model of what it must hold."""

    def __init__(self) -> None:
        super().__init__()
        self.market = Market()
        self.jobs: list[tuple[str, str, int]] = []  # (pool, worker, units) still running
        self.bonded: dict[tuple[str, str], int] = {}

    @initialize(price=st.integers(1, 10**6))
    def start(self, price: int) -> None:
        for pool in POOLS:
            self.market = create_pool(self.market, PARAMS, pool, price)
            self.market = add_worker(self.market, PARAMS, pool, "w0", 20, 4, 9000)

    def attempt(self, call: Callable[[], T]) -> T | None:
        """Run a transition; a refusal must leave the market's bytes unchanged."""
        before = canonical_bytes(self.market)
        try:
            return call()
        except RejectedError as error:
            assert isinstance(error.rejection, Rejection)
            assert canonical_bytes(self.market) == before
            return None

    @rule(pool=pools, worker=workers, capacity=sizes, throughput=sizes, quality=qualities)
    def join(self, pool: str, worker: str, capacity: int, throughput: int, quality: int) -> None:
        m = self.market
        got = self.attempt(
            lambda: add_worker(m, PARAMS, pool, worker, capacity, throughput, quality)
        )
        if got is not None:
            self.market = got

    @rule(pool=pools, worker=workers)
    def leave(self, pool: str, worker: str) -> None:
        m = self.market
        got = self.attempt(lambda: remove_worker(m, pool, worker))
        if got is not None:
            assert not any(j[:2] == (pool, worker) for j in self.jobs)
            self.market = got

    @rule(pool=pools, worker=workers, quality=qualities)
    def requalify(self, pool: str, worker: str, quality: int) -> None:
        m = self.market
        got = self.attempt(lambda: set_quality(m, pool, worker, quality))
        if got is not None:
            self.market = got

    @rule(pool=pools, worker=workers, capacity=sizes)
    def redeclare(self, pool: str, worker: str, capacity: int) -> None:
        m = self.market
        got = self.attempt(lambda: set_capacity(m, pool, worker, capacity))
        if got is not None:
            self.market = got

    @rule(pool=pools, units=sizes, slack=st.sampled_from((-1, 0, 10**12)))
    def fill(self, pool: str, units: int, slack: int) -> None:
        m = self.market
        offered = self.attempt(lambda: quote(m, PARAMS, pool, units))
        limit = (offered.price if offered else 0) + slack
        got = self.attempt(lambda: buy(m, PARAMS, pool, units, limit))
        if got is None:
            assert offered is None or slack < 0
            event("fill refused")
            return
        event("fill done")
        assert offered is not None and got[1] == offered and slack >= 0
        self.market = got[0]
        self.jobs.append((pool, got[1].worker, units))

    @precondition(lambda self: bool(self.jobs))
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        pool, worker, units = data.draw(st.sampled_from(self.jobs))
        before = self.market.pools[pool]
        self.market = release(self.market, PARAMS, pool, worker, units)
        self.jobs.remove((pool, worker, units))
        assert spot_price(self.market.pools[pool]) <= spot_price(before)

    @rule(pool=pools, worker=workers, units=sizes)
    def bad_release(self, pool: str, worker: str, units: int) -> None:
        held = sum(u for p, w, u in self.jobs if (p, w) == (pool, worker))
        m = self.market
        if self.attempt(lambda: release(m, PARAMS, pool, worker, held + max(units, 1))) is not None:
            raise AssertionError("released more than the worker's jobs hold")

    @rule(pool=pools, provider=providers, amount=st.integers(-1, 5000))
    def deposit(self, pool: str, provider: str, amount: int) -> None:
        m = self.market
        got = self.attempt(lambda: add_liquidity(m, PARAMS, pool, provider, amount))
        if got is not None:
            self.market = got[0]
            self.bonded[pool, provider] = self.bonded.get((pool, provider), 0) + got[1]

    @rule(pool=pools, provider=providers, shares=st.integers(-1, 5000))
    def withdraw(self, pool: str, provider: str, shares: int) -> None:
        m = self.market
        got = self.attempt(lambda: remove_liquidity(m, PARAMS, pool, provider, shares))
        if got is not None:
            self.market = got[0]
            self.bonded[pool, provider] -= got[1]
            assert got[1] == shares

    @precondition(lambda self: bool(self.jobs))
    @rule()
    def drain(self) -> None:
        for pool, worker, units in list(self.jobs):
            self.market = release(self.market, PARAMS, pool, worker, units)
        self.jobs.clear()
        for idle in self.market.pools.values():
            assert spot_price(idle) == idle.reference_price

    @invariant()
    def market_holds(self) -> None:
        check_market(self.market)
        for name, pool in self.market.pools.items():
            assert hamiltonian(pool) >= curve_constant(pool)
            for worker, supply in pool.workers.items():
                held = sum(u for p, w, u in self.jobs if (p, w) == (name, worker))
                assert supply.in_use == supply.queued_units == held
            expected = {p: s for (q, p), s in self.bonded.items() if q == name and s}
            assert dict(lp_weights(self.market, name)) == expected


MarketMachine.TestCase.settings = settings(settings.default, stateful_step_count=30)
TestMarketMachine = MarketMachine.TestCase
