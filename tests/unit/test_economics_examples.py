"""Worked examples of the economics rules, with the paper's numbers; each pins an erratum."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aci_ref.crypto import sha256
from aci_ref.economics import (
    SLASHING_TABLE,
    Evidence,
    FeeSplit,
    Role,
    StakePosition,
    Unbonding,
    Violation,
    bond,
    escrow_lock,
    fee_split,
    genesis,
    is_active,
    lock_stake,
    minimum_stake,
    pro_rata,
    required_stake,
    settle_escrow,
    slash,
    stake_key,
    unbond,
    withdraw,
)
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params
from tests.properties.test_economics import small_params

PAPER = default_params()
P = small_params()


def test_definition_1_and_table_6_stakes_in_base_units() -> None:
    tokens = PAPER.token_base_units
    assert minimum_stake(PAPER, Role.VALIDATOR) == 100_000 * tokens
    assert minimum_stake(PAPER, Role.VERIFIER) == 50_000 * tokens
    assert minimum_stake(PAPER, Role.WORKER) == 10_000 * tokens
    assert minimum_stake(PAPER, Role.LP) == 1_000 * tokens
    assert required_stake(PAPER, Role.VALIDATOR) == 100_000 * tokens
    # E14: a worker's stake grows with capacity, with Table 6's 10K as the floor.
    assert required_stake(PAPER, Role.WORKER, 0) == 10_000 * tokens
    assert required_stake(PAPER, Role.WORKER, 10) == 10_000 * tokens
    assert required_stake(PAPER, Role.WORKER, 25) == 25_000 * tokens


def test_e30_table_5_remainder_goes_to_the_worker() -> None:
    # 1003 units: 8 % = 80.24, 5 % = 50.15, 4 % = 40.12, 3 % = 30.09 -> floors 80, 50, 40, 30.
    assert fee_split(PAPER, 1_003) == FeeSplit(803, 80, 50, 40, 30)
    assert fee_split(PAPER, 1) == FeeSplit(1, 0, 0, 0, 0)
    assert fee_split(PAPER, 0) == FeeSplit(0, 0, 0, 0, 0)
    whole = PAPER.tokens(1_000)
    assert fee_split(PAPER, whole) == FeeSplit(
        800 * 10**6, 80 * 10**6, 50 * 10**6, 40 * 10**6, 30 * 10**6
    )


def test_e31_pro_rata_remainder_to_the_largest_weight_then_smallest_id() -> None:
    assert pro_rata(10, {"c": 1, "b": 1, "a": 1}) == {"a": 4, "b": 3, "c": 3}
    assert pro_rata(10, {"a": 1, "b": 2}) == {"a": 3, "b": 7}
    assert pro_rata(7, {"a": 0, "b": 5}) == {"a": 0, "b": 7}


def test_e31_a_group_with_no_member_has_its_share_burned() -> None:
    ledger = escrow_lock(genesis({"client": 1_003, "w": 0, "v": 0}), "job", "client", 1_003)
    settled, split = settle_escrow(ledger, PAPER, "job", "w", {"v": 1}, {}, {})
    assert split == FeeSplit(803, 80, 50, 40, 30)
    assert settled.balances["w"] == 803
    assert settled.balances["v"] == 80
    assert settled.burned == 30 + 50 + 40  # burn, verifiers' and LPs' shares
    assert settled.supply == 1_003  # E35: burning never shrinks the supply


def test_e32_slash_order_bonded_then_locked_then_newest_unbonding() -> None:
    ledger = genesis({"w": 100, "r": 0})
    ledger = bond(ledger, P, "w", Role.WORKER, 100, 0)
    ledger = unbond(ledger, P, "w", Role.WORKER, 30, 0)  # older entry
    ledger = unbond(ledger, P, "w", Role.WORKER, 20, 5)  # newer entry
    ledger = lock_stake(ledger, "w", Role.WORKER, 40)
    # bonded 10, locked 40, unbonding (30 @20, 20 @25): 100 at risk; 100 % slash takes all,
    # a 75 % slash takes 10 + 40 + 20 (the newer entry) + 5 of the older one.
    evidence = Evidence(Violation.WRONG_OUTPUT, "w", Role.WORKER, sha256(b"e32"), "r")
    rate = SLASHING_TABLE.rate_bps(P, Violation.WRONG_OUTPUT)
    assert rate == 10_000
    after, record = slash(ledger, replace(P, slash_wrong_output_bps=7_500), evidence)
    assert (record.stake_at_risk, record.amount) == (100, 75)
    assert (record.from_bonded, record.from_locked, record.from_unbonding) == (10, 40, 25)
    position = after.stakes[stake_key("w", Role.WORKER)]
    assert position == StakePosition(
        bonded=0, locked=0, capacity=0, unbonding=(Unbonding(25, 20),), slashed=75
    )
    # E12: 10 % of the slash to the reporter, the rest burned.
    assert (record.reporter_reward, record.burned) == (7, 68)
    assert after.balances["r"] == 7
    assert not is_active(after, P, "w", Role.WORKER)
    # the surviving entry can still be withdrawn once mature
    assert withdraw(after, "w", Role.WORKER, 20).balances["w"] == 25


def test_e33_no_reward_for_reporting_oneself_or_for_an_unknown_reporter() -> None:
    ledger = bond(genesis({"w": 100}), P, "w", Role.WORKER, 100)
    for reporter in ("w", "stranger", None):
        evidence = Evidence(Violation.TIMEOUT, "w", Role.WORKER, sha256(b"t"), reporter)
        after, record = slash(ledger, P, evidence)
        assert record.amount == 10
        assert record.reporter_reward == 0
        assert after.burned == 10


def test_e34_locked_stake_backs_the_role_and_slashed_stake_can_be_topped_up() -> None:
    ledger = bond(genesis({"v": 200}), P, "v", Role.VERIFIER, 50)
    ledger = lock_stake(ledger, "v", Role.VERIFIER, 50)
    assert is_active(ledger, P, "v", Role.VERIFIER)  # bonded 0, locked 50: still backed
    evidence = Evidence(Violation.FALSE_ACCUSATION, "v", Role.VERIFIER, sha256(b"acc"))
    ledger, record = slash(ledger, P, evidence)
    assert record.amount == 5  # 10 % of 50
    assert not is_active(ledger, P, "v", Role.VERIFIER)
    with pytest.raises(RejectedError) as caught:
        bond(ledger, P, "v", Role.VERIFIER, 4)
    assert caught.value.rejection == Rejection.STAKE_BELOW_MINIMUM
    ledger = bond(ledger, P, "v", Role.VERIFIER, 5)
    assert is_active(ledger, P, "v", Role.VERIFIER)


def test_e36_a_zero_rate_slash_still_spends_its_evidence() -> None:
    ledger = bond(genesis({"w": 100}), P, "w", Role.WORKER, 100)
    evidence = Evidence(Violation.LOW_QUALITY, "w", Role.WORKER, sha256(b"epoch 7"))
    after, record = slash(ledger, replace(P, slash_low_quality_bps_per_epoch=0), evidence)
    assert record.amount == 0
    assert sha256(b"epoch 7").hex() in after.evidence_used
    with pytest.raises(RejectedError) as caught:
        slash(after, P, evidence)
    assert caught.value.rejection == Rejection.DUPLICATE_EVIDENCE


def test_table_2_rows() -> None:
    rows = {v: (r.bps_param, r.role) for v, r in SLASHING_TABLE.items()}
    assert rows[Violation.WRONG_OUTPUT] == ("slash_wrong_output_bps", Role.WORKER)
    assert rows[Violation.FALSE_ACCUSATION] == ("slash_false_accusation_bps", Role.VERIFIER)
    rates = {v: SLASHING_TABLE.rate_bps(PAPER, v) for v in Violation}
    assert rates == {
        Violation.WRONG_OUTPUT: 10_000,
        Violation.INVALID_ATTESTATION: 5_000,
        Violation.TIMEOUT: 1_000,
        Violation.LOW_QUALITY: 500,
        Violation.SYBIL: 10_000,
        Violation.FALSE_ACCUSATION: 1_000,
        Violation.MISSED_FAULT: 1_000,
    }
