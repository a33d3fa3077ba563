"""ref: staking — role minimums (Table 6), required stake (Definition 1), bonding and unbonding.

A position's backing (bonded + locked) is what the role's minimum applies to. Bonding must leave
the backing at or above the required stake; unbonding must leave it at zero or at or above it,
so stake never sits partly bonded under the minimum unless a slash put it there. Unbonded stake
waits `params.unbonding_delay_ms` before it can be withdrawn, and stays slashable meanwhile.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Final

from aci_ref.economics.ledger import (
    Ledger,
    Role,
    StakePosition,
    Unbonding,
    _check_account,
    _check_positive,
    _check_role,
    _credit,
    _debit,
    _is_int,
    keeps_supply,
    stake_key,
)
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params

_MIN_STAKE_FIELD: Final = MappingProxyType(
    {
        Role.VALIDATOR: "validator_min_stake",
        Role.VERIFIER: "verifier_min_stake",
        Role.WORKER: "worker_min_stake",
        Role.LP: "lp_min_stake",
    }
)


def minimum_stake(params: Params, role: Role) -> int:
    """Table 6, §7.3: the minimum stake of each role, in ledger base units.

    Validator 100K, verifier 50K, worker 10K and LP 1K ACI (the `*_min_stake` parameters,
    in whole tokens, times `token_base_units`). Refuses UNKNOWN_ROLE.
    """
    return params.tokens(getattr(params, _MIN_STAKE_FIELD[_check_role(role)]))


def _check_capacity(role: Role, capacity: object) -> int:
    if not _is_int(capacity) or capacity < 0:
        raise RejectedError(Rejection.BAD_CAPACITY, f"capacity {capacity!r} is not an integer >= 0")
    if role is not Role.WORKER and capacity != 0:
        raise RejectedError(
            Rejection.BAD_CAPACITY, f"only workers declare capacity, not {role.value}"
        )
    return capacity


def required_stake(params: Params, role: Role, capacity: int = 0) -> int:
    """Definition 1, §2.1: the stake each node type must bond, in base units.

    Validators and verifiers: their fixed stakes (100K and 50K ACI); LPs: Table 6's 1K; clients
    bond nothing and have no role here. Workers: in proportion to declared capacity, never under
    Table 6's minimum: max(worker_min_stake, capacity × worker_stake_per_capacity_unit) tokens.
    Refuses UNKNOWN_ROLE, BAD_CAPACITY (negative, or non-zero for a role other than worker).
    """
    role = _check_role(role)
    capacity = _check_capacity(role, capacity)
    minimum = minimum_stake(params, role)
    if role is Role.WORKER:
        return max(minimum, params.tokens(capacity * params.worker_stake_per_capacity_unit))
    return minimum


def _position(ledger: Ledger, account: str, role: Role) -> StakePosition:
    position = ledger.stakes.get(stake_key(account, role))
    if position is None:
        raise RejectedError(Rejection.NO_STAKE, stake_key(account, role))
    return position


def _put(ledger: Ledger, account: str, role: Role, position: StakePosition) -> Ledger:
    # Only for changes inside one position: a ledger is checked whole at every construction.
    return replace(ledger, stakes=ledger.stakes.set(stake_key(account, role), position))


@keeps_supply()
def bond(
    ledger: Ledger,
    params: Params,
    account: str,
    role: Role,
    amount: int,
    capacity: int | None = None,
) -> Ledger:
    """ref: staking — move `amount` from the account's balance into its bonded stake for `role`.

    `capacity` (workers only) replaces the declared capacity; None keeps the current one (0 for a
    new position). The resulting backing (bonded + locked) must reach `required_stake` for the
    resulting capacity. Refuses, in order: UNKNOWN_ACCOUNT, UNKNOWN_ROLE, NON_POSITIVE_AMOUNT,
    BAD_CAPACITY, INSUFFICIENT_BALANCE, STAKE_BELOW_MINIMUM.
    """
    _check_account(ledger, account)
    role = _check_role(role)
    _check_positive(amount)
    position = ledger.stakes.get(stake_key(account, role), StakePosition())
    capacity = position.capacity if capacity is None else _check_capacity(role, capacity)
    balances = _debit(ledger, account, amount)
    bonded = replace(position, bonded=position.bonded + amount, capacity=capacity)
    required = required_stake(params, role, capacity)
    if bonded.backing < required:
        raise RejectedError(
            Rejection.STAKE_BELOW_MINIMUM,
            f"{stake_key(account, role)} would back {bonded.backing}, needs {required}",
        )
    stakes = ledger.stakes.set(stake_key(account, role), bonded)
    return replace(ledger, balances=balances, stakes=stakes)


@keeps_supply()
def set_capacity(ledger: Ledger, params: Params, account: str, role: Role, capacity: int) -> Ledger:
    """ref: staking — change a worker's declared capacity; its backing must cover the new stake.

    Refuses, in order: UNKNOWN_ACCOUNT, UNKNOWN_ROLE, BAD_CAPACITY, NO_STAKE, STAKE_BELOW_MINIMUM.
    """
    _check_account(ledger, account)
    role = _check_role(role)
    capacity = _check_capacity(role, capacity)
    position = _position(ledger, account, role)
    required = required_stake(params, role, capacity)
    if position.backing < required:
        raise RejectedError(
            Rejection.STAKE_BELOW_MINIMUM,
            f"{stake_key(account, role)} backs {position.backing}, capacity needs {required}",
        )
    return _put(ledger, account, role, replace(position, capacity=capacity))


@keeps_supply()
def unbond(
    ledger: Ledger, params: Params, account: str, role: Role, amount: int, now_ms: int
) -> Ledger:
    """ref: unbonding — start unbonding `amount` of bonded stake; withdrawable after the delay.

    The amount leaves `bonded` and joins `unbonding` as Unbonding(amount, now_ms +
    params.unbonding_delay_ms), the delay being unbonding_delay_epochs × epoch_duration_ms; it
    stays slashable until then. The backing left must be 0 (the role is left)
    or at least `required_stake`. Refuses, in order: UNKNOWN_ACCOUNT, UNKNOWN_ROLE,
    NON_POSITIVE_AMOUNT, NO_STAKE, STAKE_LOCKED (the amount exceeds bonded but not bonded +
    locked), INSUFFICIENT_STAKE (it exceeds both), STAKE_BELOW_MINIMUM.
    """
    _check_account(ledger, account)
    role = _check_role(role)
    _check_positive(amount)
    position = _position(ledger, account, role)
    key = stake_key(account, role)
    if amount > position.bonded:
        code = (
            Rejection.STAKE_LOCKED if amount <= position.backing else Rejection.INSUFFICIENT_STAKE
        )
        raise RejectedError(code, f"{key} bonded {position.bonded}, locked {position.locked}")
    left = position.backing - amount
    required = required_stake(params, role, position.capacity)
    if 0 < left < required:
        raise RejectedError(
            Rejection.STAKE_BELOW_MINIMUM,
            f"{key} would back {left}, needs {required} (unbond all or stay at the minimum)",
        )
    entry = Unbonding(amount=amount, release_at_ms=now_ms + params.unbonding_delay_ms)
    unbonding = replace(
        position, bonded=position.bonded - amount, unbonding=(*position.unbonding, entry)
    )
    return _put(ledger, account, role, unbonding)


@keeps_supply()
def withdraw(ledger: Ledger, account: str, role: Role, now_ms: int) -> Ledger:
    """ref: unbonding — pay out every unbonding entry with release_at_ms <= now_ms.

    Refuses, in order: UNKNOWN_ACCOUNT, UNKNOWN_ROLE, NO_STAKE, NOTHING_TO_WITHDRAW (no entry at
    all), UNBONDING_NOT_MATURE (entries, none mature yet). The position stays, even when empty,
    so that its `slashed` record is kept.
    """
    _check_account(ledger, account)
    role = _check_role(role)
    position = _position(ledger, account, role)
    if not position.unbonding:
        raise RejectedError(Rejection.NOTHING_TO_WITHDRAW, stake_key(account, role))
    mature = [entry for entry in position.unbonding if entry.release_at_ms <= now_ms]
    if not mature:
        first = min(entry.release_at_ms for entry in position.unbonding)
        raise RejectedError(
            Rejection.UNBONDING_NOT_MATURE, f"first release at {first} ms, now {now_ms}"
        )
    waiting = tuple(entry for entry in position.unbonding if entry.release_at_ms > now_ms)
    paid = sum(entry.amount for entry in mature)
    stakes = ledger.stakes.set(stake_key(account, role), replace(position, unbonding=waiting))
    return replace(ledger, balances=_credit(ledger.balances, account, paid), stakes=stakes)


@keeps_supply()
def lock_stake(ledger: Ledger, account: str, role: Role, amount: int) -> Ledger:
    """ref: staking — pledge `amount` of bonded stake: it moves to `locked`, backs, cannot unbond.

    Refuses, in order: UNKNOWN_ACCOUNT, UNKNOWN_ROLE, NON_POSITIVE_AMOUNT, NO_STAKE,
    INSUFFICIENT_STAKE (more than bonded).
    """
    _check_account(ledger, account)
    role = _check_role(role)
    _check_positive(amount)
    position = _position(ledger, account, role)
    if amount > position.bonded:
        raise RejectedError(
            Rejection.INSUFFICIENT_STAKE, f"{stake_key(account, role)} bonded {position.bonded}"
        )
    locked = replace(position, bonded=position.bonded - amount, locked=position.locked + amount)
    return _put(ledger, account, role, locked)


@keeps_supply()
def unlock_stake(ledger: Ledger, account: str, role: Role, amount: int) -> Ledger:
    """ref: staking — release `amount` of locked stake back to bonded.

    Refuses, in order: UNKNOWN_ACCOUNT, UNKNOWN_ROLE, NON_POSITIVE_AMOUNT, NO_STAKE,
    INSUFFICIENT_STAKE (more than locked).
    """
    _check_account(ledger, account)
    role = _check_role(role)
    _check_positive(amount)
    position = _position(ledger, account, role)
    if amount > position.locked:
        raise RejectedError(
            Rejection.INSUFFICIENT_STAKE, f"{stake_key(account, role)} locked {position.locked}"
        )
    bonded = replace(position, bonded=position.bonded + amount, locked=position.locked - amount)
    return _put(ledger, account, role, bonded)


def is_active(ledger: Ledger, params: Params, account: str, role: Role) -> bool:
    """ref: staking — whether the account may act in `role`: its backing reaches the required stake.

    False when there is no position. Refuses UNKNOWN_ROLE only.
    """
    role = _check_role(role)
    position = ledger.stakes.get(stake_key(account, role))
    if position is None:
        return False
    return position.backing >= required_stake(params, role, position.capacity)
