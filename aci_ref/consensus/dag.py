"""Algorithm 3, §4.2: the fast-path validator, a Narwhal-style DAG with a Bullshark total order.

Each round a validator proposes one vertex (its parents are the quorum of certificates of the round
before that it holds), every validator acknowledges at most one vertex per (author, round) slot,
and the author turns a quorum of acknowledgements into a certificate that every validator adds to
its local DAG. The total order (`order.commit_step`) then turns the DAG into `Committed` effects,
one per vertex, numbered without gaps. Memory is bounded by the parameters: rounds more than
`gc_depth_rounds` below the last committed anchor are collected, messages more than
`max_round_lead` rounds ahead are dropped, and at most `max_pending_messages` wait for parents.
The state is in `dag_state`, the waiting room and certificate fetch in `dag_sync`, commit output
and collection in `dag_commit`.
"""

from __future__ import annotations

from dataclasses import fields, replace
from functools import partial

import immutables

from aci_ref.consensus.dag_commit import commit
from aci_ref.consensus.dag_messages import (
    Ack,
    Certificate,
    CertificateReply,
    CertificateRequest,
    Committed,
    DagConfig,
    Vertex,
    batch_bytes,
    certify,
    check_ack,
    check_certificate,
    check_vertex,
    fill_batch,
    horizon,
    sign_ack,
    sign_vertex,
)
from aci_ref.consensus.dag_state import DagState, Held, Out, drop
from aci_ref.consensus.dag_sync import (
    hold,
    missing_parents,
    on_reply,
    on_request,
    release,
    resend,
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
    SetTimer,
    Start,
    TimerFired,
)
from aci_ref.consensus.order import node_of
from aci_ref.errors import Rejection

__all__ = [
    "ROUND_TIMER",
    "Ack",
    "Certificate",
    "CertificateReply",
    "CertificateRequest",
    "Committed",
    "DagConfig",
    "DagState",
    "Vertex",
    "dag_program",
]

ROUND_TIMER = "dag/round"
"""The one timer key: proposal pacing, the anchor wait and retransmission."""

Map = immutables.Map


def _count_sent(config: DagConfig, state: DagState, effects: Out) -> DagState:
    sent = sum(
        1 if isinstance(e, Send) else config.committee.size - 1 if isinstance(e, Broadcast) else 0
        for e in effects
    )
    return replace(state, stats=replace(state.stats, sent=state.stats.sent + sent))


# ---- messages ----------------------------------------------------------------------------------


def _insert(config: DagConfig, state: DagState, out: Out, certificate: Certificate) -> DagState:
    """Algorithm 3 line 4, §4.2: add a certified vertex whose parents are present to the DAG."""
    node = node_of(certificate)
    round_, author = node.round, node.author
    dag = state.dag.set(round_, state.dag.get(round_, Map()).set(author, node))
    votes = state.votes.delete(round_) if author == config.name and round_ in state.votes else None
    state = replace(
        state,
        dag=dag,
        index=state.index.set(node.digest, (round_, author)),
        votes=state.votes if votes is None else votes,
    )
    state = commit(config, state, out)
    return release(config, state, out, round_ + 1, partial(_resume, config))


def _window(config: DagConfig, state: DagState) -> tuple[int, int]:
    """The rounds a message may carry: from the horizon to max_round_lead past our own round."""
    top = max(state.proposed_round, max(state.dag.keys(), default=0))
    return horizon(config, state.last_committed_round), top + config.params.max_round_lead


def _slot(state: DagState, certificate: Certificate) -> bytes | None:
    vertex = getattr(certificate, "vertex", None)
    round_, author = getattr(vertex, "round", None), getattr(vertex, "author", None)
    if type(round_) is not int or type(author) is not str:
        return None
    node = state.dag.get(round_, Map()).get(author)
    return None if node is None else node.digest


def _on_vertex(
    config: DagConfig, state: DagState, out: Out, vertex: Vertex, sender: str, checked: bool
) -> DagState:
    """Algorithm 3 lines 3-6, §4.2: check a vertex and acknowledge it (once per slot)."""
    if not checked:
        low, high = _window(config, state)
        problem, count = check_vertex(config, vertex, low, high)
        state = replace(state, stats=state.stats.verified(count))
        if problem is not None:
            return drop(state, out, problem)
    digest = vertex.digest()
    slot = (vertex.round, vertex.author)
    previous = state.acked.get(slot)
    if vertex.author == config.name and previous != digest:
        return drop(state, out, (Rejection.EQUIVOCATION, "a vertex in our name we did not make"))
    if previous == digest:
        out.append(Send(vertex.author, sign_ack(config.key, vertex, config.name)))
        return drop(state, out, (Rejection.DUPLICATE_MESSAGE, "vertex already acknowledged"))
    if previous is not None:
        return drop(state, out, (Rejection.EQUIVOCATION, f"a second vertex in slot {slot}"))
    problem, missing = missing_parents(config, state, vertex)
    if problem is not None:
        return drop(state, out, problem)
    if missing:
        return hold(config, state, out, Held(vertex, sender), missing)
    state = replace(state, acked=state.acked.set(slot, digest))
    out.append(Send(vertex.author, sign_ack(config.key, vertex, config.name)))
    return state


def _on_certificate(
    config: DagConfig,
    state: DagState,
    out: Out,
    certificate: Certificate,
    sender: str,
    checked: bool,
) -> DagState:
    """Algorithm 3 lines 6-7, §4.2: check a certificate and add its vertex to the DAG."""
    if not checked:
        low, high = _window(config, state)
        problem, count = check_certificate(
            config, certificate, low, high, _slot(state, certificate)
        )
        state = replace(state, stats=state.stats.verified(count))
        if problem is not None:
            return drop(state, out, problem)
    problem, missing = missing_parents(config, state, certificate.vertex)
    if problem is not None:
        return drop(state, out, problem)
    if missing:
        return hold(config, state, out, Held(certificate, sender), missing)
    return _insert(config, state, out, certificate)


def _resume(
    config: DagConfig, state: DagState, out: Out, message: Vertex | Certificate, sender: str
) -> DagState:
    """Handle a held message whose parents have arrived (it was checked when it was held)."""
    if isinstance(message, Certificate):
        return _on_certificate(config, state, out, message, sender, checked=True)
    return _on_vertex(config, state, out, message, sender, checked=True)


def _on_ack(config: DagConfig, state: DagState, out: Out, ack: Ack) -> DagState:
    """Gather acknowledgements of an own vertex; a quorum of stake makes its certificate."""
    low = horizon(config, state.last_committed_round)
    certified = {r for r in state.own if config.name in state.dag.get(r, Map())}
    problem, count = check_ack(config, ack, low, state.own, certified, state.votes)
    state = replace(state, stats=state.stats.verified(count))
    if problem is not None:
        return drop(state, out, problem)
    gathered = state.votes.get(ack.round, Map()).set(ack.signer, ack.signature)
    state = replace(state, votes=state.votes.set(ack.round, gathered))
    if not config.committee.is_quorum(gathered.keys()):
        return state
    certificate = certify(state.own[ack.round], dict(gathered.items()))
    out.append(Broadcast(certificate))
    return _on_certificate(config, state, out, certificate, config.name, checked=True)


# ---- proposing and the round timer -------------------------------------------------------------


def _quorum_round(config: DagConfig, state: DagState) -> int:
    """The highest round whose certificates this validator holds carry a quorum of stake."""
    for round_ in sorted(state.dag, reverse=True):
        if config.committee.is_quorum(state.dag[round_].keys()):
            return round_
    return 0


def _propose(config: DagConfig, state: DagState, out: Out, round_: int, now: int) -> DagState:
    """Algorithm 3 lines 1-2, §4.2: make, sign and broadcast this round's vertex."""
    params = config.params
    batch = fill_batch(state.mempool, params.max_batch_txs, params.max_batch_bytes)
    parents = tuple(sorted(n.digest for n in state.dag.get(round_ - 1, Map()).values()))
    vertex = sign_vertex(config.key, round_, config.name, parents, batch)
    ack = sign_ack(config.key, vertex, config.name)
    state = replace(
        state,
        mempool=state.mempool[len(batch) :],
        own=state.own.set(round_, vertex),
        acked=state.acked.set((round_, config.name), ack.vertex),
        proposed_round=round_,
        round_started_ms=now,
        last_proposal_ms=now,
        last_resend_ms=now,
    )
    out.append(Broadcast(vertex))
    return _on_ack(config, state, out, ack)


def _progress(config: DagConfig, state: DagState, out: Out, now: int, fired: bool) -> DagState:
    """Propose when allowed; otherwise keep the round timer set for when something may change."""
    params = config.params
    quorum = _quorum_round(config, state)
    wait_until = state.round_started_ms + params.dag_leader_timeout_ms
    if quorum + 1 <= state.proposed_round:
        # Waiting for a quorum of this round: resend what peers may have missed, now and then.
        resend_at = max(wait_until, state.last_resend_ms + params.dag_leader_timeout_ms)
        if fired and now >= resend_at:
            state = resend(config, state, out, now)
            resend_at = now + params.dag_leader_timeout_ms
        return _arm(state, out, resend_at, now)
    if state.last_proposal_ms is not None:
        earliest = state.last_proposal_ms + params.dag_round_interval_ms
        if now < earliest:
            return _arm(state, out, earliest, now)
    if quorum == state.proposed_round and now < wait_until and _should_wait(config, state, quorum):
        return _arm(state, out, wait_until, now)
    state = _propose(config, state, out, quorum + 1, now)
    return _arm(state, out, now + params.dag_round_interval_ms, now)


def _should_wait(config: DagConfig, state: DagState, round_: int) -> bool:
    """Before leaving `round_`: its anchor (even rounds) and our certificate are worth a wait."""
    held = state.dag.get(round_, Map())
    if round_ % 2 == 0 and round_ >= 2 and config.committee.leader(round_ // 2) not in held:
        return True
    return round_ in state.own and config.name not in held


def _arm(state: DagState, out: Out, at_ms: int, now: int) -> DagState:
    at_ms = max(at_ms, now + 1)
    if state.timer_at > now and state.timer_at <= at_ms:
        return state  # an earlier (or the same) wake-up is already set
    out.append(SetTimer(ROUND_TIMER, at_ms))
    return replace(state, timer_at=at_ms)


# ---- the machine -------------------------------------------------------------------------------


def _step(config: DagConfig, state: DagState, event: Input) -> tuple[DagState, Out]:
    out: Out = []
    if isinstance(event, Start):
        now = event.now_ms
        state = replace(state, started=True, round_started_ms=now, last_resend_ms=now, timer_at=-1)
        state = _restore_votes(config, state)
        return _progress(config, state, out, now, fired=False), out
    if isinstance(event, ClientTx):
        return _on_client_tx(config, state, out, event.tx), out
    if not state.started or type(getattr(event, "now_ms", None)) is not int:
        return drop(state, out, (Rejection.BAD_INPUT, "not started, or no clock reading")), out
    now = event.now_ms
    if isinstance(event, TimerFired):
        if event.key != ROUND_TIMER:
            return drop(state, out, (Rejection.BAD_INPUT, f"unknown timer {event.key!r}")), out
        return _progress(config, replace(state, timer_at=-1), out, now, fired=True), out
    if not isinstance(event, Deliver):
        return drop(state, out, (Rejection.BAD_INPUT, "unknown input")), out
    state = replace(state, stats=replace(state.stats, received=state.stats.received + 1))
    message, sender, before = event.message, event.sender, state
    if type(sender) is not str or config.committee.member(sender) is None:
        return drop(state, out, (Rejection.NOT_VALIDATOR, f"sender {sender!r}")), out
    if isinstance(message, Vertex):
        state = _on_vertex(config, state, out, message, sender, checked=False)
    elif isinstance(message, Certificate):
        state = _on_certificate(config, state, out, message, sender, checked=False)
    elif isinstance(message, Ack):
        state = _on_ack(config, state, out, message)
    elif isinstance(message, CertificateRequest):
        state = on_request(config, state, out, message, sender)
    elif isinstance(message, CertificateReply):
        state = on_reply(
            config, state, out, message, sender, partial(_on_certificate, config, checked=False)
        )
    else:
        state = drop(state, out, (Rejection.BAD_INPUT, f"unknown message {type(message)}"))
    if all(getattr(state, name) is getattr(before, name) for name in _PROTOCOL_FIELDS):
        return state, out  # refused (or a sync reply): nothing to act on
    return _progress(config, state, out, now, fired=False), out


_PROTOCOL_FIELDS = tuple(f.name for f in fields(DagState) if f.name != "stats")


def _on_client_tx(config: DagConfig, state: DagState, out: Out, tx: object) -> DagState:
    params = config.params
    if type(tx) is not bytes:
        return drop(state, out, (Rejection.BAD_INPUT, "a transaction is bytes"))
    if batch_bytes((tx,)) > params.max_batch_bytes:
        return drop(state, out, (Rejection.OVERSIZED_BATCH, "a transaction too big for a batch"))
    if len(state.mempool) >= params.max_batch_txs * 4:
        return drop(state, out, (Rejection.OVERSIZED_BATCH, "mempool full"))
    return replace(state, mempool=(*state.mempool, tx))


def _restore_votes(config: DagConfig, state: DagState) -> DagState:
    """After a restart: our own acknowledgement of each own vertex not yet certified."""
    votes = state.votes
    for round_ in sorted(state.own):
        if config.name not in state.dag.get(round_, Map()) and round_ not in votes:
            ack = sign_ack(config.key, state.own[round_], config.name)
            votes = votes.set(round_, Map({config.name: ack.signature}))
    return replace(state, votes=votes)


def dag_program(config: DagConfig) -> Program[DagState]:
    """Algorithm 3, §4.2: the fast-path validator as a pure `Program`."""

    def step(state: DagState, event: Input) -> tuple[DagState, Effects]:
        try:
            new, out = _step(config, state, event)
            return _count_sent(config, new, out), tuple(out)
        except Exception as error:  # no input may raise out of a step
            kept = replace(state, stats=state.stats.drop(Rejection.BAD_INPUT))
            return kept, (Dropped(Rejection.BAD_INPUT, f"malformed input: {type(error).__name__}"),)

    def recover(state: DagState) -> DagState:
        """What survives a crash: own vertices, acknowledgements given, the DAG, the commit log."""
        return DagState(
            proposed_round=state.proposed_round,
            own=state.own,
            acked=state.acked,
            dag=state.dag,
            index=state.index,
            last_committed_round=state.last_committed_round,
            sequence=state.sequence,
            ordered=state.ordered,
            stats=state.stats,
        )

    return Program(initial=DagState, step=step, recover=recover)
