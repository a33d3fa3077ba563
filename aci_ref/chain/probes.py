"""RevealProbe: an auditor says its wrong output was planted; arbiters confirm it (errata E90).

Forced errors make re-executing worth a verifier's while even when every real worker is honest
(the verifier's dilemma, Luu et al. 2015; TrueBit's forced errors). A probe must look like any
other job, so it is planted by a worker: genesis holds hidden commitments to the audit
programme's worker identities; such a worker takes jobs its own clients ordered and returns, on
some, a wrong output under its genuine attestation. Once a committee has judged the job, the
auditor reveals. Its word slashes no one: arbiters re-execute, and only an output they find wrong
costs the accepting voters their missed-fault slash. A disputed probe is decided by the dispute's
own arbiters; a settled one by a review drawn for it. Either way the auditor's identity, now
known, works no more.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from aci_ref.chain.effects import Effects, ProbeRevealed
from aci_ref.chain.state import ChainState, ProbeReview
from aci_ref.chain.steps import active_stakes, ban, job_of
from aci_ref.chain.verifier_pay import judge_votes, withdraw_credits
from aci_ref.crypto import sha256
from aci_ref.economics.ledger import Role
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import RevealProbe
from aci_ref.market.jobs import Job, JobEvent, JobStatus, legal_outcomes, vote_deadline
from aci_ref.poai.votes import Outcome, Vote, arbitration_committee, arbitration_verdict, check_vote

PROBE_DOMAIN: Final = "aci-ref/poai/probe"


def probe_commitment(worker: str, salt: bytes) -> bytes:
    """ref: probes (errata E90) — SHA-256(canonical {"domain", "salt", "worker"})."""
    return sha256(canonical_bytes({"domain": PROBE_DOMAIN, "salt": salt, "worker": worker}))


def process_reveal_probe(
    state: ChainState, body: RevealProbe, sender: str
) -> tuple[ChainState, Effects]:
    """ref: probes (errata E90) — mark a judged job as planted and have arbiters confirm it.

    Refused: `unknown_job`; `illegal_transition` or `already_settled` unless the job is disputed
    or settled; `not_job_worker` (the sender is not its worker); `not_a_probe` (genesis holds no
    commitment to (sender, salt)); `probe_already_revealed` (the commitment, or this job, was
    revealed already); `probe_not_judged` (a settled job that no committee vote settled);
    `probe_too_late` (a settled job past its committee's vote deadline). A disputed job is
    marked a probe and its arbitration goes on; for a settled one a review committee is drawn
    (the worker and the committee's voters excluded), or, with nobody to draw, the reveal changes
    nothing but the commitment and the auditor. The auditor is banned (not slashed) either way.
    """
    job = job_of(state, body.job_id)
    legal_outcomes(job, JobEvent.REVEAL_PROBE)
    if sender != job.worker:
        raise RejectedError(Rejection.NOT_JOB_WORKER, sender)
    key = probe_commitment(sender, body.salt).hex()
    if key not in state.probes:
        raise RejectedError(Rejection.NOT_A_PROBE, sender)
    if state.probes[key]:
        raise RejectedError(Rejection.PROBE_ALREADY_REVEALED, key[:16])
    if job.probe or job.job_id.hex() in state.reviews:
        raise RejectedError(Rejection.PROBE_ALREADY_REVEALED, "this job was revealed already")
    disputed = job.status is JobStatus.DISPUTED
    if not disputed and not (job.votes and JobStatus.DISPUTED not in job.history):
        raise RejectedError(Rejection.PROBE_NOT_JUDGED, "no committee vote settled this job")
    if not disputed and state.now_ms > job.deadline_ms:
        # The review must close inside the window the job's arbitration would have had (E90).
        raise RejectedError(Rejection.PROBE_TOO_LATE, f"after {job.deadline_ms} ms")
    state = replace(state, probes=state.probes.set(key, True))
    state = ban(state, sender)
    if disputed:
        probed = replace(job, probe=True)
        state = replace(state, jobs=state.jobs.set(job.job_id.hex(), probed))
        return state, (ProbeRevealed(job.job_id, sender, job.arbiters),)
    stakes = active_stakes(state, Role.VERIFIER)
    voters = {v.verifier for v in job.votes}
    arbiters = arbitration_committee(state.params, job.beacon, job.job_id, stakes, sender, voters)
    if arbiters:
        review = ProbeReview(
            sender,
            job.votes,
            arbiters,
            tuple(stakes[a] for a in arbiters),
            (),
            vote_deadline(state.params, state.now_ms, job),
        )
        state = replace(state, reviews=state.reviews.set(job.job_id.hex(), review))
    return state, (ProbeRevealed(job.job_id, sender, arbiters),)


def review_vote(state: ChainState, job: Job, vote: Vote) -> tuple[ChainState, Effects]:
    """ref: probes (errata E90) — an arbiter's vote on a settled probe under review.

    Refused like any arbitration vote (`not_a_verifier`, `duplicate_vote`, `check_vote`'s
    codes). Once a quorum forms or every arbiter has voted the review concludes.
    """
    review = state.reviews[job.job_id.hex()]
    if vote.verifier not in review.arbiters:
        raise RejectedError(Rejection.NOT_A_VERIFIER, vote.verifier)
    if any(v.verifier == vote.verifier for v in review.votes):
        raise RejectedError(Rejection.DUPLICATE_VOTE, vote.verifier)
    check_vote(vote, job.job_id, {vote.verifier: state.keys[vote.verifier]})
    review = replace(review, votes=(*review.votes, vote))
    stakes = dict(zip(review.arbiters, review.arbiter_stakes, strict=True))
    verdict = arbitration_verdict(state.params, job.job_id, review.votes, stakes)
    if verdict.outcome is Outcome.UNDECIDED and len(review.votes) < len(review.arbiters):
        return replace(state, reviews=state.reviews.set(job.job_id.hex(), review)), ()
    return conclude_review(state, job, review, verdict.outcome)


def conclude_review(
    state: ChainState, job: Job, review: ProbeReview, outcome: Outcome
) -> tuple[ChainState, Effects]:
    """ref: probes (errata E90) — apply a review's verdict to the votes it judged.

    REJECTED (the planted output was wrong): the credits the committee's accepting votes earned
    this epoch are taken back, and every vote — the committee's and the arbiters' — is judged
    against a wrong output (accepting voters slashed for a missed fault, rejecting ones
    credited). ACCEPTED (the output was right after all): only the arbiters' votes are judged;
    the committee was paid when the job settled. UNDECIDED, or a deadline passed: nothing is
    proven. The job stays settled.
    """
    state = replace(state, reviews=state.reviews.delete(job.job_id.hex()))
    if outcome is Outcome.UNDECIDED:
        return state, ()
    if outcome is Outcome.ACCEPTED:
        return judge_votes(state, job, review.votes, output_right=True)
    accepted = [v.verifier for v in review.accused if v.accept]
    state = withdraw_credits(state, accepted, job.price)
    return judge_votes(state, job, (*review.accused, *review.votes), output_right=False)


def reviews_overdue(state: ChainState) -> ChainState:
    """ref: probes (errata E90) — reviews past their deadline conclude undecided: no slash."""
    for key in sorted(k for k, r in state.reviews.items() if r.deadline_ms < state.now_ms):
        state = replace(state, reviews=state.reviews.delete(key))
    return state
