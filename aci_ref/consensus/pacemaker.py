"""The settlement path's pacemaker and proposer timing: who leads a view, how long a view may
last, when a leader proposes, and what block time a replica accepts.

Safety never depends on any of this (that is the lock and `safe_node`); liveness does. A view's
timer starts at `view_timeout_ms` and doubles after each consecutive failed view up to
`max_view_timeout_ms`, so that after the network settles some view lasts long enough for an honest
leader to finish; a decision resets it. The 2 s block interval of §4.3 is a proposer-side minimum
delay: an honest leader waits until its clock reads its parent's time plus
`settlement_interval_ms`, and replicas refuse blocks whose time breaks `block_time_in_bounds`.

Besides those pure rules, this module holds the replica machine's view-change half (entering a
view, timers, new-views, the leader's proposal and its mempool); `hotstuff_state` holds the state
and the per-step context, `hotstuff` the phases and the safety rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Final

import immutables

from aci_ref.consensus.committee import Committee
from aci_ref.consensus.hotstuff_checks import check_certificate, check_view
from aci_ref.consensus.hotstuff_messages import (
    QC,
    Block,
    BlockRequest,
    NewView,
    Phase,
    PhaseQC,
    Proposal,
    block_digest,
    check_new_view_signature,
    payload_problem,
    sign_new_view,
    sign_proposal,
)
from aci_ref.consensus.hotstuff_state import (
    Held,
    HotStuffState,
    Refusal,
    Step,
    ViewState,
    attempt,
    leader_of,
    tx_digest,
)
from aci_ref.consensus.io import Broadcast, SetTimer
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import Rejection
from aci_ref.params import Params

__all__ = [
    "PROPOSE_TIMER",
    "VIEW_TIMER",
    "Held",
    "Refusal",
    "Step",
    "ViewState",
    "attempt",
    "block_time_in_bounds",
    "check_certificate",
    "check_view",
    "earliest_proposal_ms",
    "enter_view",
    "held_view",
    "highest_qc",
    "leader_of",
    "on_client_tx",
    "on_new_view",
    "on_start",
    "on_timer",
    "payload_for",
    "proposal_time_ms",
    "select_payload",
    "send_new_view",
    "sync_view",
    "try_propose",
    "tx_digest",
    "view_timeout_ms",
]

VIEW_TIMER: Final = "hotstuff/view"
PROPOSE_TIMER: Final = "hotstuff/propose"


def view_timeout_ms(failures: int, params: Params) -> int:
    """How long a view lasts after `failures` consecutive failed views: doubling, capped."""
    timeout = params.view_timeout_ms
    for _ in range(failures):
        if timeout >= params.max_view_timeout_ms:
            break
        timeout *= 2
    return min(timeout, params.max_view_timeout_ms)


def block_time_in_bounds(time_ms: int, parent_time_ms: int, local_ms: int, params: Params) -> bool:
    """§4.3 ("every 2 seconds"): may a replica whose clock reads `local_ms` accept this time?

    The time must be at least the parent's plus `settlement_interval_ms` and at most the parent's
    plus one epoch, and no more than `max_clock_drift_ms` ahead of the local clock. It may not lag
    the local clock by more than the drift either, except at exactly the parent's time plus one
    epoch: a chain catching up after an outage longer than an epoch advances one epoch per block.
    """
    earliest = parent_time_ms + params.settlement_interval_ms
    epoch_cap = parent_time_ms + params.epoch_duration_ms
    latest = min(epoch_cap, local_ms + params.max_clock_drift_ms)
    if not earliest <= time_ms <= latest:
        return False
    return time_ms >= local_ms - params.max_clock_drift_ms or time_ms == epoch_cap


def earliest_proposal_ms(parent_time_ms: int, params: Params) -> int:
    """When an honest leader's clock allows it to propose on a parent of this time."""
    return parent_time_ms + params.settlement_interval_ms


def proposal_time_ms(parent_time_ms: int, local_ms: int, params: Params) -> int:
    """The time an honest leader writes into its block: its clock, at most one epoch on."""
    return min(local_ms, parent_time_ms + params.epoch_duration_ms)


def highest_qc(qcs: Iterable[QC]) -> QC:
    """§4.3, HotStuff prepare phase (highQC): the justification of the latest view.

    Two prepare certificates of one view name one block (quorums intersect in an honest replica,
    which votes once per view and phase); ties are broken by block digest only for determinism.
    """
    return max(qcs, key=lambda qc: (qc.view, qc.block))


def select_payload(
    mempool: tuple[bytes, ...], excluded: frozenset[bytes], params: Params
) -> tuple[bytes, ...]:
    """The leader's batch: mempool order, skipping `excluded` digests, within the size limits.

    The byte budget is counted conservatively (each transaction's encoding plus the largest array
    head), so a replica's exact canonical-size check never refuses an honest batch.
    """
    chosen: list[bytes] = []
    size = len(canonical_bytes(params.max_batch_txs))
    for tx in mempool:
        if len(chosen) >= params.max_batch_txs:
            break
        if tx_digest(tx) in excluded:
            continue
        cost = len(canonical_bytes(tx))
        if size + cost > params.max_batch_bytes:
            continue
        chosen.append(tx)
        size += cost
    return tuple(chosen)


# ---- views, timers, new-views and the leader's proposal ----------------------------------------


def enter_view(
    ctx: Step, state: HotStuffState, view: int, cause: str, justify: QC | None = None
) -> HotStuffState:
    """Move to `view` (cause: timeout, decided, or jump on a later QC/proposal/new-view quorum)."""
    failures = {"timeout": state.failures + 1, "decided": 0}.get(cause, state.failures)
    deadline = ctx.now + view_timeout_ms(failures, ctx.params)
    held = tuple(h for h in state.held if held_view(h.message) >= view)
    wanted = {h.needs for h in held} | {b.parent for b in state.orphans.values()}
    state = replace(
        state,
        view=view,
        current=ViewState(justify=justify),
        failures=failures,
        deadline_ms=deadline,
        voted=frozenset(pair for pair in state.voted if pair[0] >= view),
        new_views=immutables.Map({k: v for k, v in state.new_views.items() if v.view >= view}),
        held=held,
        wanted=state.wanted & wanted,
    )
    ctx.effects.append(SetTimer(VIEW_TIMER, deadline))
    return send_new_view(ctx, state) if cause != "jump" else state


def held_view(message: Proposal | PhaseQC) -> int:
    return message.view if isinstance(message, Proposal) else message.qc.view


def send_new_view(ctx: Step, state: HotStuffState) -> HotStuffState:
    # To every replica, not only the leader: replicas a view apart learn from it (`on_new_view`).
    key, name = ctx.config.key, ctx.config.name
    ctx.effects.append(Broadcast(sign_new_view(key, name, state.view, state.prepare_qc)))
    return state


def on_start(ctx: Step, state: HotStuffState) -> HotStuffState:
    deadline = ctx.now + view_timeout_ms(state.failures, ctx.params)
    ctx.effects.append(SetTimer(VIEW_TIMER, deadline))
    return send_new_view(ctx, replace(state, deadline_ms=deadline))


def on_timer(ctx: Step, state: HotStuffState, key: str) -> HotStuffState:
    if key == PROPOSE_TIMER:
        return state  # `_resolve` proposes if the time has come
    if key != VIEW_TIMER:
        raise Refusal(Rejection.BAD_INPUT, f"unknown timer {key!r}")
    if state.deadline_ms is None or ctx.now < state.deadline_ms:
        return state  # a timer of a view already left
    ctx.effects.extend(Broadcast(BlockRequest(d)) for d in sorted(state.wanted))
    return enter_view(ctx, state, state.view + 1, "timeout")


def on_new_view(ctx: Step, state: HotStuffState, message: NewView) -> HotStuffState:
    """§4.3, HotStuff prepare phase: a leader collects new-views; one per signer is kept."""
    view, signer = message.view, message.signer
    check_view(ctx, state, view)
    member = ctx.config.committee.member(signer)
    if member is None:
        raise Refusal(Rejection.NOT_VALIDATOR, signer)
    previous = state.new_views.get(signer)
    if previous == message:
        raise Refusal(Rejection.DUPLICATE_MESSAGE, f"new-view of {signer}")
    if previous is not None and previous.view > view:
        raise Refusal(Rejection.STALE_ROUND, f"{signer} already sent a later new-view")
    ctx.verifications += 1
    if not check_new_view_signature(message, member.public_key):
        raise Refusal(Rejection.BAD_SIGNATURE, f"new-view of {signer}")
    if previous is not None and previous.view == view:
        raise Refusal(Rejection.EQUIVOCATION, f"two new-views of {signer} in view {view}")
    if message.justify.phase is not Phase.PREPARE or message.justify.view >= view:
        raise Refusal(Rejection.BAD_INPUT, "a new-view carries a prepareQC of an earlier view")
    check_certificate(ctx, message.justify)
    state = replace(state, new_views=state.new_views.set(signer, message))
    later = [nv.signer for nv in state.new_views.values() if nv.view == view]
    if view > state.view and ctx.config.committee.is_quorum(later):
        return enter_view(ctx, state, view, "jump")
    synced = sync_view(state, ctx.config.committee)
    if synced > state.view:
        state = enter_view(ctx, state, synced, "sync")
    return state


def sync_view(state: HotStuffState, committee: Committee) -> int:
    """The highest view that signers holding validity stake have reached (one of them honest).

    A replica behind it follows there and sends its own new-view, so replicas whose timers left
    them a view apart meet again; f Byzantine signers alone cannot pull anyone ahead.
    """
    reached = sorted(((nv.view, nv.signer) for nv in state.new_views.values()), reverse=True)
    signers: list[str] = []
    for view, signer in reached:
        signers.append(signer)
        if committee.is_validity(signers):
            return view
    return 0


def try_propose(ctx: Step, state: HotStuffState) -> tuple[HotStuffState, Proposal | None]:
    """§4.3, HotStuff prepare phase (leader): propose on the highest prepareQC once it is time.

    Returns the proposal made (already broadcast), for the replica to accept as its own.
    """
    view, name, params = state.view, ctx.config.name, ctx.params
    if ctx.leader(view) != name or (view, Phase.PREPARE) in state.voted:
        return state, None
    if state.current.proposal is not None:
        return state, None
    justify = state.current.justify
    if justify is None:
        fresh = [nv for nv in state.new_views.values() if nv.view == view]
        if not ctx.config.committee.is_quorum([name, *(nv.signer for nv in fresh)]):
            return state, None
        justify = highest_qc([state.prepare_qc, *(nv.justify for nv in fresh)])
        state = replace(state, current=replace(state.current, justify=justify))
    parent = state.blocks.get(justify.block)
    if parent is None:
        if justify.block in state.wanted or len(state.wanted) >= params.max_pending_messages:
            return state, None
        ctx.effects.append(Broadcast(BlockRequest(justify.block)))
        return replace(state, wanted=state.wanted | {justify.block}), None
    ready = earliest_proposal_ms(parent.time_ms, params)
    if ctx.now < ready:
        if state.current.propose_at != ready:
            ctx.effects.append(SetTimer(PROPOSE_TIMER, ready))
            state = replace(state, current=replace(state.current, propose_at=ready))
        return state, None
    state, payload = payload_for(ctx, state, parent)
    time_ms = proposal_time_ms(parent.time_ms, ctx.now, params)
    block = Block(parent.height + 1, justify.block, payload, time_ms, name, view)
    proposal = sign_proposal(ctx.config.key, view, block, justify)
    ctx.effects.append(Broadcast(proposal))
    return state, proposal


def payload_for(
    ctx: Step, state: HotStuffState, parent: Block
) -> tuple[HotStuffState, tuple[bytes, ...]]:
    """Mempool transactions not already in the parent's undecided ancestry, and valid."""
    excluded: set[bytes] = set()
    walk: Block | None = parent
    while walk is not None and block_digest(walk) in state.undecided:
        excluded.update(tx_digest(tx) for tx in walk.payload)
        walk = state.blocks.get(walk.parent)
    payload = select_payload(state.mempool, frozenset(excluded), ctx.params)
    check = ctx.config.validate_payload
    if check is None or check(payload) is None:
        return state, payload
    # Keep what validates together; forget what fails even alone (it never will).
    kept: tuple[bytes, ...] = ()
    bad: set[bytes] = set()
    for tx in payload:
        if check((tx,)) is not None:
            bad.add(tx)
        elif check((*kept, tx)) is None:
            kept += (tx,)
    return replace(state, mempool=tuple(tx for tx in state.mempool if tx not in bad)), kept


def on_client_tx(ctx: Step, state: HotStuffState, tx: object) -> HotStuffState:
    if type(tx) is not bytes:
        raise Refusal(Rejection.BAD_INPUT, "a transaction is bytes")
    problem = payload_problem((tx,), ctx.params)
    if problem is not None:
        raise Refusal(*problem)
    if tx_digest(tx) in state.decided_txs or tx in state.mempool:
        raise Refusal(Rejection.DUPLICATE_MESSAGE, "a transaction already pending or decided")
    if len(state.mempool) >= 4 * ctx.params.max_batch_txs:
        raise Refusal(Rejection.OVERSIZED_BATCH, "the mempool is full")
    return replace(state, mempool=(*state.mempool, tx))
