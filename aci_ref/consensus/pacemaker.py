"""The settlement path's pacemaker and proposer timing: who leads a view, how long a view may
last, when a leader proposes, and what block time a replica accepts.

Safety never depends on any of this (that is the lock and `safe_node`); liveness does. A view's
timer starts at `view_timeout_ms` and doubles after each consecutive failed view up to
`max_view_timeout_ms`, so that after the network settles some view lasts long enough for an honest
leader to finish; a decision resets it. The 2 s block interval of §4.3 is a proposer-side minimum
delay: an honest leader waits until its clock reads its parent's time plus
`settlement_interval_ms`, and replicas refuse blocks whose time breaks `block_time_in_bounds`.

Besides those pure rules, this module holds the replica machine's view-change half (entering a
view, timers, new-views, the leader's proposal and its mempool) and the per-step context both
halves share; `hotstuff` holds the state, the phases and the safety rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

import immutables

from aci_ref.consensus.committee import Committee
from aci_ref.consensus.hotstuff_messages import (
    QC,
    Block,
    BlockRequest,
    NewView,
    Phase,
    PhaseQC,
    Proposal,
    Vote,
    block_digest,
    check_new_view_signature,
    check_qc,
    payload_problem,
    sign_new_view,
    sign_proposal,
)
from aci_ref.consensus.io import Broadcast, Dropped, SetTimer
from aci_ref.crypto import sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import Rejection
from aci_ref.params import Params

if TYPE_CHECKING:
    from aci_ref.consensus.hotstuff import HotStuffConfig, HotStuffState

VIEW_TIMER: Final = "hotstuff/view"
PROPOSE_TIMER: Final = "hotstuff/propose"


def leader_of(committee: Committee, leaders: tuple[str, ...] | None, view: int) -> str:
    """The leader of `view`: `leaders[view % len(leaders)]` when given, else round-robin."""
    if leaders:
        return leaders[view % len(leaders)]
    return committee.leader(view)


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


def tx_digest(tx: bytes) -> bytes:
    """How the mempool and the decided set name a transaction."""
    return sha256(tx)


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


@dataclass(frozen=True, slots=True)
class ViewState:
    """What a replica knows of its current view only; entering a view starts it afresh."""

    proposal: bytes | None = None
    block: bytes | None = None
    certified: immutables.Map[Phase, bytes] = field(default_factory=immutables.Map)
    votes: immutables.Map[Phase, immutables.Map[str, Vote]] = field(default_factory=immutables.Map)
    justify: QC | None = None
    propose_at: int | None = None


@dataclass(frozen=True, slots=True)
class Held:
    """A message waiting in the waiting room for the block `needs`."""

    sender: str
    message: Proposal | PhaseQC
    needs: bytes


# ---- one step's context -------------------------------------------------------------------------


class Refusal(Exception):
    """Internal: the message in hand is refused (the step rolls its state back)."""

    def __init__(self, reason: Rejection, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Step:
    """What one call of `step` accumulates (local to that call, never kept)."""

    config: HotStuffConfig
    now: int
    effects: list[Any] = field(default_factory=list)
    drops: list[Rejection] = field(default_factory=list)
    verifications: int = 0

    def leader(self, view: int) -> str:
        return leader_of(self.config.committee, self.config.leaders, view)

    @property
    def params(self) -> Params:
        return self.config.params


def attempt(
    ctx: Step, state: HotStuffState, handle: Callable[[HotStuffState], HotStuffState]
) -> HotStuffState:
    """Run `handle`; if it refuses, keep `state`, discard its effects and report the drop."""
    mark = len(ctx.effects)
    try:
        return handle(state)
    except Refusal as refusal:
        del ctx.effects[mark:]
        ctx.effects.append(Dropped(refusal.reason, refusal.detail))
        ctx.drops.append(refusal.reason)
        return state


def check_view(ctx: Step, state: HotStuffState, view: int) -> None:
    if view < state.view:
        raise Refusal(Rejection.STALE_ROUND, f"view {view} < {state.view}")
    if view > state.view + ctx.params.max_round_lead:
        raise Refusal(Rejection.FUTURE_ROUND, f"view {view} > {state.view} + lead")


def check_certificate(ctx: Step, qc: QC) -> None:
    problem, checked = check_qc(qc, ctx.config.committee)
    ctx.verifications += checked
    if problem is not None:
        raise Refusal(*problem)


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
