"""Theorem 1, §3.4 — PoAI detection rate, restated and checked.

Assumptions. Each job is selected for re-execution independently with probability α (the
sampling rate; Algorithm 2 with u drawn from the beacon, E2), and a selected job whose output is
wrong is detected. A worker deviates on m = ⌊δN⌋ of its N jobs in an epoch (E60).

Claim. The worker is detected in the epoch with probability P(α, m) = 1 − (1 − α)^m
(Equation 1), and P is non-decreasing in α, δ, N (and, over T epochs, in T: Theorem 2).

What Z3 proves (for every value, not only the parameters'). Write q = 1 − α ∈ [0, 1] and x for
q^n, defined by q^0 = 1 and q^(n+1) = q · q^n. Lemmas 1–3 are the steps of inductions on n (the
bases are q^0 = 1), checked valid by Z3 over the reals, the induction itself being the ordinary one
on the naturals; lemmas 4 and 5 are closed facts:
  1. 0 ≤ q^n ≤ 1, so 0 ≤ P ≤ 1;
  2. q^(n+1) ≤ q^n, so P is non-decreasing in the count m (strictly when 0 < α < 1);
  3. q1 ≤ q2 ⇒ q1^n ≤ q2^n, so P is non-decreasing in α;
  4. 0 ≤ a1 ≤ a2 and 0 ≤ b1 ≤ b2 ⇒ a1 b1 ≤ a2 b2, and x1 ≤ x2 ⇒ ⌊x1⌋ ≤ ⌊x2⌋: applied to δN,
     then ⌊δN⌋ and T, the count ⌊δN⌋ T is non-decreasing in δ, N and T, and so is P;
  5. as an independent cross-check of 2, q^j ≤ q^i for all 0 ≤ i ≤ j ≤ 4, written out as
     explicit products (nonlinear real arithmetic, no induction).
What is checked at the parameters. A worker deviating on δ = 1 % (Theorem 1's example) is
caught within one epoch with probability at least 0.259, the value Theorem 1 prints; by lemma 4
the same then holds for every δ ≥ 1 %. The probability is an exact rational (enclosed to 2^-256
when its exact form is too long to print).

The printed numbers (`paper_numbers`): 1 − 0.997^100 = 0.25952 (printed 0.259, a truncation);
1 − 0.997^1000 = 0.95044, i.e. 0.9504 to four places (printed 0.9503 in Theorem 2's proof, and
0.953 in Theorem 1). Rounding 0.259 first does not give 0.953 either: 1 − 0.741^10 = 0.95009. A
per-epoch rate of 0.2634 (about 1018 deviating jobs over the 10 epochs) would be needed; 0.953 is
most likely 0.9503 with its zero dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params
from proofs.model import (
    PAPER_DEVIATION,
    decimal,
    detection_bounds,
    deviating_jobs,
    show,
    show_bounds,
)
from proofs.result import CheckResult, Lemma, cached_lemmas, lemma_failed, refute
from proofs.smt import (
    all_of,
    between,
    const,
    constant_value,
    decide,
    floor,
    power,
    real,
)

NAME: Final = "T1"
STATEMENT: Final = (
    "Theorem 1: P = 1-(1-α)^⌊δN⌋ lies in [0,1] and is non-decreasing in α, δ, N; "
    "at these parameters a 1 % deviator is caught within one epoch with P ≥ 0.259"
)

EPOCH_DETECTION_TARGET: Final = Fraction(259, 1000)
"""Theorem 1, §3.4: the per-epoch probability the paper prints for α = 0.003, N = 10,000,
δ = 1 %; the exact value there is 0.2595, so the paper's parameters meet it."""


def detection_probability(sampling_rate: Fraction, deviating_jobs: int) -> Fraction:
    """Equation 1, §3.4: P(detect) = 1 − (1 − α)^m for m deviating jobs, exactly.

    `sampling_rate` is α in [0, 1]; `deviating_jobs` is the integer count m = δN (δNT over T
    epochs, Theorem 2) of jobs whose output is wrong, each selected for re-execution
    independently with probability α. The result is an exact rational, which can be very long
    for large m (`proofs.model.detection_bounds` encloses it between short ones).
    """
    if not 0 <= sampling_rate <= 1 or deviating_jobs < 0:
        raise RejectedError(
            Rejection.BAD_INPUT, "need 0 <= sampling_rate <= 1, deviating_jobs >= 0"
        )
    return 1 - (1 - sampling_rate) ** deviating_jobs


def detection_z3(sampling_rate: Fraction, deviating_jobs: int) -> Fraction:
    """Equation 1 evaluated by Z3 (a product of constant terms folded by the solver), for
    cross-checking `detection_probability`; keep the count small."""
    return constant_value(1 - power(const(1 - sampling_rate), deviating_jobs))


def at_least_as_likely_z3(low: tuple[Fraction, int], high: tuple[Fraction, int]) -> bool:
    """Z3's verdict on P(α1, m1) ≤ P(α2, m2) for the given (α, m) pairs (small m)."""
    (alpha1, count1), (alpha2, count2) = low, high
    left = 1 - power(const(1 - alpha1), count1)
    right = 1 - power(const(1 - alpha2), count2)
    return decide(left <= right)


def _lemmas() -> list[Lemma]:
    q, q1, q2, x, x1, x2 = (real(n) for n in ("q", "q1", "q2", "x", "x1", "x2"))
    unit = between(q, 0, 1)
    a1, a2, b1, b2 = (real(n) for n in ("a1", "a2", "b1", "b2"))
    bounded = [
        Lemma(
            f"explicit q^{j} <= q^{i}",
            f"for every q in [0,1]: q^{j} <= q^{i} (products written out)",
            unit.implies(power(q, j) <= power(q, i)),
        )
        for j in range(5)
        for i in range(j + 1)
    ]
    return [
        Lemma(
            "miss probability in [0,1]",
            "0 <= q <= 1 and 0 <= q^n <= 1 imply 0 <= q·q^n <= 1 (base: q^0 = 1)",
            (unit & between(x, 0, 1)).implies(between(q * x, 0, 1)),
        ),
        Lemma(
            "monotone in the count",
            "0 <= q <= 1 and q^n >= 0 imply q^(n+1) <= q^n",
            (unit & (x >= 0)).implies(q * x <= x),
        ),
        Lemma(
            "strictly monotone in the count",
            "0 < q < 1 and q^n > 0 imply 0 < q^(n+1) < q^n",
            ((q > 0) & (q < 1) & (x > 0)).implies((q * x > 0) & (q * x < x)),
        ),
        Lemma(
            "monotone in the sampling rate",
            "0 <= q1 <= q2 <= 1 and 0 <= q1^n <= q2^n imply q1^(n+1) <= q2^(n+1) (base 1 <= 1)",
            ((q1 >= 0) & (q1 <= q2) & (q2 <= 1) & (x1 >= 0) & (x1 <= x2)).implies(
                q1 * x1 <= q2 * x2
            ),
        ),
        Lemma(
            "products of counts are monotone",
            "0 <= a1 <= a2 and 0 <= b1 <= b2 imply a1 b1 <= a2 b2 (for d N, then floor(d N) T)",
            all_of([a1 >= 0, a1 <= a2, b1 >= 0, b1 <= b2]).implies(a1 * b1 <= a2 * b2),
        ),
        Lemma(
            "floor is monotone",
            "x1 <= x2 implies floor(x1) <= floor(x2)",
            (x1 <= x2).implies(floor(x1) <= floor(x2)),
        ),
        *bounded,
    ]


lemma_outcome = cached_lemmas(_lemmas)
"""Prove Theorem 1's lemmas once per process (None when all hold)."""


def check_theorem1(params: Params) -> CheckResult:
    """Theorem 1, §3.4: the per-epoch detection bound and its monotonicity, at `params`.

    Lemmas as in the module docstring; instance: P(α, ⌊N/100⌋) ≥ EPOCH_DETECTION_TARGET.
    """
    failure = lemma_outcome()
    if failure is not None:
        return lemma_failed(NAME, STATEMENT, True, failure)
    count = deviating_jobs(PAPER_DEVIATION, params.epoch_jobs)
    bounds = detection_bounds(params.sampling_rate, count)
    p = real("p_detect")
    found = refute(between(p, bounds.low, bounds.high), p >= EPOCH_DETECTION_TARGET, [])
    point = {
        "sampling_rate": show(params.sampling_rate),
        "epoch_jobs": params.epoch_jobs,
        "deviation": show(PAPER_DEVIATION),
        "deviating_jobs": count,
        "p_detect": show_bounds(bounds),
        "target": show(EPOCH_DETECTION_TARGET),
    }
    detail = (
        f"P(detect within one epoch) = {show_bounds(bounds)} for δ = 1 % "
        f"({count} of {params.epoch_jobs} jobs), target {decimal(EPOCH_DETECTION_TARGET, 3)}; "
        f"lemmas proved; {found.reason}"
    )
    counterexample = point if found.model is not None else None
    return CheckResult(NAME, STATEMENT, found.holds, True, counterexample, detail)


@dataclass(frozen=True, slots=True)
class PrintedNumber:
    """One number the paper prints, next to the exact value of what it computes."""

    where: str
    expression: str
    printed: Fraction
    places: int
    exact: Fraction

    @property
    def rounds_to_printed(self) -> bool:
        """Whether the exact value rounds (half to even) to the printed one."""
        return round(self.exact, self.places) == self.printed

    @property
    def truncates_to_printed(self) -> bool:
        """Whether the exact value, cut after `places` decimals, is the printed one."""
        scale = 10**self.places
        return Fraction(int(self.exact * scale), scale) == self.printed

    @property
    def exact_text(self) -> str:
        return decimal(self.exact, self.places + 2)


ALPHA_PAPER: Final = Fraction(3, 1000)


def paper_numbers() -> tuple[PrintedNumber, ...]:
    """The detection numbers of Theorem 1, §3.4 and Theorem 2, §6.2, with their exact values."""
    q = 1 - ALPHA_PAPER
    one_epoch = detection_probability(ALPHA_PAPER, 100)
    ten_epochs = detection_probability(ALPHA_PAPER, 1000)
    return (
        PrintedNumber("Theorem 1, §3.4", "1 - 0.997^100", Fraction(259, 1000), 3, one_epoch),
        PrintedNumber(
            "Theorem 1, §3.4",
            "1 - (1 - 0.259)^10",
            Fraction(953, 1000),
            3,
            1 - (1 - Fraction(259, 1000)) ** 10,
        ),
        PrintedNumber(
            "Theorem 1, §3.4", "1 - (0.997^100)^10", Fraction(953, 1000), 3, 1 - (q**100) ** 10
        ),
        PrintedNumber("Theorem 2, §6.2", "1 - 0.997^1000", Fraction(9503, 10000), 4, ten_epochs),
    )


def jobs_for_detection(sampling_rate: Fraction, target: Fraction) -> int:
    """The least count m with 1 − (1 − α)^m ≥ target (0 < α, 0 ≤ target < 1).

    Explains the headline rates: at α = 0.003, 99.7 % needs 1934 deviating jobs, i.e. δ ≥ 1.94 %
    at N = 10,000 over 10 epochs.
    """
    if not 0 < sampling_rate <= 1 or not 0 <= target < 1:
        raise RejectedError(Rejection.BAD_INPUT, "need 0 < sampling_rate <= 1, 0 <= target < 1")
    low, high = 0, 1
    while detection_bounds(sampling_rate, high).low < target:
        low, high = high, high * 2
    while high - low > 1:  # invariant: P(low) < target <= P(high) (or low = 0)
        middle = (low + high) // 2
        bounds = detection_bounds(sampling_rate, middle)
        if bounds.low >= target:
            high = middle
        elif bounds.high < target:
            low = middle
        else:
            exact = detection_probability(sampling_rate, middle)
            low, high = (low, middle) if exact >= target else (middle, high)
    return 0 if target == 0 else high
