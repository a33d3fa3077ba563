"""ref: proofs — economic sanity of a parameters file (Tables 2, 5 and 6, and E15).

These are plain exact checks, no solver needed; each reports the offending values.

- Table 5: the five fee shares are each in [0, 10000] bps and sum to exactly 10000 bps, so
  a fee split neither creates nor loses tokens. (The loader refuses such a file already; the
  check also covers `Params` built in code, e.g. with `dataclasses.replace`.)
- Table 2 (and E11, E12): every slash share is in [0, 10000] bps — no slash above the stake,
  no reward above the slash.
- E15: stake stays slashable for at least one epoch after it starts unbonding. In the game of
  Proposition 5 a skipped job's detection lands by the end of its epoch; with no delay a worker
  could unbond and withdraw between the skip and the slash.

The incentive statements over ranges of revenue and savings — "Table 6's stakes make lazy
computation unprofitable" and "the expected slash covers the savings over the horizon" — are
`proofs.proposition5` (exact best-response condition; horizon-free) and `proofs.theorem3`
(Equation 4 with savings over the horizon; by the worst-case lemma it then holds for every
shorter horizon too). Their ranges are every price the HMM quotes (`proofs.prices`, E68) and
`proofs.model.COST_RATIO_MAX`.
"""

from __future__ import annotations

from typing import Final

from aci_ref.params import BPS, Params
from proofs.result import CheckResult

FEE_KEYS: Final = (
    "fee_worker_bps",
    "fee_validators_bps",
    "fee_verifiers_bps",
    "fee_lps_bps",
    "fee_burn_bps",
)
SLASH_KEYS: Final = (
    "slash_wrong_output_bps",
    "slash_invalid_attestation_bps",
    "slash_timeout_bps",
    "slash_low_quality_bps_per_epoch",
    "slash_sybil_bps",
    "slash_false_accusation_bps",
    "slash_missed_fault_bps",
    "slash_reporter_reward_bps",
)
MIN_UNBONDING_EPOCHS: Final = 1
"""ref: the detection of a skipped job lands by the end of its epoch (Proposition 5's game)."""


def check_fee_shares(params: Params) -> CheckResult:
    """ref: Table 5, §7.2 sanity — fee shares in [0, 10000] bps summing to 10000 bps."""
    shares = {key: int(getattr(params, key)) for key in FEE_KEYS}
    total = sum(shares.values())
    holds = total == BPS and all(0 <= value <= BPS for value in shares.values())
    counterexample: dict[str, int | str | bool] | None = None
    if not holds:
        counterexample = {**shares, "sum": total}
    return CheckResult(
        "fees.whole",
        "Table 5: the five fee shares are each within [0, 10000] bps and sum to 10000 bps",
        holds,
        True,
        counterexample,
        f"sum {total} bps",
    )


def check_slash_shares(params: Params) -> CheckResult:
    """ref: Table 2, §3.5 sanity — every slash share within [0, 10000] bps."""
    shares = {key: int(getattr(params, key)) for key in SLASH_KEYS}
    bad: dict[str, int | str | bool] = {k: v for k, v in shares.items() if not 0 <= v <= BPS}
    return CheckResult(
        "slashing.range",
        "Table 2: every slash share (and the reporter's reward share) is within [0, 10000] bps",
        not bad,
        True,
        bad or None,
        f"{len(SLASH_KEYS)} shares checked",
    )


def check_unbonding(params: Params) -> CheckResult:
    """ref: E15 sanity — unbonding stake stays slashable until a detection can land."""
    delay = params.unbonding_delay_epochs
    holds = delay >= MIN_UNBONDING_EPOCHS
    return CheckResult(
        "unbonding.delay",
        "E15: unbonding stake stays slashable for at least the one epoch a detection takes",
        holds,
        True,
        None if holds else {"unbonding_delay_epochs": delay, "needed": MIN_UNBONDING_EPOCHS},
        f"{delay} epochs (detection horizon {params.detection_horizon_epochs})",
    )
