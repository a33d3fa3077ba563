"""§4.3: the settlement path, Basic HotStuff with a pacemaker, as one pure replica machine.

One view, led by one replica: prepare (the leader proposes a block on the highest prepareQC it
knows; a replica votes if the block is safe, on time and its payload valid), pre-commit (the
leader's prepareQC; a replica adopts it and votes), commit (the precommitQC; a replica locks on it
and votes), decide (the commitQC; the block and every ancestor not yet final are decided, in height
order). `safe_node` and `update_lock` are the whole safety rule; they are module-level functions,
called by name, so a test can plant a broken rule and watch the safety checker catch it.

Everything refused is dropped with its code and leaves the protocol state unchanged (only `Stats`
moves). Memory is bounded by parameters: one view's votes, one new-view per signer, a waiting room
of `max_pending_messages` for messages and fetched blocks whose parents are missing, a mempool of
`4 * max_batch_txs`; blocks below the decided height that were never decided are discarded.
The state and the per-step context are in `hotstuff_state`, the checks of incoming messages in
`hotstuff_checks`, block fetch, the waiting room and pruning in `hotstuff_sync`, views, timers and
proposing in `pacemaker`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import immutables

from aci_ref.consensus.hotstuff_checks import check_phase_qc, check_proposal, check_vote
from aci_ref.consensus.hotstuff_messages import (
    NEXT_VOTE,
    QC,
    Block,
    BlockRequest,
    BlockResponse,
    NewView,
    Phase,
    PhaseQC,
    Proposal,
    Vote,
    block_digest,
    certify,
    message_shape,
    sign_vote,
)
from aci_ref.consensus.hotstuff_state import (
    GENESIS_DIGEST,
    Held,
    HotStuffConfig,
    HotStuffState,
    PayloadCheck,
    Refusal,
    Step,
    ViewState,
    attempt,
)
from aci_ref.consensus.hotstuff_sync import (
    adopt_orphans,
    durable_blocks,
    hold,
    on_block_request,
    on_block_response,
    settle,
    take_ready,
)
from aci_ref.consensus.io import (
    Broadcast,
    ClientTx,
    Deliver,
    Dropped,
    Effects,
    Input,
    Program,
    Send,
    Start,
    TimerFired,
)
from aci_ref.consensus.pacemaker import (
    block_time_in_bounds,
    enter_view,
    on_client_tx,
    on_new_view,
    on_start,
    on_timer,
    try_propose,
)
from aci_ref.errors import RejectedError, Rejection

__all__ = [
    "GENESIS_DIGEST",
    "Decided",
    "Held",
    "HotStuffConfig",
    "HotStuffState",
    "PayloadCheck",
    "ViewState",
    "extends",
    "hotstuff_program",
    "recover",
    "safe_node",
    "update_lock",
]


@dataclass(frozen=True, slots=True)
class Decided:
    """§4.3 item 4: `block` is final and irreversible.

    `qc` is the commitQC that decided it: the block's own, or, for an ancestor that became final
    with a descendant, the descendant's (the decide certificate of the deciding block).
    """

    block: Block
    qc: QC


# ---- the safety rule ---------------------------------------------------------------------------


def extends(blocks: immutables.Map[bytes, Block], block: Block, ancestor: bytes) -> bool:
    """True when `ancestor` is `block` or one of its ancestors (walking held blocks only)."""
    target = blocks.get(ancestor)
    if target is None:
        return False
    digest = block_digest(block)
    walk: Block | None = blocks.get(digest, block)
    while walk is not None and walk.height > target.height:
        digest = walk.parent
        walk = blocks.get(digest)
    return walk is not None and digest == ancestor


def safe_node(block: Block, justify: QC, locked: QC, blocks: immutables.Map[bytes, Block]) -> bool:
    """§4.3, HotStuff (safeNode): the block extends the locked block, or its justification
    is of a later view than the lock (the lock is then provably not final)."""
    return extends(blocks, block, locked.block) or justify.view > locked.view


def update_lock(locked: QC, precommit_qc: QC) -> QC:
    """§4.3, HotStuff commit phase: lock on a precommitQC of a later view than the lock."""
    return precommit_qc if precommit_qc.view > locked.view else locked


# ---- one step ----------------------------------------------------------------------------------


def _step(
    config: HotStuffConfig, state: HotStuffState, event: Input
) -> tuple[HotStuffState, Effects]:
    now = getattr(event, "now_ms", None)
    ctx = Step(config, now if type(now) is int else 0)
    try:
        if type(now) is not int:
            raise Refusal(Rejection.BAD_INPUT, "an input carries an integer clock reading")
        after = attempt(ctx, state, lambda s: _resolve(ctx, _dispatch(ctx, s, event)))
    except Exception as error:  # no exception escapes a step, whatever the input
        after = state
        ctx.effects = [Dropped(Rejection.BAD_INPUT, f"{type(error).__name__}: {error}"[:200])]
        ctx.drops = [Rejection.BAD_INPUT]
    stats = after.stats
    for reason in ctx.drops:
        stats = stats.drop(reason)
    others = config.committee.size - 1
    sent = sum(1 if type(e) is Send else others if type(e) is Broadcast else 0 for e in ctx.effects)
    stats = replace(
        stats.verified(ctx.verifications), received=stats.received + 1, sent=stats.sent + sent
    )
    return replace(after, stats=stats), tuple(ctx.effects)


def _dispatch(ctx: Step, state: HotStuffState, event: Input) -> HotStuffState:
    if type(event) is Start:
        return on_start(ctx, state)
    if type(event) is ClientTx:
        return on_client_tx(ctx, state, event.tx)
    if type(event) is TimerFired:
        return on_timer(ctx, state, event.key)
    if type(event) is not Deliver:
        raise Refusal(Rejection.BAD_INPUT, f"not an input: {type(event).__name__}")
    message, sender = event.message, event.sender
    problem = message_shape(message)
    if problem is not None or type(sender) is not str:
        raise Refusal(Rejection.BAD_INPUT, problem or "a sender is a name")
    if type(message) is Proposal:
        return _on_proposal(ctx, state, sender, message)
    if type(message) is Vote:
        return _on_vote(ctx, state, message)
    if type(message) is PhaseQC:
        return _on_phase_qc(ctx, state, sender, message)
    if type(message) is NewView:
        return on_new_view(ctx, state, message)
    if type(message) is BlockRequest:
        return on_block_request(ctx, state, sender, message.digest)
    assert type(message) is BlockResponse
    return on_block_response(ctx, state, sender, message.block)


# ---- the phases --------------------------------------------------------------------------------


def _on_proposal(ctx: Step, state: HotStuffState, sender: str, p: Proposal) -> HotStuffState:
    return _accept_proposal(ctx, state, sender, p, own=False)


def _accept_proposal(
    ctx: Step, state: HotStuffState, sender: str, p: Proposal, own: bool
) -> HotStuffState:
    """§4.3, HotStuff prepare phase (replica): vote for a safe, timely, valid proposal."""
    block, view, params = p.block, p.view, ctx.params
    digest = check_proposal(ctx, state, p, own)
    parent = state.blocks.get(block.parent)
    if parent is None:
        return hold(ctx, state, sender, p, block.parent)
    if block.height != parent.height + 1:
        raise Refusal(Rejection.BAD_PARENTS, "a block's height is its parent's plus one")
    if not block_time_in_bounds(block.time_ms, parent.time_ms, ctx.now, params):
        raise Refusal(Rejection.BLOCK_TIME_OUT_OF_BOUND, f"time {block.time_ms} at {ctx.now}")
    if not safe_node(block, p.justify, state.locked_qc, state.blocks):
        raise Refusal(Rejection.UNSAFE_PROPOSAL, f"proposal of view {view}")
    check = ctx.config.validate_payload
    rejection = None if check is None else check(block.payload)
    if rejection is not None:
        raise Refusal(rejection, f"payload of the proposal of view {view}")
    if view > state.view:
        state = enter_view(ctx, state, view, "jump")
    b = block_digest(block)
    if b not in state.blocks:
        state = replace(state, blocks=state.blocks.set(b, block), undecided=state.undecided | {b})
    state = replace(state, current=replace(state.current, proposal=digest, block=b))
    return _cast_vote(ctx, state, Phase.PREPARE, b)


def _on_phase_qc(ctx: Step, state: HotStuffState, sender: str, m: PhaseQC) -> HotStuffState:
    """§4.3, HotStuff pre-commit / commit / decide (replica): act on the leader's certificate."""
    qc = m.qc
    check_phase_qc(ctx, state, sender, m)
    if qc.block not in state.blocks:
        return hold(ctx, state, sender, m, qc.block)
    if qc.view > state.view:
        state = enter_view(ctx, state, qc.view, "jump")
    return _on_qc(ctx, state, qc)


def _on_qc(ctx: Step, state: HotStuffState, qc: QC) -> HotStuffState:
    state = replace(
        state,
        current=replace(state.current, certified=state.current.certified.set(qc.phase, qc.block)),
    )
    if qc.phase is Phase.PREPARE:
        if qc.view > state.prepare_qc.view:
            state = replace(state, prepare_qc=qc)
    elif qc.phase is Phase.PRE_COMMIT:
        state = replace(state, locked_qc=update_lock(state.locked_qc, qc))
    else:
        return _decide(ctx, state, qc)
    return _cast_vote(ctx, state, NEXT_VOTE[qc.phase], qc.block)


def _cast_vote(ctx: Step, state: HotStuffState, phase: Phase, block: bytes) -> HotStuffState:
    """Vote at most once per (view, phase); the leader counts its own vote directly."""
    if (state.view, phase) in state.voted:
        return state
    state = replace(state, voted=state.voted | {(state.view, phase)})
    vote = sign_vote(ctx.config.key, ctx.config.name, phase, state.view, block)
    leader = ctx.leader(state.view)
    if leader == ctx.config.name:
        return _collect_vote(ctx, state, vote, own=True)
    ctx.effects.append(Send(leader, vote))
    return state


def _on_vote(ctx: Step, state: HotStuffState, vote: Vote) -> HotStuffState:
    return _collect_vote(ctx, state, vote, own=False)


def _collect_vote(ctx: Step, state: HotStuffState, vote: Vote, own: bool) -> HotStuffState:
    """§4.3, HotStuff (leader): a quorum of votes in one phase becomes that phase's certificate."""
    phase_votes = check_vote(ctx, state, vote, own)
    phase, view, current = vote.phase, vote.view, state.current
    state = replace(state, current=replace(current, votes=current.votes.set(phase, phase_votes)))
    if not ctx.config.committee.is_quorum(phase_votes.keys()):
        return state
    qc = certify(phase, view, vote.block, {s: v.signature for s, v in phase_votes.items()})
    ctx.effects.append(Broadcast(PhaseQC(qc)))
    return _on_qc(ctx, state, qc)


def _decide(ctx: Step, state: HotStuffState, qc: QC) -> HotStuffState:
    """§4.3, HotStuff decide phase: the commitQC finalises its block and undecided ancestors."""
    chain: list[Block] = []
    digest = qc.block
    while digest in state.undecided:
        block = state.blocks[digest]
        chain.append(block)
        digest = block.parent
    if chain and digest != state.decided_tip:
        raise Refusal(Rejection.UNSAFE_PROPOSAL, "a commitQC conflicts with the decided chain")
    for block in reversed(chain):
        ctx.effects.append(Decided(block, qc))
    if chain:
        state = settle(state, chain, qc.block)
    own = state.prepare_qc if state.prepare_qc.block == qc.block else None
    return enter_view(ctx, state, qc.view + 1, "decided", justify=own)


# ---- after each input ------------------------------------------------------------------------


def _resolve(ctx: Step, state: HotStuffState) -> HotStuffState:
    """After any accepted input: link fetched blocks, replay what waited for them, propose."""
    progress = True
    while progress:
        state, progress = adopt_orphans(state)
        state, ready = take_ready(state)
        progress = progress or bool(ready)
        for h in ready:
            state = attempt(ctx, state, partial(_replay, ctx, held=h))
    state, proposal = try_propose(ctx, state)
    if proposal is None:
        return state
    return _accept_proposal(ctx, state, ctx.config.name, proposal, own=True)


def _replay(ctx: Step, state: HotStuffState, *, held: Held) -> HotStuffState:
    message = held.message
    if isinstance(message, Proposal):
        return _on_proposal(ctx, state, held.sender, message)
    return _on_phase_qc(ctx, state, held.sender, message)


# ---- transactions, recovery, the program -------------------------------------------------------


def recover(state: HotStuffState) -> HotStuffState:
    """What survives a crash: view, lock, prepareQC, the (view, phase) pairs voted in, and the
    decided blocks (with the undecided blocks the two certificates name, and their ancestors)."""
    blocks, kept = durable_blocks(state)
    return HotStuffState(
        view=state.view,
        locked_qc=state.locked_qc,
        prepare_qc=state.prepare_qc,
        voted=state.voted,
        blocks=blocks,
        undecided=kept,
        decided_tip=state.decided_tip,
        decided_txs=state.decided_txs,
        stats=state.stats,
    )


def hotstuff_program(config: HotStuffConfig) -> Program[HotStuffState]:
    """§4.3: one settlement-path replica as a `Program` (fresh state, step, recover)."""
    member = config.committee.member(config.name)
    if member is None or member.public_key != config.key.public:
        raise RejectedError(Rejection.NOT_VALIDATOR, f"{config.name} with this key")
    if config.leaders is not None and (
        not config.leaders or any(config.committee.member(n) is None for n in config.leaders)
    ):
        raise RejectedError(Rejection.BAD_INPUT, "leaders are committee members")

    def step(state: HotStuffState, event: Input) -> tuple[HotStuffState, Effects]:
        return _step(config, state, event)

    return Program(HotStuffState, step, recover)
