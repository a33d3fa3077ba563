"""Properties of the economics core: ledger, staking, fees (Table 5), slashing (Table 2)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from aci_ref.crypto import sha256
from aci_ref.economics import (
    SLASHING_TABLE,
    Evidence,
    FeeSplit,
    Ledger,
    Role,
    StakePosition,
    Unbonding,
    Violation,
    bond,
    check_conservation,
    check_fee_split,
    check_ledger,
    check_non_negative,
    escrow_lock,
    escrow_refund,
    fee_split,
    genesis,
    is_active,
    lock_stake,
    minimum_stake,
    open_account,
    pro_rata,
    required_stake,
    settle_escrow,
    settlement_payouts,
    slash,
    stake_key,
    transfer,
    unbond,
    unlock_stake,
    withdraw,
)
from aci_ref.economics.fees import FEE_SHARE_FIELDS
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import ParamsError, RejectedError, Rejection
from aci_ref.params import BPS, Params, default_params, params_from_text


def small_params() -> Params:
    """The shipped parameters with stakes in single base units, so tests reach every branch.

    Table 6's ratios are kept (100 : 50 : 10 : 1); one token is one base unit.
    """
    return replace(
        default_params(),
        token_base_units=1,
        validator_min_stake=100,
        verifier_min_stake=50,
        worker_min_stake=10,
        lp_min_stake=1,
        worker_stake_per_capacity_unit=4,
        unbonding_delay_epochs=2,
        epoch_duration_ms=10,
    )


PARAMS = small_params()
NAMES = ("a", "b", "c", "d")
roles = st.sampled_from(list(Role))
amounts = st.integers(min_value=0, max_value=2_000)
big_amounts = st.integers(min_value=0, max_value=2**62)
names = st.sampled_from(NAMES)


def refused(code: Rejection, call: Callable[..., Any], ledger: Ledger, *args: Any) -> None:
    """Assert `call(ledger, *args)` refuses with `code` and leaves `ledger` as it was."""
    before = canonical_bytes(ledger)
    with pytest.raises(RejectedError) as caught:
        call(ledger, *args)
    assert caught.value.rejection == code
    assert canonical_bytes(ledger) == before


@st.composite
def ledgers(draw: st.DrawFn) -> Ledger:
    allocations = draw(st.dictionaries(names, amounts, min_size=2))
    return genesis(allocations)


@st.composite
def bps_sets(draw: st.DrawFn) -> Params:
    """Random valid Table 5 shares: five non-negative bps summing to 10000."""
    cuts = sorted(draw(st.lists(st.integers(0, BPS), min_size=4, max_size=4)))
    bounds = [0, *cuts, BPS]
    shares = [high - low for low, high in itertools.pairwise(bounds)]
    changes: dict[str, Any] = dict(zip(FEE_SHARE_FIELDS, shares, strict=True))
    return replace(PARAMS, **changes)


# ---- ledger ---------------------------------------------------------------------------------


@given(st.dictionaries(st.text(st.characters(blacklist_characters="/"), min_size=1), amounts))
def test_genesis_supply_is_the_sum_of_allocations(allocations: dict[str, int]) -> None:
    ledger = genesis(allocations)
    assert ledger.supply == sum(allocations.values())
    assert dict(ledger.balances) == allocations
    check_ledger(ledger, PARAMS)


@given(ledgers(), st.sampled_from(("a", "e")))
def test_open_account_is_empty_or_refused(ledger: Ledger, name: str) -> None:
    if name in ledger.balances:
        refused(Rejection.ACCOUNT_EXISTS, open_account, ledger, name)
    else:
        opened = open_account(ledger, name)
        assert opened.balances[name] == 0
        assert opened.supply == ledger.supply


@given(ledgers(), st.sampled_from((*NAMES, "e")), st.sampled_from((*NAMES, "e")), amounts)
def test_transfer_moves_exactly_the_amount(ledger: Ledger, src: str, dst: str, amount: int) -> None:
    if src not in ledger.balances or dst not in ledger.balances:
        refused(Rejection.UNKNOWN_ACCOUNT, transfer, ledger, src, dst, amount)
    elif amount <= 0:
        refused(Rejection.NON_POSITIVE_AMOUNT, transfer, ledger, src, dst, amount)
    elif ledger.balances[src] < amount:
        refused(Rejection.INSUFFICIENT_BALANCE, transfer, ledger, src, dst, amount)
    else:
        moved = transfer(ledger, src, dst, amount)
        expected = dict(ledger.balances)
        expected[src] -= amount
        expected[dst] += amount
        assert dict(moved.balances) == expected
        check_ledger(moved, PARAMS)


@given(ledgers(), names, amounts)
def test_escrow_lock_then_refund_restores_the_ledger(
    ledger: Ledger, payer: str, amount: int
) -> None:
    assume(payer in ledger.balances and 0 < amount <= ledger.balances[payer])
    locked = escrow_lock(ledger, "job", payer, amount)
    assert locked.escrow["job"].amount == amount
    refused(Rejection.ESCROW_EXISTS, escrow_lock, locked, "job", payer, 1)
    assert escrow_refund(locked, "job") == ledger
    refused(Rejection.UNKNOWN_ESCROW, escrow_refund, ledger, "job")


@given(st.permutations(list(zip(NAMES, (5, 7, 11, 13), strict=True))))
def test_ledger_bytes_do_not_depend_on_insertion_order(order: list[tuple[str, int]]) -> None:
    assert canonical_bytes(genesis(dict(order))) == canonical_bytes(genesis(dict(sorted(order))))


# ---- staking (Definition 1, Table 6) --------------------------------------------------------


@given(st.integers(0, 10_000), bps_sets())
def test_required_stake_follows_definition_1(capacity: int, params: Params) -> None:
    for role in Role:
        assert minimum_stake(params, role) == params.tokens(
            getattr(params, f"{role.value}_min_stake")
        )
    worker = required_stake(params, Role.WORKER, capacity)
    per_unit = params.tokens(capacity * params.worker_stake_per_capacity_unit)
    assert worker == max(minimum_stake(params, Role.WORKER), per_unit)
    assert required_stake(params, Role.WORKER, capacity + 1) >= worker
    for role in (Role.VALIDATOR, Role.VERIFIER, Role.LP):
        assert required_stake(params, role) == minimum_stake(params, role)
        if capacity:
            with pytest.raises(RejectedError) as caught:
                required_stake(params, role, capacity)
            assert caught.value.rejection == Rejection.BAD_CAPACITY


@given(roles, st.integers(1, 400), st.integers(0, 40), st.integers(0, 1_000))
def test_bond_unbond_withdraw_returns_every_token(
    role: Role, amount: int, capacity: int, now: int
) -> None:
    start = genesis({"a": 500})
    capacity = capacity if role is Role.WORKER else 0
    required = required_stake(PARAMS, role, capacity)
    if amount > 500:
        refused(Rejection.INSUFFICIENT_BALANCE, bond, start, PARAMS, "a", role, amount, capacity)
        return
    if amount < required:
        refused(Rejection.STAKE_BELOW_MINIMUM, bond, start, PARAMS, "a", role, amount, capacity)
        return
    bonded = bond(start, PARAMS, "a", role, amount, capacity)
    assert is_active(bonded, PARAMS, "a", role)
    leaving = unbond(bonded, PARAMS, "a", role, amount, now)
    assert not is_active(leaving, PARAMS, "a", role)
    assert leaving.stakes[stake_key("a", role)].unbonding == (
        Unbonding(amount, now + PARAMS.unbonding_delay_ms),
    )
    refused(Rejection.UNBONDING_NOT_MATURE, withdraw, leaving, "a", role, now)
    done = withdraw(leaving, "a", role, now + PARAMS.unbonding_delay_ms)
    assert done.balances == start.balances
    refused(Rejection.NOTHING_TO_WITHDRAW, withdraw, done, "a", role, now + 10**6)


@given(roles, st.integers(1, 300), st.integers(1, 300))
def test_unbond_never_leaves_stake_under_the_minimum(role: Role, stake: int, amount: int) -> None:
    required = required_stake(PARAMS, role)
    assume(stake >= required)
    ledger = bond(genesis({"a": 300}), PARAMS, "a", role, stake)
    left = stake - amount
    if amount > stake:
        refused(Rejection.INSUFFICIENT_STAKE, unbond, ledger, PARAMS, "a", role, amount, 0)
    elif 0 < left < required:
        refused(Rejection.STAKE_BELOW_MINIMUM, unbond, ledger, PARAMS, "a", role, amount, 0)
    else:
        after = unbond(ledger, PARAMS, "a", role, amount, 0)
        assert after.stakes[stake_key("a", role)].bonded == left
        assert is_active(after, PARAMS, "a", role) == (left > 0)


@given(st.integers(10, 300), st.integers(1, 300))
def test_locked_stake_backs_the_role_but_cannot_unbond(stake: int, pledge: int) -> None:
    ledger = bond(genesis({"w": 300}), PARAMS, "w", Role.WORKER, stake)
    if pledge > stake:
        refused(Rejection.INSUFFICIENT_STAKE, lock_stake, ledger, "w", Role.WORKER, pledge)
        return
    locked = lock_stake(ledger, "w", Role.WORKER, pledge)
    assert is_active(locked, PARAMS, "w", Role.WORKER)
    refused(Rejection.STAKE_LOCKED, unbond, locked, PARAMS, "w", Role.WORKER, stake, 0)
    refused(Rejection.INSUFFICIENT_STAKE, unlock_stake, locked, "w", Role.WORKER, pledge + 1)
    assert unlock_stake(locked, "w", Role.WORKER, pledge) == ledger


# ---- fees (Table 5) -------------------------------------------------------------------------


@given(big_amounts, bps_sets())
def test_fee_split_is_exact_to_the_base_unit(amount: int, params: Params) -> None:
    split = fee_split(params, amount)
    assert split.total == amount
    for field, share in zip(
        FEE_SHARE_FIELDS[1:],
        (split.validators, split.verifiers, split.lps, split.burned),
        strict=True,
    ):
        assert share == amount * getattr(params, field) // BPS
    floor_worker = amount * params.fee_worker_bps // BPS
    assert floor_worker <= split.worker <= floor_worker + 4
    check_fee_split(params, amount, split)


@given(big_amounts, bps_sets(), st.sampled_from(FEE_SHARE_FIELDS), st.integers(1, 50))
def test_fee_split_refuses_shares_that_are_not_whole(
    amount: int, params: Params, field: str, extra: int
) -> None:
    broken = replace(params, **{field: getattr(params, field) + extra})
    with pytest.raises(ParamsError) as caught:
        fee_split(broken, amount)
    assert caught.value.rejection in {
        Rejection.PARAMS_FEE_SHARES_NOT_WHOLE,
        Rejection.PARAMS_OUT_OF_RANGE,
    }


weights = st.dictionaries(
    st.text("abcxyz", min_size=1, max_size=3), st.integers(0, 10**6), min_size=1
)


@given(big_amounts, weights, st.randoms(use_true_random=False))
def test_pro_rata_sums_exactly_and_is_deterministic(
    amount: int, shares_of: dict[str, int], rng: Any
) -> None:
    total = sum(shares_of.values())
    if total == 0:
        with pytest.raises(RejectedError) as caught:
            pro_rata(amount, shares_of)
        assert caught.value.rejection == Rejection.EMPTY_RECIPIENT_SET
        return
    result = pro_rata(amount, shares_of)
    assert sum(result.values()) == amount
    assert list(result) == sorted(shares_of)
    shuffled = list(shares_of.items())
    rng.shuffle(shuffled)
    assert pro_rata(amount, dict(shuffled)) == result
    heaviest = min(shares_of, key=lambda name: (-shares_of[name], name))
    remainder = amount - sum(amount * w // total for w in shares_of.values())
    assert 0 <= remainder < len(shares_of)
    for name, weight in shares_of.items():
        floor = amount * weight // total
        assert result[name] == floor + (remainder if name == heaviest else 0)


@given(
    st.integers(1, 10**6),
    bps_sets(),
    st.dictionaries(names, st.integers(0, 5)),
    st.dictionaries(names, st.integers(0, 5)),
    st.dictionaries(names, st.integers(0, 5)),
)
def test_settlement_pays_table_5_and_burns_unpayable_shares(
    price: int,
    params: Params,
    validators: dict[str, int],
    verifiers: dict[str, int],
    lps: dict[str, int],
) -> None:
    ledger = genesis({"client": price, "w": 0, **dict.fromkeys(NAMES, 0)})
    ledger = escrow_lock(ledger, "job", "client", price)
    settled, split = settle_escrow(ledger, params, "job", "w", validators, verifiers, lps)
    assert split == fee_split(params, price)
    assert "job" not in settled.escrow
    expected_burn = split.burned
    for share, group in (
        (split.validators, validators),
        (split.verifiers, verifiers),
        (split.lps, lps),
    ):
        if sum(group.values()) == 0:
            expected_burn += share
    assert settled.burned == expected_burn
    assert settled.balances["w"] == split.worker
    paid = sum(settled.balances.values())
    assert paid + settled.burned == price
    payouts = settlement_payouts(params, price, "w", validators, verifiers, lps)
    assert payouts.burned == expected_burn
    check_ledger(settled, params)


# ---- slashing (Table 2) ---------------------------------------------------------------------


@st.composite
def positions(draw: st.DrawFn) -> StakePosition:
    entries = draw(st.lists(st.integers(1, 500), max_size=4))
    return StakePosition(
        bonded=draw(st.integers(0, 500)),
        locked=draw(st.integers(0, 500)),
        unbonding=tuple(Unbonding(amount, 100 + i) for i, amount in enumerate(entries)),
    )


def _with_position(position: StakePosition, role: Role) -> Ledger:
    ledger = genesis({"x": 0, "r": 0})
    held = position.held
    # Build through the API's own types; the position stands in for a history of bonds.
    return replace(
        ledger,
        supply=held,
        stakes=ledger.stakes.set(stake_key("x", role), position),
    )


@given(
    positions(),
    st.sampled_from(list(Violation)),
    st.integers(0, BPS),
    st.integers(0, BPS),
    st.sampled_from(("r", "x", "nobody", None)),
)
def test_slash_takes_the_stated_amount_in_the_stated_order(
    position: StakePosition, violation: Violation, rate: int, reward_bps: int, reporter: str | None
) -> None:
    rule = SLASHING_TABLE[violation]
    ledger = _with_position(position, rule.role)
    changes: dict[str, Any] = {rule.bps_param: rate, "slash_reporter_reward_bps": reward_bps}
    params = replace(PARAMS, **changes)
    evidence = Evidence(violation, "x", rule.role, sha256(b"proof"), reporter)
    if position.held == 0:
        refused(Rejection.NO_STAKE, slash, ledger, params, evidence)
        return
    after, record = slash(ledger, params, evidence)
    amount = position.held * rate // BPS
    assert record.amount == amount
    taken = after.stakes[stake_key("x", rule.role)]
    assert taken.held == position.held - amount
    assert taken.slashed == amount
    # bonded first, then locked, then unbonding newest first
    assert record.from_bonded == min(amount, position.bonded)
    assert record.from_locked == min(amount - record.from_bonded, position.locked)
    assert record.from_unbonding == amount - record.from_bonded - record.from_locked
    expected: list[Unbonding] = []
    rest = record.from_unbonding
    for entry in reversed(position.unbonding):
        cut = min(rest, entry.amount)
        rest -= cut
        if cut < entry.amount:
            expected.insert(0, Unbonding(entry.amount - cut, entry.release_at_ms))
    assert list(taken.unbonding) == expected
    rewarded = reporter == "r"
    assert record.reporter_reward == (amount * reward_bps // BPS if rewarded else 0)
    assert after.balances["r"] == record.reporter_reward
    assert after.burned == amount - record.reporter_reward
    # the generated positions skip the staking rules, so only the ledger-wide laws apply here
    check_conservation(after)
    check_non_negative(after)
    refused(Rejection.DUPLICATE_EVIDENCE, slash, after, params, evidence)


@given(st.integers(10, 400), st.integers(1, 400), st.integers(0, 30))
def test_unbonding_stake_stays_slashable_until_withdrawn(stake: int, out: int, now: int) -> None:
    ledger = bond(genesis({"w": 400}), PARAMS, "w", Role.WORKER, stake)
    assume(out == stake or stake - out >= 10)
    assume(out <= stake)
    ledger = unbond(ledger, PARAMS, "w", Role.WORKER, out, now)
    evidence = Evidence(Violation.WRONG_OUTPUT, "w", Role.WORKER, sha256(b"wrong"))
    after, record = slash(ledger, PARAMS, evidence)
    # the rate applies to bonded and unbonding stake alike
    assert record.amount == stake * PARAMS.slash_wrong_output_bps // BPS
    assert after.stakes[stake_key("w", Role.WORKER)].held == stake - record.amount
    if PARAMS.slash_wrong_output_bps == BPS:
        assert not is_active(after, PARAMS, "w", Role.WORKER)
        refused(Rejection.NOTHING_TO_WITHDRAW, withdraw, after, "w", Role.WORKER, now + 10**6)


def test_fee_split_type_is_what_the_lifecycle_reads() -> None:
    # the shipped file itself, not default_params(): verify-protocol may point that elsewhere
    shipped = Path(__file__).resolve().parents[2] / "spec" / "parameters.toml"
    paper = params_from_text(shipped.read_text(encoding="utf-8"))
    split = fee_split(paper, paper.tokens(1_000))
    assert split == FeeSplit(800_000_000, 80_000_000, 50_000_000, 40_000_000, 30_000_000)
