"""A flood of bad input at one validator: 20,000 messages of junk, far-future rounds or views, bad
signatures, non-validators, stale rounds, missing parents, oversized batches and duplicate signers.

Every message is refused with its typed code and counted in `Stats`, except those that wait for
missing parents, of which at most `max_pending_messages` are kept; nothing raises, and the state
stops growing once the waiting room is full: its pickled size (counters aside) after the whole
flood equals its size halfway through, and what holds messages stays within the parameters'
bounds.
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aci_ref.consensus.dag_messages import Ack, certify, sign_ack, sign_vertex
from aci_ref.consensus.hotstuff import HotStuffState
from aci_ref.consensus.hotstuff_messages import (
    Block,
    Phase,
    PhaseQC,
    Vote,
    sign_new_view,
    sign_proposal,
    sign_vote,
)
from aci_ref.consensus.hotstuff_messages import certify as certify_qc
from aci_ref.consensus.io import Broadcast, Deliver, Dropped, Program, Send, Stats
from aci_ref.consensus.pacemaker import leader_of
from aci_ref.crypto import sha256
from aci_ref.errors import Rejection
from aci_ref.sim.byzantine import junk
from aci_ref.sim.faults import Faults
from aci_ref.sim.network import Network, Scenario
from tests.adversarial.harness import (
    DAG_PARAMS,
    OUTSIDER,
    PARAMS,
    committee_of,
    identity,
    key_of,
    machines,
)

FLOOD = 20_000
COMMITTEE = committee_of(4)
R = Rejection
Maker = Callable[[int, Any], tuple[str, Any]]
"""flood message i, given the target's state before the flood -> (sender, message)."""


ENTRY_ALLOWANCE = 256
"""Pickled bytes allowed per kept message beyond its own (map nodes, keys, the digest asked for)."""


def size_of(state: Any) -> int:
    """The pickled size of a state, counters aside (they grow by a digit now and then)."""
    return len(pickle.dumps(replace(state, stats=Stats())))


def fake(label: str, i: int) -> bytes:
    return sha256(b"flood/%s/%d" % (label.encode(), i))


def warmed_up(protocol: str, end_ms: int) -> tuple[Program[Any], Any]:
    """v1's machine, and its state after an honest run (so it has rounds or views behind it)."""
    programs = machines(protocol, COMMITTEE)
    network = Network(programs, Scenario(faults=Faults(jitter_ms=5), end_ms=end_ms), digest=False)
    network.run()
    return programs["v1"], network.states["v1"]


def flood(
    program: Program[Any], state: Any, now: int, makers: list[Maker], waiting: Callable[[Any], int]
) -> tuple[Any, Counter[Rejection], int, list[int]]:
    """Deliver FLOOD messages round-robin over `makers`; the end state, the codes of the drops,
    how many messages were kept waiting (each one that is not dropped must be: `waiting` counts
    them in a state), and the pickled state size before, after half and after all of it.

    The size may grow by no more than the kept messages' own pickled sizes, plus a fixed
    allowance per entry for the maps that index them.
    """
    before = state
    codes: Counter[Rejection] = Counter()
    kept = 0
    sizes = [size_of(state)]
    largest = 0
    for i in range(FLOOD):
        sender, message = makers[i % len(makers)](i, before)
        state, effects = program.step(state, Deliver(now, sender, message))
        drops = [e for e in effects if type(e) is Dropped]
        assert len(drops) <= 1, effects
        if drops:
            codes[drops[0].reason] += 1
        else:  # kept for its parents: it acknowledges or votes for nothing
            sent = {type(e.message) for e in effects if type(e) in (Send, Broadcast)}
            assert not {Ack, Vote} & sent, effects
            kept += 1
            assert waiting(state) == waiting(before) + kept
            largest = max(largest, len(pickle.dumps((sender, message))))
        if i + 1 in (FLOOD // 2, FLOOD):
            sizes.append(size_of(state))
    assert sizes[2] <= sizes[0] + kept * (largest + ENTRY_ALLOWANCE), (sizes, kept, largest)
    assert state.stats.received == before.stats.received + FLOOD
    counted = Counter(
        {R(k): v - before.stats.dropped.get(k, 0) for k, v in state.stats.dropped.items()}
    )
    assert +counted == codes  # every drop counted in Stats, by its code
    return state, codes, kept, sizes


def test_a_flooded_fast_path_validator_refuses_everything_in_bounded_memory() -> None:
    program, state = warmed_up("dag", 1_500)
    params = DAG_PARAMS
    assert state.last_committed_round > params.gc_depth_rounds  # so round 1 is stale
    top = max(state.dag)
    junker = identity(COMMITTEE, "v4", params)
    v2 = key_of("v2")

    def vertex(round_: int, parents: tuple[bytes, ...], batch: tuple[bytes, ...]) -> Any:
        return sign_vertex(v2, round_, "v2", tuple(sorted(parents)), batch)

    makers: list[Maker] = [
        lambda i, s: ("v4", junk(junker, i)),
        lambda i, s: ("v2", vertex(top + params.max_round_lead + 1 + i, (fake("p", i),), ())),
        lambda i, s: ("v2", replace(vertex(top, (fake("p", i),), ()), signature=bytes(64))),
        lambda i, s: (OUTSIDER, vertex(top, (fake("p", i),), ())),
        lambda i, s: ("v2", vertex(1, (), (b"%d" % i,))),
        lambda i, s: ("v2", vertex(top + 2, tuple(fake(str(k), i) for k in range(3)), ())),
        lambda i, s: ("v2", vertex(top, (), (b"",) * (params.max_batch_txs + 1))),
        lambda i, s: ("v3", duplicate_signers(top + 1, i)),
    ]
    state, codes, kept, sizes = flood(program, state, 1_500, makers, lambda s: s.held_count)
    assert set(codes) == {
        R.BAD_INPUT,
        R.FUTURE_ROUND,
        R.BAD_SIGNATURE,
        R.NOT_VALIDATOR,
        R.STALE_ROUND,
        R.MISSING_PARENT,
        R.OVERSIZED_BATCH,
        R.DUPLICATE_SIGNER,
    }, codes
    assert kept == params.max_pending_messages == state.held_count
    assert sum(len(room) for room in state.pending.values()) == state.held_count
    assert len(state.mempool) <= 4 * params.max_batch_txs
    # Measured when written: 40,473 bytes before, 292,667 after half and after all of it.
    assert sizes[1] == sizes[2], sizes  # the room filled in the first half; then no growth


def duplicate_signers(round_: int, i: int) -> Any:
    """A certificate of a fresh vertex of v3 whose first signer is listed twice."""
    vertex = sign_vertex(key_of("v3"), round_, "v3", (fake("d", i),), ())
    good = certify(vertex, {s: sign_ack(key_of(s), vertex, s).signature for s in ("v1", "v2")})
    return replace(good, signers=(good.signers[0], *good.signers))


def test_a_flooded_settlement_replica_refuses_everything_in_bounded_memory() -> None:
    program, state = warmed_up("hotstuff", 12_000)
    params = PARAMS
    view = state.view
    assert view > 2 and state.decided_height >= 2
    leader = leader_of(COMMITTEE, None, view)
    junker = identity(COMMITTEE, "v4", params)
    unknown = fake("unknown", 0)
    votes = {s: sign_vote(key_of(s), s, Phase.PREPARE, view - 1, unknown) for s in ("v2", "v3")}
    votes["v4"] = sign_vote(key_of("v4"), "v4", Phase.PREPARE, view - 1, unknown)
    justify = certify_qc(
        Phase.PREPARE, view - 1, unknown, {s: v.signature for s, v in votes.items()}
    )
    now = 12_000

    def block(i: int, parent: bytes = unknown, size: int = 1) -> Block:
        return Block(state.decided_height + 2, parent, (b"%d" % i,) * size, now, leader, view)

    def proposal(i: int, **fields: Any) -> Any:
        return sign_proposal(key_of(leader), view, block(i, **fields), justify)

    makers: list[Maker] = [
        lambda i, s: ("v4", junk(junker, i)),
        lambda i, s: (
            "v4",
            sign_new_view(key_of("v4"), "v4", view + params.max_round_lead + i, justify),
        ),
        lambda i, s: (leader, replace(proposal(i), signature=bytes(64))),
        lambda i, s: (OUTSIDER, sign_new_view(key_of(OUTSIDER), OUTSIDER, view, justify)),
        lambda i, s: ("v4", sign_new_view(key_of("v4"), "v4", view - 1 - i % (view - 1), justify)),
        lambda i, s: (leader, proposal(i)),
        lambda i, s: (leader, replace(proposal(i), block=block(i, size=params.max_batch_txs + 1))),
        lambda i, s: (
            leader,
            PhaseQC(replace(justify, view=view, signers=(justify.signers[0], *justify.signers))),
        ),
    ]
    state, codes, kept, sizes = flood(program, state, now, makers, lambda s: len(s.held))
    assert isinstance(state, HotStuffState)
    assert set(codes) >= {
        R.BAD_INPUT,
        R.FUTURE_ROUND,
        R.BAD_SIGNATURE,
        R.NOT_VALIDATOR,
        R.STALE_ROUND,
        R.MISSING_PARENT,
        R.OVERSIZED_BATCH,
        R.DUPLICATE_SIGNER,
    }, codes
    assert kept == params.max_pending_messages
    assert len(state.held) + len(state.orphans) <= params.max_pending_messages
    assert len(state.wanted) <= params.max_pending_messages
    assert len(state.new_views) <= COMMITTEE.size
    # Measured when written: 1,216 bytes before, 129,384 after half and after all of it.
    assert sizes[1] == sizes[2], sizes
