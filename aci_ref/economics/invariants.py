"""ref: ledger invariants — the checks the state machine runs after every step.

Each checker raises `InvariantViolation` naming what broke; none of them can be satisfied by a
ledger built through the API breaking a rule, and the unit tests plant each fault to show the
checker fails on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from aci_ref.economics.fees import FeeSplit, check_fee_shares, fee_split
from aci_ref.economics.ledger import (
    KEY_SEPARATOR,
    Ledger,
    Role,
    StakePosition,
    held_total,
    negative_amounts,
)
from aci_ref.economics.staking import required_stake
from aci_ref.errors import InvariantViolation, RejectedError
from aci_ref.params import Params


def check_conservation(ledger: Ledger) -> None:
    """ref: ledger invariants — balances + stake + escrow + burned == supply."""
    total = held_total(ledger)
    if total != ledger.supply:
        raise InvariantViolation(f"ledger holds {total} base units, supply is {ledger.supply}")


def check_non_negative(ledger: Ledger) -> None:
    """ref: ledger invariants — no balance, stake part, escrow, supply or burned is negative."""
    found = negative_amounts(ledger)
    if found:
        raise InvariantViolation("negative amounts: " + ", ".join(found))


def check_structure(ledger: Ledger) -> None:
    """ref: ledger invariants — keys name known accounts and roles; entries hold something.

    Every stake key is "account/role" for an open account and a known role; every unbonding entry
    and escrow is positive; every escrow's payer is an open account.
    """
    for key, position in ledger.stakes.items():
        account, _, role = key.rpartition(KEY_SEPARATOR)
        if account not in ledger.balances or role not in set(Role):
            raise InvariantViolation(f"stake key {key!r} names no open account and role")
        if any(entry.amount <= 0 for entry in position.unbonding):
            raise InvariantViolation(f"{key} has an empty unbonding entry")
    for escrow_id, escrow in ledger.escrow.items():
        if escrow.amount <= 0 or escrow.payer not in ledger.balances:
            raise InvariantViolation(f"escrow {escrow_id!r} is empty or has no open payer")


def check_fee_split(params: Params, amount: int, split: FeeSplit) -> None:
    """ref: ledger invariants — a fee split sums exactly to its fee and follows Table 5's rounding.

    Each of validators, verifiers, LPs and burn must be floor(amount × bps / 10000) and the
    worker the rest, so every part is at least zero and the parts sum to `amount`.
    """
    if split.total != amount:
        raise InvariantViolation(f"fee split {split} sums to {split.total}, not {amount}")
    if min(split.worker, split.validators, split.verifiers, split.lps, split.burned) < 0:
        raise InvariantViolation(f"fee split {split} has a negative part")
    try:
        expected = fee_split(params, amount)
    except RejectedError as error:
        raise InvariantViolation(f"fee split of {amount} cannot be computed: {error}") from error
    if split != expected:
        raise InvariantViolation(f"fee split {split} is not Table 5's split {expected}")


def check_params_fee_shares(params: Params) -> None:
    """ref: ledger invariants — Table 5's five shares are each in [0, 10000] and sum to 10000."""
    try:
        check_fee_shares(params)
    except RejectedError as error:
        raise InvariantViolation(f"fee shares do not make a whole: {error}") from error


def check_stake_minimums(
    ledger: Ledger, params: Params, active: Iterable[str] | None = None
) -> None:
    """ref: ledger invariants — no active stake below its minimum.

    Two rules. (1) A position that was never slashed backs either nothing or at least its
    required stake: bonding and unbonding never leave it partly under the minimum. (2) Every
    stake key in `active` (the positions the caller lets act, e.g. registered workers) has a
    backing of at least its required stake.
    """
    for key, position in ledger.stakes.items():
        if position.slashed == 0 and 0 < position.backing < _required(params, key, position):
            raise InvariantViolation(
                f"{key} backs {position.backing}, under its minimum, and was never slashed"
            )
    for key in sorted(active or ()):
        found = ledger.stakes.get(key)
        if found is None:
            raise InvariantViolation(f"{key} is active without a stake position")
        required = _required(params, key, found)
        if found.backing < required:
            raise InvariantViolation(f"{key} is active backing {found.backing} < {required}")


def _required(params: Params, key: str, position: StakePosition) -> int:
    role = key.rpartition(KEY_SEPARATOR)[2]
    try:
        return required_stake(params, Role(role), position.capacity)
    except (ValueError, RejectedError) as error:
        raise InvariantViolation(f"{key}: no required stake ({error})") from error


def check_ledger(ledger: Ledger, params: Params) -> None:
    """ref: ledger invariants — every ledger-wide check at once.

    Conservation, no negative amount, structure, Table 5's shares making a whole, and rule (1)
    of `check_stake_minimums`.
    """
    check_non_negative(ledger)
    check_conservation(ledger)
    check_structure(ledger)
    check_params_fee_shares(params)
    check_stake_minimums(ledger, params)
