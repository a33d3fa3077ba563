"""Worked examples of the HMM (spec/hmm.md), each number computed by hand, and every refusal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from typing import Any

import pytest

from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.market.hmm import (
    MAX_WORD,
    Market,
    add_liquidity,
    add_worker,
    buy,
    choose_worker,
    create_pool,
    eta_ms,
    invariant,
    lp_weights,
    quote,
    reference_price,
    release,
    remove_liquidity,
    remove_worker,
    set_capacity,
    set_quality,
    spot_price,
)
from aci_ref.market.hmm_invariants import check_market
from aci_ref.params import default_params

# The worked examples of spec/hmm.md price capacity at 1 token a unit; the shipped reference
# price is lower (errata E69), which changes no formula.
SHIPPED = default_params()
P = replace(SHIPPED, hmm_reference_price=Fraction(1))
TOKEN = P.token_base_units


def one_worker_pool() -> Market:
    """The spec's example: P = 1 token, r = 50 %, one worker of 100 units at full quality."""
    market = create_pool(Market(), P, "gpu")
    return add_worker(market, P, "gpu", "w1", 100, 10, 10_000)


def test_defaults_match_the_parameters_file() -> None:
    assert reference_price(SHIPPED) == TOKEN // 400
    assert (P.hmm_reserve_bps, P.hmm_market_fee_bps, P.hmm_risk_fee_bps) == (5000, 0, 1000)


def test_the_spec_example_pool() -> None:
    pool = one_worker_pool().pools["gpu"]
    # C = 100 x 10^4, R = ceil(C x 5000 / 10^4) = 500_000, Ψ = Ψ_idle = 1_500_000 unit-bps.
    assert (pool.psi, pool.psi_idle, pool.reserve) == (1_500_000, 1_500_000, 500_000)
    # Θ = P·Ψ_idle² / (10^4·Ψ) = 10^6 x 1.5·10^6 / 10^4 = 150 tokens, exactly.
    assert pool.theta == 150 * TOKEN
    assert spot_price(pool) == TOKEN == Fraction(10_000 * pool.theta, pool.psi)
    assert invariant(pool) == pool.psi * pool.theta


def test_the_spec_example_quote() -> None:
    offer = quote(one_worker_pool(), P, "gpu", 1)
    # cost = ceil(10^6 x (1.5·10^6)² x 10^4 / (10^4 x 1.5·10^6 x 1.49·10^6)) = ceil(1_006_711.4…)
    assert offer.cost == 1_006_712
    assert offer.market_fee == 0
    # risk fee = ceil(1_006_712 x 1000 x 10^4 / (10^4 x 1.5·10^6)) = ceil(671.14…)
    assert offer.risk_fee == 672
    assert offer.price == 1_007_384
    assert offer.eta_ms == 100  # (0 + 1) units / 10 units per second
    assert (offer.worker, offer.delta_psi) == ("w1", 10_000)


def test_a_sixty_unit_job_and_its_release() -> None:
    market = one_worker_pool()
    bought, filled = buy(market, P, "gpu", 60, MAX_WORD)
    # Ψ: 1.5·10^6 → 0.9·10^6; cost = κ/0.9·10^6 − κ/1.5·10^6 = 250 − 150 = 100 tokens exactly.
    assert filled.cost == 100 * TOKEN
    assert filled.risk_fee == 4 * TOKEN  # λ_r x ΔΨ/Ψ = 0.1 x 0.4 of the cost
    pool = bought.pools["gpu"]
    assert pool.theta == 250 * TOKEN
    assert spot_price(pool) == Fraction(25, 9) * TOKEN  # (1.5 / 0.9)² x P
    w = pool.workers["w1"]
    assert (w.in_use, w.queued_units) == (60, 60)
    assert eta_ms(w, 1) == 6_100
    back = release(bought, P, "gpu", "w1", 60)
    assert canonical_bytes(back) == canonical_bytes(market)


def test_the_market_fee_when_set() -> None:
    params = replace(P, hmm_market_fee_bps=30)
    offer = quote(one_worker_pool(), params, "gpu", 1)
    assert offer.market_fee == 3_021  # ceil(1_006_712 x 30 / 10^4) = ceil(3020.136)
    assert offer.price == offer.cost + offer.market_fee + offer.risk_fee


def test_worker_choice_order() -> None:
    market = create_pool(Market(), P, "gpu")
    market = add_worker(market, P, "gpu", "slow", 50, 1, 10_000)
    market = add_worker(market, P, "gpu", "b-fast", 50, 100, 6_000)
    market = add_worker(market, P, "gpu", "a-fast", 50, 100, 6_000)
    market = add_worker(market, P, "gpu", "c-fast", 50, 100, 9_000)
    market = add_worker(market, P, "gpu", "unfit", 50, 1_000, 4_999)  # below the 0.5 threshold
    pool = market.pools["gpu"]
    assert choose_worker(pool, P, 1).worker == "c-fast"  # smallest ETA, then higher quality
    market = set_quality(market, "gpu", "c-fast", 6_000)
    assert choose_worker(market.pools["gpu"], P, 1).worker == "a-fast"  # then the smaller id
    with pytest.raises(RejectedError) as error:
        choose_worker(market.pools["gpu"], P, 51)
    assert error.value.rejection is Rejection.NO_CAPACITY


def test_queued_work_moves_the_eta_and_the_choice() -> None:
    market = create_pool(Market(), P, "gpu")
    market = add_worker(market, P, "gpu", "a", 50, 10, 10_000)
    market = add_worker(market, P, "gpu", "b", 50, 10, 10_000)
    market, first = buy(market, P, "gpu", 5, MAX_WORD)
    assert (first.worker, first.eta_ms) == ("a", 500)
    second = quote(market, P, "gpu", 5)
    assert (second.worker, second.eta_ms) == ("b", 500)
    assert second.price > first.price  # the pool is busier


def test_supply_cycle_cannot_pump_the_price() -> None:
    """E42: a self-buy, a burst of new capacity, the release and the withdrawal of that capacity
    leave the idle price at P; re-anchoring at the momentary price would have left ≈ 2.58 P."""
    market = one_worker_pool()
    market, filled = buy(market, P, "gpu", 60, MAX_WORD)
    assert spot_price(market.pools["gpu"]) == Fraction(25, 9) * TOKEN
    market = add_worker(market, P, "gpu", "burst", 1_000, 10, 10_000)
    assert spot_price(market.pools["gpu"]) == Fraction(1650**2, 1590**2) * TOKEN
    market = release(market, P, "gpu", filled.worker, 60)
    market = remove_worker(market, "gpu", "burst")
    assert spot_price(market.pools["gpu"]) == TOKEN
    # The rejected rule, in capacity units: Θ scaled at the momentary price on each supply change.
    psi, theta = Fraction(150), Fraction(150)  # idle: Ψ = 100 + R 50, Θ = P·Ψ (P = 1)
    kappa = psi * theta
    psi -= 60
    theta = kappa / psi  # the self-buy
    theta, psi = theta * (psi + 1_500) / psi, psi + 1_500  # burst joins: 1000 + R 500
    kappa = psi * theta
    psi += 60
    theta = kappa / psi  # the release
    theta, psi = theta * (psi - 1_500) / psi, psi - 1_500  # the burst leaves
    assert psi == 150 and Fraction(257, 100) < theta / psi < Fraction(259, 100)


def test_quality_weighting() -> None:
    market = create_pool(Market(), P, "gpu")
    market = add_worker(market, P, "gpu", "half", 10, 10, 5_000)
    market = add_worker(market, P, "gpu", "none", 10, 10, 0)
    pool = market.pools["gpu"]
    assert pool.psi == 10 * 5_000 + 25_000  # the zero-quality worker adds nothing
    offer = quote(market, P, "gpu", 2)
    assert (offer.worker, offer.delta_psi) == ("half", 10_000)
    market = set_quality(market, "gpu", "half", 0)
    assert market.pools["gpu"].psi == 0 and market.pools["gpu"].theta == 0
    assert spot_price(market.pools["gpu"]) == TOKEN
    with pytest.raises(RejectedError) as error:
        quote(market, P, "gpu", 1)
    assert error.value.rejection is Rejection.NO_WORKER


def test_threshold_zero_still_skips_zero_quality() -> None:
    params = replace(P, quality_threshold=Fraction(0))
    market = create_pool(Market(), params, "gpu")
    market = add_worker(market, params, "gpu", "none", 10, 10, 0)
    with pytest.raises(RejectedError) as error:
        quote(market, params, "gpu", 1)
    assert error.value.rejection is Rejection.NO_WORKER


def test_pools_are_independent() -> None:
    market = create_pool(one_worker_pool(), P, "cpu", price=1_000)
    market = add_worker(market, P, "cpu", "w1", 10, 10, 10_000)
    busy, _ = buy(market, P, "gpu", 30, MAX_WORD)
    assert busy.pools["cpu"] == market.pools["cpu"]
    assert quote(busy, P, "cpu", 1).price < quote(busy, P, "gpu", 1).price
    check_market(busy)


def test_lp_shares_follow_the_bonded_stake() -> None:
    market = one_worker_pool()
    market, minted = add_liquidity(market, P, "gpu", "lp1", 1_000 * TOKEN)
    assert minted == 1_000 * TOKEN
    market, _ = add_liquidity(market, P, "gpu", "lp2", 3_000 * TOKEN)
    assert dict(lp_weights(market, "gpu")) == {"lp1": 1_000 * TOKEN, "lp2": 3_000 * TOKEN}
    assert market.pools["gpu"].theta == 150 * TOKEN  # LP stake never moves the price
    market, owed = remove_liquidity(market, P, "gpu", "lp2", 3_000 * TOKEN)
    assert owed == 3_000 * TOKEN
    assert dict(lp_weights(market, "gpu")) == {"lp1": 1_000 * TOKEN}


def test_the_64_bit_range() -> None:
    market = create_pool(Market(), P, "big", price=MAX_WORD)
    with pytest.raises(RejectedError) as error:
        add_worker(market, P, "big", "w", 10**9, 1, 10_000)
    assert error.value.rejection is Rejection.POOL_OUT_OF_RANGE


REFUSALS: list[tuple[str, Callable[[Market], Any], Rejection]] = [
    ("pool twice", lambda m: create_pool(m, P, "gpu"), Rejection.POOL_EXISTS),
    ("empty class", lambda m: create_pool(m, P, ""), Rejection.BAD_IDENTIFIER),
    ("zero price", lambda m: create_pool(m, P, "x", price=0), Rejection.POOL_OUT_OF_RANGE),
    ("unknown pool", lambda m: quote(m, P, "tpu", 1), Rejection.UNKNOWN_POOL),
    ("class not str", lambda m: quote(m, P, 7, 1), Rejection.BAD_IDENTIFIER),  # type: ignore[arg-type]
    ("zero units", lambda m: quote(m, P, "gpu", 0), Rejection.BAD_CAPACITY),
    ("bool units", lambda m: quote(m, P, "gpu", True), Rejection.BAD_CAPACITY),
    ("too many units", lambda m: quote(m, P, "gpu", 101), Rejection.NO_CAPACITY),
    ("worker twice", lambda m: add_worker(m, P, "gpu", "w1", 1, 1, 1), Rejection.WORKER_EXISTS),
    ("no capacity", lambda m: add_worker(m, P, "gpu", "x", 0, 1, 1), Rejection.BAD_CAPACITY),
    ("no throughput", lambda m: add_worker(m, P, "gpu", "x", 1, 0, 1), Rejection.BAD_CAPACITY),
    ("quality > 1", lambda m: add_worker(m, P, "gpu", "x", 1, 1, 10_001), Rejection.BAD_QUALITY),
    ("empty worker", lambda m: add_worker(m, P, "gpu", "", 1, 1, 1), Rejection.BAD_IDENTIFIER),
    ("leave unknown", lambda m: remove_worker(m, "gpu", "x"), Rejection.UNKNOWN_WORKER),
    ("leave busy", lambda m: remove_worker(m, "gpu", "busy"), Rejection.WORKER_BUSY),
    ("quality < 0", lambda m: set_quality(m, "gpu", "w1", -1), Rejection.BAD_QUALITY),
    ("cap < in use", lambda m: set_capacity(m, "gpu", "busy", 4), Rejection.BAD_CAPACITY),
    ("slippage", lambda m: buy(m, P, "gpu", 1, 1), Rejection.SLIPPAGE_EXCEEDED),
    ("max not int", lambda m: buy(m, P, "gpu", 1, "9"), Rejection.BAD_INPUT),  # type: ignore[arg-type]
    ("over-release", lambda m: release(m, P, "gpu", "busy", 6), Rejection.BAD_CAPACITY),
    ("release idle", lambda m: release(m, P, "gpu", "w1", 1), Rejection.BAD_CAPACITY),
    ("release stray", lambda m: release(m, P, "gpu", "x", 1), Rejection.UNKNOWN_WORKER),
    ("zero deposit", lambda m: add_liquidity(m, P, "gpu", "lp", 0), Rejection.NON_POSITIVE_AMOUNT),
    ("no shares", lambda m: remove_liquidity(m, P, "gpu", "x", 1), Rejection.INSUFFICIENT_SHARES),
    (
        "over-withdraw",
        lambda m: remove_liquidity(m, P, "gpu", "lp", 11),
        Rejection.INSUFFICIENT_SHARES,
    ),
    (
        "zero withdraw",
        lambda m: remove_liquidity(m, P, "gpu", "lp", 0),
        Rejection.NON_POSITIVE_AMOUNT,
    ),
    ("weights of none", lambda m: lp_weights(m, "tpu"), Rejection.UNKNOWN_POOL),
]


def busy_market() -> Market:
    market = one_worker_pool()
    market = add_worker(market, P, "gpu", "busy", 5, 1_000, 10_000)
    market, filled = buy(market, P, "gpu", 5, MAX_WORD)
    assert filled.worker == "busy"
    market, _ = add_liquidity(market, P, "gpu", "lp", 10)
    return market


@pytest.mark.parametrize(("name", "call", "code"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_and_their_codes(
    name: str, call: Callable[[Market], Any], code: Rejection
) -> None:
    market = busy_market()
    before = canonical_bytes(market)
    with pytest.raises(RejectedError) as error:
        call(market)
    assert error.value.rejection is code, name
    assert canonical_bytes(market) == before
