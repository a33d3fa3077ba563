"""§4.3: the settlement path's block store: fetching what a replica lacks, and pruning.

A proposal or certificate naming a block the replica does not hold waits in a bounded waiting room
(`held`) while a `BlockRequest` asks its sender for the block; a fetched block whose own parent is
missing waits too (`orphans`) and its parent is asked for in turn, so a replica far behind walks
back to what it holds. The room holds at most `max_pending_messages` messages and blocks together.
Only blocks somebody asked for are taken (`wanted`). After a decision, and across a crash, the
blocks that can no longer matter are dropped.

Every function takes the step context and raises `Refusal` like the phases in `hotstuff`; none
calls back into it, so `hotstuff` replays what `take_ready` hands back itself.
"""

from __future__ import annotations

from dataclasses import replace

import immutables

from aci_ref.consensus.hotstuff_messages import (
    Block,
    BlockRequest,
    BlockResponse,
    PhaseQC,
    Proposal,
    block_digest,
)
from aci_ref.consensus.hotstuff_state import Held, HotStuffState, Refusal, Step, tx_digest
from aci_ref.consensus.io import Broadcast, Send
from aci_ref.errors import Rejection


def want(ctx: Step, state: HotStuffState, digest: bytes, ask: str) -> HotStuffState:
    """Ask `ask` (everyone, when that is ourselves) for a block, once while it is wanted."""
    if digest in state.wanted:
        return state
    request = BlockRequest(digest)
    ctx.effects.append(Broadcast(request) if ask == ctx.config.name else Send(ask, request))
    return replace(state, wanted=state.wanted | {digest})


def _room(ctx: Step, state: HotStuffState) -> bool:
    """Whether the waiting room (held messages and orphan blocks together) has space left."""
    return len(state.held) + len(state.orphans) < ctx.params.max_pending_messages


def hold(
    ctx: Step, state: HotStuffState, sender: str, message: Proposal | PhaseQC, needs: bytes
) -> HotStuffState:
    """Keep a message whose block is missing in the bounded waiting room and fetch the block."""
    if not _room(ctx, state):
        raise Refusal(Rejection.MISSING_PARENT, "the waiting room is full")
    state = replace(state, held=(*state.held, Held(sender, message, needs)))
    return want(ctx, state, needs, sender)


def on_block_request(ctx: Step, state: HotStuffState, sender: str, digest: bytes) -> HotStuffState:
    """Answer a peer asking for a block we hold."""
    block = state.blocks.get(digest)
    if block is None:
        raise Refusal(Rejection.MISSING_PARENT, "asked for a block not held here")
    ctx.effects.append(Send(sender, BlockResponse(block)))
    return state


def on_block_response(ctx: Step, state: HotStuffState, sender: str, block: Block) -> HotStuffState:
    """A block asked for (named by a checked certificate, or the parent of one) arrives."""
    digest = block_digest(block)
    if digest in state.blocks or digest in state.orphans:
        raise Refusal(Rejection.DUPLICATE_MESSAGE, "a block already held")
    if digest not in state.wanted or block.height == 0:
        raise Refusal(Rejection.BAD_INPUT, "a block nobody asked for")
    parent = state.blocks.get(block.parent)
    if parent is not None and block.height != parent.height + 1:
        raise Refusal(Rejection.BAD_PARENTS, "a block's height is its parent's plus one")
    if parent is None and not _room(ctx, state):
        raise Refusal(Rejection.MISSING_PARENT, "the waiting room is full")
    state = replace(state, wanted=state.wanted - {digest}, orphans=state.orphans.set(digest, block))
    return state if parent is not None else want(ctx, state, block.parent, sender)


def adopt_orphans(state: HotStuffState) -> tuple[HotStuffState, bool]:
    """One pass linking fetched blocks whose parent is now held; True if any left the orphans.

    An orphan of the wrong height for its parent is discarded rather than linked.
    """
    progress = False
    for digest, block in sorted(state.orphans.items()):
        parent = state.blocks.get(block.parent)
        if parent is None:
            continue
        orphans = state.orphans.delete(digest)
        if block.height == parent.height + 1:
            blocks, undecided = state.blocks.set(digest, block), state.undecided | {digest}
            state = replace(state, blocks=blocks, undecided=undecided, orphans=orphans)
        else:
            state = replace(state, orphans=orphans)
        progress = True
    return state, progress


def take_ready(state: HotStuffState) -> tuple[HotStuffState, list[Held]]:
    """The held messages whose block has arrived, taken out of the waiting room."""
    ready = [h for h in state.held if h.needs in state.blocks]
    if not ready:
        return state, ready
    return replace(state, held=tuple(h for h in state.held if h not in ready)), ready


def settle(state: HotStuffState, chain: list[Block], tip: bytes) -> HotStuffState:
    """Record a newly decided `chain` (from the new tip, block `tip`, down) and prune around it.

    Its transactions become decided and leave the mempool; undecided blocks at or below its
    height are discarded unless the lock or the prepareQC names them, and so are orphans.
    """
    decided_txs = state.decided_txs
    for block in reversed(chain):
        for tx in block.payload:
            decided_txs = decided_txs.set(tx_digest(tx), block.height)
    height = chain[0].height
    keep = {state.locked_qc.block, state.prepare_qc.block}
    final = {block_digest(b) for b in chain}
    dropped = {
        d
        for d in state.undecided
        if d in final or (state.blocks[d].height <= height and d not in keep)
    }
    blocks = state.blocks
    for d in dropped - final:
        blocks = blocks.delete(d)
    return replace(
        state,
        blocks=blocks,
        undecided=state.undecided - dropped,
        decided_tip=tip,
        decided_txs=decided_txs,
        mempool=tuple(tx for tx in state.mempool if tx_digest(tx) not in decided_txs),
        orphans=immutables.Map({d: b for d, b in state.orphans.items() if b.height > height}),
    )


def durable_blocks(state: HotStuffState) -> tuple[immutables.Map[bytes, Block], frozenset[bytes]]:
    """The blocks a crash keeps, and the undecided ones among them: the decided chain, and the
    undecided blocks the lock and the prepareQC name, with their undecided ancestors."""
    kept: set[bytes] = set()
    for digest in (state.locked_qc.block, state.prepare_qc.block):
        while digest in state.undecided and digest not in kept:
            kept.add(digest)
            digest = state.blocks[digest].parent
    blocks = state.blocks
    for digest in state.undecided - kept:
        blocks = blocks.delete(digest)
    return blocks, frozenset(kept)
