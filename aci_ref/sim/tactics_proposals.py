"""§4.1: Byzantine tactics on what a validator proposes: vertices and settlement proposals.

Each is a `Tactic` (see `byzantine_wrapper`): it equivocates, stays silent, runs far ahead,
reorders children before parents, overfills batches, or forks away from everything it has seen.
Choices that look random are drawn from a hash of (seed, step), never from a global source.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aci_ref.consensus.dag_messages import Certificate, Vertex, sign_vertex
from aci_ref.consensus.hotstuff_messages import (
    GENESIS_QC,
    NEXT_VOTE,
    NewView,
    Phase,
    PhaseQC,
    Proposal,
    Vote,
    block_digest,
    certify,
    sign_new_view,
    sign_proposal,
    sign_vote,
)
from aci_ref.consensus.io import Broadcast, Deliver, Effects, Input, Send
from aci_ref.sim.byzantine_wrapper import Identity, Memory, Sent, fake_digest, own_message, rewrite


def equivocate(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """Two vertices in one (round, author) slot, or two proposals in one view: the first half
    of the peers gets one, the rest the other, and the very first peer sees both."""

    def split(effect: Any) -> list[Any]:
        message = own_message(me, effect, Vertex, Proposal)
        if message is None or type(effect) is not Broadcast:
            return [effect]
        if type(message) is Vertex:
            marker = b"equivocation/%d" % message.round
            batch = (*message.batch, marker)
            twin: Any = sign_vertex(me.key, message.round, me.name, message.parents, batch)
        else:
            block = message.block
            payload = (*block.payload, b"equivocation/%d" % message.view)
            twin = sign_proposal(
                me.key, message.view, replace(block, payload=payload), message.justify
            )
        half = max(1, len(me.peers) // 2)
        first = [Send(p, message) for p in me.peers[:half]]
        return [*first, *(Send(p, twin) for p in me.peers[half:]), Send(me.peers[0], twin)]

    return rewrite(effects, split), memory


def silent_proposer(
    me: Identity, turn: int, memory: Memory, event: Input, effects: Effects
) -> Sent:
    """Votes and acknowledges, but never proposes: its vertices and proposals are swallowed."""
    return rewrite(
        effects, lambda e: [] if own_message(me, e, Vertex, Proposal) is not None else [e]
    ), memory


def inflate_rounds(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """Beside each vertex, new-view and vote, a signed copy for a round or view far ahead."""
    lead = 4 * me.params.max_round_lead

    def inflate(effect: Any) -> list[Any]:
        message = own_message(me, effect, Vertex, NewView, Vote)
        if message is None:
            return [effect]
        if type(message) is Vertex:
            parents = message.parents or (fake_digest("parent", message.round),)
            far: Any = sign_vertex(me.key, message.round + lead, me.name, parents, ())
            return [effect, Broadcast(far)]
        if type(message) is NewView:
            return [
                effect,
                Broadcast(sign_new_view(me.key, me.name, message.view + lead, GENESIS_QC)),
            ]
        far = sign_vote(me.key, me.name, message.phase, message.view + lead, message.block)
        return [effect, replace(effect, message=far)]

    return rewrite(effects, inflate), memory


def out_of_order(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """Children before parents: its certificates leave only after its next vertex (which names
    them), and each proposal skips one peer, which then sees the block's certificate first."""
    held = [*memory]
    out: list[Any] = []
    proposes = False
    for effect in effects:
        message = own_message(me, effect, Certificate, Proposal, Vertex)
        if type(message) is Certificate and type(effect) is Broadcast:
            held.append(effect)
            continue
        if type(message) is Proposal and type(effect) is Broadcast:
            skipped = me.peers[message.view % len(me.peers)]
            out += [Send(p, message) for p in me.peers if p != skipped]
            continue
        proposes = proposes or type(message) is Vertex
        out.append(effect)
    if proposes or len(held) > 4:  # release after the child, and never keep more than a few
        return (*out, *held), ()
    return tuple(out), tuple(held)


def stuff_batches(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """Beside each vertex or proposal, a signed copy carrying one transaction too many."""
    fat = (b"",) * (me.params.max_batch_txs + 1)

    def stuff(effect: Any) -> list[Any]:
        message = own_message(me, effect, Vertex, Proposal)
        if message is None or type(effect) is not Broadcast:
            return [effect]
        if type(message) is Vertex:
            big: Any = sign_vertex(me.key, message.round, me.name, message.parents, fat)
        else:
            block = replace(message.block, payload=fat)
            big = sign_proposal(me.key, message.view, block, message.justify)
        return [effect, Broadcast(big)]

    return rewrite(effects, stuff), memory


def fork_proposals(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """It ignores what it has seen: each vertex after round 1 names a single parent, and each
    proposal is re-rooted on the genesis block (justified by the genesis certificate), whose
    votes it gathers and certifies itself, phase by phase, as a leader would."""
    out: list[Any] = []
    for effect in effects:
        message = own_message(me, effect, Vertex, Proposal)
        if type(message) is Vertex and type(effect) is Broadcast and message.parents:
            parents = message.parents[:1]
            effect = Broadcast(sign_vertex(me.key, message.round, me.name, parents, message.batch))
        elif type(message) is Proposal and type(effect) is Broadcast:
            block = replace(message.block, height=1, parent=GENESIS_QC.block)
            effect = Broadcast(sign_proposal(me.key, message.view, block, GENESIS_QC))
            sent, memory = _fork_vote(me, (message.view, block_digest(block), ()), Phase.PREPARE)
            out += sent
        out.append(effect)
    vote = event.message if type(event) is Deliver else None
    if memory and type(vote) is Vote and (vote.view, vote.block) == memory[:2]:
        sent, memory = _fork_vote(me, memory, vote.phase, vote)
        out += sent
    return tuple(out), memory


def _fork_vote(
    me: Identity, memory: Memory, phase: Phase, vote: Vote | None = None
) -> tuple[list[Any], Memory]:
    """Count a vote for our forked block (ours when `vote` is None); certify at a quorum."""
    view, block, votes = memory
    if vote is None:
        vote = sign_vote(me.key, me.name, phase, view, block)
    signers = {s: sig for p, s, sig in votes if p is phase}
    if vote.signer in signers or me.committee.is_quorum(signers):
        return [], memory  # a repeat, or this phase is already certified
    votes = (*votes, (phase, vote.signer, vote.signature))
    signers[vote.signer] = vote.signature
    if not me.committee.is_quorum(signers):
        return [], (view, block, votes)
    sent: list[Any] = [Broadcast(PhaseQC(certify(phase, view, block, signers)))]
    if phase in NEXT_VOTE:
        more, (_, _, votes) = _fork_vote(me, (view, block, votes), NEXT_VOTE[phase])
        sent += more
    return sent, (view, block, votes)
