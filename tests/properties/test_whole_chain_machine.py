"""A state machine over the whole chain: every event kind, any actor, any order, extreme values.

Unlike `test_chain_machine.py`, this machine keeps no model of who misbehaved; it only holds the
chain to what must be true whatever anyone does:

(a) `chain.apply` either returns effects or raises `RejectedError`; any other exception
    (`InvariantViolation`, `KeyError`, an `AssertionError` of the core) fails the run;
(b) a refused event leaves the state untouched (same object, same canonical bytes), and an
    accepted one leaves the state it was applied to untouched too;
(c) a well-formed block from the sequencer always seals (height + 1, time advancing 1 ms to one
    epoch, a 32-byte beacon), samples by the beacon draw, and each malformed block is refused
    with its code;
(d) `check_chain` after every step, `check_effects` over every effect so far, a constant supply;
(e) liveness: no job stays EXECUTING for more than `min_sla_blocks` blocks sealed after its
    deadline, and no committee is still waiting once a block passed its vote deadline.

`test_the_machine_catches_jobs_that_never_time_out` plants a fault (jobs never time out) and
shows the machine reports it.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from functools import cache
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, Phase, event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import aci_ref.chain.block
from aci_ref.chain import ChainState, Effects, Quoted, apply
from aci_ref.chain.invariants import check_chain, check_effects
from aci_ref.crypto import KeyPair, sha256
from aci_ref.economics.ledger import Role, stake_key
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import InvariantViolation, RejectedError, Rejection
from aci_ref.events import (
    AcceptQuote,
    Bond,
    DepositLiquidity,
    ReportInvalidAttestation,
    RequestQuote,
    SealBlock,
    SignedEvent,
    Transfer,
    Unbond,
    Withdraw,
    WithdrawLiquidity,
)
from aci_ref.market.jobs import JobStatus, sla_bounds
from aci_ref.poai.tee import provision_enclave
from aci_ref.sim.world import (
    MODEL_ID,
    RESOURCE_CLASS,
    SEQUENCER,
    SLA_MS,
    WorkerSpec,
    World,
    build_world,
    register_body,
    sampling_errors,
    world_params,
)

LABEL = "whole"
WORKERS = (
    WorkerSpec("honest-0"),
    WorkerSpec("honest-1"),
    WorkerSpec("lazy-2", "lazy", capacity=1, throughput=16),
    WorkerSpec("careless-3", "careless", capacity=1, throughput=16),
)
ROLES = tuple(Role)
BIG = 2**63
SUBMISSIONS_KEPT = 40


@cache
def start(rate: Fraction, committee: int) -> World:
    """The bootstrapped world every run starts from (its state is immutable, so shared)."""
    params = world_params(rate, verification_committee_size=committee)
    return build_world(
        params,
        label=LABEL,
        clients=2,
        poor_clients=1,
        validators=2,
        verifiers=5,
        lps=2,
        workers=WORKERS,
    )


class WholeChainMachine(RuleBasedStateMachine):
    """Any actor sends any event; the chain must refuse cleanly or stay consistent."""

    RATES: ClassVar[tuple[Fraction, ...]] = (Fraction(0), Fraction(1, 2), Fraction(1))
    COMMITTEES: ClassVar[tuple[int, ...]] = (1, 3)

    def __init__(self) -> None:
        super().__init__()
        self.adopt(start(Fraction(1, 2), 1))

    def adopt(self, world: World) -> None:
        self.world = world.fork()
        self.supply = self.world.state.ledger.supply
        self.submissions: dict[bytes, SignedEvent] = {}
        self.block_times: list[int] = [self.world.state.now_ms]
        self.platforms_made = 0

    @initialize(
        rate=st.sampled_from(RATES),
        committee=st.sampled_from(COMMITTEES),
    )
    def choose_params(self, rate: Fraction, committee: int) -> None:
        self.adopt(start(rate, committee))

    # ---- applying events --------------------------------------------------------------------

    @property
    def state(self) -> ChainState:
        return self.world.state

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(sorted(self.world.keys))

    def attempt(self, signed: SignedEvent) -> Effects | Rejection:
        """(a) and (b): apply `signed`; return its effects or its refusal code."""
        before = self.world.state
        fingerprint = canonical_bytes(before)
        kind = type(signed.body).__name__
        try:
            after, effects = apply(before, signed)
        except RejectedError as refused:
            assert self.world.state is before
            assert canonical_bytes(before) == fingerprint, f"a refused {kind} changed the state"
            event(f"{kind}: {refused.rejection.value}")
            note(f"{kind} by {signed.sender}: refused {refused.rejection.value}")
            return refused.rejection
        assert canonical_bytes(before) == fingerprint, f"an accepted {kind} mutated its input"
        assert after is not before
        self.world.state = after
        self.world.log.extend(effects)
        event(f"{kind}: ok")
        for effect in effects:
            event(f"effect: {type(effect).__name__}")
        note(f"{kind} by {signed.sender}: {[type(e).__name__ for e in effects]}")
        return effects

    def send(self, sender: str, body: object) -> Effects | Rejection:
        return self.attempt(self.world.sign(sender, body))  # type: ignore[arg-type]

    def bonded(self, name: str, role: Role) -> int:
        position = self.state.ledger.stakes.get(stake_key(name, role))
        return 0 if position is None else position.bonded

    # ---- rules: tokens and stake ------------------------------------------------------------

    @rule(
        data=st.data(),
        to_known=st.booleans(),
        amount=st.sampled_from(("zero", "negative", "one", "all", "more", "huge", "some")),
    )
    def transfer(self, data: st.DataObject, to_known: bool, amount: str) -> None:
        sender = data.draw(st.sampled_from(self.accounts), label="sender")
        to = data.draw(st.sampled_from(self.accounts if to_known else ("nobody", "")), label="to")
        balance = self.state.ledger.balances.get(sender, 0)
        value = {
            "zero": 0,
            "negative": -1,
            "one": 1,
            "all": balance,
            "more": balance + 1,
            "huge": BIG,
            "some": max(balance // 3, 1),
        }[amount]
        outcome = self.send(sender, Transfer(to, value))
        if value <= 0 or value > balance or not to_known:
            assert isinstance(outcome, Rejection), f"transfer of {value} to {to!r} accepted"

    @rule(
        data=st.data(),
        role=st.sampled_from(ROLES),
        size=st.sampled_from((0, -1, 1, 1_000, 100_000, BIG)),
    )
    def bond(self, data: st.DataObject, role: Role, size: int) -> None:
        """Bond in any role, including a worker top-up and the refused LP bond."""
        name = data.draw(st.sampled_from(self.accounts), label="bonder")
        amount = size if size in (0, -1, BIG) else self.world.params.tokens(size)
        outcome = self.send(name, Bond(role, amount))
        if role is Role.LP:
            assert outcome is Rejection.ROLE_NOT_STAKEABLE
        elif role is Role.WORKER and name not in self.state.workers:
            assert outcome is Rejection.UNKNOWN_WORKER
        if amount <= 0:
            assert isinstance(outcome, Rejection)

    @rule(
        data=st.data(),
        role=st.sampled_from(ROLES),
        how=st.sampled_from(("all", "half", "one", "more", "zero")),
    )
    def unbond(self, data: st.DataObject, role: Role, how: str) -> None:
        name = data.draw(st.sampled_from(self.accounts), label="unbonder")
        bonded = self.bonded(name, role)
        amount = {"all": bonded, "half": bonded // 2, "one": 1, "more": bonded + 1, "zero": 0}[how]
        outcome = self.send(name, Unbond(role, amount))
        if role is Role.LP:
            assert outcome is Rejection.ROLE_NOT_STAKEABLE
        if amount <= 0 or amount > bonded:
            assert isinstance(outcome, Rejection)

    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def withdraw(self, data: st.DataObject, role: Role) -> None:
        """Withdraw matured (or not yet matured) unbonding stake."""
        name = data.draw(st.sampled_from(self.accounts), label="withdrawer")
        self.send(name, Withdraw(role))

    @rule(data=st.data(), role=st.sampled_from(ROLES), seed=st.binary(min_size=1, max_size=1))
    def unbond_wait_and_withdraw(self, data: st.DataObject, role: Role, seed: bytes) -> None:
        """Unbond part of a stake (LP: redeem shares), let the unbonding delay pass in
        epoch-long blocks, then withdraw the matured stake."""
        name = data.draw(st.sampled_from(self.accounts), label="leaver")
        if role is Role.LP:
            held = self.state.market.pools[RESOURCE_CLASS].shares.get(name, 0)
            self.send(name, WithdrawLiquidity(RESOURCE_CLASS, max(held // 2, 1)))
        else:
            self.send(name, Unbond(role, max(self.bonded(name, role) // 2, 1)))
        epoch = self.world.params.epoch_duration_ms
        blocks = -(-self.world.params.unbonding_delay_ms // epoch) + 1
        for height in range(blocks):
            self.seal_block(epoch, sha256(seed + b"withdraw" + height.to_bytes(4, "big")))
        self.send(name, Withdraw(role))

    @rule(
        data=st.data(),
        size=st.sampled_from((0, -1, 1, 1_000, 3_000, BIG)),
        pool=st.sampled_from((RESOURCE_CLASS, "no-such-pool")),
    )
    def deposit_liquidity(self, data: st.DataObject, size: int, pool: str) -> None:
        name = data.draw(st.sampled_from((*self.world.lps, *self.accounts)), label="lp")
        amount = size if size in (0, -1, BIG) else self.world.params.tokens(size)
        outcome = self.send(name, DepositLiquidity(pool, amount))
        if amount <= 0 or pool != RESOURCE_CLASS:
            assert isinstance(outcome, Rejection)

    @rule(
        data=st.data(),
        how=st.sampled_from(("all", "half", "one", "more", "zero")),
        pool=st.sampled_from((RESOURCE_CLASS, RESOURCE_CLASS, "no-such-pool")),
    )
    def withdraw_liquidity(self, data: st.DataObject, how: str, pool: str) -> None:
        name = data.draw(st.sampled_from((*self.world.lps, *self.accounts)), label="lp")
        pools = self.state.market.pools
        held = pools[RESOURCE_CLASS].shares.get(name, 0)
        shares = {"all": held, "half": held // 2, "one": 1, "more": held + 1, "zero": 0}[how]
        outcome = self.send(name, WithdrawLiquidity(pool, shares))
        if shares <= 0 or shares > held or pool not in pools:
            assert isinstance(outcome, Rejection)

    # ---- rules: workers joining and leaving -------------------------------------------------

    @precondition(lambda self: bool(self.state.workers))
    @rule(data=st.data(), new_platform=st.booleans(), stake=st.sampled_from((0, 0, 1, 3)))
    def leave_and_rejoin(self, data: st.DataObject, new_platform: bool, stake: int) -> None:
        """A worker unbonds all its stake, then registers again (same or a fresh enclave)."""
        worker = data.draw(st.sampled_from(sorted(self.state.workers)), label="worker")
        bonded = self.bonded(worker, Role.WORKER)
        if bonded:
            self.send(worker, Unbond(Role.WORKER, bonded))
        if new_platform:
            self.platforms_made += 1
            platform = f"{LABEL}/platform/{worker}-moved-{self.platforms_made}"
            self.world.enclaves[worker] = provision_enclave(
                self.world.vendor,
                KeyPair.from_label(platform),
                KeyPair.from_label(f"{LABEL}/enclave/{worker}-{self.platforms_made}"),
            )
        self.register(worker, stake)

    def register(self, name: str, multiple: int) -> Effects | Rejection:
        params = self.world.params
        need = max(params.worker_min_stake, 1 * params.worker_stake_per_capacity_unit)
        body = register_body(self.world, name, 1, 16, multiple * params.tokens(need))
        return self.send(name, body)

    @rule(
        data=st.data(),
        platform=st.sampled_from((*(w.name for w in WORKERS), "fresh")),
        stake=st.sampled_from((0, 1, 2)),
    )
    def register_a_newcomer(self, data: st.DataObject, platform: str, stake: int) -> None:
        """Any account registers as a worker: on a fresh platform of its own, or on another
        worker's platform (one machine posing as two: a Sybil)."""
        name = data.draw(st.sampled_from(self.accounts), label="newcomer")
        if name not in self.world.enclaves:
            key = f"{name}-own" if platform == "fresh" else platform
            self.world.enclaves[name] = provision_enclave(
                self.world.vendor,
                KeyPair.from_label(f"{LABEL}/platform/{key}"),
                KeyPair.from_label(f"{LABEL}/enclave/{name}"),
            )
        self.register(name, stake)

    @rule(data=st.data())
    def register_with_another_identity(self, data: st.DataObject) -> None:
        """A registration naming another worker is refused."""
        if not self.world.enclaves:
            return
        owner = data.draw(st.sampled_from(sorted(self.world.enclaves)), label="owner")
        sender = data.draw(st.sampled_from(self.accounts), label="sender")
        if sender == owner:
            return
        body = register_body(self.world, owner)
        assert self.send(sender, body) is Rejection.BAD_INPUT

    # ---- rules: clients ---------------------------------------------------------------------

    def sla_choices(self) -> tuple[int, ...]:
        shortest, longest = sla_bounds(self.world.params)
        return (1, shortest - 1, shortest, SLA_MS, longest, longest + 1, 2**62)

    def input_of(self, how: str) -> bytes:
        good = self.world.new_input()
        return {
            "valid": good,
            "empty": b"",
            "short": good[:-1],
            "long": good + b"\x00",
            "nan": b"\xff\xff\xff\x7f" * (len(good) // 4),
            "huge": bytes(self.world.params.max_input_bytes + 1),
        }[how]

    def request(
        self, client: str, sla_ms: int, budget: int, data: bytes, model: str = MODEL_ID
    ) -> Effects | Rejection:
        outcome = self.send(client, RequestQuote(model, data, sla_ms, budget))
        shortest, longest = sla_bounds(self.world.params)
        if model != MODEL_ID:
            assert outcome is Rejection.UNKNOWN_MODEL
        elif budget <= 0:
            assert outcome is Rejection.NON_POSITIVE_AMOUNT
        elif not shortest <= sla_ms <= longest:
            assert outcome is Rejection.SLA_OUT_OF_RANGE
        elif len(data) > self.world.params.max_input_bytes:
            assert outcome is Rejection.INPUT_TOO_LARGE
        return outcome

    @rule(
        data=st.data(),
        budget=st.sampled_from(("zero", "negative", "one", "fair", "huge", "max")),
        how=st.sampled_from(("valid", "valid", "empty", "short", "long", "nan", "huge")),
        model=st.sampled_from((MODEL_ID, MODEL_ID, MODEL_ID, "no-such-model")),
    )
    def request_quote(self, data: st.DataObject, budget: str, how: str, model: str) -> None:
        """Any account asks for a quote with any SLA, budget and input."""
        client = data.draw(st.sampled_from(self.accounts), label="client")
        sla = data.draw(st.sampled_from(self.sla_choices()), label="sla_ms")
        tokens = self.world.params.tokens
        amount = {
            "zero": 0,
            "negative": -5,
            "one": 1,
            "fair": tokens(1_000),
            "huge": tokens(10**9),
            "max": BIG - 1,
        }[budget]
        self.request(client, sla, amount, self.input_of(how), model)

    @precondition(lambda self: bool(self.state.jobs))
    @rule(
        data=st.data(),
        how=st.sampled_from(("fair", "fair", "below", "above", "over", "stranger", "low")),
    )
    def accept_quote(self, data: st.DataObject, how: str) -> None:
        """A client accepts at, below or above the price, over its budget, or someone else's."""
        keys = sorted(self.state.open_quotes) or sorted(self.state.jobs)
        key = data.draw(st.sampled_from(keys), label="job")
        self.accept(key, how, data)

    def accept(self, key: str, how: str, data: st.DataObject | None = None) -> Effects | Rejection:
        job = self.state.jobs[key]
        client = job.client
        bound = {
            "fair": job.price,
            "below": job.price - 1,
            "above": job.price + 1,
            "over": job.spec.budget + 1,
            "stranger": job.price,
            "low": 0,
        }[how]
        if how == "stranger" and data is not None:
            others = [a for a in self.accounts if a != job.client]
            client = data.draw(st.sampled_from(others), label="stranger")
        outcome = self.send(client, AcceptQuote(job.job_id, bound))
        if job.status is not JobStatus.QUOTED or client != job.client or how == "over":
            assert isinstance(outcome, Rejection), f"accept ({how}) of a {job.status} job"
        if client != job.client:
            assert outcome is Rejection.NOT_JOB_CLIENT
        return outcome

    @rule(data=st.data(), self_dealing=st.booleans())
    def order_job(self, data: st.DataObject, self_dealing: bool) -> None:
        """Request and accept in one block: the path that keeps jobs flowing. With
        `self_dealing`, a worker orders (and may be quoted its own job)."""
        pool = sorted(self.state.workers) if self_dealing else list(self.world.clients)
        if not pool:
            return
        client = data.draw(st.sampled_from(pool), label="orderer")
        budget = self.world.params.tokens(1_000)
        outcome = self.request(client, SLA_MS, budget, self.world.new_input())
        if isinstance(outcome, Rejection):
            return
        key = next(e.job_id.hex() for e in outcome if isinstance(e, Quoted))
        if self.state.jobs[key].worker == client:
            event("self-dealt quote")
        self.accept(key, "fair")

    @rule(
        data=st.data(),
        behaviour=st.sampled_from(("own", "honest", "lazy", "careless", "silent")),
        liar=st.booleans(),
        beacon=st.binary(min_size=32, max_size=32),
    )
    def life_of_a_job(self, data: st.DataObject, behaviour: str, liar: bool, beacon: bytes) -> None:
        """A whole job: order, a result as the worker behaves (or none), a block, and every
        member's vote (honest, or each drawn to lie)."""
        client = data.draw(st.sampled_from(self.world.clients), label="client")
        outcome = self.request(
            client, SLA_MS, self.world.params.tokens(1_000), self.world.new_input()
        )
        if isinstance(outcome, Rejection):
            return
        key = next(e.job_id.hex() for e in outcome if isinstance(e, Quoted))
        if isinstance(self.accept(key, "fair"), Rejection):
            return
        job = self.state.jobs[key]
        if behaviour != "silent" and job.worker in self.world.enclaves:
            if behaviour == "own":
                behaviour = self.world.behaviours.get(job.worker, "honest")
            signed = self.world.result_event(job.job_id, behaviour=behaviour)
            self.remember(signed)
            outcome = self.attempt(signed)
            if behaviour == "careless":
                assert outcome is Rejection.METRICS_INCONSISTENT, outcome
            else:
                assert not isinstance(outcome, Rejection), f"a {behaviour} result: {outcome}"
        self.seal_block(2_000, beacon)
        for _ in range(12):
            if key not in self.state.voting:
                break
            job = self.state.jobs[key]
            members = job.arbiters if job.status is JobStatus.DISPUTED else job.committee
            voted = {v.verifier for v in job.votes}
            member = next(m for m in members if m not in voted)
            lie = liar and data.draw(st.booleans(), label="lies")
            verdict = not self.world.output_correct(job.job_id) if lie else None
            outcome = self.attempt(self.world.vote_event(member, job.job_id, verdict))
            assert not isinstance(outcome, Rejection), f"a member's vote was refused: {outcome}"

    # ---- rules: results and evidence --------------------------------------------------------

    def remember(self, signed: SignedEvent) -> None:
        self.submissions[signed.digest()] = signed
        if len(self.submissions) > SUBMISSIONS_KEPT:
            del self.submissions[next(iter(self.submissions))]

    @precondition(lambda self: bool(self.state.jobs))
    @rule(
        data=st.data(),
        how=st.sampled_from(
            ("honest", "honest", "lazy", "careless", "wrong_job", "wrong_sender", "stale")
        ),
        running=st.booleans(),
    )
    def submit_result(self, data: st.DataObject, how: str, running: bool) -> None:
        """A result for a running job (or any job, quoted ones included): honest, lazy,
        careless, for another job, by the wrong sender, or claiming to start too early."""
        keys = sorted(self.state.executing) if running and self.state.executing else None
        key = data.draw(st.sampled_from(keys or sorted(self.state.jobs)), label="job")
        job = self.state.jobs[key]
        if job.worker not in self.world.enclaves:
            return
        overrides: dict[str, object] = {}
        if how == "wrong_job":
            other = data.draw(st.sampled_from(sorted(self.state.jobs)), label="other")
            overrides["body_job_id"] = bytes.fromhex(other)
        elif how == "wrong_sender":
            overrides["sender"] = data.draw(st.sampled_from(self.accounts), label="sender")
        elif how == "stale":
            overrides["t_start_ms"] = job.escrowed_at_ms - 1
        behaviour = how if how in ("lazy", "careless") else "honest"
        signed = self.world.result_event(job.job_id, behaviour=behaviour, **overrides)  # type: ignore[arg-type]
        outcome = self.attempt(signed)
        self.remember(signed)
        if job.status is not JobStatus.EXECUTING or signed.sender != job.worker:
            assert isinstance(outcome, Rejection), f"a result for a {job.status} job accepted"
        if behaviour == "careless" or how == "stale":
            assert isinstance(outcome, Rejection), f"a {how} result was accepted"

    @precondition(lambda self: bool(self.submissions))
    @rule(data=st.data(), resign=st.booleans())
    def report_invalid_attestation(self, data: st.DataObject, resign: bool) -> None:
        """Anyone reports a recorded submission (or the same body re-signed under another
        nonce: one offence, slashed at most once)."""
        digest = data.draw(st.sampled_from(sorted(self.submissions)), label="submission")
        submission = self.submissions[digest]
        if resign and submission.sender in self.world.keys:
            shift = data.draw(st.integers(1, 1_000), label="nonce_shift")
            submission = self.world.sign(
                submission.sender, submission.body, nonce=submission.nonce + shift
            )
        reporter = data.draw(st.sampled_from(self.accounts), label="reporter")
        self.send(reporter, ReportInvalidAttestation(submission))

    @rule(data=st.data())
    def report_something_else(self, data: st.DataObject) -> None:
        """Evidence that is no submitted result is refused."""
        reporter = data.draw(st.sampled_from(self.accounts), label="reporter")
        bogus = self.world.sign(reporter, Transfer(reporter, 1))
        outcome = self.send(reporter, ReportInvalidAttestation(bogus))
        assert outcome is Rejection.EVIDENCE_MISMATCH

    # ---- rules: votes -----------------------------------------------------------------------

    def deciding(self) -> list[str]:
        return sorted(self.state.voting)

    @precondition(lambda self: bool(self.state.jobs))
    @rule(
        data=st.data(),
        how=st.sampled_from(("honest", "honest", "lie", "outsider", "again", "anyone")),
    )
    def cast_vote(self, data: st.DataObject, how: str) -> None:
        keys = self.deciding() or sorted(self.state.jobs)
        key = data.draw(st.sampled_from(keys), label="job")
        job = self.state.jobs[key]
        members = job.arbiters if job.status is JobStatus.DISPUTED else job.committee
        voted = [v.verifier for v in job.votes]
        waiting = [m for m in members if m not in voted]
        if how in ("honest", "lie") and waiting:
            voter = data.draw(st.sampled_from(waiting), label="member")
        elif how == "again" and voted:
            voter = data.draw(st.sampled_from(voted), label="member")
        elif how == "outsider":
            outsiders = [a for a in self.accounts if a not in members] or list(self.accounts)
            voter = data.draw(st.sampled_from(outsiders), label="outsider")
        else:
            voter = data.draw(st.sampled_from(self.accounts), label="voter")
        if how == "lie" and job.output:
            verdict: bool | None = not self.world.output_correct(job.job_id)
        elif job.output:
            verdict = None
        else:
            verdict = data.draw(st.booleans(), label="verdict")
        outcome = self.attempt(self.world.vote_event(voter, job.job_id, verdict))
        if job.status not in (JobStatus.VERIFYING, JobStatus.DISPUTED):
            expected = Rejection.ALREADY_SETTLED if job.final else Rejection.ILLEGAL_TRANSITION
            assert outcome is expected, outcome
        elif voter not in members:
            assert outcome is Rejection.NOT_A_VERIFIER, outcome
        elif voter in voted:
            assert outcome is Rejection.DUPLICATE_VOTE, outcome
        else:
            assert not isinstance(outcome, Rejection), f"a member's vote was refused: {outcome}"

    # ---- rules: the sequencer ---------------------------------------------------------------

    def advances(self) -> st.SearchStrategy[int]:
        epoch = self.world.params.epoch_duration_ms
        return st.one_of(
            st.sampled_from((1, 2_000, 2_000, SLA_MS, 2 * SLA_MS + 1, epoch)),
            st.integers(1, epoch),
        )

    def seal_block(self, advance: int, beacon: bytes) -> None:
        """(c): the sequencer's well-formed next block always seals."""
        before = self.state
        outcome = self.attempt(self.world.seal_event(advance, beacon))
        assert not isinstance(outcome, Rejection), f"the sequencer's block was refused: {outcome}"
        assert self.state.height == before.height + 1
        assert self.state.now_ms == before.now_ms + advance
        assert not sampling_errors(before, self.state, beacon), "sampling off the beacon draw"
        self.block_times.append(self.state.now_ms)

    @rule(data=st.data(), beacon=st.binary(min_size=32, max_size=32))
    def seal(self, data: st.DataObject, beacon: bytes) -> None:
        self.seal_block(data.draw(self.advances(), label="advance_ms"), beacon)

    @rule(data=st.data(), beacon=st.binary(min_size=32, max_size=32))
    def seal_a_short_block(self, data: st.DataObject, beacon: bytes) -> None:
        self.seal_block(data.draw(st.sampled_from((1, 2_000, 2_000, 5_000))), beacon)

    @rule(data=st.data(), blocks=st.integers(1, 12), seed=st.binary(min_size=1, max_size=1))
    def let_time_pass(self, data: st.DataObject, blocks: int, seed: bytes) -> None:
        """Several blocks, some an epoch long: stake matures, epochs close, deadlines pass."""
        epoch = self.world.params.epoch_duration_ms
        for height in range(blocks):
            advance = data.draw(st.sampled_from((epoch, epoch, 2_000, SLA_MS)), label="advance")
            self.seal_block(advance, sha256(seed + height.to_bytes(4, "big")))

    @rule(
        how=st.sampled_from(
            ("stranger", "skip", "repeat", "backwards", "jump", "short_beacon", "long_beacon")
        ),
        data=st.data(),
    )
    def bad_block(self, how: str, data: st.DataObject) -> None:
        good = self.world.seal_event()
        body = good.body
        assert isinstance(body, SealBlock)
        epoch = self.world.params.epoch_duration_ms
        sender, forged, expected = SEQUENCER, body, Rejection.BAD_HEIGHT
        if how == "stranger":
            others = [a for a in self.accounts if a != SEQUENCER]
            sender = data.draw(st.sampled_from(others), label="stranger")
            expected = Rejection.NOT_SEQUENCER
        elif how == "skip":
            forged = replace(body, height=body.height + data.draw(st.integers(1, 2**40)))
        elif how == "repeat":
            forged = replace(body, height=data.draw(st.integers(-5, body.height - 1)))
        elif how == "backwards":
            back = data.draw(st.integers(1, max(self.state.now_ms, 1)), label="back_ms")
            forged, expected = replace(body, now_ms=self.state.now_ms - back), Rejection.STALE_EVENT
        elif how == "jump":
            jump = data.draw(st.sampled_from((1, 2, 2**40)), label="excess_ms")
            forged = replace(body, now_ms=self.state.now_ms + epoch + jump)
            expected = Rejection.TIME_JUMP
        elif how == "short_beacon":
            forged, expected = replace(body, beacon=body.beacon[:31]), Rejection.BAD_INPUT
        else:
            forged, expected = replace(body, beacon=body.beacon + b"\x00"), Rejection.BAD_INPUT
        outcome = self.send(sender, forged)
        assert outcome is expected, f"{how} block: {outcome}, expected {expected}"

    # ---- invariants -------------------------------------------------------------------------

    @invariant()
    def chain_invariants_hold(self) -> None:
        """(d)"""
        check_chain(self.state)
        check_effects(self.world.log, self.state)
        assert self.state.ledger.supply == self.supply, "the supply moved"

    @invariant()
    def deadlines_are_kept(self) -> None:
        """(e): a running job is timed out once `min_sla_blocks` blocks have passed its
        deadline; no committee is still waiting after a block passed its vote deadline."""
        grace = self.world.params.min_sla_blocks
        for key, deadline in self.state.executing.items():
            late = sum(1 for t in self.block_times if t > deadline)
            assert late <= grace, f"job {key[:12]} still executing {late} blocks past its deadline"
        for key, deadline in self.state.voting.items():
            assert deadline >= self.state.now_ms, f"job {key[:12]} still waits for overdue votes"


def machine_settings(examples: int | None = None) -> settings:
    deep = settings().max_examples > 60  # the `deep` profile is loaded
    return settings(
        max_examples=examples or (400 if deep else 100),
        stateful_step_count=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


WholeChainMachine.TestCase.settings = machine_settings()
TestWholeChainMachine = WholeChainMachine.TestCase


def test_the_machine_catches_jobs_that_never_time_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted fault: blocks never time a job out. Blocks still seal, so only the liveness
    invariant can see it; the machine must report a failure."""
    monkeypatch.setattr(aci_ref.chain.block, "execution_overdue", lambda *a, **k: False)
    with pytest.raises((AssertionError, InvariantViolation)) as caught:
        run_state_machine_as_test(
            WholeChainMachine,
            settings=settings(
                machine_settings(200),
                derandomize=True,
                database=None,
                report_multiple_bugs=False,
                phases=(Phase.explicit, Phase.generate),  # the failure, not its shrinking
            ),
        )
    assert "still executing" in str(caught.value), caught.value
