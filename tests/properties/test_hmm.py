"""Properties of the HMM pools (spec/hmm.md H1–H15): the curve, prices, worker choice, swaps,
supply changes and LP shares, over random pools, workers and loads."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.market.hmm import (
    MAX_WORD,
    Market,
    Pool,
    add_liquidity,
    add_worker,
    buy,
    choose_worker,
    create_pool,
    curve_constant,
    eta_ms,
    invariant,
    job_price,
    lp_weights,
    quote,
    release,
    remove_liquidity,
    remove_worker,
    set_capacity,
    set_quality,
    spot_price,
    swap_cost,
)
from aci_ref.market.hmm_invariants import check_market
from aci_ref.params import BPS, Params, default_params

RC = "gpu"
qualities = st.sampled_from((0, 1, 2500, 4999, 5000, 7500, 9999, 10000)) | st.integers(0, BPS)


@dataclass(frozen=True)
class Setup:
    params: Params
    market: Market
    fills: tuple[tuple[str, int], ...]  # (worker, units) of each job bought so far

    @property
    def pool(self) -> Pool:
        return self.market.pools[RC]


def hmm_params(reserve_bps: int, threshold: Fraction = Fraction(1, 2)) -> Params:
    return replace(default_params(), hmm_reserve_bps=reserve_bps, quality_threshold=threshold)


@st.composite
def setups(draw: st.DrawFn, busy: bool = True, one_quality: bool = False) -> Setup:
    """A pool with 1–5 workers and, when `busy`, up to six jobs already bought."""
    params = hmm_params(
        draw(st.integers(1, 20_000)), draw(st.sampled_from((Fraction(0), Fraction(1, 2))))
    )
    market = create_pool(Market(), params, RC, draw(st.integers(1, 10**7)))
    shared_quality = draw(st.integers(1, BPS))
    for i in range(draw(st.integers(1, 5))):
        quality = shared_quality if one_quality else draw(qualities)
        capacity, throughput = draw(st.integers(1, 200)), draw(st.integers(1, 50))
        market = add_worker(market, params, RC, f"w{i}", capacity, throughput, quality)
    fills: list[tuple[str, int]] = []
    for _ in range(draw(st.integers(0, 6)) if busy else 0):
        try:
            market, filled = buy(market, params, RC, draw(st.integers(1, 60)), MAX_WORD)
        except RejectedError:
            continue
        fills.append((filled.worker, filled.units))
    return Setup(params, market, tuple(fills))


def refused(call: Callable[[], Any]) -> Rejection | None:
    try:
        call()
    except RejectedError as error:
        return error.rejection
    return None


# ---- H1, H13: the curve --------------------------------------------------------------------------


@given(setups(), st.integers(1, 80))
def test_a_buy_keeps_kappa_and_rounds_for_the_pool(setup: Setup, units: int) -> None:
    pool = setup.pool
    try:
        market, filled = buy(setup.market, setup.params, RC, units, MAX_WORD)
    except RejectedError as error:
        assert error.rejection in {Rejection.NO_WORKER, Rejection.NO_CAPACITY}
        return
    after = market.pools[RC]
    kappa = curve_constant(pool)
    assert curve_constant(after) == kappa
    assert kappa <= invariant(after) < kappa + after.psi
    assert after.psi == pool.psi - filled.delta_psi
    exact_area = kappa / after.psi - kappa / pool.psi
    assert exact_area <= filled.cost < exact_area + 1
    assert after.theta >= pool.theta
    check_market(market)


@given(setups())
def test_theta_is_the_curve_rounded_up(setup: Setup) -> None:
    pool = setup.pool
    if pool.psi == 0:  # every worker has quality 0: an empty curve
        assert pool.theta == 0 and spot_price(pool) == pool.reference_price
        return
    assert pool.theta == math.ceil(curve_constant(pool) / pool.psi)
    assert spot_price(pool) == Fraction(BPS) * curve_constant(pool) / pool.psi**2
    assert spot_price(pool) >= pool.reference_price


# ---- H2: prices are monotone ---------------------------------------------------------------------


@given(setups(), st.data())
def test_price_is_monotone_in_job_size(setup: Setup, data: st.DataObject) -> None:
    pool = setup.pool
    if pool.psi < 2:
        return
    small = data.draw(st.integers(1, pool.psi - 1))
    large = data.draw(st.integers(small, pool.psi - 1))
    assert job_price(pool, setup.params, small) <= job_price(pool, setup.params, large)
    price, cost, market_fee, risk_fee = job_price(pool, setup.params, large)
    assert price == cost + market_fee + risk_fee
    assert risk_fee <= -(-cost * setup.params.hmm_risk_fee_bps // BPS)


@given(setups(one_quality=True), st.integers(1, 60))
def test_quote_is_monotone_in_units_when_quality_is_uniform(setup: Setup, units: int) -> None:
    try:
        larger = quote(setup.market, setup.params, RC, units + 1)
    except RejectedError:
        return
    assert quote(setup.market, setup.params, RC, units).price <= larger.price


@given(setups(), st.integers(1, 60), st.data())
def test_price_rises_with_utilisation_and_falls_back(
    setup: Setup, units: int, data: st.DataObject
) -> None:
    try:
        busier, filled = buy(setup.market, setup.params, RC, units, MAX_WORD)
    except RejectedError:
        return
    before, after = setup.pool, busier.pools[RC]
    if after.psi < 2:
        return
    size = data.draw(st.integers(1, after.psi - 1))
    assert job_price(before, setup.params, size) <= job_price(after, setup.params, size)
    assert spot_price(after) >= spot_price(before)
    freed = release(busier, setup.params, RC, filled.worker, filled.units).pools[RC]
    assert job_price(freed, setup.params, size) <= job_price(after, setup.params, size)


# ---- H3, H4: worker choice and ETA ---------------------------------------------------------------


@given(setups(), st.integers(1, 60))
def test_the_chosen_worker_follows_the_rule(setup: Setup, units: int) -> None:
    pool, params = setup.pool, setup.params
    eligible = [
        w
        for w in pool.workers.values()
        if w.quality_bps > 0
        and Fraction(w.quality_bps, BPS) >= params.quality_threshold
        and w.capacity - w.in_use >= units
    ]
    code = refused(lambda: choose_worker(pool, params, units))
    if not eligible:
        assert code in {Rejection.NO_WORKER, Rejection.NO_CAPACITY}
        return
    best = sorted(eligible, key=lambda w: (eta_ms(w, units), -w.quality_bps, w.worker))[0]
    assert choose_worker(pool, params, units) == best


@given(setups(), st.integers(1, 60))
def test_eta_is_queued_work_over_throughput_rounded_up(setup: Setup, units: int) -> None:
    for w in setup.pool.workers.values():
        eta = eta_ms(w, units)
        assert eta * w.throughput >= (w.queued_units + units) * 1000 > (eta - 1) * w.throughput


# ---- H5, H6: swaps and releases ------------------------------------------------------------------


@given(setups(), st.randoms(use_true_random=False))
def test_releasing_every_job_restores_the_pool_exactly(setup: Setup, rnd: Any) -> None:
    idle = setup.pool
    for worker in idle.workers:
        assert idle.workers[worker].in_use == sum(u for w, u in setup.fills if w == worker)
    market = setup.market
    order = list(setup.fills)
    rnd.shuffle(order)
    for worker, units in order:
        market = release(market, setup.params, RC, worker, units)
    pool = market.pools[RC]
    assert pool.psi == pool.psi_idle
    assert spot_price(pool) == pool.reference_price


@given(setups(), st.integers(1, 60))
def test_buy_then_release_never_leaves_the_buyer_ahead(setup: Setup, units: int) -> None:
    """'Ahead' (E47): the release hands back at most the credits the buy paid, and the same
    job bought again costs exactly what it cost the first time."""
    try:
        bought, first = buy(setup.market, setup.params, RC, units, MAX_WORD)
    except RejectedError:
        return
    released = release(bought, setup.params, RC, first.worker, units)
    assert canonical_bytes(released) == canonical_bytes(setup.market)
    credits_back = bought.pools[RC].theta - released.pools[RC].theta
    assert credits_back <= first.cost <= first.price
    _, again = buy(released, setup.params, RC, units, MAX_WORD)
    assert again == first


@given(setups(), st.integers(1, 30), st.integers(1, 30))
def test_splitting_a_job_never_lowers_the_curve_cost(setup: Setup, a: int, b: int) -> None:
    pool = setup.pool
    whole = a + b
    if whole >= pool.psi:
        return
    once = swap_cost(pool, whole)
    first = swap_cost(pool, a)
    rest = replace(pool, psi=pool.psi - a)  # the same curve after the first part
    assert first + swap_cost(rest, b) >= once


@given(setups(), st.integers(1, 60), st.integers(0, 10**9))
def test_slippage_bound_is_honoured_or_the_swap_refused(
    setup: Setup, units: int, max_price: int
) -> None:
    before = canonical_bytes(setup.market)
    try:
        _, filled = buy(setup.market, setup.params, RC, units, max_price)
    except RejectedError as error:
        assert error.rejection in {
            Rejection.SLIPPAGE_EXCEEDED,
            Rejection.NO_WORKER,
            Rejection.NO_CAPACITY,
        }
        if error.rejection is Rejection.SLIPPAGE_EXCEEDED:
            assert quote(setup.market, setup.params, RC, units).price > max_price
        assert canonical_bytes(setup.market) == before
        return
    assert filled.price <= max_price


# ---- H7: supply ----------------------------------------------------------------------------------


@given(setups(busy=False), st.integers(1, 300), qualities)
def test_supply_joining_an_idle_pool_keeps_the_reference_price(
    setup: Setup, capacity: int, quality: int
) -> None:
    market = add_worker(setup.market, setup.params, RC, "new", capacity, 5, quality)
    assert spot_price(market.pools[RC]) == setup.pool.reference_price


@given(setups(), st.integers(1, 300), qualities)
def test_supply_joining_never_raises_the_price(setup: Setup, capacity: int, quality: int) -> None:
    pool = setup.pool
    market = add_worker(setup.market, setup.params, RC, "new", capacity, 5, quality)
    grown = market.pools[RC]
    assert spot_price(grown) <= spot_price(pool) or pool.psi == 0
    size = min(pool.psi - 1, 10_000)
    if size > 0:
        assert job_price(grown, setup.params, size) <= job_price(pool, setup.params, size)
    check_market(market)
    left = remove_worker(market, RC, "new")
    assert canonical_bytes(left) == canonical_bytes(setup.market)


@given(setups(), st.data())
def test_quality_and_capacity_changes_keep_the_pool_consistent(
    setup: Setup, data: st.DataObject
) -> None:
    worker = data.draw(st.sampled_from(sorted(setup.pool.workers)))
    market = set_quality(setup.market, RC, worker, data.draw(qualities))
    held = market.pools[RC].workers[worker].in_use
    market = set_capacity(market, RC, worker, data.draw(st.integers(max(1, held), 400)))
    check_market(market)
    pool = market.pools[RC]
    assert spot_price(pool) >= pool.reference_price


# ---- H8–H10: LP shares ---------------------------------------------------------------------------


@given(
    setups(),
    st.lists(st.tuples(st.booleans(), st.sampled_from("abc"), st.integers(-5, 10**6)), max_size=12),
)
def test_lp_shares_are_conserved_and_never_move_the_price(
    setup: Setup, ops: list[tuple[bool, str, int]]
) -> None:
    market, params = setup.market, setup.params
    curve = (setup.pool.psi, setup.pool.theta)
    bonded = {"a": 0, "b": 0, "c": 0}
    for deposit, provider, amount in ops:
        before = canonical_bytes(market)
        try:
            if deposit:
                market, minted = add_liquidity(market, params, RC, provider, amount)
                bonded[provider] += minted
                assert minted == amount
            else:
                market, owed = remove_liquidity(market, params, RC, provider, amount)
                bonded[provider] -= owed
                assert owed == amount
        except RejectedError as error:
            assert error.rejection in {Rejection.NON_POSITIVE_AMOUNT, Rejection.INSUFFICIENT_SHARES}
            assert canonical_bytes(market) == before
        pool = market.pools[RC]
        assert sum(pool.shares.values()) == pool.total_shares == sum(bonded.values())
        assert dict(lp_weights(market, RC)) == {p: s for p, s in bonded.items() if s}
        assert (pool.psi, pool.theta) == curve
    for provider, held in bonded.items():
        if held:
            market, owed = remove_liquidity(market, params, RC, provider, held)
            assert owed == held  # the whole deposit back; fees are paid by the ledger
    assert market.pools[RC].total_shares == 0


# ---- determinism and refusals --------------------------------------------------------------------


@given(setups())
def test_the_same_events_give_the_same_bytes(setup: Setup) -> None:
    params = setup.params
    again = create_pool(Market(), params, RC, setup.pool.reference_price)
    for name in sorted(setup.pool.workers, key=lambda w: int(w[1:])):
        w = setup.pool.workers[name]
        again = add_worker(again, params, RC, name, w.capacity, w.throughput, w.quality_bps)
    for _, units in setup.fills:
        again, _filled = buy(again, params, RC, units, MAX_WORD)
    assert canonical_bytes(again) == canonical_bytes(setup.market)


@given(setups(), st.data())
def test_every_refusal_leaves_the_market_unchanged(setup: Setup, data: st.DataObject) -> None:
    market, params = setup.market, setup.params
    busy = sorted(w for w, s in setup.pool.workers.items() if s.in_use > 0)
    calls: list[Callable[[], Any]] = [
        lambda: create_pool(market, params, RC),
        lambda: add_worker(market, params, RC, "w0", 5, 5, 5000),
        lambda: add_worker(market, params, RC, "z", 0, 5, 5000),
        lambda: add_worker(market, params, RC, "z", 5, 5, 10_001),
        lambda: add_worker(market, params, "cpu", "z", 5, 5, 5000),
        lambda: quote(market, params, RC, 0),
        lambda: quote(market, params, RC, 10**6),
        lambda: buy(market, params, RC, 1, -1),
        lambda: release(market, params, RC, "w0", 10**6),
        lambda: release(market, params, RC, "nobody", 1),
        lambda: set_quality(market, RC, "w0", -1),
        lambda: set_capacity(market, RC, "w0", 0),
        lambda: remove_liquidity(market, params, RC, "a", 1),
        lambda: add_liquidity(market, params, RC, "a", 0),
        lambda: remove_worker(market, RC, busy[0] if busy else "nobody"),
    ]
    call = data.draw(st.sampled_from(calls))
    before = canonical_bytes(market)
    assert refused(call) is not None
    assert canonical_bytes(market) == before
