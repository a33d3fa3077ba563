"""ref: ledger — accounts, stake positions, escrow and the conservation law of the ACI token.

The ledger is one immutable value. Every transition takes a ledger and returns a new one, or
raises `RejectedError` and leaves the ledger it was given as it was. Tokens are counted in base
units (`Params.tokens`) and never created after genesis: balances, stake (bonded, locked and
unbonding), escrow and the burned total always add up to the genesis supply. Burning moves
tokens into `burned`; it does not shrink `supply`.

Checks run in a fixed order (identifiers, then amounts, then funds) so that another
implementation refuses the same input for the same reason; spec/economics.md lists the order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final, TypeGuard

import icontract
import immutables

from aci_ref.contracts import CONTRACTS_ON
from aci_ref.economics.records import Role as Role
from aci_ref.economics.records import SlashRecord
from aci_ref.errors import InvariantViolation, RejectedError, Rejection

KEY_SEPARATOR = "/"
"""Separates account and role in a stake key ("alice/worker"); account names may not hold it."""


@dataclass(frozen=True, slots=True)
class Unbonding:
    """ref: unbonding — stake leaving a role: slashable until `release_at_ms`, then withdrawable."""

    amount: int
    release_at_ms: int


@dataclass(frozen=True, slots=True)
class StakePosition:
    """ref: ledger — one account's stake in one role.

    `bonded` backs the role and can be unbonded; `locked` also backs the role but is pledged
    (for example to in-flight jobs) and cannot be unbonded until unlocked; `unbonding` is stake
    on its way out, oldest first; `slashed` is the total ever taken by slashes (a record, not a
    holding). `capacity` is the worker's declared capacity (0 for the other roles).
    """

    bonded: int = 0
    locked: int = 0
    capacity: int = 0
    unbonding: tuple[Unbonding, ...] = ()
    slashed: int = 0

    @property
    def backing(self) -> int:
        """Stake that backs the role now: bonded plus locked (what Table 6's minimum applies to)."""
        return self.bonded + self.locked

    @property
    def unbonding_total(self) -> int:
        """Stake on its way out, not yet withdrawn."""
        return sum(entry.amount for entry in self.unbonding)

    @property
    def held(self) -> int:
        """Every token this position holds: bonded, locked and unbonding (all slashable)."""
        return self.bonded + self.locked + self.unbonding_total


@dataclass(frozen=True, slots=True)
class Escrow:
    """ref: escrow — a client's payment held for one job until it is settled or refunded."""

    payer: str
    amount: int


def held_total(ledger: Ledger) -> int:
    """ref: ledger — the conservation sum: balances + stake + escrow + burned (equals supply)."""
    return (
        sum(ledger.balances.values())
        + sum(position.held for position in ledger.stakes.values())
        + sum(escrow.amount for escrow in ledger.escrow.values())
        + ledger.burned
    )


def negative_amounts(ledger: Ledger) -> list[str]:
    """ref: ledger — every amount of the ledger that is negative, named (empty when none is)."""
    found: list[str] = []
    if ledger.supply < 0:
        found.append("supply")
    if ledger.burned < 0:
        found.append("burned")
    found += [f"balance {name}" for name, value in ledger.balances.items() if value < 0]
    for key, position in ledger.stakes.items():
        for part in ("bonded", "locked", "capacity", "slashed"):
            if getattr(position, part) < 0:
                found.append(f"{part} of {key}")
        found += [f"unbonding of {key}" for entry in position.unbonding if entry.amount < 0]
    found += [f"escrow {name}" for name, escrow in ledger.escrow.items() if escrow.amount < 0]
    return found


# ---- the invariant, checked at every construction, at the cost of what changed ---------------
#
# A transition replaces one or two of the ledger's maps and keeps the others (and, inside a
# replaced stakes map, every position but one or two). The maps and positions are immutable, so
# what each holds and whether it holds a negative amount is computed once per object and
# remembered by identity (a bounded memo that keeps the object alive, so an id is never reused
# while it is remembered). The invariant below is still the whole law, over every amount; it is
# only not recomputed for the parts that did not change. `invariants.check_ledger` recomputes
# everything from scratch, for the state machine's checks after every step.

_MEMO_SIZE: Final = 4096
_Sums = tuple[int, bool]
"""What a part of the ledger holds, and whether any amount in it is negative."""


def _remembered(compute: Callable[[Any], _Sums]) -> Callable[[Any], _Sums]:
    """`compute` memoized by the identity of immutable parts (persistent maps and positions)."""
    memo: dict[int, tuple[object, _Sums]] = {}

    def sums(part: Any) -> _Sums:
        if type(part) not in (immutables.Map, StakePosition):
            return compute(part)
        entry = memo.get(id(part))
        if entry is not None and entry[0] is part:
            return entry[1]
        found = compute(part)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[id(part)] = (part, found)
        return found

    return sums


@_remembered
def _balance_sums(balances: Mapping[str, int]) -> _Sums:
    values = balances.values()
    return sum(values), min(values, default=0) < 0


@_remembered
def _position_sums(position: StakePosition) -> _Sums:
    unbonding = [entry.amount for entry in position.unbonding]
    negative = (
        position.bonded < 0
        or position.locked < 0
        or position.capacity < 0
        or position.slashed < 0
        or min(unbonding, default=0) < 0
    )
    return position.bonded + position.locked + sum(unbonding), negative


@_remembered
def _stake_sums(stakes: Mapping[str, StakePosition]) -> _Sums:
    total, negative = 0, False
    for position in stakes.values():
        held, below = _position_sums(position)
        total += held
        negative = negative or below
    return total, negative


@_remembered
def _escrow_sums(escrow: Mapping[str, Escrow]) -> _Sums:
    amounts = [entry.amount for entry in escrow.values()]
    return sum(amounts), min(amounts, default=0) < 0


def _conserved(ledger: Ledger) -> bool:
    """balances + stake + escrow + burned == supply (the same sum as `held_total`)."""
    held = (
        _balance_sums(ledger.balances)[0]
        + _stake_sums(ledger.stakes)[0]
        + _escrow_sums(ledger.escrow)[0]
        + ledger.burned
    )
    return held == ledger.supply


def _non_negative(ledger: Ledger) -> bool:
    """No amount is negative (the same amounts `negative_amounts` names)."""
    return (
        ledger.supply >= 0
        and ledger.burned >= 0
        and not _balance_sums(ledger.balances)[1]
        and not _stake_sums(ledger.stakes)[1]
        and not _escrow_sums(ledger.escrow)[1]
    )


@icontract.invariant(
    lambda self: _non_negative(self),
    "no amount is negative",
    enabled=CONTRACTS_ON,
    error=InvariantViolation,
)
@icontract.invariant(
    lambda self: _conserved(self),
    "balances + stake + escrow + burned == supply",
    enabled=CONTRACTS_ON,
    error=InvariantViolation,
)
@dataclass(frozen=True, slots=True)
class Ledger:
    """ref: ledger — the token ledger: balances, stake positions, escrow, burned total.

    Conservation: sum(balances) + sum(bonded + locked + unbonding of every position)
    + sum(escrow) + burned == supply, and no amount is negative. Stake positions are keyed
    "account/role"; `evidence_used` maps the hex of every evidence id already used by a slash
    to the slash it caused, so one piece of evidence slashes once.
    """

    supply: int
    balances: immutables.Map[str, int]
    stakes: immutables.Map[str, StakePosition]
    escrow: immutables.Map[str, Escrow]
    burned: int
    evidence_used: immutables.Map[str, SlashRecord]

    # A frozen slotted dataclass gets generated pickling hooks that icontract cannot wrap;
    # these two say the same thing under the names icontract expects.
    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for f, value in zip(fields(self), state, strict=True):
            object.__setattr__(self, f.name, value)


# ---- validation shared by the economics modules ----------------------------------------------


def _check_name(name: object, what: str = "account") -> str:
    if not isinstance(name, str) or not name or KEY_SEPARATOR in name:
        raise RejectedError(
            Rejection.BAD_IDENTIFIER, f"{what} {name!r}: a non-empty string without '/'"
        )
    return name


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_positive(amount: object, what: str = "amount") -> int:
    if not _is_int(amount) or amount <= 0:
        raise RejectedError(
            Rejection.NON_POSITIVE_AMOUNT, f"{what} {amount!r} is not a positive integer"
        )
    return amount


def _check_non_negative(amount: object, what: str = "amount") -> int:
    if not _is_int(amount) or amount < 0:
        raise RejectedError(
            Rejection.NON_POSITIVE_AMOUNT, f"{what} {amount!r} is not an integer >= 0"
        )
    return amount


def _check_account(ledger: Ledger, account: object) -> str:
    if not isinstance(account, str) or account not in ledger.balances:
        raise RejectedError(Rejection.UNKNOWN_ACCOUNT, repr(account))
    return account


def _check_role(role: object) -> Role:
    if isinstance(role, str) and role in _ROLE_VALUES:
        return Role(role)
    raise RejectedError(Rejection.UNKNOWN_ROLE, repr(role))


_ROLE_VALUES = frozenset(role.value for role in Role)


def stake_key(account: str, role: Role) -> str:
    """ref: ledger — the key of a stake position: "account/role"."""
    return f"{account}{KEY_SEPARATOR}{Role(role).value}"


def _debit(ledger: Ledger, account: str, amount: int) -> immutables.Map[str, int]:
    balance = ledger.balances[account]
    if balance < amount:
        raise RejectedError(
            Rejection.INSUFFICIENT_BALANCE, f"{account} holds {balance}, needs {amount}"
        )
    return ledger.balances.set(account, balance - amount)


def _credit(
    balances: immutables.Map[str, int], account: str, amount: int
) -> immutables.Map[str, int]:
    return balances.set(account, balances[account] + amount)


def _supply_kept(ledger: Ledger, result: Ledger) -> bool:
    return result.supply == ledger.supply


def _supply_kept_in_pair(ledger: Ledger, result: tuple[Ledger, object]) -> bool:
    return result[0].supply == ledger.supply


def keeps_supply(*, pair: bool = False) -> icontract.ensure:
    """ref: ledger — postcondition: a transition never changes the supply (only genesis sets it).

    `pair` is for transitions that return (ledger, record).
    """
    condition = _supply_kept_in_pair if pair else _supply_kept
    return icontract.ensure(
        condition, "supply unchanged", enabled=CONTRACTS_ON, error=InvariantViolation
    )


# ---- transitions ----------------------------------------------------------------------------


@icontract.ensure(
    lambda allocations, result: result.supply == sum(allocations.values()),
    "supply is the sum of the allocations",
    enabled=CONTRACTS_ON,
    error=InvariantViolation,
)
def genesis(allocations: Mapping[str, int]) -> Ledger:
    """ref: ledger — the first ledger: each account starts with its allocation; supply is their sum.

    Refuses a bad account name (BAD_IDENTIFIER) or a negative or non-integer allocation
    (NON_POSITIVE_AMOUNT); a zero allocation opens an empty account.
    """
    balances: dict[str, int] = {}
    for name in sorted(allocations):
        _check_name(name)
        balances[name] = _check_non_negative(allocations[name], f"allocation of {name}")
    return Ledger(
        supply=sum(balances.values()),
        balances=immutables.Map(balances),
        stakes=immutables.Map(),
        escrow=immutables.Map(),
        burned=0,
        evidence_used=immutables.Map(),
    )


@keeps_supply()
def open_account(ledger: Ledger, account: str) -> Ledger:
    """ref: ledger — open an empty account. Refuses BAD_IDENTIFIER, ACCOUNT_EXISTS."""
    _check_name(account)
    if account in ledger.balances:
        raise RejectedError(Rejection.ACCOUNT_EXISTS, account)
    return replace(ledger, balances=ledger.balances.set(account, 0))


@keeps_supply()
def transfer(ledger: Ledger, src: str, dst: str, amount: int) -> Ledger:
    """ref: ledger — move `amount` from `src` to `dst`.

    Refuses, in order: UNKNOWN_ACCOUNT (src, then dst), NON_POSITIVE_AMOUNT, INSUFFICIENT_BALANCE.
    A transfer to oneself is allowed and changes nothing.
    """
    _check_account(ledger, src)
    _check_account(ledger, dst)
    _check_positive(amount)
    balances = _credit(_debit(ledger, src, amount), dst, amount)
    return replace(ledger, balances=balances)


@keeps_supply()
def escrow_lock(ledger: Ledger, escrow_id: str, payer: str, amount: int) -> Ledger:
    """ref: escrow — move `amount` from `payer`'s balance into a new escrow `escrow_id`.

    Refuses, in order: BAD_IDENTIFIER (empty id), ESCROW_EXISTS, UNKNOWN_ACCOUNT,
    NON_POSITIVE_AMOUNT, INSUFFICIENT_BALANCE.
    """
    if not isinstance(escrow_id, str) or not escrow_id:
        raise RejectedError(Rejection.BAD_IDENTIFIER, f"escrow id {escrow_id!r}")
    if escrow_id in ledger.escrow:
        raise RejectedError(Rejection.ESCROW_EXISTS, escrow_id)
    _check_account(ledger, payer)
    _check_positive(amount)
    return replace(
        ledger,
        balances=_debit(ledger, payer, amount),
        escrow=ledger.escrow.set(escrow_id, Escrow(payer=payer, amount=amount)),
    )


@keeps_supply()
def escrow_refund(ledger: Ledger, escrow_id: str) -> Ledger:
    """ref: escrow — close escrow `escrow_id`, returning all of it to its payer. UNKNOWN_ESCROW."""
    escrow = _escrow(ledger, escrow_id)
    return replace(
        ledger,
        balances=_credit(ledger.balances, escrow.payer, escrow.amount),
        escrow=ledger.escrow.delete(escrow_id),
    )


@keeps_supply()
def escrow_burn(ledger: Ledger, escrow_id: str, amount: int) -> Ledger:
    """ref: escrow — close escrow `escrow_id`, burning `amount` of it and refunding the rest.

    Refuses UNKNOWN_ESCROW, and NON_POSITIVE_AMOUNT unless 0 ≤ amount ≤ the escrowed amount.
    """
    escrow = _escrow(ledger, escrow_id)
    if not _is_int(amount) or not 0 <= amount <= escrow.amount:
        raise RejectedError(Rejection.NON_POSITIVE_AMOUNT, f"burn {amount!r} of {escrow.amount}")
    balances = ledger.balances
    if escrow.amount > amount:
        balances = _credit(balances, escrow.payer, escrow.amount - amount)
    return replace(
        ledger,
        balances=balances,
        escrow=ledger.escrow.delete(escrow_id),
        burned=ledger.burned + amount,
    )


def _escrow(ledger: Ledger, escrow_id: str) -> Escrow:
    escrow = ledger.escrow.get(escrow_id) if isinstance(escrow_id, str) else None
    if escrow is None:
        raise RejectedError(Rejection.UNKNOWN_ESCROW, repr(escrow_id))
    return escrow
