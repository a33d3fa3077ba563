"""CastVote and what a committee decides: settlement, a dispute, or arbitration's verdict."""

from __future__ import annotations

from dataclasses import replace

from aci_ref.chain.effects import DisputeOpened, Effects, RefundReason
from aci_ref.chain.probes import review_vote
from aci_ref.chain.state import ChainState
from aci_ref.chain.steps import (
    active_stakes,
    job_of,
    move_quality,
    offence_id,
    put_job,
    refund,
    settle,
    slash,
    without,
)
from aci_ref.chain.verifier_pay import credit_votes, judge_votes
from aci_ref.economics.ledger import Role
from aci_ref.economics.slashing import Violation
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import CastVote
from aci_ref.market.jobs import Job, JobEvent, JobStatus, advance, legal_outcomes, vote_deadline
from aci_ref.poai.votes import (
    Outcome,
    arbitration_committee,
    arbitration_verdict,
    check_vote,
    verification_verdict,
)


def process_cast_vote(state: ChainState, body: CastVote, sender: str) -> tuple[ChainState, Effects]:
    """Algorithm 1 lines 12 and 15, §2.2: tally a committee vote; decide once a quorum forms.

    The vote is admitted once (`check_vote`: its job, its signer, its form) and weighed with the
    stake its verifier had when the committee was drawn (errata E56), so bonding more after the
    draw buys no weight. A verification committee that accepts settles the job; one that rejects,
    or that has all voted without accepting, opens a dispute. Arbiters decide when a quorum forms
    or when all have voted.
    """
    vote = body.vote
    if vote.verifier != sender:
        raise RejectedError(Rejection.BAD_INPUT, "a vote is cast by its own verifier")
    job = job_of(state, vote.job_id)
    if job.job_id.hex() in state.reviews:
        return review_vote(state, job, vote)
    legal_outcomes(job, JobEvent.CAST_VOTE)
    verifying = job.status is JobStatus.VERIFYING
    members, weights = (
        (job.committee, job.committee_stakes) if verifying else (job.arbiters, job.arbiter_stakes)
    )
    if sender not in members:
        raise RejectedError(Rejection.NOT_A_VERIFIER, sender)
    if any(v.verifier == sender for v in job.votes):
        raise RejectedError(Rejection.DUPLICATE_VOTE, sender)
    check_vote(vote, job.job_id, {sender: state.keys[sender]})
    votes = (*job.votes, vote)
    stakes = dict(zip(members, weights, strict=True))
    tally = verification_verdict if verifying else arbitration_verdict
    verdict = tally(state.params, job.job_id, votes, stakes)
    job = replace(job, votes=votes)
    everyone = len(votes) == len(members)
    if verifying:
        if verdict.outcome is Outcome.ACCEPTED:
            state = credit_votes(state, (v.verifier for v in votes if v.accept), job.price)
            return settle(state, job)
        if verdict.outcome is Outcome.REJECTED or everyone:
            return open_dispute(state, job)
        return put_job(state, job), ()
    if verdict.outcome is Outcome.UNDECIDED and not everyone:
        return put_job(state, job), ()
    return arbitrate(state, job, verdict.outcome)


def open_dispute(state: ChainState, job: Job) -> tuple[ChainState, Effects]:
    """Algorithm 1 line 15 (errata E11, E90): a fresh committee, without the worker or any member
    of the verification committee (the accusers, and those who voted otherwise or not at all), so
    no verifier judges its own vote.

    With nobody left to arbitrate, the dispute stays unresolved at once (refund, no slash).
    """
    accusers = tuple(sorted(v.verifier for v in job.votes if not v.accept))
    stakes = active_stakes(state, Role.VERIFIER)
    arbiters = arbitration_committee(
        state.params, job.beacon, job.job_id, stakes, job.worker, (*accusers, *job.committee)
    )
    deadline = vote_deadline(state.params, state.now_ms, job)
    disputed = advance(
        job,
        JobStatus.DISPUTED,
        accusers=accusers,
        verification_votes=job.votes,
        arbiters=arbiters,
        arbiter_stakes=tuple(stakes[a] for a in arbiters),
        votes=(),
        deadline_ms=deadline,
    )
    if not arbiters:
        return arbitrate(state, disputed, Outcome.UNDECIDED)
    state = replace(put_job(state, disputed), voting=state.voting.set(job.job_id.hex(), deadline))
    return state, (DisputeOpened(job.job_id, accusers, arbiters),)


def arbitrate(state: ChainState, job: Job, outcome: Outcome) -> tuple[ChainState, Effects]:
    """Algorithm 1 line 15 (errata E11, E90): apply the arbitration's decision to every side.

    ACCEPTED (the worker was right): the job settles. REJECTED (the output was wrong): the client
    is refunded and the worker slashed for a wrong output, the first accuser taking the
    reporter's share. Either way every vote cast on the job, by the committee and by the
    arbiters, is judged against the decision (`judge_votes`): agreeing votes earn a credit, an
    accusation proven false and an acceptance of a wrong output are slashed. UNDECIDED (the
    arbiters split, or none could be drawn): nothing was proven either way, so the client is
    refunded and no one is slashed or credited. A revealed probe (errata E90) found wrong is
    refunded with reason `probe` and its worker, an auditor, is not slashed.
    """
    arbitrated = advance(job, JobStatus.ARBITRATED)
    state = replace(state, voting=without(state.voting, job.job_id.hex()))
    if outcome is Outcome.UNDECIDED:
        return refund(state, arbitrated, RefundReason.UNRESOLVED)
    votes = (*job.verification_votes, *job.votes)
    state, judged = judge_votes(state, job, votes, output_right=outcome is Outcome.ACCEPTED)
    if outcome is Outcome.ACCEPTED:
        state, settled = settle(state, arbitrated)
        return state, (*judged, *settled)
    if job.probe:
        state, refunded = refund(state, arbitrated, RefundReason.PROBE)
        return state, (*judged, *refunded)
    state, refunded = refund(state, arbitrated, RefundReason.ARBITRATED)
    reporter = job.accusers[0] if job.accusers else None
    offence = offence_id("wrong_output", job_id=job.job_id, h_output=job.h_output)
    state, slashed = slash(state, Violation.WRONG_OUTPUT, job.worker, offence, reporter, job.job_id)
    state, quality = move_quality(state, job.worker, 0)
    return state, (*judged, *refunded, *slashed, *quality)
