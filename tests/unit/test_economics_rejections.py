"""Every refusal of the economics core: its Rejection code, and the ledger left as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from aci_ref.crypto import sha256
from aci_ref.economics import (
    Evidence,
    Ledger,
    Role,
    Violation,
    bond,
    escrow_lock,
    escrow_refund,
    fee_split,
    genesis,
    lock_stake,
    open_account,
    pro_rata,
    required_stake,
    set_capacity,
    settle_escrow,
    slash,
    transfer,
    unbond,
    unlock_stake,
    withdraw,
)
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import ParamsError, RejectedError, Rejection
from tests.properties.test_economics import small_params

P = small_params()
PROOF = sha256(b"proof of a wrong output")


def base() -> Ledger:
    """a: worker (capacity 5, 30 bonded, 10 of them locked, 20 unbonding); b: poor; j: escrow."""
    ledger = genesis({"a": 1_000, "b": 5, "v": 200})
    ledger = bond(ledger, P, "a", Role.WORKER, 50, 5)
    ledger = unbond(ledger, P, "a", Role.WORKER, 20, 0)
    ledger = lock_stake(ledger, "a", Role.WORKER, 10)
    ledger = bond(ledger, P, "v", Role.VERIFIER, 60)
    return escrow_lock(ledger, "j", "a", 100)


def used() -> Ledger:
    """`base` after one slash, so its evidence id is spent."""
    return slash(base(), P, Evidence(Violation.TIMEOUT, "a", Role.WORKER, PROOF))[0]


Call = Callable[[Ledger], object]
CASES: list[tuple[str, Callable[[], Ledger], Call, Rejection]] = [
    ("open existing", base, lambda s: open_account(s, "a"), Rejection.ACCOUNT_EXISTS),
    ("open bad name", base, lambda s: open_account(s, "x/y"), Rejection.BAD_IDENTIFIER),
    ("open empty name", base, lambda s: open_account(s, ""), Rejection.BAD_IDENTIFIER),
    ("transfer from unknown", base, lambda s: transfer(s, "z", "a", 1), Rejection.UNKNOWN_ACCOUNT),
    ("transfer to unknown", base, lambda s: transfer(s, "a", "z", 1), Rejection.UNKNOWN_ACCOUNT),
    ("transfer zero", base, lambda s: transfer(s, "a", "b", 0), Rejection.NON_POSITIVE_AMOUNT),
    ("transfer negative", base, lambda s: transfer(s, "a", "b", -3), Rejection.NON_POSITIVE_AMOUNT),
    ("transfer float", base, lambda s: transfer(s, "a", "b", 1.5), Rejection.NON_POSITIVE_AMOUNT),  # type: ignore[arg-type]
    ("transfer too much", base, lambda s: transfer(s, "b", "a", 6), Rejection.INSUFFICIENT_BALANCE),
    ("bond unknown", base, lambda s: bond(s, P, "z", Role.LP, 5), Rejection.UNKNOWN_ACCOUNT),
    ("bond bad role", base, lambda s: bond(s, P, "a", "client", 5), Rejection.UNKNOWN_ROLE),  # type: ignore[arg-type]
    ("bond zero", base, lambda s: bond(s, P, "a", Role.LP, 0), Rejection.NON_POSITIVE_AMOUNT),
    (
        "bond capacity for a validator",
        base,
        lambda s: bond(s, P, "a", Role.VALIDATOR, 100, 3),
        Rejection.BAD_CAPACITY,
    ),
    (
        "bond negative capacity",
        base,
        lambda s: bond(s, P, "a", Role.WORKER, 10, -1),
        Rejection.BAD_CAPACITY,
    ),
    (
        "bond beyond balance",
        base,
        lambda s: bond(s, P, "b", Role.LP, 6),
        Rejection.INSUFFICIENT_BALANCE,
    ),
    (
        "bond below minimum",
        base,
        lambda s: bond(s, P, "a", Role.VALIDATOR, 99),
        Rejection.STAKE_BELOW_MINIMUM,
    ),
    (
        "bond below capacity stake",
        base,
        lambda s: bond(s, P, "a", Role.WORKER, 1, 40),
        Rejection.STAKE_BELOW_MINIMUM,
    ),
    (
        "capacity beyond backing",
        base,
        lambda s: set_capacity(s, P, "a", Role.WORKER, 9),
        Rejection.STAKE_BELOW_MINIMUM,
    ),
    (
        "capacity, no stake",
        base,
        lambda s: set_capacity(s, P, "b", Role.WORKER, 1),
        Rejection.NO_STAKE,
    ),
    ("unbond no stake", base, lambda s: unbond(s, P, "b", Role.LP, 1, 0), Rejection.NO_STAKE),
    (
        "unbond locked stake",
        base,
        lambda s: unbond(s, P, "a", Role.WORKER, 30, 0),
        Rejection.STAKE_LOCKED,
    ),
    (
        "unbond more than held",
        base,
        lambda s: unbond(s, P, "a", Role.WORKER, 41, 0),
        Rejection.INSUFFICIENT_STAKE,
    ),
    (
        "unbond under the minimum",
        base,
        lambda s: unbond(s, P, "a", Role.WORKER, 15, 0),
        Rejection.STAKE_BELOW_MINIMUM,
    ),
    (
        "unbond partly under the minimum",
        base,
        lambda s: unbond(s, P, "v", Role.VERIFIER, 20, 0),
        Rejection.STAKE_BELOW_MINIMUM,
    ),
    (
        "withdraw before maturity",
        base,
        lambda s: withdraw(s, "a", Role.WORKER, P.unbonding_delay_ms - 1),
        Rejection.UNBONDING_NOT_MATURE,
    ),
    (
        "withdraw nothing",
        base,
        lambda s: withdraw(s, "v", Role.VERIFIER, 10**9),
        Rejection.NOTHING_TO_WITHDRAW,
    ),
    ("withdraw no stake", base, lambda s: withdraw(s, "b", Role.LP, 10**9), Rejection.NO_STAKE),
    (
        "withdraw unknown",
        base,
        lambda s: withdraw(s, "z", Role.LP, 10**9),
        Rejection.UNKNOWN_ACCOUNT,
    ),
    (
        "lock too much",
        base,
        lambda s: lock_stake(s, "a", Role.WORKER, 21),
        Rejection.INSUFFICIENT_STAKE,
    ),
    (
        "unlock too much",
        base,
        lambda s: unlock_stake(s, "a", Role.WORKER, 11),
        Rejection.INSUFFICIENT_STAKE,
    ),
    ("lock no stake", base, lambda s: lock_stake(s, "b", Role.WORKER, 1), Rejection.NO_STAKE),
    ("escrow id taken", base, lambda s: escrow_lock(s, "j", "a", 1), Rejection.ESCROW_EXISTS),
    ("escrow empty id", base, lambda s: escrow_lock(s, "", "a", 1), Rejection.BAD_IDENTIFIER),
    (
        "escrow unknown payer",
        base,
        lambda s: escrow_lock(s, "k", "z", 1),
        Rejection.UNKNOWN_ACCOUNT,
    ),
    ("escrow zero", base, lambda s: escrow_lock(s, "k", "a", 0), Rejection.NON_POSITIVE_AMOUNT),
    (
        "escrow too much",
        base,
        lambda s: escrow_lock(s, "k", "b", 6),
        Rejection.INSUFFICIENT_BALANCE,
    ),
    ("refund unknown", base, lambda s: escrow_refund(s, "k"), Rejection.UNKNOWN_ESCROW),
    (
        "settle unknown escrow",
        base,
        lambda s: settle_escrow(s, P, "k", "a", {}, {}, {}),
        Rejection.UNKNOWN_ESCROW,
    ),
    (
        "settle unknown worker",
        base,
        lambda s: settle_escrow(s, P, "j", "z", {}, {}, {}),
        Rejection.UNKNOWN_ACCOUNT,
    ),
    (
        "settle unknown member",
        base,
        lambda s: settle_escrow(s, P, "j", "a", {"v": 1}, {"z": 1}, {}),
        Rejection.UNKNOWN_ACCOUNT,
    ),
    (
        "settle negative weight",
        base,
        lambda s: settle_escrow(s, P, "j", "a", {"v": -1}, {}, {}),
        Rejection.NON_POSITIVE_AMOUNT,
    ),
    (
        "slash with empty evidence",
        base,
        lambda s: slash(s, P, Evidence(Violation.TIMEOUT, "a", Role.WORKER, b"")),
        Rejection.SLASH_WITHOUT_EVIDENCE,
    ),
    (
        "slash with zero evidence",
        base,
        lambda s: slash(s, P, Evidence(Violation.TIMEOUT, "a", Role.WORKER, bytes(32))),
        Rejection.SLASH_WITHOUT_EVIDENCE,
    ),
    (
        "slash with a short digest",
        base,
        lambda s: slash(s, P, Evidence(Violation.TIMEOUT, "a", Role.WORKER, PROOF[:31])),
        Rejection.SLASH_WITHOUT_EVIDENCE,
    ),
    (
        "slash with used evidence",
        used,
        lambda s: slash(s, P, Evidence(Violation.SYBIL, "a", Role.WORKER, PROOF)),
        Rejection.DUPLICATE_EVIDENCE,
    ),
    (
        "slash without stake",
        base,
        lambda s: slash(s, P, Evidence(Violation.TIMEOUT, "b", Role.WORKER, PROOF)),
        Rejection.NO_STAKE,
    ),
    (
        "slash the wrong role",
        base,
        lambda s: slash(s, P, Evidence(Violation.TIMEOUT, "v", Role.VERIFIER, PROOF)),
        Rejection.EVIDENCE_MISMATCH,
    ),
    (
        "slash for an unknown violation",
        base,
        lambda s: slash(s, P, Evidence("bribery", "a", Role.WORKER, PROOF)),  # type: ignore[arg-type]
        Rejection.EVIDENCE_MISMATCH,
    ),
]


@pytest.mark.parametrize(("name", "build", "call", "code"), CASES, ids=[c[0] for c in CASES])
def test_refusal_leaves_the_ledger_unchanged(
    name: str, build: Callable[[], Ledger], call: Call, code: Rejection
) -> None:
    ledger = build()
    before = canonical_bytes(ledger)
    with pytest.raises(RejectedError) as caught:
        call(ledger)
    assert caught.value.rejection == code, name
    assert canonical_bytes(ledger) == before
    assert ledger == build()


@pytest.mark.parametrize(
    ("allocations", "code"),
    [
        ({"a": -1}, Rejection.NON_POSITIVE_AMOUNT),
        ({"a/b": 1}, Rejection.BAD_IDENTIFIER),
        ({"": 1}, Rejection.BAD_IDENTIFIER),
    ],
)
def test_genesis_refuses_bad_allocations(allocations: dict[str, int], code: Rejection) -> None:
    with pytest.raises(RejectedError) as caught:
        genesis(allocations)
    assert caught.value.rejection == code


def test_pure_functions_refuse_bad_input() -> None:
    cases: list[tuple[Callable[[], Any], Rejection]] = [
        (lambda: pro_rata(5, {}), Rejection.EMPTY_RECIPIENT_SET),
        (lambda: pro_rata(5, {"a": 0}), Rejection.EMPTY_RECIPIENT_SET),
        (lambda: pro_rata(-1, {"a": 1}), Rejection.NON_POSITIVE_AMOUNT),
        (lambda: fee_split(P, -1), Rejection.NON_POSITIVE_AMOUNT),
        (lambda: required_stake(P, Role.LP, 2), Rejection.BAD_CAPACITY),
        (lambda: required_stake(P, "client", 0), Rejection.UNKNOWN_ROLE),  # type: ignore[arg-type]
    ]
    for call, code in cases:
        with pytest.raises(RejectedError) as caught:
            call()
        assert caught.value.rejection == code


def test_out_of_range_rates_are_refused_not_applied() -> None:
    ledger = base()
    evidence = Evidence(Violation.TIMEOUT, "a", Role.WORKER, PROOF)
    for broken in (
        replace(P, slash_timeout_bps=10_001),
        replace(P, slash_reporter_reward_bps=-1),
    ):
        with pytest.raises(ParamsError) as caught:
            slash(ledger, broken, evidence)
        assert caught.value.rejection == Rejection.PARAMS_OUT_OF_RANGE
    negative = replace(P, fee_worker_bps=10_100, fee_burn_bps=-100)
    with pytest.raises(ParamsError):
        fee_split(negative, 100)
