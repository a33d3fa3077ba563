"""RevealProbe and verifier pay (errata E90): verifiers are paid for votes and answer for them."""

from __future__ import annotations

from fractions import Fraction

from aci_ref.chain import ProbeRevealed, Refunded, RefundReason, Slashed, VerifiersPaid
from aci_ref.chain.state import VERIFICATION_POOL
from aci_ref.economics.ledger import Role
from aci_ref.economics.slashing import Violation
from aci_ref.errors import Rejection
from aci_ref.events import RevealProbe
from aci_ref.market.jobs import JobStatus
from aci_ref.params import BPS
from aci_ref.sim.world import Behaviour, WorkerSpec, World, build_world, world_params
from tests.chain.helpers import holds, slashes

ALWAYS = Fraction(1)
NEVER = Fraction(0)


def auditor_world(sampling_rate: Fraction = ALWAYS, **changes: object) -> World:
    """One worker, an auditor of the probe programme, that plants wrong outputs."""
    auditor = WorkerSpec("auditor-0", Behaviour.LAZY, auditor=True)
    return build_world(world_params(sampling_rate, **changes), workers=(auditor,))


def planted(world: World) -> bytes:
    job_id = world.order("client-0")
    world.submit(job_id, behaviour=Behaviour.LAZY)
    world.seal()
    return job_id


def test_a_verifier_accepting_a_planted_fault_unseen_is_slashed_when_it_is_revealed() -> None:
    world = auditor_world()
    job_id = planted(world)
    (member,) = world.job(job_id).committee
    stake = world.stake(member, Role.VERIFIER)
    world.vote(member, job_id, accept=True)  # a lazy verifier: accepts without re-executing
    assert world.job(job_id).status is JobStatus.SETTLED
    (revealed,) = [e for e in world.reveal(job_id) if isinstance(e, ProbeRevealed)]
    assert revealed.arbiters and member not in revealed.arbiters
    assert not slashes(world)  # the auditor's word alone slashes no one
    effects = world.review(job_id)
    (missed,) = [e for e in effects if isinstance(e, Slashed)]
    assert missed.violation is Violation.MISSED_FAULT and missed.record.offender == member
    assert missed.record.amount == stake * world.params.slash_missed_fault_bps // BPS
    assert job_id.hex() not in world.state.reviews
    assert world.job(job_id).status is JobStatus.SETTLED
    assert world.state.workers["auditor-0"].banned  # its identity is known now: it works no more
    assert world.stake("auditor-0", Role.WORKER) > 0  # ...but it is not slashed for the probe
    holds(world)


def test_a_verifier_that_catches_a_probe_is_credited_and_the_client_refunded() -> None:
    world = auditor_world()
    job_id = planted(world)
    (member,) = world.job(job_id).committee
    world.vote(member, job_id)  # honest: re-executes and rejects
    assert world.job(job_id).status is JobStatus.DISPUTED
    price = world.job(job_id).price
    world.reveal(job_id)
    assert world.job(job_id).probe and world.job(job_id).status is JobStatus.DISPUTED
    effects = world.decide(job_id)
    assert not [e for e in effects if isinstance(e, Slashed)]  # the auditor is not slashed
    (refunded,) = [e for e in effects if isinstance(e, Refunded)]
    assert refunded.why is RefundReason.PROBE
    assert world.job(job_id).status is JobStatus.REFUNDED
    assert world.state.vote_credits[member] == price
    assert job_id.hex() not in world.state.voting
    holds(world)


def test_an_auditor_cannot_slash_verifiers_by_revealing_a_right_output() -> None:
    world = auditor_world()
    job_id = world.order("client-0")
    world.submit(job_id)  # an honest output, falsely called a probe afterwards
    world.seal()
    (member,) = world.job(job_id).committee
    world.vote(member, job_id)
    assert world.job(job_id).status is JobStatus.SETTLED
    world.reveal(job_id)
    world.review(job_id)
    assert not slashes(world)
    assert world.state.workers["auditor-0"].banned
    holds(world)


def test_a_review_nobody_finishes_slashes_no_one() -> None:
    world = auditor_world()
    job_id = planted(world)
    (member,) = world.job(job_id).committee
    world.vote(member, job_id, accept=True)
    world.reveal(job_id)
    assert job_id.hex() in world.state.reviews
    world.seal(advance_ms=world.params.epoch_duration_ms)
    assert job_id.hex() not in world.state.reviews
    assert not slashes(world)
    holds(world)


def test_a_reveal_is_refused_until_a_committee_has_judged_the_job() -> None:
    world = auditor_world()
    job_id = world.order("client-0")
    world.submit(job_id, behaviour=Behaviour.LAZY)
    salt = world.probe_salts["auditor-0"]
    reveal = world.sign("auditor-0", RevealProbe(job_id, salt))
    assert world.refuse(reveal) is Rejection.ILLEGAL_TRANSITION  # attested, not drawn yet
    world.seal()
    assert world.job(job_id).status is JobStatus.VERIFYING
    assert world.refuse(world.sign("auditor-0", RevealProbe(job_id, salt))) is (
        Rejection.ILLEGAL_TRANSITION
    )
    unsampled = auditor_world(NEVER)
    other = planted(unsampled)
    assert unsampled.job(other).status is JobStatus.SETTLED
    body = RevealProbe(other, unsampled.probe_salts["auditor-0"])
    assert unsampled.refuse(unsampled.sign("auditor-0", body)) is Rejection.PROBE_NOT_JUDGED


def test_only_a_committed_auditor_can_reveal_and_only_once() -> None:
    world = auditor_world()
    job_id = planted(world)
    (member,) = world.job(job_id).committee
    world.vote(member, job_id, accept=True)
    salt = world.probe_salts["auditor-0"]
    wrong_salt = world.sign("auditor-0", RevealProbe(job_id, bytes(32)))
    assert world.refuse(wrong_salt) is Rejection.NOT_A_PROBE
    assert world.refuse(world.sign("client-0", RevealProbe(job_id, salt))) is (
        Rejection.NOT_JOB_WORKER
    )
    world.reveal(job_id)
    assert world.refuse(world.sign("auditor-0", RevealProbe(job_id, salt))) is (
        Rejection.PROBE_ALREADY_REVEALED
    )


def test_a_worker_outside_the_audit_programme_cannot_pass_a_fault_off_as_a_probe() -> None:
    world = build_world(world_params(ALWAYS), workers=(WorkerSpec("lazy-0", Behaviour.LAZY),))
    job_id = planted(world)
    (member,) = world.job(job_id).committee
    world.vote(member, job_id)
    reveal = world.sign("lazy-0", RevealProbe(job_id, bytes(32)))
    assert world.refuse(reveal) is Rejection.NOT_A_PROBE
    world.decide(job_id)
    assert [s.violation for s in slashes(world)] == [Violation.WRONG_OUTPUT]


def test_the_pool_pays_votes_not_stake_when_the_epoch_closes() -> None:
    world = build_world(world_params(ALWAYS))
    voted: list[str] = []
    for _ in range(3):
        job_id = world.order("client-0")
        world.submit(job_id)
        world.seal()
        world.decide(job_id)
        voted += world.job(job_id).committee
    pool = world.balance(VERIFICATION_POOL)
    assert pool > 0
    before = {v: world.balance(v) for v in world.verifiers}
    credits = dict(world.state.vote_credits)
    assert set(credits) == set(voted)
    effects = world.seal(advance_ms=world.params.epoch_duration_ms)
    (paid,) = [e for e in effects if isinstance(e, VerifiersPaid)]
    gained = {v: world.balance(v) - before[v] for v in world.verifiers}
    assert sum(gained.values()) == pool and world.balance(VERIFICATION_POOL) == 0
    assert {v for v, amount in gained.items() if amount > 0} == set(credits)
    assert dict(paid.paid) == {v: a for v, a in gained.items() if a > 0}
    assert not world.state.vote_credits
    holds(world)


def test_with_no_vote_the_pool_carries_over() -> None:
    world = build_world(world_params(NEVER))
    world.run_job("client-0")
    pool = world.balance(VERIFICATION_POOL)
    effects = world.seal(advance_ms=world.params.epoch_duration_ms)
    assert not [e for e in effects if isinstance(e, VerifiersPaid)]
    assert world.balance(VERIFICATION_POOL) == pool > 0


def test_arbitration_slashes_the_committee_member_that_accepted_a_wrong_output() -> None:
    params = world_params(ALWAYS, verification_committee_size=3)
    world = build_world(params, verifiers=8, workers=(WorkerSpec("lazy-0", Behaviour.LAZY),))
    job_id = planted(world)
    lazy, *honest = world.job(job_id).committee
    world.vote(lazy, job_id, accept=True)
    for member in honest:
        world.vote(member, job_id)
    assert world.job(job_id).status is JobStatus.DISPUTED
    world.decide(job_id)
    assert world.job(job_id).status is JobStatus.REFUNDED
    by_violation = {(s.violation, s.record.offender) for s in slashes(world)}
    assert (Violation.MISSED_FAULT, lazy) in by_violation
    assert (Violation.WRONG_OUTPUT, "lazy-0") in by_violation
    assert all(world.state.vote_credits.get(m, 0) > 0 for m in honest)
    assert lazy not in world.state.vote_credits
    holds(world)


def test_no_committee_member_arbitrates_its_own_vote() -> None:
    params = world_params(ALWAYS, verification_committee_size=3)
    world = build_world(params, verifiers=8, workers=(WorkerSpec("lazy-0", Behaviour.LAZY),))
    job_id = planted(world)
    lazy, *honest = world.job(job_id).committee
    world.vote(lazy, job_id, accept=True)
    for member in honest:
        world.vote(member, job_id)
    assert not set(world.job(job_id).arbiters) & set(world.job(job_id).committee)
    world.decide(job_id, liars={m: True for m in world.verifiers if m == lazy})
    missed = [s for s in slashes(world) if s.violation is Violation.MISSED_FAULT]
    assert [s.record.offender for s in missed] == [lazy]  # slashed once, not blocked
    assert world.job(job_id).status is JobStatus.REFUNDED


def test_a_blind_acceptance_proven_wrong_in_its_epoch_is_not_paid() -> None:
    world = auditor_world()
    job_id = planted(world)
    (member,) = world.job(job_id).committee
    world.vote(member, job_id, accept=True)
    assert world.state.vote_credits[member] == world.job(job_id).price
    world.reveal(job_id)
    world.review(job_id)
    assert member not in world.state.vote_credits
    before = world.balance(member)
    world.seal(advance_ms=world.params.epoch_duration_ms)
    assert world.balance(member) == before
    holds(world)


def test_a_reveal_after_the_committees_deadline_is_refused() -> None:
    world = auditor_world()
    job_id = planted(world)
    (member,) = world.job(job_id).committee
    world.vote(member, job_id, accept=True)
    world.seal(advance_ms=world.job(job_id).deadline_ms - world.state.now_ms + 1)
    body = RevealProbe(job_id, world.probe_salts["auditor-0"])
    assert world.refuse(world.sign("auditor-0", body)) is Rejection.PROBE_TOO_LATE


def test_one_job_is_revealed_once_even_with_two_commitments() -> None:
    from dataclasses import replace as copy_with

    from aci_ref.chain.probes import probe_commitment

    world = auditor_world()
    extra = probe_commitment("auditor-0", b"second salt").hex()
    # As if genesis had held two commitments naming one worker (nothing forbids it).
    world.state = copy_with(world.state, probes=world.state.probes.set(extra, False))
    job_id = planted(world)
    (member,) = world.job(job_id).committee
    world.vote(member, job_id, accept=True)
    world.reveal(job_id)
    again = world.sign("auditor-0", RevealProbe(job_id, b"second salt"))
    assert world.refuse(again) is Rejection.PROBE_ALREADY_REVEALED
