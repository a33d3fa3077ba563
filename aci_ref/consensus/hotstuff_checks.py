"""§4.3: what a replica checks of a proposal, a phase certificate or a vote before acting on it.

Each check raises `Refusal` with the code of the first thing wrong. The order is part of the
behaviour: cheap shape and view checks come before any signature, and a duplicate is recognised
before its signature is checked again (so a replayed message costs no verification). Passing means
the message is
authentic and addressed to this view and leader; what it may then change (the lock rule, the
block it extends, its payload) is decided by the phases in `hotstuff`.
"""

from __future__ import annotations

from typing import Final

import immutables

from aci_ref.consensus.hotstuff_messages import (
    QC,
    Phase,
    PhaseQC,
    Proposal,
    Vote,
    check_proposal_signature,
    check_qc,
    check_vote_signature,
    message_digest,
    payload_problem,
)
from aci_ref.consensus.hotstuff_state import HotStuffState, Refusal, Step
from aci_ref.errors import Rejection

_PREVIOUS: Final = {Phase.PRE_COMMIT: Phase.PREPARE, Phase.COMMIT: Phase.PRE_COMMIT}


def check_view(ctx: Step, state: HotStuffState, view: int) -> None:
    """A view neither before the replica's own nor more than `max_round_lead` past it."""
    if view < state.view:
        raise Refusal(Rejection.STALE_ROUND, f"view {view} < {state.view}")
    if view > state.view + ctx.params.max_round_lead:
        raise Refusal(Rejection.FUTURE_ROUND, f"view {view} > {state.view} + lead")


def check_certificate(ctx: Step, qc: QC) -> None:
    """A certificate carrying a quorum of valid committee signatures (each one counted)."""
    problem, checked = check_qc(qc, ctx.config.committee)
    ctx.verifications += checked
    if problem is not None:
        raise Refusal(*problem)


def check_proposal(ctx: Step, state: HotStuffState, p: Proposal, own: bool) -> bytes:
    """A proposal of this view's leader, justified by an earlier prepareQC; its digest.

    The replica's own proposal (`own`) skips the signature, duplicate and justification checks.
    """
    block, view = p.block, p.view
    check_view(ctx, state, view)
    leader = ctx.leader(view)
    if block.proposer != leader:
        raise Refusal(Rejection.WRONG_LEADER, f"{block.proposer} does not lead view {view}")
    if block.view != view:
        raise Refusal(Rejection.BAD_INPUT, "a block's view is its proposal's")
    problem = payload_problem(block.payload, ctx.params)
    if problem is not None:
        raise Refusal(*problem)
    digest = message_digest(p)
    if not own:
        same_view = view == state.view
        if (same_view and state.current.proposal == digest) or any(
            h.message == p for h in state.held
        ):
            raise Refusal(Rejection.DUPLICATE_MESSAGE, f"proposal of view {view}")
        member = ctx.config.committee.member(leader)
        ctx.verifications += 1
        if member is None or not check_proposal_signature(p, member.public_key):
            raise Refusal(Rejection.BAD_SIGNATURE, f"proposal of view {view}")
        if same_view and state.current.proposal is not None:
            raise Refusal(Rejection.EQUIVOCATION, f"a second proposal in view {view}")
        if p.justify.phase is not Phase.PREPARE or p.justify.view >= view:
            raise Refusal(Rejection.BAD_INPUT, "a proposal is justified by an earlier prepareQC")
        check_certificate(ctx, p.justify)
    if block.parent != p.justify.block:
        raise Refusal(Rejection.BAD_PARENTS, "a block extends the block its justification names")
    return digest


def check_phase_qc(ctx: Step, state: HotStuffState, sender: str, m: PhaseQC) -> None:
    """A valid certificate from its view's leader, the first of its phase in that view."""
    qc = m.qc
    if qc.view > state.view + ctx.params.max_round_lead:
        # Far ahead: a valid certificate proves a quorum got there, so a replica that was away
        # may follow it (catch-up); anything else from that far is refused unchecked.
        if sender != ctx.leader(qc.view):
            raise Refusal(Rejection.FUTURE_ROUND, f"view {qc.view} > {state.view} + lead")
        check_certificate(ctx, qc)
        return
    check_view(ctx, state, qc.view)
    if sender != ctx.leader(qc.view):
        raise Refusal(Rejection.WRONG_LEADER, f"{qc.phase} QC from {sender}")
    seen = state.current.certified.get(qc.phase) if qc.view == state.view else None
    if seen == qc.block or any(h.message == m for h in state.held):
        raise Refusal(Rejection.DUPLICATE_MESSAGE, f"{qc.phase} QC of view {qc.view}")
    check_certificate(ctx, qc)
    if seen is not None:
        raise Refusal(Rejection.EQUIVOCATION, f"two {qc.phase} QCs in view {qc.view}")


def check_vote(ctx: Step, state: HotStuffState, vote: Vote, own: bool) -> immutables.Map[str, Vote]:
    """A first vote of a member to us, leading its (current) view, for the block open in its
    phase; the phase's votes with it added. Our own vote (`own`) skips the signature check."""
    phase, view, current = vote.phase, vote.view, state.current
    if view < state.view:
        raise Refusal(Rejection.STALE_ROUND, f"vote of view {view}")
    if view > state.view:
        raise Refusal(Rejection.FUTURE_ROUND, f"vote of view {view}: nothing proposed there yet")
    if ctx.leader(view) != ctx.config.name:
        raise Refusal(Rejection.WRONG_LEADER, f"vote sent to a replica not leading view {view}")
    if ctx.config.committee.member(vote.signer) is None:
        raise Refusal(Rejection.NOT_VALIDATOR, vote.signer)
    if phase in current.certified:
        raise Refusal(Rejection.STALE_ROUND, f"{phase} of view {view} already certified")
    phase_votes: immutables.Map[str, Vote] = current.votes.get(phase, immutables.Map())
    previous = phase_votes.get(vote.signer)
    if previous == vote:
        raise Refusal(Rejection.DUPLICATE_MESSAGE, f"vote of {vote.signer}")
    if not own:
        ctx.verifications += 1
        if not check_vote_signature(vote, ctx.config.committee):
            raise Refusal(Rejection.BAD_SIGNATURE, f"vote of {vote.signer}")
    if previous is not None:
        code = (
            Rejection.EQUIVOCATION if previous.block != vote.block else Rejection.DUPLICATE_MESSAGE
        )
        raise Refusal(code, f"second {phase} vote of {vote.signer} in view {view}")
    expected = current.block if phase is Phase.PREPARE else current.certified.get(_PREVIOUS[phase])
    if expected is None or vote.block != expected:
        raise Refusal(Rejection.BAD_INPUT, f"{phase} vote for a block not open for that phase")
    return phase_votes.set(vote.signer, vote)
