"""Algorithm 3, §4.2: the fast path's commit output and garbage collection.

After each insertion the total order (`order.commit_step`) may commit anchors; every vertex it
newly orders becomes one `Committed` effect, numbered without gaps. Committing moves the
garbage-collection horizon, and everything below it is forgotten: DAG rounds, acknowledgements,
votes, held messages and own vertices (an own vertex that was never ordered gives its batch back
to the mempool, within the mempool's bound).
"""

from __future__ import annotations

from dataclasses import replace

import immutables

from aci_ref.consensus.dag_messages import Committed, DagConfig, certificate_digest, horizon
from aci_ref.consensus.dag_state import DagState, Out
from aci_ref.consensus.io import Dropped
from aci_ref.consensus.order import commit_step
from aci_ref.errors import Rejection

Map = immutables.Map


def commit(config: DagConfig, state: DagState, out: Out) -> DagState:
    """Run the total order on the DAG, emit what it newly commits, then collect garbage."""
    steps = commit_step(
        state.dag,
        config.committee,
        state.last_committed_round,
        state.ordered,
        config.params.gc_depth_rounds,
    )
    if not steps:
        return state
    ordered, sequence = state.ordered, state.sequence
    for anchor, history in steps:
        for node in history:
            out.append(
                Committed(sequence, node.digest, node.round, node.author, node.batch, anchor.round)
            )
            ordered = ordered.set(node.digest, node.round)
            sequence += 1
    last = steps[-1][0].round
    state = replace(state, ordered=ordered, sequence=sequence, last_committed_round=last)
    return _collect(config, state, out)


def _collect(config: DagConfig, state: DagState, out: Out) -> DagState:
    """Forget every round below the horizon; an own vertex never ordered gives its batch back."""
    low = horizon(config, state.last_committed_round)
    returned: list[bytes] = []
    own = state.own
    for round_ in sorted(r for r in state.own if r < low):
        vertex = own[round_]
        if vertex.batch and certificate_digest(vertex.digest()) not in state.ordered:
            returned.extend(vertex.batch)
        own = own.delete(round_)
    index = state.index
    dag = state.dag
    for round_ in sorted(r for r in state.dag if r < low):
        for node in state.dag[round_].values():
            index = index.delete(node.digest)
        dag = dag.delete(round_)
    pending, held = state.pending, state.held_count
    for round_ in sorted(r for r in state.pending if r < low):
        held -= len(pending[round_])
        pending = pending.delete(round_)
    limit = config.params.max_batch_txs * 4
    mempool = (*returned, *state.mempool)
    for _ in mempool[limit:]:
        out.append(Dropped(Rejection.OVERSIZED_BATCH, "mempool full: an orphaned tx is lost"))
    return replace(
        state,
        own=own,
        dag=dag,
        index=index,
        pending=pending,
        held_count=held,
        mempool=mempool[:limit],
        votes=_below(state.votes, low),
        acked=Map({k: v for k, v in state.acked.items() if k[0] >= low}),
        ordered=Map({k: v for k, v in state.ordered.items() if v >= low}),
    )


def _below(votes: Map[int, Map[str, bytes]], low: int) -> Map[int, Map[str, bytes]]:
    """The gathered acknowledgements without the rounds below `low`."""
    for round_ in sorted(r for r in votes if r < low):
        votes = votes.delete(round_)
    return votes
