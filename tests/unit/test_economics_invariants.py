"""Each economics invariant checker, shown failing on a fault planted behind the API's back."""

from __future__ import annotations

from dataclasses import replace

import immutables
import pytest

from aci_ref.economics import (
    Escrow,
    FeeSplit,
    Ledger,
    Role,
    StakePosition,
    Unbonding,
    bond,
    check_conservation,
    check_fee_split,
    check_ledger,
    check_non_negative,
    check_params_fee_shares,
    check_stake_minimums,
    check_structure,
    escrow_lock,
    fee_split,
    genesis,
    stake_key,
    transfer,
)
from aci_ref.economics.ledger import keeps_supply
from aci_ref.errors import InvariantViolation
from tests.properties.test_economics import small_params

P = small_params()


def healthy() -> Ledger:
    ledger = genesis({"a": 500, "b": 100})
    ledger = bond(ledger, P, "a", Role.VALIDATOR, 150)
    return escrow_lock(ledger, "j", "b", 40)


def planted(ledger: Ledger, **fields: object) -> Ledger:
    """A copy of `ledger` with fields overwritten without running the contracts."""
    copy = replace(ledger)
    for name, value in fields.items():
        object.__setattr__(copy, name, value)
    return copy


def test_healthy_ledger_passes_every_check() -> None:
    check_ledger(healthy(), P)
    check_stake_minimums(healthy(), P, [stake_key("a", Role.VALIDATOR)])


def test_conservation_checker_fails_on_minted_tokens() -> None:
    ledger = healthy()
    minted = planted(ledger, balances=ledger.balances.set("a", ledger.balances["a"] + 1))
    with pytest.raises(InvariantViolation, match="supply"):
        check_conservation(minted)
    with pytest.raises(InvariantViolation):
        check_ledger(minted, P)


def test_conservation_checker_fails_on_vanished_escrow() -> None:
    ledger = healthy()
    with pytest.raises(InvariantViolation):
        check_conservation(planted(ledger, escrow=immutables.Map()))


def test_non_negative_checker_fails_on_a_negative_balance() -> None:
    ledger = healthy()
    # Conservation still holds: b is -10 and a is 10 richer.
    skewed = planted(
        ledger,
        balances=ledger.balances.set("b", -10).set(
            "a", ledger.balances["a"] + ledger.balances["b"] + 10
        ),
    )
    check_conservation(skewed)
    with pytest.raises(InvariantViolation, match="balance b"):
        check_non_negative(skewed)


def test_non_negative_checker_fails_on_a_negative_stake_part() -> None:
    ledger = healthy()
    key = stake_key("a", Role.VALIDATOR)
    position = ledger.stakes[key]
    bad = replace(position, bonded=position.bonded + 5, locked=-5)
    with pytest.raises(InvariantViolation, match="locked"):
        check_non_negative(planted(ledger, stakes=ledger.stakes.set(key, bad)))


def test_structure_checker_fails_on_orphans() -> None:
    ledger = healthy()
    position = ledger.stakes[stake_key("a", Role.VALIDATOR)]
    orphan = planted(ledger, stakes=ledger.stakes.set("ghost/validator", position))
    with pytest.raises(InvariantViolation, match="ghost"):
        check_structure(orphan)
    unknown_role = planted(ledger, stakes=ledger.stakes.set("a/client", position))
    with pytest.raises(InvariantViolation):
        check_structure(unknown_role)
    empty_entry = replace(position, unbonding=(Unbonding(0, 5),))
    with pytest.raises(InvariantViolation, match="unbonding"):
        check_structure(planted(ledger, stakes=ledger.stakes.set("a/validator", empty_entry)))
    with pytest.raises(InvariantViolation, match="escrow"):
        check_structure(planted(ledger, escrow=ledger.escrow.set("k", Escrow("nobody", 1))))


def test_fee_split_checker_fails_on_a_split_that_does_not_sum() -> None:
    split = fee_split(P, 1_003)
    check_fee_split(P, 1_003, split)
    with pytest.raises(InvariantViolation, match="sums"):
        check_fee_split(P, 1_003, replace(split, burned=split.burned + 1))


def test_fee_split_checker_fails_on_a_misrounded_split() -> None:
    # Sums correctly, but gives the remainder to the burn instead of the worker.
    split = fee_split(P, 1_003)
    moved = replace(split, worker=split.worker - 1, burned=split.burned + 1)
    with pytest.raises(InvariantViolation, match="Table 5"):
        check_fee_split(P, 1_003, moved)
    with pytest.raises(InvariantViolation, match="negative"):
        check_fee_split(P, 2, FeeSplit(3, 0, 0, 0, -1))


def test_fee_share_checker_fails_on_shares_that_do_not_make_a_whole() -> None:
    check_params_fee_shares(P)
    broken = replace(P, fee_burn_bps=P.fee_burn_bps + 1)
    with pytest.raises(InvariantViolation, match="whole"):
        check_params_fee_shares(broken)
    with pytest.raises(InvariantViolation):
        check_ledger(healthy(), broken)


def test_minimum_checker_fails_on_unslashed_stake_under_the_minimum() -> None:
    ledger = healthy()
    key = stake_key("a", Role.VALIDATOR)
    position = ledger.stakes[key]
    # Move 100 of the 150 bonded back to the balance, as a broken `unbond` would.
    under = planted(
        ledger,
        stakes=ledger.stakes.set(key, replace(position, bonded=50)),
        balances=ledger.balances.set("a", ledger.balances["a"] + 100),
    )
    check_conservation(under)
    with pytest.raises(InvariantViolation, match="never slashed"):
        check_stake_minimums(under, P)
    with pytest.raises(InvariantViolation):
        check_ledger(under, P)
    # The same stake after a slash is legitimate but inactive: listing it as active fails.
    slashed = planted(
        under, stakes=under.stakes.set(key, replace(position, bonded=50, slashed=100))
    )
    check_stake_minimums(slashed, P)
    with pytest.raises(InvariantViolation, match="active"):
        check_stake_minimums(slashed, P, [key])
    with pytest.raises(InvariantViolation, match="without a stake"):
        check_stake_minimums(slashed, P, [stake_key("b", Role.LP)])


def test_ledger_contract_fires_on_construction() -> None:
    ledger = healthy()
    with pytest.raises(InvariantViolation, match="supply"):
        replace(ledger, supply=ledger.supply + 1)
    with pytest.raises(InvariantViolation, match="negative"):
        replace(ledger, balances=ledger.balances.set("b", -1), burned=ledger.balances["b"] + 1)
    with pytest.raises(InvariantViolation):
        Ledger(
            supply=1,
            balances=immutables.Map({"a": 2}),
            stakes=immutables.Map(),
            escrow=immutables.Map(),
            burned=0,
            evidence_used=immutables.Map(),
        )


def test_ledger_contract_fires_when_a_broken_ledger_is_used() -> None:
    # A transition given a ledger that was corrupted in place cannot return a healthy-looking one.
    minted = planted(healthy(), burned=7)
    with pytest.raises(InvariantViolation):
        transfer(minted, "a", "b", 1)


def test_supply_postcondition_fires_on_a_minting_transition() -> None:
    @keeps_supply()
    def mint(ledger: Ledger) -> Ledger:
        return replace(ledger, supply=ledger.supply + 5, burned=ledger.burned + 5)

    with pytest.raises(InvariantViolation, match="supply unchanged"):
        mint(healthy())


def test_a_position_can_hold_stake_in_every_part() -> None:
    # Sanity of the conservation sum itself: each part of a position is counted once.
    position = StakePosition(bonded=3, locked=4, unbonding=(Unbonding(5, 1), Unbonding(6, 2)))
    assert position.held == 18
    assert position.backing == 7
