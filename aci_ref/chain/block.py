"""SealBlock: a block closes; time advances and every deadline it passed is kept.

A well-formed block from the sequencer always seals: nothing a sender did before it (leaving,
being slashed to nothing, staying silent) can make one of its steps refuse.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from aci_ref.chain.effects import Effect, Effects, Expired, RefundReason, Sampled
from aci_ref.chain.probes import reviews_overdue
from aci_ref.chain.state import ChainState
from aci_ref.chain.steps import (
    active_stakes,
    move_quality,
    offence_id,
    put_job,
    refund,
    settle,
    slash,
    without,
)
from aci_ref.chain.verifier_pay import pay_verifiers
from aci_ref.chain.votes import arbitrate, open_dispute
from aci_ref.economics.ledger import Role
from aci_ref.economics.slashing import Violation
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import SealBlock
from aci_ref.market.jobs import (
    Job,
    JobEvent,
    JobStatus,
    advance,
    execution_overdue,
    legal_outcomes,
    vote_deadline,
)
from aci_ref.poai.quality import below_threshold
from aci_ref.poai.verification import selected_for_reexecution
from aci_ref.poai.votes import Outcome, verification_committee

BEACON_BYTES: Final = 32


def process_seal_block(
    state: ChainState, body: SealBlock, sender: str
) -> tuple[ChainState, Effects]:
    """ref: sealed block — time advances, quotes expire, the beacon samples, deadlines and epochs.

    Refused: `not_sequencer`, `bad_height` (not the next height), `stale_event` (time going
    back), `time_jump` (more than an epoch in one block), `bad_input` (a beacon not 32 bytes).
    Then, in order: quotes of the previous block expire; every job attested since the last block
    is drawn with this block's beacon (Algorithm 2 line 6, errata E2) and either settles or goes
    to a verifier committee; running jobs past their deadline time out (Table 2); committees past
    their vote deadline are closed, until none is left; every epoch that ended is closed
    (Level 3 low-quality slashes).
    """
    if sender != state.sequencer:
        raise RejectedError(Rejection.NOT_SEQUENCER, sender)
    return seal_block(state, body)


def seal_block(state: ChainState, body: SealBlock) -> tuple[ChainState, Effects]:
    """ref: block step — what a sealed block does, whoever certified it.

    The sequencer's signed `SealBlock` reaches it through `process_seal_block`; under consensus,
    a decided settlement block reaches it through the executor (`aci_ref.consensus.execution`),
    its height, time and threshold beacon certified by a quorum instead of one key.
    """
    if body.height != state.height + 1:
        raise RejectedError(Rejection.BAD_HEIGHT, f"{body.height} after {state.height}")
    if body.now_ms < state.now_ms:
        raise RejectedError(Rejection.STALE_EVENT, f"time {body.now_ms} < {state.now_ms}")
    if body.now_ms - state.now_ms > state.params.epoch_duration_ms:
        # Bounded so that one block closes at most one epoch boundary's worth of work.
        raise RejectedError(Rejection.TIME_JUMP, f"{body.now_ms - state.now_ms} ms in one block")
    if len(body.beacon) != BEACON_BYTES:
        raise RejectedError(Rejection.BAD_INPUT, "a beacon is 32 bytes")
    effects: list[Effect] = []
    for key in state.open_quotes:
        job = state.jobs[key]
        legal_outcomes(job, JobEvent.EXPIRE)
        state = put_job(state, advance(job, JobStatus.EXPIRED))
        effects.append(Expired(bytes.fromhex(key)))
    pending = state.pending
    state = replace(
        state, height=body.height, now_ms=body.now_ms, open_quotes=(), pending=(), block_gas=0
    )
    for key in pending:
        state, more = draw(state, state.jobs[key], body.beacon)
        effects += more
    for key, _ in sorted(state.executing.items()):
        job = state.jobs[key]
        if execution_overdue(state.params, job, state.height, state.now_ms):
            state, more = time_out(state, job)
            effects += more
    # A committee closed late may open a dispute whose own deadline has passed too.
    while overdue := sorted(k for k, d in state.voting.items() if d < state.now_ms):
        for key in overdue:
            state, more = votes_overdue(state, state.jobs[key])
            effects += more
    state = reviews_overdue(state)
    while state.epoch < state.now_ms // state.params.epoch_duration_ms:
        state, more = close_epoch(state)
        effects += more
    return state, tuple(effects)


def draw(state: ChainState, job: Job, beacon: bytes) -> tuple[ChainState, Effects]:
    """Algorithm 2 lines 6–8: the beacon draws an attested job; a drawn one goes to verifiers.

    With no verifier to draw, the job settles on Level 1 alone: recorded as sampled, not
    re-executed.
    """
    legal_outcomes(job, JobEvent.DRAW)
    if not selected_for_reexecution(state.params, beacon, job.job_id):
        return settle(state, job)
    stakes = active_stakes(state, Role.VERIFIER)
    members = verification_committee(state.params, beacon, job.job_id, stakes, job.worker)
    if not members:
        return settle(state, replace(job, sampled=True, beacon=beacon))
    deadline = vote_deadline(state.params, state.now_ms, job)
    verifying = advance(
        job,
        JobStatus.VERIFYING,
        sampled=True,
        committee=members,
        committee_stakes=tuple(stakes[m] for m in members),
        beacon=beacon,
        deadline_ms=deadline,
    )
    state = replace(put_job(state, verifying), voting=state.voting.set(job.job_id.hex(), deadline))
    return state, (Sampled(job.job_id, members),)


def time_out(state: ChainState, job: Job) -> tuple[ChainState, Effects]:
    """Table 2 row Timeout: no accepted result by the deadline; refund, slash, quality falls."""
    legal_outcomes(job, JobEvent.TIME_OUT)
    timed_out = advance(job, JobStatus.TIMED_OUT)
    state = replace(put_job(state, timed_out), executing=without(state.executing, job.job_id.hex()))
    state, refunded = refund(state, timed_out, RefundReason.TIMED_OUT)
    offence = offence_id("timeout", job_id=job.job_id, deadline_ms=job.deadline_ms)
    state, slashed = slash(state, Violation.TIMEOUT, job.worker, offence, None, job.job_id)
    state, quality = move_quality(state, job.worker, 0)
    return state, (*refunded, *slashed, *quality)


def votes_overdue(state: ChainState, job: Job) -> tuple[ChainState, Effects]:
    """ref: vote deadline (errata E19) — a committee that did not decide in time.

    A verification committee that let its deadline pass opens arbitration on the votes it cast;
    arbiters who let theirs pass leave the dispute unresolved (refund, no slash, errata E16), so
    a silent verifier can never hold a client's escrow or a worker's capacity for ever.
    """
    legal_outcomes(job, JobEvent.VOTES_OVERDUE)
    state = replace(state, voting=without(state.voting, job.job_id.hex()))
    if job.status is JobStatus.VERIFYING:
        return open_dispute(state, job)
    return arbitrate(state, job, Outcome.UNDECIDED)


def close_epoch(state: ChainState) -> tuple[ChainState, Effects]:
    """Table 2 row Quality, Algorithm 2 Level 3: workers below the threshold lose a share.

    Every registered worker still holding stake is judged on its recorded score, whether it
    departed or not (its unbonding stake still answers); a banned worker is past judging. Then
    the verification pool pays the epoch's vote credits (errata E90).
    """
    epoch = state.epoch
    effects: list[Effect] = []
    for worker, info in sorted(state.workers.items()):
        if info.banned or not below_threshold(state.params, info.quality_bps):
            continue
        offence = offence_id(
            "low_quality", worker=worker, epoch=epoch, quality_bps=info.quality_bps
        )
        state, slashed = slash(state, Violation.LOW_QUALITY, worker, offence, None)
        effects += slashed
    state, paid = pay_verifiers(state, epoch)
    return replace(state, epoch=epoch + 1), (*effects, *paid)
