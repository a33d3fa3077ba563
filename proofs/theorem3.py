"""Theorem 3, §6.2 — collusion resistance, restated and checked.

Assumptions. k workers collude: they return the same wrong outputs, share what they save and may
pay each other. Sampling draws each job from the beacon after the output is committed (E2) and
re-execution is done by verifiers outside the coalition, so colluding changes no member's chance
of being sampled: each member deviating on ⌊δN⌋ jobs per epoch is caught within T epochs with
P_T = 1 − (1 − α)^(⌊δN⌋T) (Theorem 2). A caught member loses its stake × SlashRate, less the
reporter's reward share that a partner identity could collect (E12). Savings are counted as in
the paper's (4): everything saved over the same T epochs, even after detection — more than a
caught worker can really keep, so (4) is a sufficient condition (Proposition 5 has the exact one).

Claim (Equation 4). Collusion does not pay when k · Stake · P_T · SlashRate > k · Savings_T.

What Z3 proves, over all values:
  1. k > 0 ⇒ (k·a > k·b ⇔ a > b): the coalition's condition is each member's condition;
  2. with side payments t_1 + t_2 + t_3 = 0, if every member's expected slash exceeds its savings
     the coalition's net gain Σ (s_i − e_i + t_i) is negative (and the additive step
     E > S, e > s ⇒ E + e > S + s extends this to any k);
  3. the worst-case lemmas of `proofs.lemmas`: over δ ∈ (0, 1] the binding case is δ = 1 and
     over horizons T' ≤ T it is T' = T, so checking those covers all others.
What is checked at the parameters. With Table 6's worker stake (`worker_min_stake`), every k ≥ 1,
every job price the HMM can quote (`proofs.prices`, E68) and every cost ratio in (0, 1], (4)
holds over `detection_horizon_epochs`. Theorem 3's "Stake > 4.2 × Revenue_epoch" is checked
separately as a paper claim (`check_stake_multiple`): it does not follow (E62).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params
from proofs.lemmas import union_bound_lemma, worst_case_lemmas
from proofs.model import (
    COST_RATIO_MAX,
    Bounds,
    decimal,
    detection_bounds,
    kept_share,
    revenue_per_epoch,
    show,
    show_bounds,
    slash_rate,
    worker_share,
)
from proofs.prices import PriceRange, price_range, price_text
from proofs.result import (
    CheckResult,
    Counterexample,
    Lemma,
    cached_lemmas,
    lemma_failed,
    refute,
)
from proofs.smt import Expr, Formula, all_of, between, const, decide, integer, real

NAME: Final = "T3"
STATEMENT: Final = (
    "Theorem 3 / Equation 4: k·Stake·P_T·SlashRate > k·Savings_T for every k ≥ 1, δ ∈ (0,1], "
    "price the HMM quotes and cost ratio ≤ 1, with Table 6's worker stake over the horizon"
)
CLAIM_NAME: Final = "T3.stake_multiple"
CLAIM_STATEMENT: Final = (
    "Theorem 3 (printed): Stake = 4.2 × Revenue_epoch makes Equation 4 hold "
    "(every δ, price, cost ratio, at these α, N, T, slash rates)"
)
PAPER_STAKE_MULTIPLE: Final = Fraction(42, 10)
"""Theorem 3, §6.2: "this requires Stake > 4.2 × Revenue_epoch"."""


def collusion_condition(
    colluders: int, stake: Fraction, p_detect: Fraction, slash: Fraction, savings: Fraction
) -> bool:
    """Equation 4, §6.2: k · Stake · P(detect) · SlashRate > k · Savings_lazy, exactly.

    `slash` is the fraction of stake a caught member loses (the reference passes SlashRate ×
    the kept share, see the module docstring); `p_detect` and `savings` must refer to the same
    horizon.
    """
    return colluders * stake * p_detect * slash > colluders * savings


def collusion_condition_z3(
    colluders: int, stake: Fraction, p_detect: Fraction, slash: Fraction, savings: Fraction
) -> bool:
    """Z3's verdict on Equation 4 instantiated at the given values (a cross-check)."""
    k = const(colluders)
    return decide(k * const(stake) * const(p_detect) * const(slash) > k * const(savings))


def stake_multiple(params: Params, deviation_jobs: int, cost_ratio: Fraction) -> Bounds:
    """The stake, in epochs of revenue, at which (4) holds with equality over the horizon.

    Savings_T / (P_T · SlashRate · kept share) divided by R, i.e. T · (m/N) · cost_ratio /
    (P_T · SlashRate · kept share) for m deviating jobs per epoch; a stake above it makes (4)
    hold. At the paper's parameters (no reporter share) it is 0.105 for δ = 1 % and 10 for δ = 1,
    never 4.2 (E62). Refuses BAD_INPUT when there is no slash or no detection: then no stake is
    enough.
    """
    epochs = params.detection_horizon_epochs
    p = detection_bounds(params.sampling_rate, deviation_jobs * epochs)
    loss = slash_rate(params) * kept_share(params)
    if loss == 0 or p.low == 0:
        raise RejectedError(Rejection.BAD_INPUT, "no slash or no detection: no stake is enough")
    savings = epochs * Fraction(deviation_jobs, params.epoch_jobs) * cost_ratio
    return Bounds(savings / (p.high * loss), savings / (p.low * loss))


def implied_savings_ratio(multiple: Fraction, p_detect: Fraction, slash: Fraction) -> Fraction:
    """The savings, in epochs of revenue, that a stake of `multiple` × R exactly covers.

    For 4.2 and a 100 % slash: 3.99 epochs of revenue against P = 0.9504 (10 epochs at
    δ = 1 %), or 1.09 against P = 0.2595 (one epoch): the two readings under which the paper's
    4.2 comes out (E62).
    """
    return multiple * p_detect * slash


def _lemmas() -> list[Lemma]:
    k, a, b = real("k"), real("a"), real("b")
    big_e, big_s, e, s = real("E"), real("S"), real("e"), real("s")
    es = [real(f"e{i}") for i in (1, 2, 3)]
    ss = [real(f"s{i}") for i in (1, 2, 3)]
    ts = [real(f"t{i}") for i in (1, 2, 3)]
    members = all_of([es[i] > ss[i] for i in range(3)])
    transfers = (ts[0] + ts[1] + ts[2]).eq(0)
    net = (ss[0] - es[0] + ts[0]) + (ss[1] - es[1] + ts[1]) + (ss[2] - es[2] + ts[2])
    return [
        Lemma(
            "k cancels",
            "k > 0 implies (k a > k b iff a > b)",
            (k > 0).implies((k * a > k * b).iff(a > b)),
        ),
        Lemma(
            "side payments do not help",
            "e_i > s_i for three members and t1 + t2 + t3 = 0 imply sum(s_i - e_i + t_i) < 0",
            (members & transfers).implies(net < 0),
        ),
        Lemma(
            "coalitions add up",
            "E > S and e > s imply E + e > S + s",
            ((big_e > big_s) & (e > s)).implies(big_e + e > big_s + s),
        ),
        *worst_case_lemmas(),
        union_bound_lemma(),
    ]


lemma_outcome = cached_lemmas(_lemmas)
"""Prove Theorem 3's lemmas once per process (None when all hold)."""


def _instance(
    params: Params, stake_of_revenue: Fraction | None, prices: PriceRange
) -> tuple[Formula, Formula, list[Expr], Bounds]:
    """Domain and claim of (4) at δ = 1 over the horizon, at every price in `prices`; the
    stake is Table 6's, or `stake_of_revenue` × R when given."""
    epochs = params.detection_horizon_epochs
    bounds = detection_bounds(params.sampling_rate, params.epoch_jobs * epochs)
    k, kappa, price, p = integer("colluders"), real("cost_ratio"), real("price"), real("p_detect")
    revenue = params.epoch_jobs * worker_share(params) * price
    stake = (
        const(params.worker_min_stake) if stake_of_revenue is None else stake_of_revenue * revenue
    )
    domain = all_of(
        [
            k >= 1,
            kappa > 0,
            kappa <= COST_RATIO_MAX,
            between(price, prices.low, prices.high),
            between(p, bounds.low, bounds.high),
        ]
    )
    loss = slash_rate(params) * kept_share(params)
    savings = epochs * kappa * revenue
    claim = k * stake * p * loss > k * savings
    return domain, claim, [k, kappa, price], bounds


def _corner(witnesses: list[Expr], prices: PriceRange) -> Formula:
    """One colluder, the whole fee saved, the highest price: the most readable counterexample."""
    k, kappa, price = witnesses
    return k.eq(1) & kappa.eq(COST_RATIO_MAX) & price.eq(prices.high)


def _counterexample(
    params: Params, model: dict[str, Fraction], bounds: Bounds, stake_of_revenue: Fraction | None
) -> Counterexample:
    epochs = params.detection_horizon_epochs
    price, kappa = model["price"], model["cost_ratio"]
    revenue = params.epoch_jobs * worker_share(params) * price
    stake = params.worker_min_stake if stake_of_revenue is None else stake_of_revenue * revenue
    loss = slash_rate(params) * kept_share(params)
    return {
        "colluders": show(model["colluders"]),
        "deviation": 1,
        "epochs": epochs,
        "price": show(price),
        "cost_ratio": show(kappa),
        "revenue_per_epoch": show(revenue),
        "stake": show(stake),
        "p_detect": show_bounds(bounds),
        "expected_slash_per_member": "≈" + decimal(stake * bounds.low * loss, 6),
        "savings_per_member": show(epochs * kappa * revenue),
    }


def check_theorem3(params: Params) -> CheckResult:
    """Theorem 3, §6.2: collusion does not pay at `params` (Equation 4 over the horizon).

    Lemmas as in the module docstring; instance: Z3 searches k ≥ 1, every price the HMM quotes
    and cost ratio in (0, 1] for a point where (4) fails at δ = 1 over the horizon.
    """
    failure = lemma_outcome()
    if failure is not None:
        return lemma_failed(NAME, STATEMENT, True, failure)
    prices = price_range(params)
    domain, claim, witnesses, bounds = _instance(params, None, prices)
    found = refute(domain, claim, witnesses, _corner(witnesses, prices))
    counterexample = (
        _counterexample(params, dict(found.model), bounds, None)
        if found.model is not None
        else None
    )
    worst = params.detection_horizon_epochs * revenue_per_epoch(params, prices.high)
    expected = params.worker_min_stake * bounds.low * slash_rate(params) * kept_share(params)
    detail = (
        f"{price_text(prices)}; binding case δ = 1, price {decimal(prices.high, 6)}, cost ratio 1: "
        f"savings {decimal(worst, 2)} ACI over {params.detection_horizon_epochs} epochs against an "
        f"expected slash of {decimal(expected, 2)} ACI; lemmas proved; {found.reason}"
    )
    return CheckResult(NAME, STATEMENT, found.holds, True, counterexample, detail)


def check_stake_multiple(params: Params) -> CheckResult:
    """Printed claim of Theorem 3, §6.2: does Stake = 4.2 × Revenue_epoch make (4) hold?

    Z3 searches price and cost ratio at δ = 1 with the stake tied to 4.2 epochs of revenue.
    """
    failure = lemma_outcome()
    if failure is not None:
        return lemma_failed(CLAIM_NAME, CLAIM_STATEMENT, False, failure)
    prices = price_range(params)
    domain, claim, witnesses, bounds = _instance(params, PAPER_STAKE_MULTIPLE, prices)
    found = refute(domain, claim, witnesses, _corner(witnesses, prices))
    counterexample = (
        _counterexample(params, dict(found.model), bounds, PAPER_STAKE_MULTIPLE)
        if found.model is not None
        else None
    )
    ten_epochs = detection_bounds(Fraction(3, 1000), 1000).low
    one_epoch = detection_bounds(Fraction(3, 1000), 100).low
    over_ten = implied_savings_ratio(PAPER_STAKE_MULTIPLE, ten_epochs, Fraction(1))
    over_one = implied_savings_ratio(PAPER_STAKE_MULTIPLE, one_epoch, Fraction(1))
    detail = (
        f"4.2 × R covers savings of {decimal(over_ten, 2)} epochs of revenue against the paper's "
        f"P = {decimal(ten_epochs, 4)} (10 epochs, δ = 1 %), {decimal(over_one, 2)} against "
        f"P = {decimal(one_epoch, 4)} (one epoch); a fully lazy worker saves "
        f"{params.detection_horizon_epochs} epochs of revenue over the horizon; {found.reason}"
    )
    return CheckResult(CLAIM_NAME, CLAIM_STATEMENT, found.holds, False, counterexample, detail)


def printed_condition_holds(params: Params, deviation_jobs: int, price: Fraction) -> bool:
    """(4) at `params` for one δ (as a per-epoch count) and price, cost ratio 1, exactly.

    Used to cross-check the Z3 instance; the exact probability can be long for large counts.
    """
    epochs = params.detection_horizon_epochs
    p = 1 - (1 - params.sampling_rate) ** (deviation_jobs * epochs)
    savings = epochs * deviation_jobs * price * worker_share(params)
    loss = slash_rate(params) * kept_share(params)
    return collusion_condition(1, Fraction(params.worker_min_stake), p, loss, savings)
