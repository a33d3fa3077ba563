"""A state machine over `chain.apply`: clients, honest, lazy and careless workers, verifiers (one of
them a liar), validators and LPs acting in random orders, with blocks sealed at random times.

The machine keeps a model of who really misbehaved (which outputs are wrong, which submissions
fail Level 1, which accusations were false) and checks after every step:

- `check_chain` and `check_effects` (conservation, no negative balance, escrow, capacity, queues,
  no job paid twice, no payment without an accepted attestation, every fee split exact, every
  slash with 32-byte evidence);
- the supply never moves and every pool keeps H = Ψ·Θ ≥ κ; with no job holding capacity every
  pool's spot price is back at its idle price (a buy and its release leave no arbitrage);
- every slash hits an actor who misbehaved in the model: an honest worker is never slashed, a
  worker is slashed for a wrong output only if its output was wrong, for an invalid attestation
  only on a submission it signed that fails Level 1, for a timeout only if it never delivered; a
  verifier is slashed only for an accusation that was false;
- sampling follows the beacon draw exactly, and a sampled wrong output is never paid;
- a refused event leaves the state exactly as it was (same object, same canonical bytes), and
  events the model knows to be good are accepted while those it knows to be bad are refused with
  their code.

Each run draws the sampling rate (1/2 or 1) and the verification committee's size (1 or 3).
Models of behaviour (chosen so the machine never walks into the known defects listed at the end of
`tests/unit/test_chain_lifecycle.py`): honest and lazy workers deliver before their deadline;
careless workers may miss it; lazy and careless workers have capacity 1, so a worker slashed to
zero holds no other job; only `verifier-4` lies (it may reject a correct output, never accept a
wrong one), only it may unbond verifier stake, and no verifier withdraws (an accuser must still
hold stake when arbitration slashes it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache
from typing import ClassVar

from hypothesis import event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aci_ref.chain import Attested, ChainState, Effects, Quoted, Settled, Slashed
from aci_ref.chain.invariants import HOLDING, check_chain, check_effects
from aci_ref.economics.ledger import Role, stake_key
from aci_ref.economics.slashing import Violation
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import (
    AcceptQuote,
    Bond,
    CastVote,
    DepositLiquidity,
    RequestQuote,
    SealBlock,
    SignedEvent,
    SubmitResult,
    Unbond,
    Withdraw,
    WithdrawLiquidity,
)
from aci_ref.events import ReportInvalidAttestation as Report
from aci_ref.market.hmm import curve_constant, spot_price
from aci_ref.market.hmm import invariant as hamiltonian
from aci_ref.market.jobs import EVENT_TRANSITIONS, JobEvent, JobStatus, execution_overdue
from aci_ref.poai.attestation import attestation_digest
from aci_ref.sim.world import (
    BLOCK_MS,
    MODEL_ID,
    RESOURCE_CLASS,
    SEQUENCER,
    SLA_MS,
    WorkerSpec,
    World,
    build_world,
    sampling_errors,
    world_params,
)

LIAR = "verifier-4"
WORKERS = (
    WorkerSpec("honest-0"),
    WorkerSpec("honest-1"),
    WorkerSpec("lazy-2", "lazy", capacity=1, throughput=16),  # quoted first while free
    WorkerSpec("careless-3", "careless", capacity=1, throughput=16),
)
PUNCTUAL = ("honest", "lazy")
ADVANCES = (0, 1, 1_000, 2_000, 2_000, 5_000, 19_999, 20_001, 3_600_000)
QUOTE_FAILURES = {Rejection.NO_CAPACITY, Rejection.NO_WORKER}


@cache
def start(rate: Fraction, committee: int = 1) -> World:
    """The bootstrapped world every run starts from (immutable state, so shared safely).

    The liar bonds twice the verifier minimum: it is drawn more often and stays active after a
    false-accusation slash, so it can lie again.
    """
    params = world_params(rate, verification_committee_size=committee)
    world = build_world(
        params,
        label="machine",
        clients=2,
        poor_clients=1,
        validators=2,
        verifiers=5,
        lps=2,
        workers=WORKERS,
    )
    world.act(LIAR, Bond(Role.VERIFIER, params.tokens(params.verifier_min_stake)))
    return world


@dataclass
class Submission:
    """A result the model signed, and whether its attestation fails Level 1 for its job."""

    event: SignedEvent
    fails_level1: bool

    @property
    def job_key(self) -> str:
        body = self.event.body
        assert isinstance(body, SubmitResult)
        return body.job_id.hex()


class ChainMachine(RuleBasedStateMachine):
    """Drives one chain through random events and checks it against a model of the actors."""

    RATES: ClassVar[tuple[Fraction, ...]] = (Fraction(1, 2), Fraction(1))
    COMMITTEES: ClassVar[tuple[int, ...]] = (1, 3)

    def __init__(self) -> None:
        super().__init__()
        self.world = start(self.RATES[0]).fork()
        self.supply = self.world.state.ledger.supply
        self.truth: dict[str, bool] = {}  # job → was its accepted output correct
        self.accused: set[tuple[str, str]] = set()  # (verifier, job) rejecting votes
        self.submissions: dict[bytes, Submission] = {}
        self.reported: set[tuple[bytes, str]] = set()
        self.accepted_results: list[SubmitResult] = []

    @initialize(data=st.data())
    def choose_params(self, data: st.DataObject) -> None:
        """The sampling rate and the verification committee's size."""
        rate = data.draw(st.sampled_from(self.RATES), label="sampling_rate")
        size = data.draw(st.sampled_from(self.COMMITTEES), label="committee_size")
        self.world = start(rate, size).fork()
        self.supply = self.world.state.ledger.supply

    # ---- applying events --------------------------------------------------------------------

    @property
    def state(self) -> ChainState:
        return self.world.state

    def attempt(self, signed: SignedEvent) -> Effects | Rejection:
        """Apply one event: its effects, or its refusal code after checking nothing changed."""
        before = self.world.state
        fingerprint = canonical_bytes(before)
        try:
            effects = self.world.apply(signed)
        except RejectedError as refused:
            assert self.world.state is before
            assert canonical_bytes(before) == fingerprint, "a refused event changed the state"
            event(f"{type(signed.body).__name__}: {refused.rejection.value}")
            return refused.rejection
        event(f"{type(signed.body).__name__}: ok")
        for effect in effects:
            event(f"effect: {type(effect).__name__}")
        self.check_slashes(effects)
        self.check_payments(effects)
        return effects

    def behaviour(self, name: str) -> str:
        return self.world.behaviours.get(name, "")

    def check_slashes(self, effects: Effects) -> None:
        """Every slash in `effects` hits an actor the model knows misbehaved, for that misdeed."""
        for effect in effects:
            if not isinstance(effect, Slashed):
                continue
            offender, job = effect.record.offender, effect.job_id.hex()
            violation = effect.violation
            note(f"slash {violation} of {offender} on {job[:12]}")
            event(f"slash: {violation.value}")
            assert self.behaviour(offender) != "honest", f"honest {offender} slashed: {violation}"
            if violation is Violation.WRONG_OUTPUT:
                assert self.truth.get(job) is False, "wrong-output slash of a correct output"
            elif violation is Violation.FALSE_ACCUSATION:
                assert (offender, job) in self.accused, "false-accusation slash without a vote"
                assert self.truth.get(job) is True, "accuser slashed though the output was wrong"
            elif violation is Violation.INVALID_ATTESTATION:
                # The offence is (attestation, job): some recorded submission of it must fail.
                found = [
                    s
                    for s in self.submissions.values()
                    if s.job_key == job and s.event.sender == offender and s.fails_level1
                ]
                assert found, "invalid-attestation slash without a failing submission"
            elif violation is Violation.TIMEOUT:
                assert job not in self.truth, "timeout slash of a job that delivered"
            elif violation is Violation.LOW_QUALITY:
                assert offender in self.world.behaviours
            else:
                raise AssertionError(f"unexpected slash {violation}")

    def check_payments(self, effects: Effects) -> None:
        """A sampled wrong output is never paid."""
        for effect in effects:
            if isinstance(effect, Settled):
                job = self.world.job(effect.job_id)
                if job.sampled and job.committee:
                    assert self.truth[effect.job_id.hex()], "a sampled wrong output was paid"

    # ---- rules: clients ---------------------------------------------------------------------

    def request(self, client: str, budget_ok: bool, sla_ms: int) -> Effects | Rejection:
        budget = self.world.params.tokens(1_000) if budget_ok else 1
        body = RequestQuote(MODEL_ID, self.world.new_input(), sla_ms, budget)
        outcome = self.attempt(self.world.sign(client, body))
        if not budget_ok:
            assert outcome in {Rejection.BUDGET_EXCEEDED, *QUOTE_FAILURES}
        return outcome

    def accept(self, key: str, how: str, slack: int) -> None:
        """The client (or a stranger) accepts a job at a fair, too-low or over-budget bound."""
        job = self.state.jobs[key]
        client, bound = job.client, job.price + slack
        if how == "low":
            bound = 1
        elif how == "over":
            bound = job.spec.budget + 1
        elif how == "stranger":
            client = next(c for c in self.world.clients if c != job.client)
        outcome = self.attempt(self.world.sign(client, AcceptQuote(job.job_id, bound)))
        if job.status is not JobStatus.QUOTED:
            assert isinstance(outcome, Rejection)
        elif how == "stranger":
            assert outcome is Rejection.NOT_JOB_CLIENT
        elif how == "over":
            assert outcome is Rejection.BUDGET_EXCEEDED
        elif how == "low":
            assert outcome in {Rejection.SLIPPAGE_EXCEEDED, *QUOTE_FAILURES}
        elif not isinstance(outcome, Rejection):
            assert self.state.ledger.escrow[key].amount <= bound
        else:
            poor = job.client.startswith("poor")
            assert outcome in {Rejection.SLIPPAGE_EXCEEDED, *QUOTE_FAILURES} or (
                poor and outcome is Rejection.INSUFFICIENT_ESCROW
            ), outcome

    @rule(data=st.data(), budget_ok=st.integers(0, 5), sla=st.sampled_from((SLA_MS, 2 * SLA_MS)))
    def request_quote(self, data: st.DataObject, budget_ok: int, sla: int) -> None:
        self.request(data.draw(st.sampled_from(self.world.clients)), budget_ok > 0, sla)

    @precondition(lambda self: bool(self.state.jobs))
    @rule(data=st.data(), how=st.sampled_from(("fair", "low", "over", "stranger")))
    def accept_quote(self, data: st.DataObject, how: str) -> None:
        keys = sorted(self.state.open_quotes) or sorted(self.state.jobs)
        key = data.draw(st.sampled_from(keys))
        self.accept(key, how, data.draw(st.sampled_from((0, 1, 10**6))))

    @rule(client=st.sampled_from(("client-0", "client-1", "client-0", "poor-0")))
    def order_job(self, client: str) -> None:
        """Request and accept at once: the common path, so jobs flow."""
        outcome = self.request(client, True, SLA_MS)
        if not isinstance(outcome, Rejection):
            key = next(e.job_id.hex() for e in outcome if isinstance(e, Quoted))
            self.accept(key, "fair", 0)

    @rule(client=st.sampled_from(("client-0", "client-1")))
    def order_another_job(self, client: str) -> None:
        self.order_job(client)

    # ---- rules: workers ---------------------------------------------------------------------

    def deliver(self, key: str, cheat: bool) -> None:
        """The job's worker submits as its behaviour says (cheating only if `cheat`)."""
        job_id = bytes.fromhex(key)
        worker = self.world.job(job_id).worker
        behaviour = self.behaviour(worker) if cheat else "honest"
        signed = self.world.result_event(job_id, behaviour=behaviour)
        outcome = self.attempt(signed)
        if behaviour == "careless":
            assert outcome is Rejection.METRICS_INCONSISTENT, f"a careless result: {outcome}"
            self.remember(signed, fails_level1=True)
            return
        assert not isinstance(outcome, Rejection), f"a {behaviour} result was refused: {outcome}"
        assert any(isinstance(e, Attested) for e in outcome)
        self.remember(signed, fails_level1=False)
        body = signed.body
        assert isinstance(body, SubmitResult)
        self.accepted_results.append(body)
        self.truth[key] = self.world.output_correct(job_id)
        assert self.truth[key] == (behaviour == "honest")

    @precondition(lambda self: bool(self.state.executing))
    @rule(data=st.data(), cheat=st.booleans())
    def submit_result(self, data: st.DataObject, cheat: bool) -> None:
        self.deliver(data.draw(st.sampled_from(sorted(self.state.executing))), cheat)

    @precondition(lambda self: bool(self.state.executing))
    @rule(data=st.data())
    def submit_another_result(self, data: st.DataObject) -> None:
        self.deliver(data.draw(st.sampled_from(sorted(self.state.executing))), True)

    @precondition(lambda self: bool(self.state.executing))
    @rule(data=st.data(), how=st.sampled_from(("wrong_worker", "wrong_job", "replay")))
    def submit_bad_result(self, data: st.DataObject, how: str) -> None:
        """A result by the wrong worker, or for the wrong job, or with a replayed attestation."""
        key = data.draw(st.sampled_from(sorted(self.state.executing)))
        job_id = bytes.fromhex(key)
        worker = self.state.jobs[key].worker
        if how == "wrong_worker":
            sender = data.draw(st.sampled_from([w for w in self.world.workers if w != worker]))
            signed = self.world.result_event(job_id, sender=sender)
            assert self.attempt(signed) is Rejection.NOT_JOB_WORKER
            self.remember(signed, fails_level1=False)
            return
        if self.behaviour(worker) == "honest":
            return  # honest workers do neither
        if how == "replay" and self.accepted_results:
            old = data.draw(st.sampled_from(self.accepted_results))
            signed = self.world.sign(worker, SubmitResult(job_id, old.output, old.attestation))
            assert self.attempt(signed) is Rejection.ATTESTATION_REPLAYED
            self.remember(signed, fails_level1=True)
            return
        other = self.state.jobs[data.draw(st.sampled_from(sorted(self.state.jobs)))]
        if other.job_id == job_id:
            return
        signed = self.world.result_event(job_id, body_job_id=other.job_id)
        outcome = self.attempt(signed)
        if other.worker != worker or other.status is JobStatus.QUOTED:
            assert outcome is Rejection.NOT_JOB_WORKER
        elif other.final:
            assert outcome is Rejection.ALREADY_SETTLED
        elif other.status is JobStatus.EXECUTING:
            assert outcome is Rejection.ATTESTATION_WRONG_JOB
        else:
            assert outcome is Rejection.ILLEGAL_TRANSITION
        self.remember(signed, fails_level1=True)

    def remember(self, signed: SignedEvent, *, fails_level1: bool) -> None:
        self.submissions[signed.digest()] = Submission(signed, fails_level1)

    @precondition(lambda self: bool(self.submissions))
    @rule(data=st.data())
    def report_invalid_attestation(self, data: st.DataObject) -> None:
        digest = data.draw(st.sampled_from(sorted(self.submissions)))
        submission = self.submissions[digest]
        reporter = data.draw(st.sampled_from((*self.world.validators, *self.world.verifiers)))
        signer = submission.event.sender
        by_worker = self.state.jobs[submission.job_key].worker == signer
        body = submission.event.body
        assert isinstance(body, SubmitResult)
        accepted = attestation_digest(body.attestation).hex() in self.state.attestations
        held = self.world.stake(signer, Role.WORKER)
        status = self.state.jobs[submission.job_key].status
        offence = (attestation_digest(body.attestation), submission.job_key)
        outcome = self.attempt(self.world.sign(reporter, Report(submission.event)))
        if (status, JobEvent.REPORT) not in EVENT_TRANSITIONS:
            # Only a job its worker was assigned can hold evidence against it.
            assert outcome in {Rejection.ILLEGAL_TRANSITION, Rejection.ALREADY_SETTLED}, outcome
        elif not (submission.fails_level1 and by_worker) or accepted:
            # A replay of an attestation the chain accepted for its own job is no evidence.
            assert outcome is Rejection.EVIDENCE_MISMATCH
        elif offence in self.reported:
            assert outcome is Rejection.DUPLICATE_EVIDENCE
        elif held == 0:
            # Nothing left to take: the report is admitted and slashes nothing.
            assert not isinstance(outcome, Rejection), outcome
        else:
            assert not isinstance(outcome, Rejection), outcome
            self.reported.add(offence)

    # ---- rules: the sequencer ---------------------------------------------------------------

    def seal(self, advance: int, beacon: bytes) -> None:
        now = self.state.now_ms + advance
        for key, deadline in sorted(self.state.executing.items()):
            worker = self.state.jobs[key].worker
            if deadline < now and self.behaviour(worker) in PUNCTUAL:
                self.deliver(key, cheat=True)
        before = self.state
        height = self.state.height + 1
        overdue = {
            key: execution_overdue(self.state.params, self.state.jobs[key], height, now)
            for key in self.state.executing
        }
        outcome = self.attempt(self.world.seal_event(advance, beacon))
        assert not isinstance(outcome, Rejection), f"the sequencer's block was refused: {outcome}"
        assert not sampling_errors(before, self.state, beacon), "sampling off the beacon draw"
        for key, due in overdue.items():
            timed_out = self.state.jobs[key].status is JobStatus.REFUNDED
            assert timed_out == due, "a deadline was not enforced exactly"

    @rule(advance=st.sampled_from(ADVANCES), beacon=st.binary(min_size=32, max_size=32))
    def seal_block(self, advance: int, beacon: bytes) -> None:
        self.seal(advance, beacon)

    @rule(beacon=st.binary(min_size=32, max_size=32))
    def seal_next_block(self, beacon: bytes) -> None:
        self.seal(BLOCK_MS, beacon)

    @rule(how=st.sampled_from(("stranger", "skip", "repeat", "backwards", "short_beacon")))
    def bad_block(self, how: str) -> None:
        good = self.world.seal_event()
        body = good.body
        assert isinstance(body, SealBlock)
        sender, forged, expected = SEQUENCER, body, Rejection.BAD_HEIGHT
        if how == "stranger":
            sender, expected = "client-0", Rejection.NOT_SEQUENCER
        elif how == "skip":
            forged = replace(body, height=body.height + 1)
        elif how == "repeat":
            forged = replace(body, height=body.height - 1)
        elif how == "backwards":
            forged, expected = replace(body, now_ms=self.state.now_ms - 1), Rejection.STALE_EVENT
        else:
            forged, expected = replace(body, beacon=body.beacon[:31]), Rejection.BAD_INPUT
        assert self.attempt(self.world.sign(sender, forged)) is expected

    # ---- rules: verifiers -------------------------------------------------------------------

    def deciding(self) -> list[str]:
        return sorted(
            k
            for k, j in self.state.jobs.items()
            if j.status in (JobStatus.VERIFYING, JobStatus.DISPUTED)
        )

    def cast(self, verifier: str, key: str, accept: bool | None) -> Effects | Rejection:
        job = self.state.jobs[key]
        verifying = job.status is JobStatus.VERIFYING
        signed = self.world.vote_event(verifier, job.job_id, accept)
        outcome = self.attempt(signed)
        body = signed.body
        assert isinstance(body, CastVote)
        if not isinstance(outcome, Rejection) and verifying and not body.vote.accept:
            self.accused.add((verifier, key))
        return outcome

    def waiting(self, key: str) -> list[str]:
        job = self.state.jobs[key]
        voted = {v.verifier for v in job.votes}
        return [m for m in self.world.members(job.job_id) if m not in voted]

    def vote(self, data: st.DataObject, how: str) -> None:
        """A committee member votes honestly; or the liar rejects a job it verifies; or a
        non-member votes; or a member votes a second time."""
        deciding = self.deciding()
        if how == "lie":
            lies = [
                k
                for k in deciding
                if self.state.jobs[k].status is JobStatus.VERIFYING and LIAR in self.waiting(k)
            ]
            if lies:
                key = data.draw(st.sampled_from(lies))
                event("the liar rejects a job")
                assert not isinstance(self.cast(LIAR, key, False), Rejection)
                return
        if how == "again":
            again = [k for k in deciding if self.state.jobs[k].votes]
            if again:
                key = data.draw(st.sampled_from(again))
                voted = sorted(v.verifier for v in self.state.jobs[key].votes)
                member = data.draw(st.sampled_from(voted))
                assert self.cast(member, key, None) is Rejection.DUPLICATE_VOTE
                return
        key = data.draw(st.sampled_from(deciding))
        members = self.world.members(self.state.jobs[key].job_id)
        outsiders = [v for v in self.world.verifiers if v not in members]
        if how == "outsider" and outsiders:
            outsider = data.draw(st.sampled_from(outsiders))
            assert self.cast(outsider, key, None) is Rejection.NOT_A_VERIFIER
            return
        member = data.draw(st.sampled_from(self.waiting(key)))
        outcome = self.cast(member, key, None)
        assert not isinstance(outcome, Rejection), f"an honest vote was refused: {outcome}"

    @precondition(lambda self: bool(self.deciding()))
    @rule(data=st.data(), how=st.sampled_from(("honest", "lie", "outsider", "again")))
    def cast_vote(self, data: st.DataObject, how: str) -> None:
        self.vote(data, how)

    @precondition(lambda self: bool(self.deciding()))
    @rule(data=st.data())
    def cast_honest_vote(self, data: st.DataObject) -> None:
        self.vote(data, "honest")

    @precondition(lambda self: bool(self.state.jobs))
    @rule(data=st.data())
    def vote_on_undecidable_job(self, data: st.DataObject) -> None:
        """A vote on a job that is not being verified: final, running or just quoted."""
        key = data.draw(st.sampled_from(sorted(self.state.jobs)))
        job = self.state.jobs[key]
        if job.status in (JobStatus.VERIFYING, JobStatus.DISPUTED):
            return
        expected = Rejection.ALREADY_SETTLED if job.final else Rejection.ILLEGAL_TRANSITION
        verifier = data.draw(st.sampled_from(self.world.verifiers))
        assert self.cast(verifier, key, True) is expected

    @precondition(lambda self: bool(self.deciding()))
    @rule(liar_lies=st.booleans())
    def everyone_votes(self, liar_lies: bool) -> None:
        """Every pending committee member votes until every job is decided; the liar, if asked,
        rejects whatever it verifies."""
        for key in self.deciding():
            while self.state.jobs[key].status in (JobStatus.VERIFYING, JobStatus.DISPUTED):
                verifying = self.state.jobs[key].status is JobStatus.VERIFYING
                member = self.waiting(key)[0]
                lie = liar_lies and verifying and member == LIAR
                outcome = self.cast(member, key, False if lie else None)
                assert not isinstance(outcome, Rejection), f"a vote was refused: {outcome}"

    # ---- rules: stake and liquidity ---------------------------------------------------------

    @rule(
        data=st.data(),
        action=st.sampled_from(("bond", "unbond", "withdraw", "deposit", "redeem")),
        size=st.sampled_from((0, 1, 2)),
    )
    def move_stake(self, data: st.DataObject, action: str, size: int) -> None:
        """Validators and verifiers bond and unbond (only the liar among verifiers leaves); LPs
        deposit and redeem liquidity; matured stake is withdrawn."""
        params = self.world.params
        if action in ("deposit", "redeem"):
            lp = data.draw(st.sampled_from(self.world.lps))
            if action == "deposit":
                amount = params.tokens((1, 1_000, 3_000)[size])
                self.attempt(self.world.sign(lp, DepositLiquidity(RESOURCE_CLASS, amount)))
                return
            held = self.state.market.pools[RESOURCE_CLASS].shares.get(lp, 0)
            shares = (held + 1, held, max(held // 2, 1))[size]
            self.attempt(self.world.sign(lp, WithdrawLiquidity(RESOURCE_CLASS, shares)))
            return
        leavers = (*self.world.validators, LIAR)
        stakers = (*self.world.validators, *self.world.verifiers)
        name = data.draw(st.sampled_from(stakers if action == "bond" else leavers))
        role = Role.VALIDATOR if name.startswith("validator") else Role.VERIFIER
        if action == "bond":
            amount = params.tokens((1, 1_000, 100_000)[size])
            self.attempt(self.world.sign(name, Bond(role, amount)))
        elif action == "unbond":
            position = self.state.ledger.stakes.get(stake_key(name, role))
            bonded = 0 if position is None else position.bonded
            amount = (bonded, params.tokens(1_000), bonded + 1)[size] or 1
            self.attempt(self.world.sign(name, Unbond(role, amount)))
        elif role is Role.VALIDATOR:  # a verifier that withdrew could not answer for a vote
            self.attempt(self.world.sign(name, Withdraw(role)))

    # ---- invariants -------------------------------------------------------------------------

    @invariant()
    def chain_invariants_hold(self) -> None:
        check_chain(self.state)
        check_effects(self.world.log, self.state)
        assert self.state.ledger.supply == self.supply
        assert min(self.state.ledger.balances.values()) >= 0

    @invariant()
    def pools_keep_their_curve(self) -> None:
        holding = any(job.status in HOLDING for job in self.state.jobs.values())
        for pool in self.state.market.pools.values():
            assert hamiltonian(pool) >= curve_constant(pool)
            if not holding:
                assert spot_price(pool) == pool.reference_price, "a buy and release moved the price"


_DEEP = settings().max_examples > 60  # the `deep` profile is loaded
ChainMachine.TestCase.settings = settings(max_examples=300 if _DEEP else 60, stateful_step_count=50)
TestChainMachine = ChainMachine.TestCase

__all__ = ["ChainMachine", "TestChainMachine"]
