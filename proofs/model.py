"""ref: proofs — the quantities every statement talks about, computed exactly from `Params`.

The paper's security statements mix probabilities (Equation 1), stakes (Table 6), slash rates
(Table 2) and revenue, which the paper never prices. This module fixes the reference's reading
once, with the assumptions a reader needs to judge it:

- N = `epoch_jobs` jobs per worker per epoch; a worker deviating on fraction δ skips ⌊δN⌋ of
  them in each epoch, ⌊δN⌋ · T over T epochs.
- A job pays `price` ACI, any price the HMM can quote for it (`proofs.prices`, E68: from the
  cheapest job in an idle pool to the largest job at the surge cap), of which the worker keeps
  `fee_worker_bps` (Table 5), so a worker's revenue per epoch is R = N · price ·
  fee_worker_bps / 10000.
- Skipping a job saves its compute cost, which is `cost_ratio` × the worker's fee for it, with
  0 < cost_ratio ≤ 1: a job that cost more than it pays would not be served at all, so a skipped
  job saves at most its fee and a δ-lazy worker saves at most δ · R per epoch.
- A caught worker loses `slash_wrong_output_bps` of its stake; the reporter's reward
  (`slash_reporter_reward_bps` of the slash, E12) may go to a partner identity of the worker, so
  the reference counts only the rest as the worker's loss (`effective_slash`).
- Stakes and prices are in whole ACI tokens, as in the parameters file.

Probabilities such as 0.997^100000 have hundreds of thousands of digits; `power_bounds` encloses
them between two short rationals (exact whenever the exact value is short), and the checks hand
the enclosure, not a rounded point, to Z3.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import BPS, Params

PAPER_DEVIATION: Final = Fraction(1, 100)
"""Theorem 1, §3.4: the example deviation δ = 1 % ("workers who cheat on even 1 % of jobs")."""

COST_RATIO_MAX: Final = Fraction(1)
"""ref: a skipped job saves at most the worker's whole fee for it (cost ≤ fee, see above)."""

ENCLOSURE_BITS: Final = 256
"""Width of the enclosures: long values are rounded outwards to multiples of 2^-256."""

_EXACT_BITS: Final = 2_048


@dataclass(frozen=True, slots=True)
class Bounds:
    """A closed interval [low, high] of rationals known to contain a value."""

    low: Fraction
    high: Fraction

    @property
    def exact(self) -> bool:
        return self.low == self.high

    def complement(self) -> Bounds:
        """The enclosure of 1 − value."""
        return Bounds(1 - self.high, 1 - self.low)

    def times(self, factor: Fraction) -> Bounds:
        """The enclosure of factor × value, factor ≥ 0."""
        return Bounds(self.low * factor, self.high * factor)


def _outward(value: Fraction, upward: bool) -> Fraction:
    if max(value.numerator.bit_length(), value.denominator.bit_length()) <= _EXACT_BITS:
        return value
    scaled = value * (1 << ENCLOSURE_BITS)
    whole = (
        -((-scaled.numerator) // scaled.denominator)
        if upward
        else scaled.numerator // scaled.denominator
    )
    return Fraction(whole, 1 << ENCLOSURE_BITS)


def power_bounds(base: Fraction, exponent: int) -> Bounds:
    """An enclosure of base^exponent for 0 ≤ base ≤ 1 and an integer exponent ≥ 0.

    Exponentiation by squaring on intervals; after each product a bound longer than 2048 bits is
    rounded outwards (low down, high up) to a multiple of 2^-256, so any exponent costs about
    2·log2(exponent) short multiplications. When no rounding was needed the result is exact.
    """
    if not 0 <= base <= 1 or exponent < 0:
        raise RejectedError(Rejection.BAD_INPUT, "power_bounds needs 0 <= base <= 1, exponent >= 0")
    low = high = Fraction(1)
    square_low = square_high = base
    while exponent:
        if exponent & 1:
            low, high = _outward(low * square_low, False), _outward(high * square_high, True)
        exponent >>= 1
        if exponent:
            square_low = _outward(square_low * square_low, False)
            square_high = _outward(square_high * square_high, True)
    return Bounds(low, high)


def detection_bounds(sampling_rate: Fraction, deviating_jobs: int) -> Bounds:
    """An enclosure of Equation 1's 1 − (1 − α)^m (exact when short); see `theorem1`."""
    return power_bounds(1 - sampling_rate, deviating_jobs).complement()


def deviating_jobs(deviation: Fraction, jobs_per_epoch: int) -> int:
    """ref: how many of its N jobs in one epoch a worker deviating on fraction δ gets wrong:
    ⌊δ · N⌋ (E60); over T epochs it is T times that."""
    if not 0 <= deviation <= 1 or jobs_per_epoch < 0:
        raise RejectedError(Rejection.BAD_INPUT, "need 0 <= deviation <= 1, jobs_per_epoch >= 0")
    count = deviation * jobs_per_epoch
    return count.numerator // count.denominator


def worker_share(params: Params) -> Fraction:
    """Table 5's worker share of a job's fee, as a fraction."""
    return Fraction(params.fee_worker_bps, BPS)


def slash_rate(params: Params) -> Fraction:
    """Table 2's slash for a verified wrong output, as a fraction of stake."""
    return Fraction(params.slash_wrong_output_bps, BPS)


def kept_share(params: Params) -> Fraction:
    """The share of a slash the caught worker cannot win back as reporter (1 − reward share)."""
    return 1 - Fraction(params.slash_reporter_reward_bps, BPS)


def effective_slash(params: Params) -> Fraction:
    """What a caught worker with Table 6's minimum stake loses net, in ACI."""
    return params.worker_min_stake * slash_rate(params) * kept_share(params)


def revenue_per_epoch(params: Params, price: Fraction) -> Fraction:
    """R = N · price · worker share: one worker's fee income over one epoch, in ACI."""
    return params.epoch_jobs * price * worker_share(params)


def show(value: Fraction | int) -> int | str:
    """A JSON-friendly exact value: an int, or "numerator/denominator" when short, else a
    20-digit decimal prefixed by "≈"."""
    if isinstance(value, int):
        return value
    if value.denominator == 1:
        return value.numerator
    if max(value.numerator.bit_length(), value.denominator.bit_length()) <= 128:
        return f"{value.numerator}/{value.denominator}"
    return "≈" + decimal(value, 20)


def decimal(value: Fraction, places: int) -> str:
    """`value` rounded half-to-even to `places` decimals, as text (in scientific notation,
    three significant digits, when its magnitude reaches 10^15)."""
    whole = abs(value.numerator) // value.denominator
    if whole >= 10**15:
        if whole.bit_length() > 30_000:
            return "≈huge"
        digits = str(whole)
        sign = "-" if value < 0 else ""
        return f"{sign}{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"
    scaled = round(value * 10**places)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}" if places else f"{sign}{digits}"


def show_bounds(bounds: Bounds, places: int = 6) -> str:
    """An enclosure as text: the value when exact and short, else its decimal approximation."""
    if bounds.exact:
        shown = show(bounds.low)
        return str(shown) if not str(shown).startswith("≈") else "≈" + decimal(bounds.low, places)
    return "≈" + decimal(bounds.low, places)
