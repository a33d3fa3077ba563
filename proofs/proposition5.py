"""Proposition 5, §6.3 — when honest computation is a best response, derived and checked.

The game (the reference's statement of "the PoAI game"). Each epoch a worker serves N jobs and
earns R in fees. Honest, it pays the compute cost of every job. Lazy with deviation δ, it skips
⌊δN⌋ jobs per epoch and saves S = ⌊δN⌋ × cost ≤ δ · R (`proofs.model`). A lazy worker is caught
in an epoch with probability p = 1 − (1 − α)^⌊δN⌋ (Equation 1); when caught, at the end of that
epoch, it keeps what it saved so far and loses Slash = stake × SlashRate × (1 − reporter share).
Whether it then leaves or bonds again and carries on, the comparison below is the same.

Derivation. Let τ be the epoch of detection (geometric: P(τ ≥ t) = (1 − p)^(t−1)). Over T
epochs a lazy worker saves S in each epoch it plays, E[min(τ, T)] = Σ_{t<T} (1 − p)^t = P_T / p
epochs in expectation, and is slashed with probability P_T = 1 − (1 − p)^T. Its expected gain
over an honest worker is

    A_T = S · P_T / p − Slash · P_T = (P_T / p) · (S − p · Slash).

So honest computation is a best response, for every horizon T ≥ 1 at once, iff

    p · Slash ≥ S        (expected slash per epoch covers the savings per epoch),

and against every δ ∈ (0, 1] iff it holds at δ = 1 (worst-case lemma). The horizon does not
matter: "over sufficiently many epochs" (after (6)) has no counterpart. A worker who bonds again
after each slash gains T · (S − p · Slash) over T epochs: the same sign.

The printed forms. Inequality (5), Revenue_honest > Revenue_lazy + Expected_Slash, has the slash
on the wrong side: with Revenue_lazy = Revenue_honest + S it reads 0 > S + p · Slash, false for
every non-negative S and Slash, so it never holds (honest would never be an equilibrium). The
"holds when" condition P · Slash > Savings · (1 − P) is implied by the correct one (when
S > 0) but does not imply it: for S between p · Slash and p · Slash / (1 − p) it holds while
laziness pays. Both are shown with Z3 counterexamples at the parameters' p and Slash (E65).

What Z3 proves, over all values:
  1. p · E_T = P_T (step: p · E = 1 − x and q = 1 − p imply p · (E + x) = 1 − q · x);
  2. with p > 0, p · E = P, P > 0: S · E − Slash · P ≤ 0 ⇔ S ≤ p · Slash; and for T > 0,
     T · (S − p · Slash) ≤ 0 ⇔ the same;
  3. the worst-case lemmas (δ = 1 binds) and the union bound P_T ≤ T · p, from which Theorem 3's
     condition Slash · P_T > T · S implies this one.
What is checked at the parameters. With Table 6's worker stake, every price the HMM can quote
(`proofs.prices`, E68) and every cost ratio in (0, 1], p · Slash ≥ S at δ = 1.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

from aci_ref.params import Params
from proofs.lemmas import union_bound_lemma, worst_case_lemmas
from proofs.model import (
    COST_RATIO_MAX,
    PAPER_DEVIATION,
    Bounds,
    decimal,
    detection_bounds,
    deviating_jobs,
    effective_slash,
    revenue_per_epoch,
    show,
    show_bounds,
    worker_share,
)
from proofs.prices import price_range, price_text
from proofs.result import CheckResult, Lemma, cached_lemmas, lemma_failed, refute
from proofs.smt import all_of, between, const, decide, real

NAME: Final = "P5"
STATEMENT: Final = (
    "Proposition 5 (corrected): p·Slash ≥ S — honest computation is a best response for every "
    "horizon, δ ∈ (0,1], price the HMM quotes and cost ratio ≤ 1, with Table 6's worker stake"
)
INEQUALITY5_NAME: Final = "P5.inequality5"
INEQUALITY5_STATEMENT: Final = (
    "Proposition 5 (printed): inequality (5) Revenue_honest > Revenue_lazy + Expected_Slash "
    "is equivalent to the best-response condition"
)
SUFFICIENT_NAME: Final = "P5.sufficient_condition"
SUFFICIENT_STATEMENT: Final = (
    "Proposition 5 (printed): P·Slash > Savings·(1−P) is sufficient for the best-response condition"
)


def honest_is_best_response(p_epoch: Fraction, slash: Fraction, savings_epoch: Fraction) -> bool:
    """ref: corrected Proposition 5 — honest is a best response iff p · Slash ≥ S (per epoch)."""
    return p_epoch * slash >= savings_epoch


def lazy_advantage(
    p_epoch: Fraction, slash: Fraction, savings_epoch: Fraction, epochs: int
) -> Fraction:
    """The lazy worker's expected gain over an honest one in T epochs, exactly, by summing the
    game epoch by epoch (no closed form used): S per epoch played, Slash once when caught."""
    alive = Fraction(1)  # probability the worker is still uncaught at the start of the epoch
    gain = Fraction(0)
    for _ in range(epochs):
        gain += alive * savings_epoch - alive * p_epoch * slash
        alive *= 1 - p_epoch
    return gain


def printed_inequality(
    revenue_honest: Fraction, revenue_lazy: Fraction, expected_slash: Fraction
) -> bool:
    """Equation 5, §6.3: Revenue_honest > Revenue_lazy + Expected_Slash, as printed."""
    return revenue_honest > revenue_lazy + expected_slash


def printed_sufficient_condition(p_detect: Fraction, slash: Fraction, savings: Fraction) -> bool:
    """The "holds when" clause of Proposition 5: P · Slash > Savings · (1 − P), as printed."""
    return p_detect * slash > savings * (1 - p_detect)


def paper_parameters_inequality(p_detect: Fraction, revenue: Fraction, deviation: Fraction) -> bool:
    """Equation 6, §6.3: P · 5R > δR · (1 − P), the printed condition with stake = 5 × revenue."""
    return p_detect * 5 * revenue > deviation * revenue * (1 - p_detect)


def best_response_z3(p_epoch: Fraction, slash: Fraction, savings_epoch: Fraction) -> bool:
    """Z3's verdict on p · Slash ≥ S at the given values (a cross-check)."""
    return decide(const(p_epoch) * const(slash) >= const(savings_epoch))


def printed_inequality_z3(
    revenue_honest: Fraction, revenue_lazy: Fraction, expected_slash: Fraction
) -> bool:
    """Z3's verdict on inequality (5) at the given values (a cross-check)."""
    return decide(const(revenue_honest) > const(revenue_lazy) + const(expected_slash))


def printed_horizon(params: Params, deviation: Fraction, price: Fraction) -> int | None:
    """The least T ≥ 1 from which the printed condition P_T · Slash > S · (1 − P_T) holds.

    This is the paper's "satisfied for any δ > 0 over sufficiently many epochs": P_T is the
    detection within T epochs (Theorem 2), Slash the Table 6 worker's effective slash, S the
    savings of one epoch at the given δ and price (cost ratio 1). The condition only grows
    easier with T, so T* is found by doubling and bisection. None when it never holds (no
    slash, or fewer than one deviating job per epoch). In the game above the horizon plays no
    part (see the module docstring); this function explains where the paper's phrase comes from.
    """
    count = deviating_jobs(deviation, params.epoch_jobs)
    slash = effective_slash(params)
    savings = count * price * worker_share(params)
    if count == 0 or slash == 0:
        return None

    def holds(epochs: int) -> bool:
        miss = detection_bounds(params.sampling_rate, count * epochs).complement()
        if (1 - miss.high) * slash > savings * miss.high:
            return True
        if (1 - miss.low) * slash <= savings * miss.low:
            return False
        exact_miss = (1 - params.sampling_rate) ** (count * epochs)
        return (1 - exact_miss) * slash > savings * exact_miss

    low, high = 0, 1
    while not holds(high):
        low, high = high, high * 2
    while high - low > 1:  # invariant: fails at low (or low = 0), holds at high
        middle = (low + high) // 2
        low, high = (low, middle) if holds(middle) else (middle, high)
    return high


def _lemmas() -> list[Lemma]:
    p, q, e, x = real("p"), real("q"), real("E"), real("x")
    big_p, s, slash, t = real("P"), real("S"), real("Slash"), real("T")
    return [
        Lemma(
            "expected epochs played",
            "p E = 1 - x and q = 1 - p imply p (E + x) = 1 - q x (base: E = 0, x = 1)",
            ((p * e).eq(1 - x) & q.eq(1 - p)).implies((p * (e + x)).eq(1 - q * x)),
        ),
        Lemma(
            "sign of the lazy advantage",
            "p > 0, p E = P, P > 0 imply (S E - Slash P <= 0 iff S <= p Slash)",
            ((p > 0) & (p * e).eq(big_p) & (big_p > 0)).implies(
                (s * e - slash * big_p <= 0).iff(s <= p * slash)
            ),
        ),
        Lemma(
            "re-bonding worker",
            "T > 0 implies (T (S - p Slash) <= 0 iff S <= p Slash)",
            (t > 0).implies((t * (s - p * slash) <= 0).iff(s <= p * slash)),
        ),
        Lemma(
            "Theorem 3's condition is sufficient",
            "0 <= P_T <= T p, T > 0, Slash >= 0, Slash P_T > T S imply p Slash >= S",
            all_of([big_p >= 0, big_p <= t * p, t > 0, slash >= 0, slash * big_p > t * s]).implies(
                p * slash >= s
            ),
        ),
        *worst_case_lemmas(),
        union_bound_lemma(),
    ]


lemma_outcome = cached_lemmas(_lemmas)
"""Prove Proposition 5's lemmas once per process (None when all hold)."""


def check_proposition5(params: Params) -> CheckResult:
    """Proposition 5, §6.3: honest computation is a best response at `params` (corrected form).

    Lemmas as in the module docstring; instance: Z3 searches every price the HMM quotes and
    cost ratio in (0, 1] for p(N) · Slash < S at δ = 1.
    """
    failure = lemma_outcome()
    if failure is not None:
        return lemma_failed(NAME, STATEMENT, True, failure)
    prices = price_range(params)
    bounds = detection_bounds(params.sampling_rate, params.epoch_jobs)
    kappa, price, p = real("cost_ratio"), real("price"), real("p_detect")
    slash = effective_slash(params)
    savings = kappa * params.epoch_jobs * worker_share(params) * price
    domain = all_of(
        [
            kappa > 0,
            kappa <= COST_RATIO_MAX,
            between(price, prices.low, prices.high),
            between(p, bounds.low, bounds.high),
        ]
    )
    prefer = kappa.eq(COST_RATIO_MAX) & price.eq(prices.high)
    found = refute(domain, p * slash >= savings, [kappa, price], prefer)
    counterexample = None
    if found.model is not None:
        chosen_price, chosen_kappa = found.model["price"], found.model["cost_ratio"]
        counterexample = {
            "deviation": 1,
            "price": show(chosen_price),
            "cost_ratio": show(chosen_kappa),
            "p_detect": show_bounds(bounds),
            "slash": show(slash),
            "savings_per_epoch": show(chosen_kappa * revenue_per_epoch(params, chosen_price)),
        }
    worst = revenue_per_epoch(params, prices.high)
    detail = (
        f"{price_text(prices)}; binding case δ = 1: p = {show_bounds(bounds)}, expected slash "
        f"per epoch {decimal(bounds.low * slash, 2)} ACI vs savings up to {decimal(worst, 2)} "
        f"ACI; lemmas proved; {found.reason}"
    )
    return CheckResult(NAME, STATEMENT, found.holds, True, counterexample, detail)


def _paper_point(params: Params) -> tuple[Bounds, Fraction]:
    """Per-epoch detection at δ = 1 % (an enclosure) and the effective slash."""
    count = deviating_jobs(PAPER_DEVIATION, params.epoch_jobs)
    return detection_bounds(params.sampling_rate, count), effective_slash(params)


def check_inequality5(params: Params) -> CheckResult:
    """Printed inequality (5) of Proposition 5, §6.3: is it the best-response condition?

    At the parameters' p (δ = 1 %) and Slash, Z3 searches savings S > 0 and an honest revenue
    for a point where (5), with Revenue_lazy = Revenue_honest + S, and p · Slash ≥ S disagree.
    """
    bounds, slash = _paper_point(params)
    revenue, s, p = real("revenue_honest"), real("savings"), real("p_detect")
    printed = revenue > (revenue + s) + p * slash
    correct = p * slash >= s
    domain = (revenue >= 0) & (s > 0) & between(p, bounds.low, bounds.high)
    top = revenue_per_epoch(params, price_range(params).high)
    prefer = revenue.eq(top) & s.eq(PAPER_DEVIATION * top)
    found = refute(domain, printed.iff(correct), [revenue, s], prefer)
    counterexample = None
    if found.model is not None:
        r_h, sav, p_value = found.model["revenue_honest"], found.model["savings"], bounds.low
        counterexample = {
            "p_detect": show_bounds(bounds),
            "slash": show(slash),
            "savings": show(sav),
            "revenue_honest": show(r_h),
            "revenue_lazy": show(r_h + sav),
            "expected_slash": "≈" + decimal(p_value * slash, 6),
            "inequality5": printed_inequality(r_h, r_h + sav, p_value * slash),
            "best_response": honest_is_best_response(p_value, slash, sav),
        }
    detail = (
        "with Revenue_lazy = Revenue_honest + Savings, (5) reads 0 > Savings + p·Slash and never "
        f"holds; {found.reason}"
    )
    return CheckResult(
        INEQUALITY5_NAME, INEQUALITY5_STATEMENT, found.holds, False, counterexample, detail
    )


def _inside(bounds: Bounds, slash: Fraction) -> Fraction:
    """A readable S well inside (p·Slash, p·Slash/(1 − p)) for every p of the enclosure: twice
    the expected slash when that fits, else an integer near the middle."""
    low_end = bounds.high * slash
    high_end = bounds.low * slash / (1 - bounds.low) if bounds.low < 1 else 2 * low_end + 1
    if 2 * low_end < high_end:
        return 2 * low_end
    middle = (low_end + high_end) / 2
    return Fraction(int(middle)) if high_end - low_end > 2 else middle


def check_sufficient_condition(params: Params) -> CheckResult:
    """Printed clause of Proposition 5, §6.3: does P·Slash > Savings·(1 − P) imply p·Slash ≥ S?

    At the parameters' p (δ = 1 %) and Slash, Z3 searches savings S > 0 for a point where the
    printed clause holds and the best-response condition fails.
    """
    bounds, slash = _paper_point(params)
    s, p = real("savings"), real("p_detect")
    clause = p * slash > s * (1 - p)
    correct = p * slash >= s
    domain = (s > 0) & between(p, bounds.low, bounds.high)
    found = refute(domain, clause.implies(correct), [s], s.eq(_inside(bounds, slash)))
    counterexample = None
    if found.model is not None:
        sav, p_value = found.model["savings"], bounds.low
        counterexample = {
            "p_detect": show_bounds(bounds),
            "slash": show(slash),
            "savings": show(sav),
            "printed_condition": printed_sufficient_condition(p_value, slash, sav),
            "best_response": honest_is_best_response(p_value, slash, sav),
            "lazy_advantage_10_epochs": "≈" + decimal(lazy_advantage(p_value, slash, sav, 10), 4),
        }
    p_value = bounds.low
    upper = decimal(p_value * slash / (1 - p_value), 2) if p_value < 1 else "∞"
    detail = (
        f"the clause holds while laziness pays for S in (p·Slash, p·Slash/(1−p)) = "
        f"({decimal(p_value * slash, 2)}, {upper}); {found.reason}"
    )
    return CheckResult(
        SUFFICIENT_NAME, SUFFICIENT_STATEMENT, found.holds, False, counterexample, detail
    )
