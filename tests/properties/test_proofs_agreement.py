"""Z3 and exact rational arithmetic agree: on the instantiated formulas at sampled points, and on
the checks' verdicts at sampled parameter sets (each compared with a closed-form exact test); and
the price range the checks use holds every quote the market gives."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from aci_ref.errors import RejectedError
from aci_ref.market import hmm
from aci_ref.params import BPS, Params, default_params
from proofs import proposition5, theorem1, theorem2, theorem3, theorem4
from proofs.model import power_bounds
from proofs.prices import LARGEST_MODEL_UNITS, price_range

rates = st.fractions(min_value=Fraction(1, 10_000), max_value=1, max_denominator=10_000)
probabilities = st.fractions(min_value=0, max_value=1, max_denominator=1000)
amounts = st.fractions(min_value=0, max_value=100_000, max_denominator=1000)
counts = st.integers(min_value=0, max_value=40)


@given(rates, counts)
def test_z3_computes_equation_1_exactly(alpha: Fraction, count: int) -> None:
    assert theorem1.detection_z3(alpha, count) == theorem1.detection_probability(alpha, count)


@given(rates, counts, rates, counts)
def test_z3_orders_detection_probabilities_as_fractions_do(
    alpha1: Fraction, count1: int, alpha2: Fraction, count2: int
) -> None:
    exact = theorem1.detection_probability(alpha1, count1) <= theorem1.detection_probability(
        alpha2, count2
    )
    assert theorem1.at_least_as_likely_z3((alpha1, count1), (alpha2, count2)) == exact


@given(rates, counts, rates, counts)
def test_detection_is_monotone_in_rate_and_count(
    alpha1: Fraction, count1: int, alpha2: Fraction, count2: int
) -> None:
    low = (min(alpha1, alpha2), min(count1, count2))
    high = (max(alpha1, alpha2), max(count1, count2))
    assert theorem1.detection_probability(*low) <= theorem1.detection_probability(*high)


@given(st.integers(1, 50), amounts, probabilities, probabilities, amounts)
def test_z3_and_fractions_agree_on_equation_4(
    colluders: int, stake: Fraction, p: Fraction, slash: Fraction, savings: Fraction
) -> None:
    exact = theorem3.collusion_condition(colluders, stake, p, slash, savings)
    assert theorem3.collusion_condition_z3(colluders, stake, p, slash, savings) == exact
    # Lemma "k cancels": the coalition's condition is the single worker's.
    assert exact == theorem3.collusion_condition(1, stake, p, slash, savings)


@given(probabilities, amounts, amounts, amounts)
def test_z3_and_fractions_agree_on_proposition_5(
    p: Fraction, slash: Fraction, savings: Fraction, revenue: Fraction
) -> None:
    assert proposition5.best_response_z3(p, slash, savings) == (
        proposition5.honest_is_best_response(p, slash, savings)
    )
    lazy = revenue + savings
    assert proposition5.printed_inequality_z3(revenue, lazy, p * slash) == (
        proposition5.printed_inequality(revenue, lazy, p * slash)
    )
    # (5) as printed never holds when the lazy worker really saves something.
    assert not proposition5.printed_inequality(revenue, lazy, p * slash)


@given(
    st.fractions(min_value=Fraction(1, 1000), max_value=1, max_denominator=1000),
    amounts,
    amounts,
    st.integers(1, 12),
)
def test_lazy_advantage_has_the_sign_of_the_corrected_condition(
    p: Fraction, slash: Fraction, savings: Fraction, epochs: int
) -> None:
    advantage = proposition5.lazy_advantage(p, slash, savings, epochs)
    assert (advantage <= 0) == proposition5.honest_is_best_response(p, slash, savings)


@given(
    st.integers(0, 30_000),
    st.integers(0, 3_000),
    st.fractions(min_value=Fraction(1, 500), max_value=1, max_denominator=500),
    st.lists(st.integers(1, 6_000), min_size=1, max_size=4),
)
def test_z3_encoding_of_the_stake_rule_matches_staking(
    minimum: int, per_unit: int, fraction: Fraction, capacities: list[int]
) -> None:
    params = dataclasses.replace(
        default_params(), worker_min_stake=max(minimum, 1), worker_stake_per_capacity_unit=per_unit
    )
    exact = theorem4.sybil_stake(params, capacities) >= theorem4.sybil_bound(params, fraction)
    assert theorem4.covers_bound_z3(params, fraction, capacities) == exact


@given(st.fractions(min_value=0, max_value=1, max_denominator=1000), st.integers(0, 3_000))
def test_power_bounds_enclose_the_exact_power(base: Fraction, exponent: int) -> None:
    bounds = power_bounds(base, exponent)
    exact = base**exponent
    assert bounds.low <= exact <= bounds.high
    assert bounds.high - bounds.low <= Fraction(exponent + 1, 2**250)


@given(rates, st.integers(1, 30), st.integers(1, 5), amounts, probabilities)
def test_worst_case_is_the_fully_lazy_worker(
    alpha: Fraction, jobs: int, epochs: int, slash: Fraction, price: Fraction
) -> None:
    """The worst-case lemma, numerically: the condition at every count iff at the largest."""

    def covered(count: int) -> bool:
        caught = theorem1.detection_probability(alpha, count * epochs)
        return slash * caught >= epochs * count * price

    assert all(covered(m) for m in range(1, jobs + 1)) == covered(jobs)


# --- whole checks at sampled parameters, against closed-form exact verdicts ------------------

reference_prices = st.fractions(min_value=Fraction(1, 10**6), max_value=2, max_denominator=10**6)


@st.composite
def parameter_sets(draw: st.DrawFn) -> Params:
    return dataclasses.replace(
        default_params(),
        sampling_rate=draw(rates),
        epoch_jobs=draw(st.integers(1, 300)),
        detection_horizon_epochs=draw(st.integers(1, 20)),
        worker_min_stake=draw(st.integers(1, 20_000)),
        slash_wrong_output_bps=draw(st.integers(0, BPS)),
        slash_reporter_reward_bps=draw(st.integers(0, BPS)),
        worker_stake_per_capacity_unit=draw(st.integers(0, 2_000)),
        hmm_reference_price=draw(reference_prices),
        hmm_reserve_bps=draw(st.integers(1, 20_000)),
        hmm_risk_fee_bps=draw(st.integers(0, BPS)),
    )


@given(parameter_sets())
def test_checks_agree_with_exact_evaluation(params: Params) -> None:
    alpha, jobs, epochs = params.sampling_rate, params.epoch_jobs, params.detection_horizon_epochs
    per_epoch = jobs // 100
    loss = Fraction(params.slash_wrong_output_bps, BPS) * (
        1 - Fraction(params.slash_reporter_reward_bps, BPS)
    )
    slash = params.worker_min_stake * loss
    revenue = jobs * price_range(params).high * Fraction(params.fee_worker_bps, BPS)

    t1 = theorem1.detection_probability(alpha, per_epoch) >= theorem1.EPOCH_DETECTION_TARGET
    assert theorem1.check_theorem1(params).holds == t1
    t2 = theorem1.detection_probability(alpha, per_epoch * epochs) >= Fraction(95, 100)
    assert theorem2.check_theorem2(params).holds == t2
    t3 = slash * theorem1.detection_probability(alpha, jobs * epochs) > epochs * revenue
    assert theorem3.check_theorem3(params).holds == t3
    p5 = slash * theorem1.detection_probability(alpha, jobs) >= revenue
    assert proposition5.check_proposition5(params).holds == p5
    t4 = (
        params.worker_stake_per_capacity_unit * theorem4.REFERENCE_WORKER_CAPACITY
        >= params.worker_min_stake
    )
    assert theorem4.check_theorem4(params).holds == t4
    # Theorem 3's condition is sufficient for Proposition 5's (union-bound lemma).
    assert p5 or not t3


# --- the price range holds every quote (E68) -------------------------------------------------


@st.composite
def market_parameters(draw: st.DrawFn) -> Params:
    return dataclasses.replace(
        default_params(),
        hmm_reference_price=draw(reference_prices),
        hmm_reserve_bps=draw(st.sampled_from([1, 3, 333, 5000, 7001, 10_000, 30_000])),
        hmm_market_fee_bps=draw(st.sampled_from([0, 0, 1, 250, BPS])),
        hmm_risk_fee_bps=draw(st.sampled_from([0, 1000, 9999, BPS])),
        quality_threshold=draw(st.fractions(min_value=0, max_value=1, max_denominator=BPS)),
    )


workers = st.lists(
    st.tuples(
        st.integers(1, 10**12),  # capacity
        st.integers(1, BPS),  # quality_bps
        st.fractions(min_value=0, max_value=1, max_denominator=64),  # share of it in use
    ),
    min_size=1,
    max_size=4,
)


@given(market_parameters(), workers, st.integers(1, LARGEST_MODEL_UNITS))
def test_every_quote_lies_in_the_price_range(
    params: Params, table: list[tuple[int, int, Fraction]], units: int
) -> None:
    prices = price_range(params)
    market = hmm.create_pool(hmm.Market(), params, "gpu")
    try:
        for i, (capacity, quality, _) in enumerate(table):
            market = hmm.add_worker(market, params, "gpu", f"w{i}", capacity, 1, quality)
        pool = market.pools["gpu"]
        supply = pool.workers
        for i, (capacity, _, busy) in enumerate(table):
            taken = min(capacity, int(capacity * busy))
            supply = supply.set(f"w{i}", dataclasses.replace(supply[f"w{i}"], in_use=taken))
        pool = hmm.reprice(pool, supply)
        quoted = hmm.quote(hmm.Market(pools=market.pools.set("gpu", pool)), params, "gpu", units)
    except RejectedError:
        return  # no quote at all (no eligible worker with room, or out of the pool's range)
    price = Fraction(quoted.price, params.token_base_units)
    assert prices.low <= price <= prices.high
