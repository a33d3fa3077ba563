"""A state machine over the economics core: random accounts, transfers, stakes, escrows, slashes.

After every step: conservation, no negative amount, no active stake under its minimum, the last
fee split exact, and the supply never moves. Every refused step must leave the ledger's
canonical bytes as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from aci_ref.crypto import sha256
from aci_ref.economics import (
    SLASHING_TABLE,
    Evidence,
    FeeSplit,
    Role,
    Violation,
    bond,
    check_fee_split,
    check_ledger,
    check_stake_minimums,
    escrow_lock,
    escrow_refund,
    genesis,
    is_active,
    lock_stake,
    open_account,
    set_capacity,
    settle_escrow,
    slash,
    stake_key,
    transfer,
    unbond,
    unlock_stake,
    withdraw,
)
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError
from tests.properties.test_economics import small_params

PARAMS = small_params()
ACCOUNTS = ("a", "b", "c", "d", "e")  # "e" starts unopened
accounts = st.sampled_from(ACCOUNTS)
roles = st.sampled_from(list(Role))
amounts = st.integers(min_value=-1, max_value=300)
stakes = st.sampled_from((0, 1, 10, 50, 100, 120, 200)) | amounts
capacities = st.sampled_from((None, None, None, 0, 3, 10, 40, -1))
escrow_ids = st.sampled_from(("j1", "j2", "j3"))
members = st.dictionaries(accounts, st.integers(0, 5), max_size=3)


class EconomicsMachine(RuleBasedStateMachine):
    """Drives one ledger through random transitions, refused ones included."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = genesis({})
        self.now = 0
        self.evidence_count = 0
        self.used_evidence: list[bytes] = []
        self.last_split: tuple[int, FeeSplit] | None = None
        self.supply = 0

    @initialize(allocations=st.lists(st.integers(300, 1_000), min_size=4, max_size=4))
    def start(self, allocations: list[int]) -> None:
        """Four funded accounts, each already staked in one role, so slashes bite early."""
        ledger = genesis(dict(zip(ACCOUNTS, allocations, strict=False)))
        ledger = bond(ledger, PARAMS, "a", Role.WORKER, 40, 5)
        ledger = lock_stake(ledger, "a", Role.WORKER, 10)
        ledger = bond(ledger, PARAMS, "b", Role.VALIDATOR, 150)
        ledger = bond(ledger, PARAMS, "c", Role.VERIFIER, 60)
        self.ledger = bond(ledger, PARAMS, "d", Role.LP, 5)
        self.supply = self.ledger.supply

    def apply(self, step: Callable[..., Any], *args: Any) -> Any:
        """Run one transition; on refusal check that the input ledger did not change."""
        before = canonical_bytes(self.ledger)
        try:
            result = step(self.ledger, *args)
        except RejectedError as error:
            assert canonical_bytes(self.ledger) == before
            event(f"{step.__name__}: {error.rejection.value}")
            return None
        event(f"{step.__name__}: ok")
        if isinstance(result, tuple):
            self.ledger = result[0]
            return result[1]
        self.ledger = result
        return None

    def position(self, data: st.DataObject) -> tuple[str, Role]:
        """Mostly an existing stake position (so rules reach past NO_STAKE), sometimes any."""
        keys = sorted(self.ledger.stakes)
        if keys and data.draw(st.integers(0, 3)) > 0:
            account, _, role = data.draw(st.sampled_from(keys)).rpartition("/")
            return account, Role(role)
        return data.draw(accounts), data.draw(roles)

    def escrow_id(self, data: st.DataObject) -> str:
        existing = sorted(self.ledger.escrow)
        pick_existing = data.draw(st.booleans())
        if existing and pick_existing:
            return data.draw(st.sampled_from(existing))
        return data.draw(escrow_ids)

    @rule(account=accounts)
    def open(self, account: str) -> None:
        self.apply(open_account, account)

    @rule(src=accounts, dst=accounts, amount=amounts)
    def send(self, src: str, dst: str, amount: int) -> None:
        self.apply(transfer, src, dst, amount)

    @rule(account=accounts, role=roles, amount=stakes, capacity=capacities)
    def stake(self, account: str, role: Role, amount: int, capacity: int | None) -> None:
        self.apply(bond, PARAMS, account, role, amount, capacity)

    @rule(data=st.data(), capacity=st.integers(0, 40))
    def declare(self, data: st.DataObject, capacity: int) -> None:
        self.apply(set_capacity, PARAMS, *self.position(data), capacity)

    @rule(data=st.data(), amount=stakes, everything=st.booleans())
    def leave(self, data: st.DataObject, amount: int, everything: bool) -> None:
        account, role = self.position(data)
        held = self.ledger.stakes.get(stake_key(account, role))
        if everything and held is not None and held.bonded > 0:
            amount = held.bonded
        self.apply(unbond, PARAMS, account, role, amount, self.now)

    @rule(data=st.data())
    def collect(self, data: st.DataObject) -> None:
        self.apply(withdraw, *self.position(data), self.now)

    @rule(data=st.data(), amount=stakes)
    def pledge(self, data: st.DataObject, amount: int) -> None:
        self.apply(lock_stake, *self.position(data), amount)

    @rule(data=st.data(), amount=stakes)
    def release(self, data: st.DataObject, amount: int) -> None:
        self.apply(unlock_stake, *self.position(data), amount)

    @rule(elapsed=st.integers(0, 25))
    def advance(self, elapsed: int) -> None:
        self.now += elapsed

    @rule(escrow_id=escrow_ids, payer=accounts, amount=amounts)
    def pay_in(self, escrow_id: str, payer: str, amount: int) -> None:
        self.apply(escrow_lock, escrow_id, payer, amount)

    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        self.apply(escrow_refund, self.escrow_id(data))

    @rule(data=st.data(), worker=accounts, vals=members, vers=members, lps=members)
    def settle(
        self,
        data: st.DataObject,
        worker: str,
        vals: dict[str, int],
        vers: dict[str, int],
        lps: dict[str, int],
    ) -> None:
        escrow_id = self.escrow_id(data)
        escrow = self.ledger.escrow.get(escrow_id)
        split = self.apply(settle_escrow, PARAMS, escrow_id, worker, vals, vers, lps)
        if split is not None and escrow is not None:
            self.last_split = (escrow.amount, split)

    @rule(
        data=st.data(),
        violation=st.sampled_from(list(Violation)),
        reporter=st.none() | accounts,
        reuse=st.integers(0, 4),
        blank=st.integers(0, 9),
    )
    def punish(
        self,
        data: st.DataObject,
        violation: Violation,
        reporter: str | None,
        reuse: int,
        blank: int,
    ) -> None:
        self.evidence_count += 1
        evidence_id = sha256(self.evidence_count.to_bytes(8, "big"))
        if blank == 0:
            evidence_id = bytes(32)
        elif reuse == 0 and self.used_evidence:
            evidence_id = data.draw(st.sampled_from(self.used_evidence))
        offender, role = self.position(data)
        if data.draw(st.integers(0, 4)) > 0:  # mostly the role the table slashes
            role = SLASHING_TABLE[violation].role
        evidence = Evidence(violation, offender, role, evidence_id, reporter)
        if self.apply(slash, PARAMS, evidence) is not None:
            self.used_evidence.append(evidence_id)

    @invariant()
    def ledger_laws_hold(self) -> None:
        check_ledger(self.ledger, PARAMS)
        assert self.ledger.supply == self.supply

    @invariant()
    def active_stake_meets_its_minimum(self) -> None:
        active = [
            stake_key(account, role)
            for account in sorted(self.ledger.balances)
            for role in Role
            if is_active(self.ledger, PARAMS, account, role)
        ]
        check_stake_minimums(self.ledger, PARAMS, active)

    @invariant()
    def last_fee_split_is_exact(self) -> None:
        if self.last_split is not None:
            amount, split = self.last_split
            check_fee_split(PARAMS, amount, split)


_DEEP = settings().max_examples > 60  # the `deep` profile is loaded
EconomicsMachine.TestCase.settings = settings(
    max_examples=400 if _DEEP else 40, stateful_step_count=50
)
test_economics_machine = EconomicsMachine.TestCase
