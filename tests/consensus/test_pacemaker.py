"""The settlement path's pacemaker: block times, view timeouts, view changes, recovery."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from aci_ref.consensus.hotstuff import (
    GENESIS_DIGEST,
    hotstuff_program,
)
from aci_ref.consensus.hotstuff_messages import (
    GENESIS_QC,
    Block,
    BlockRequest,
    BlockResponse,
    NewView,
    Phase,
    PhaseQC,
    Proposal,
    Vote,
    block_digest,
    sign_new_view,
    sign_proposal,
)
from aci_ref.consensus.io import Broadcast, ClientTx, Deliver, Send, SetTimer, Start, TimerFired
from aci_ref.consensus.pacemaker import (
    VIEW_TIMER,
    block_time_in_bounds,
    earliest_proposal_ms,
    leader_of,
    proposal_time_ms,
    view_timeout_ms,
)
from aci_ref.errors import Rejection
from tests.consensus.pump import Pump
from tests.consensus.test_hotstuff import (
    COMMITTEE,
    KEYS,
    NAMES,
    PARAMS,
    assert_dropped,
    check_safety,
    config,
    decisions,
    make_qc,
    programs,
    run,
    started,
)

INTERVAL = PARAMS.settlement_interval_ms
DRIFT = PARAMS.max_clock_drift_ms
EPOCH = PARAMS.epoch_duration_ms


# ---- the block-time rule -----------------------------------------------------------------------


def test_block_time_rule_at_its_edges() -> None:
    parent = 10_000
    local = parent + INTERVAL

    def ok(t: int, now: int = local) -> bool:
        return block_time_in_bounds(t, parent, now, PARAMS)

    assert ok(parent + INTERVAL) and not ok(parent + INTERVAL - 1)  # the 2 s minimum
    assert ok(local + DRIFT, local + 1) and not ok(local + DRIFT + 1)  # not too far ahead
    late = local + 5 * DRIFT
    assert ok(late - DRIFT, late) and not ok(late - DRIFT - 1, late)  # not lagging the clock
    far = parent + 10 * EPOCH  # after a long outage: exactly one epoch on is accepted
    assert ok(parent + EPOCH, far) and not ok(parent + EPOCH - 1, far)
    assert not ok(parent + EPOCH + 1, far)


@given(
    parent=st.integers(0, 10**12),
    wait=st.integers(0, 3 * EPOCH),
    skew=st.integers(-DRIFT, DRIFT),
)
def test_an_honest_leaders_block_time_passes_any_clock_within_the_drift(
    parent: int, wait: int, skew: int
) -> None:
    leader_clock = earliest_proposal_ms(parent, PARAMS) + wait
    t = proposal_time_ms(parent, leader_clock, PARAMS)
    assert block_time_in_bounds(t, parent, leader_clock + skew, PARAMS)


# ---- timeouts ----------------------------------------------------------------------------------


def test_view_timeouts_double_up_to_the_cap() -> None:
    expected = [min(PARAMS.view_timeout_ms << k, PARAMS.max_view_timeout_ms) for k in range(12)]
    assert [view_timeout_ms(k, PARAMS) for k in range(12)] == expected
    assert view_timeout_ms(10**6, PARAMS) == PARAMS.max_view_timeout_ms
    a = hotstuff_program(config("a"))
    state, effects = run(a, a.initial(), Start(0))
    gaps = []
    now = 0
    for _ in range(6):
        [timer] = [e for e in effects if isinstance(e, SetTimer)]
        gaps.append(timer.at_ms - now)
        now = timer.at_ms
        state, effects = run(a, state, TimerFired(now, VIEW_TIMER))
        # on each timeout: the next view, and a new-view of it to every replica
        assert (
            any(
                isinstance(e, Broadcast)
                and isinstance(e.message, NewView)
                and e.message.view == state.view
                for e in effects
            )
            or leader_of(COMMITTEE, None, state.view) == "a"
        )
    assert gaps == expected[:6] and state.view == 7
    # a timer of a view already left does nothing
    after, effects = run(a, state, TimerFired(now - 1, VIEW_TIMER))
    assert replace(after, stats=state.stats) == state and not effects


def test_a_silent_leader_is_replaced_and_the_timeout_resets() -> None:
    silent = lambda sender, to, message: sender == "b" and isinstance(message, Proposal)  # noqa: E731
    pump = Pump(programs(), blocked=silent)
    pump.run_until(30_000)
    logs = {name: decisions(pump.outputs[name]) for name in NAMES}
    check_safety(logs)
    log = logs["a"]
    assert len(log) >= 6 and all(d.block.proposer != "b" for d in log)
    assert {d.block.view % 4 for d in log} == {0, 2, 3}  # b leads views 1, 5, 9, ...
    assert all(pump.states[name].failures <= 1 for name in NAMES)


# ---- view changes ------------------------------------------------------------------------------


def test_the_leader_proposes_on_the_highest_justification_of_a_quorum() -> None:
    b = hotstuff_program(config("b"))
    state = started(b)
    now = 3 * INTERVAL
    state, _ = run(b, state, TimerFired(PARAMS.view_timeout_ms, VIEW_TIMER))
    state, _ = run(b, state, TimerFired(PARAMS.view_timeout_ms * 3, VIEW_TIMER))
    state, _ = run(b, state, TimerFired(PARAMS.view_timeout_ms * 7, VIEW_TIMER))
    state, _ = run(b, state, TimerFired(PARAMS.view_timeout_ms * 15, VIEW_TIMER))
    assert state.view == 5
    now = PARAMS.view_timeout_ms * 15
    x = Block(1, GENESIS_DIGEST, (b"x",), INTERVAL, "c", 2)
    high = make_qc(Phase.PREPARE, 2, block_digest(x))
    state, effects = run(
        b,
        state,
        Deliver(now, "a", sign_new_view(KEYS["a"], "a", 5, GENESIS_QC)),
        Deliver(now, "c", sign_new_view(KEYS["c"], "c", 5, high)),
    )
    assert Broadcast(BlockRequest(block_digest(x))) in effects  # it lacks the block: fetch
    state, effects = run(b, state, Deliver(now, "c", BlockResponse(x)))
    [p] = [e.message for e in effects if isinstance(e, Broadcast)]
    assert p.justify == high and p.block.parent == block_digest(x) and p.block.height == 2
    assert p.block.time_ms == now and (5, Phase.PREPARE) in state.voted


def test_views_are_not_inflated_by_one_message() -> None:
    a = hotstuff_program(config("a"))
    state = started(a)
    lead = PARAMS.max_round_lead
    # a new-view of a far view (a leads view 4k) moves nothing, and only one per signer is kept
    for view in (4, 8, 12):
        state, _ = run(a, state, Deliver(0, "b", sign_new_view(KEYS["b"], "b", view, GENESIS_QC)))
    assert state.view == 1 and len(state.new_views) == 1
    assert_dropped(
        a,
        state,
        Deliver(0, "b", sign_new_view(KEYS["b"], "b", 4, GENESIS_QC)),
        Rejection.STALE_ROUND,
    )
    # a certificate signed by too few does not move it either
    forged = PhaseQC(make_qc(Phase.PREPARE, 7, GENESIS_DIGEST, ("c", "d")))
    assert_dropped(a, state, Deliver(0, "d", forged), Rejection.UNDERSIGNED_CERTIFICATE)
    far = PhaseQC(make_qc(Phase.PREPARE, 2 + lead, GENESIS_DIGEST))
    assert_dropped(a, state, Deliver(0, "b", far), Rejection.FUTURE_ROUND)  # b does not lead it
    # from its leader, a valid certificate however far ahead is followed: that is how a replica
    # that was away catches up (an invalid one is refused as any other)
    caught_up, _ = run(a, state, Deliver(0, "c", far))
    assert caught_up.view == 2 + lead
    # a valid QC of a later view does: a quorum was there
    state, effects = run(
        a, state, Deliver(0, "d", PhaseQC(make_qc(Phase.PREPARE, 7, GENESIS_DIGEST)))
    )
    assert state.view == 7 and any(
        isinstance(e, Send) and isinstance(e.message, Vote) for e in effects
    )
    # and so does a valid proposal of a later view
    block = Block(1, GENESIS_DIGEST, (), INTERVAL, "b", 9)
    now = INTERVAL
    state, _ = run(a, state, Deliver(now, "b", sign_proposal(KEYS["b"], 9, block, GENESIS_QC)))
    assert state.view == 9 and (9, Phase.PREPARE) in state.voted


def test_a_quorum_of_new_views_brings_a_lagging_leader_to_its_view() -> None:
    b = hotstuff_program(config("b"))
    state = started(b)
    for name in ("a", "c", "d"):
        state, _ = run(b, state, Deliver(0, name, sign_new_view(KEYS[name], name, 5, GENESIS_QC)))
    assert state.view == 5 and state.current.justify == GENESIS_QC
    assert state.current.propose_at == INTERVAL  # it proposes once the block interval is up


# ---- crash and recovery ------------------------------------------------------------------------


def test_recovery_keeps_the_lock_and_the_votes_cast() -> None:
    a = hotstuff_program(config("a"))
    block = Block(1, GENESIS_DIGEST, (b"x",), INTERVAL, "b", 1)
    p = sign_proposal(KEYS["b"], 1, block, GENESIS_QC)
    x = block_digest(block)
    now = INTERVAL + 10
    state, _ = run(
        a,
        started(a),
        ClientTx(0, b"pending"),
        Deliver(now, "b", p),
        Deliver(now, "b", PhaseQC(make_qc(Phase.PREPARE, 1, x))),
        Deliver(now, "b", PhaseQC(make_qc(Phase.PRE_COMMIT, 1, x))),
    )
    crashed = a.recover(state)
    assert (crashed.view, crashed.locked_qc, crashed.prepare_qc) == (
        1,
        state.locked_qc,
        state.prepare_qc,
    )
    assert crashed.voted == state.voted and x in crashed.blocks
    assert not crashed.mempool and crashed.current.proposal is None
    state, effects = run(a, crashed, Start(now), Deliver(now, "b", p))
    assert not any(isinstance(e, Send) and isinstance(e.message, Vote) for e in effects)
    twin = sign_proposal(KEYS["b"], 1, replace(block, payload=(b"twin",)), GENESIS_QC)
    state, effects = run(a, state, Deliver(now, "b", twin))
    assert not any(isinstance(e, Send) and isinstance(e.message, Vote) for e in effects)


def test_a_restarted_replica_rejoins_and_decides() -> None:
    pump = Pump(programs())
    pump.run_until(9_000)
    pump.states["c"] = pump.programs["c"].recover(pump.states["c"])
    pump._push(pump.now_ms, "c", Start(pump.now_ms))
    pump.run_until(25_000)
    logs = {name: decisions(pump.outputs[name]) for name in NAMES}
    check_safety(logs)
    assert len(logs["c"]) == len(logs["a"]) >= 10


def test_twins_leaders_override_the_round_robin() -> None:
    assert [leader_of(COMMITTEE, ("d", "a"), v) for v in range(4)] == ["d", "a", "d", "a"]
    assert [leader_of(COMMITTEE, None, v) for v in range(4)] == list(NAMES)
    pump = Pump(programs(leaders=("c",)))
    pump.run_until(12_000)
    log = decisions(pump.outputs["a"])
    assert log and {d.block.proposer for d in log} == {"c"}
