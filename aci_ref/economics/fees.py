"""ref: fees — Table 5's fee split, pro-rata division, and settlement of a job's escrow.

Every division is floor division on integers; what the floors leave over goes to a named
recipient: the worker for the fee split, the largest weight for a pro-rata division.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import immutables

from aci_ref.economics.ledger import (
    Ledger,
    _check_account,
    _check_non_negative,
    _escrow,
    keeps_supply,
)
from aci_ref.errors import ParamsError, RejectedError, Rejection
from aci_ref.params import BPS, Params

FEE_SHARE_FIELDS = (
    "fee_worker_bps",
    "fee_validators_bps",
    "fee_verifiers_bps",
    "fee_lps_bps",
    "fee_burn_bps",
)
"""The five Table 5 shares, in the order of `FeeSplit`'s fields."""


@dataclass(frozen=True, slots=True)
class FeeSplit:
    """ref: fees — one fee divided as Table 5 says, in base units (sums exactly to the fee)."""

    worker: int
    validators: int
    verifiers: int
    lps: int
    burned: int

    @property
    def total(self) -> int:
        """The sum of the five shares (equal to the fee that was split)."""
        return self.worker + self.validators + self.verifiers + self.lps + self.burned


def check_fee_shares(params: Params) -> None:
    """ref: fees — refuse a parameter set whose Table 5 shares are not five bps making a whole.

    Raises ParamsError: PARAMS_OUT_OF_RANGE (a share outside [0, 10000] or not an integer),
    PARAMS_FEE_SHARES_NOT_WHOLE (the shares do not sum to 10000). `load_params` already checks
    this; `dataclasses.replace` on a Params does not, so the split checks again.
    """
    for name in FEE_SHARE_FIELDS:
        value = getattr(params, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= BPS:
            raise ParamsError(
                Rejection.PARAMS_OUT_OF_RANGE, name, f"{value!r} is not in [0, {BPS}]"
            )
    total = sum(getattr(params, name) for name in FEE_SHARE_FIELDS)
    if total != BPS:
        raise ParamsError(
            Rejection.PARAMS_FEE_SHARES_NOT_WHOLE, "fee_worker_bps", f"shares sum to {total} bps"
        )


def fee_split(params: Params, amount: int) -> FeeSplit:
    """Table 5, §7.2: fee distribution — worker 80, validators 8, verifiers 5, LPs 4, burn 3 %.

    Rounding: validators, verifiers, LPs and burn each get floor(amount × bps / 10000); the
    worker gets the rest, amount − (those four), which is its own floor plus the remainder
    (0 to 4 base units). The five parts sum exactly to `amount`. Refuses NON_POSITIVE_AMOUNT
    (negative or non-integer amount; zero splits into zeros) and the ParamsError codes of
    `check_fee_shares`.
    """
    _check_non_negative(amount)
    check_fee_shares(params)
    validators = amount * params.fee_validators_bps // BPS
    verifiers = amount * params.fee_verifiers_bps // BPS
    lps = amount * params.fee_lps_bps // BPS
    burned = amount * params.fee_burn_bps // BPS
    worker = amount - validators - verifiers - lps - burned
    return FeeSplit(
        worker=worker, validators=validators, verifiers=verifiers, lps=lps, burned=burned
    )


def pro_rata(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """ref: pro rata — divide `amount` among ids in proportion to integer weights, exactly.

    Each id gets floor(amount × weight / total weight); the remainder (fewer base units than
    there are ids) goes whole to the id with the largest weight, ties broken by the smallest id
    (Unicode code-point order, which is also UTF-8 byte order). The result lists every id, in
    sorted order, zero weights getting 0, and sums exactly to `amount`. Refuses, in order:
    NON_POSITIVE_AMOUNT (negative amount, or a negative or non-integer weight),
    EMPTY_RECIPIENT_SET (no ids, or every weight 0).
    """
    _check_non_negative(amount)
    ids = sorted(weights)
    for name in ids:
        _check_non_negative(weights[name], f"weight of {name!r}")
    total = sum(weights[name] for name in ids)
    if total == 0:
        raise RejectedError(Rejection.EMPTY_RECIPIENT_SET, "no recipient with a positive weight")
    shares = {name: amount * weights[name] // total for name in ids}
    heaviest = min(ids, key=lambda name: (-weights[name], name))
    shares[heaviest] += amount - sum(shares.values())
    return shares


@dataclass(frozen=True, slots=True)
class Payouts:
    """ref: settlement — what one settlement pays each account, and what it burns."""

    split: FeeSplit
    credits: immutables.Map[str, int]
    burned: int


def settlement_payouts(
    params: Params,
    amount: int,
    worker: str,
    validators: Mapping[str, int],
    verifiers: Mapping[str, int],
    lps: Mapping[str, int],
) -> Payouts:
    """ref: settlement — Table 5's split of `amount`, each group divided pro rata by weight.

    A group with no member of positive weight cannot be paid: its share is burned with the burn
    share (errata E31). An account appearing in several places receives the sum.
    """
    split = fee_split(params, amount)
    credits: dict[str, int] = {worker: split.worker}
    burned = split.burned
    for share, group in (
        (split.validators, validators),
        (split.verifiers, verifiers),
        (split.lps, lps),
    ):
        for name in sorted(group):
            _check_non_negative(group[name], f"weight of {name!r}")
        if sum(group.values()) == 0:
            burned += share
            continue
        for name, paid in pro_rata(share, group).items():
            credits[name] = credits.get(name, 0) + paid
    return Payouts(split=split, credits=immutables.Map(credits), burned=burned)


@keeps_supply(pair=True)
def settle_escrow(
    ledger: Ledger,
    params: Params,
    escrow_id: str,
    worker: str,
    validators: Mapping[str, int],
    verifiers: Mapping[str, int],
    lps: Mapping[str, int],
) -> tuple[Ledger, FeeSplit]:
    """ref: settlement — release a whole escrow as Table 5 says (see `settlement_payouts`).

    The worker, every group member of positive weight and the burn are paid; the escrow closes.
    Returns the new ledger and Table 5's split of the escrowed amount. Refuses, in order:
    UNKNOWN_ESCROW, UNKNOWN_ACCOUNT (the worker, then group members in sorted order),
    NON_POSITIVE_AMOUNT (a negative or non-integer weight).
    """
    escrow = _escrow(ledger, escrow_id)
    _check_account(ledger, worker)
    for group in (validators, verifiers, lps):
        for name in sorted(group):
            _check_account(ledger, name)
    payouts = settlement_payouts(params, escrow.amount, worker, validators, verifiers, lps)
    balances = ledger.balances
    for name in sorted(payouts.credits):
        balances = balances.set(name, balances[name] + payouts.credits[name])
    settled = replace(
        ledger,
        balances=balances,
        escrow=ledger.escrow.delete(escrow_id),
        burned=ledger.burned + payouts.burned,
    )
    return settled, payouts.split
