"""Level 3 of Algorithm 2: the worker quality score, a moving average in basis points."""

from __future__ import annotations

from fractions import Fraction
from typing import Final

import icontract

from aci_ref.contracts import CONTRACTS_ON
from aci_ref.errors import InvariantViolation, RejectedError, Rejection
from aci_ref.params import BPS, Params

INITIAL_QUALITY_BPS: Final = BPS
"""ref: Level 3 start (errata E54) — a new worker starts at full quality, 10000 bps."""


def _in_range(value: int) -> bool:
    return 0 <= value <= BPS


def _moves_toward(q_bps: int, result_bps: int, new_bps: int) -> bool:
    """The Level-3 rule: the new score lies between the old one and the result, inclusive."""
    return min(q_bps, result_bps) <= new_bps <= max(q_bps, result_bps)


@icontract.require(lambda q_bps: _in_range(q_bps), enabled=CONTRACTS_ON, error=InvariantViolation)
@icontract.require(
    lambda result_bps: _in_range(result_bps), enabled=CONTRACTS_ON, error=InvariantViolation
)
@icontract.ensure(
    lambda q_bps, result_bps, result: _moves_toward(q_bps, result_bps, result),
    "the score moves toward the result and never past it",
    enabled=CONTRACTS_ON,
    error=InvariantViolation,
)
def _ema(rate: Fraction, q_bps: int, result_bps: int) -> int:
    step = rate * (result_bps - q_bps)
    # round the step away from zero: toward the result, at least 1 bps unless already there
    whole = (
        -((-step.numerator) // step.denominator) if step > 0 else step.numerator // step.denominator
    )
    return q_bps + whole


def update_quality(params: Params, q_bps: int, result_bps: int) -> int:
    """Algorithm 2 Level 3, §3.3: q ← r·result + (1 − r)·q with r = quality_ema_rate, in bps.

    Exactly: q' = q + R(r · (result − q)), where R rounds the step away from zero (up when the
    result is above q, down when below). The score therefore always moves toward the result by at
    least 1 bps until it equals it, and never overshoots: q' lies between q and result. r is
    `quality_ema_rate`, not the sampling α (errata E1). Refuses scores outside [0, 10000] with
    `bad_input`.
    """
    if not (_in_range(q_bps) and _in_range(result_bps)):
        raise RejectedError(Rejection.BAD_INPUT, f"scores must lie in [0, {BPS}] bps")
    return _ema(params.quality_ema_rate, q_bps, result_bps)


def below_threshold(params: Params, q_bps: int) -> bool:
    """Table 2 row Quality, §3.5: q_bps / 10000 < quality_threshold, decided in integers."""
    threshold = params.quality_threshold
    return q_bps * threshold.denominator < threshold.numerator * BPS
