"""§4.3 Basic HotStuff: every refusal with its code, certificates, liveness, and safety under
random schedules, an equivocating leader, and a planted broken safety rule the checker catches."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aci_ref.consensus import hotstuff
from aci_ref.consensus.committee import Committee, Validator
from aci_ref.consensus.hotstuff import (
    GENESIS_DIGEST,
    Decided,
    HotStuffConfig,
    HotStuffState,
    hotstuff_program,
)
from aci_ref.consensus.hotstuff_messages import (
    GENESIS_QC,
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
    check_qc,
    sign_new_view,
    sign_proposal,
    sign_vote,
)
from aci_ref.consensus.io import (
    Broadcast,
    ClientTx,
    Deliver,
    Dropped,
    Input,
    Program,
    Send,
    SetTimer,
    Start,
    TimerFired,
)
from aci_ref.consensus.pacemaker import PROPOSE_TIMER, VIEW_TIMER
from aci_ref.crypto import KeyPair
from aci_ref.errors import Rejection
from aci_ref.params import Params, default_params
from tests.consensus.pump import Pump

NAMES = ("a", "b", "c", "d")
KEYS = {name: KeyPair.from_label(f"hotstuff-test/{name}") for name in NAMES}
COMMITTEE = Committee(tuple(Validator(name, KEYS[name].public, 1) for name in NAMES))
PARAMS = default_params()
INTERVAL = PARAMS.settlement_interval_ms


def config(name: str, params: Params = PARAMS, **options: Any) -> HotStuffConfig:
    return HotStuffConfig(COMMITTEE, name, KEYS[name], params, **options)


def programs(names: Sequence[str] = NAMES, **options: Any) -> dict[str, Program[HotStuffState]]:
    return {name: hotstuff_program(config(name, **options)) for name in names}


def decisions(effects: Sequence[Any]) -> list[Decided]:
    return [e for e in effects if isinstance(e, Decided)]


def make_qc(phase: Phase, view: int, block: bytes, signers: Sequence[str] = ("a", "b", "c")) -> QC:
    votes = {s: sign_vote(KEYS[s], s, phase, view, block).signature for s in signers}
    return certify(phase, view, block, votes)


def check_safety(logs: Mapping[str, Sequence[Decided]], committee: Committee = COMMITTEE) -> None:
    """The settlement invariants: one block per height everywhere, logs prefix-consistent (each a
    chain from genesis), every decision backed by a valid commitQC of distinct quorum signers."""
    by_height: dict[int, bytes] = {}
    for name, log in sorted(logs.items()):
        digests = [block_digest(d.block) for d in log]
        parent = GENESIS_DIGEST
        for height, (decided, digest) in enumerate(zip(log, digests, strict=True), start=1):
            assert decided.block.height == height, f"{name}: height {decided.block.height}"
            assert decided.block.parent == parent, f"{name}: height {height} is not a chain"
            parent = digest
            assert by_height.setdefault(height, digest) == digest, f"two blocks at {height}"
            qc = decided.qc
            problem, _ = check_qc(qc, committee)
            assert problem is None and qc.phase is Phase.COMMIT, f"{name}: bad commitQC"
            names = [s for s, _ in qc.signers]
            assert len(set(names)) == len(names) and committee.is_quorum(names)
            assert qc.block in digests[height - 1 :], f"{name}: QC names no later decided block"


def run(
    program: Program[HotStuffState], state: HotStuffState, *events: Input
) -> tuple[HotStuffState, list[Any]]:
    out: list[Any] = []
    for event in events:
        state, effects = program.step(state, event)
        out.extend(effects)
    return state, out


def assert_dropped(
    program: Program[HotStuffState], state: HotStuffState, event: Input, reason: Rejection
) -> None:
    after, effects = program.step(state, event)
    assert [type(e) for e in effects] == [Dropped], effects
    assert effects[0].reason is reason, effects[0]
    assert replace(after, stats=state.stats) == state  # only the counters move
    assert after.stats.dropped.get(reason.value, 0) == state.stats.dropped.get(reason.value, 0) + 1
    assert after.stats.received == state.stats.received + 1


# ---- a replica in view 1 -----------------------------------------------------------------------

A = hotstuff_program(config("a"))
T1 = INTERVAL + 10  # when view 1's proposal arrives


def block1(payload: tuple[bytes, ...] = (b"tx-1",), **fields: Any) -> Block:
    return replace(Block(1, GENESIS_DIGEST, payload, INTERVAL, "b", 1), **fields)


def proposal(block: Block | None = None, view: int = 1, justify: QC = GENESIS_QC) -> Proposal:
    block = block1() if block is None else block
    return sign_proposal(KEYS[block.proposer], view, block, justify)


def started(program: Program[HotStuffState] = A) -> HotStuffState:
    return run(program, program.initial(), Start(0))[0]


def at_view_1_voted() -> tuple[HotStuffState, Proposal]:
    p = proposal()
    state, effects = run(A, started(), Deliver(T1, "b", p))
    assert any(isinstance(e, Send) and isinstance(e.message, Vote) for e in effects)
    return state, p


def test_a_replica_votes_for_a_valid_proposal_once() -> None:
    state, p = at_view_1_voted()
    assert state.current.block == block_digest(p.block)
    assert (1, Phase.PREPARE) in state.voted
    assert_dropped(A, state, Deliver(T1, "b", p), Rejection.DUPLICATE_MESSAGE)


def test_a_second_proposal_in_one_view_is_equivocation() -> None:
    state, _ = at_view_1_voted()
    other = proposal(block1((b"other",)))
    assert_dropped(A, state, Deliver(T1, "b", other), Rejection.EQUIVOCATION)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: proposal(block1(proposer="c")), Rejection.WRONG_LEADER),
        (lambda: replace(proposal(), signature=bytes(64)), Rejection.BAD_SIGNATURE),
        (lambda: proposal(block1(time_ms=INTERVAL - 1)), Rejection.BLOCK_TIME_OUT_OF_BOUND),
        (lambda: proposal(block1(height=2)), Rejection.BAD_PARENTS),
        (lambda: proposal(block1(parent=bytes(32))), Rejection.BAD_PARENTS),
        (lambda: proposal(block1(view=2)), Rejection.BAD_INPUT),
        (
            lambda: proposal(block1(tuple(b"%d" % i for i in range(PARAMS.max_batch_txs + 1)))),
            Rejection.OVERSIZED_BATCH,
        ),
        (
            lambda: proposal(block1(proposer="c", view=66), view=66),
            Rejection.FUTURE_ROUND,
        ),
        (lambda: "not a message", Rejection.BAD_INPUT),
        (lambda: replace(proposal(), view=-1), Rejection.BAD_INPUT),
        (lambda: replace(proposal(), block=None), Rejection.BAD_INPUT),  # type: ignore[arg-type]
    ],
)
def test_refused_proposals(make: Callable[[], Any], reason: Rejection) -> None:
    assert_dropped(A, started(), Deliver(T1, "b", make()), reason)


def test_a_proposal_of_a_view_left_behind_is_stale() -> None:
    state, _ = run(A, started(), TimerFired(PARAMS.view_timeout_ms, VIEW_TIMER))
    assert state.view == 2
    assert_dropped(A, state, Deliver(T1 + 4000, "b", proposal()), Rejection.STALE_ROUND)


def test_the_applications_payload_check_refuses_with_its_own_code() -> None:
    def no_evil(payload: tuple[bytes, ...]) -> Rejection | None:
        return Rejection.BAD_SETTLEMENT if b"evil" in payload else None

    program = hotstuff_program(config("a", validate_payload=no_evil))
    state = started(program)
    assert_dropped(
        program, state, Deliver(T1, "b", proposal(block1((b"evil",)))), Rejection.BAD_SETTLEMENT
    )
    assert run(program, state, Deliver(T1, "b", proposal()))[0].voted


def locked_on_x() -> tuple[HotStuffState, bytes]:
    """Replica a, having locked on block X of view 1 (it saw prepareQC and precommitQC)."""
    state, p = at_view_1_voted()
    x = block_digest(p.block)
    state, _ = run(
        A,
        state,
        Deliver(T1, "b", PhaseQC(make_qc(Phase.PREPARE, 1, x))),
        Deliver(T1, "b", PhaseQC(make_qc(Phase.PRE_COMMIT, 1, x))),
    )
    assert state.locked_qc.block == x and state.locked_qc.view == 1
    return state, x


def conflicting_view_2(time_ms: int) -> Proposal:
    """View 2's leader (c) proposes Y, a sibling of X, on the genesis certificate."""
    return proposal(Block(1, GENESIS_DIGEST, (b"y",), time_ms, "c", 2), view=2)


def test_safe_node_refuses_a_fork_of_the_lock() -> None:
    state, _ = locked_on_x()
    state, _ = run(A, state, TimerFired(PARAMS.view_timeout_ms, VIEW_TIMER))
    now = PARAMS.view_timeout_ms + 10
    assert_dropped(A, state, Deliver(now, "c", conflicting_view_2(now)), Rejection.UNSAFE_PROPOSAL)


def test_a_later_justification_unlocks() -> None:
    state, x = locked_on_x()
    state, _ = run(A, state, TimerFired(PARAMS.view_timeout_ms, VIEW_TIMER))
    # A prepareQC of view 2 for a sibling of X (the lock is provably not final) justifies view 3.
    sibling = Block(1, GENESIS_DIGEST, (b"z",), INTERVAL, "c", 2)
    now = PARAMS.view_timeout_ms + 2 * INTERVAL
    state, _ = run(A, state, Deliver(now, "c", BlockResponse(sibling)))  # unrequested
    z = block_digest(sibling)
    justify = make_qc(Phase.PREPARE, 2, z)
    child = Block(2, z, (), now, "d", 3)
    state, effects = run(A, state, Deliver(now, "d", proposal(child, view=3, justify=justify)))
    assert any(isinstance(e, Send) and e.message == BlockRequest(z) for e in effects)
    state, effects = run(A, state, Deliver(now, "d", BlockResponse(sibling)))
    assert state.view == 3 and (3, Phase.PREPARE) in state.voted
    assert hotstuff.extends(state.blocks, child, z) and not hotstuff.extends(state.blocks, child, x)


def test_phase_messages_from_a_non_leader_are_refused() -> None:
    state, p = at_view_1_voted()
    qc = make_qc(Phase.PREPARE, 1, block_digest(p.block))
    assert_dropped(A, state, Deliver(T1, "c", PhaseQC(qc)), Rejection.WRONG_LEADER)
    state, _ = run(A, state, Deliver(T1, "b", PhaseQC(qc)))
    assert state.prepare_qc == qc
    assert_dropped(A, state, Deliver(T1, "b", PhaseQC(qc)), Rejection.DUPLICATE_MESSAGE)


@pytest.mark.parametrize(
    ("signers", "reason"),
    [
        ((("a", 0), ("a", 0), ("b", 1), ("c", 2)), Rejection.DUPLICATE_SIGNER),
        ((("a", 0), ("b", 1), ("z", 2)), Rejection.NOT_VALIDATOR),
        ((("a", 0), ("b", 1), ("c", None)), Rejection.BAD_SIGNATURE),
        ((("a", 0), ("b", 1)), Rejection.UNDERSIGNED_CERTIFICATE),
    ],
)
def test_certificate_checks(signers: tuple[tuple[str, Any], ...], reason: Rejection) -> None:
    state, p = at_view_1_voted()
    x = block_digest(p.block)
    good = make_qc(Phase.PREPARE, 1, x, NAMES)
    sigs = dict(good.signers)
    pairs = tuple((s, bytes(64) if i is None else sigs.get(s, bytes(64))) for s, i in signers)
    qc = replace(good, signers=pairs)
    problem, _ = check_qc(qc, COMMITTEE)
    assert problem is not None and problem[0] is reason
    assert_dropped(A, state, Deliver(T1, "b", PhaseQC(qc)), reason)


def test_a_signer_counts_once_and_late_votes_are_collected() -> None:
    # Leader b of view 1 collects new-views, proposes at the block interval, gathers votes.
    b = hotstuff_program(config("b"))
    state = started(b)
    for name in ("a", "c"):
        state, _ = run(b, state, Deliver(10, name, sign_new_view(KEYS[name], name, 1, GENESIS_QC)))
    state, effects = run(b, state, TimerFired(INTERVAL, PROPOSE_TIMER))
    [p] = [e.message for e in effects if isinstance(e, Broadcast)]
    x = block_digest(p.block)
    vote_a = sign_vote(KEYS["a"], "a", Phase.PREPARE, 1, x)
    state, effects = run(b, state, Deliver(T1, "a", vote_a))
    assert not effects and Phase.PREPARE not in state.current.certified
    assert_dropped(b, state, Deliver(T1, "a", vote_a), Rejection.DUPLICATE_MESSAGE)
    other = sign_vote(KEYS["a"], "a", Phase.PREPARE, 1, bytes(32))
    assert_dropped(b, state, Deliver(T1, "a", other), Rejection.EQUIVOCATION)
    forged = replace(sign_vote(KEYS["c"], "c", Phase.PREPARE, 1, x), signature=bytes(64))
    assert_dropped(b, state, Deliver(T1, "c", forged), Rejection.BAD_SIGNATURE)
    stranger = sign_vote(KEYS["c"], "z", Phase.PREPARE, 1, x)
    assert_dropped(b, state, Deliver(T1, "c", stranger), Rejection.NOT_VALIDATOR)
    assert_dropped(
        b,
        state,
        Deliver(T1, "c", sign_vote(KEYS["c"], "c", Phase.PREPARE, 2, x)),
        Rejection.FUTURE_ROUND,
    )
    state, effects = run(b, state, Deliver(T1, "c", sign_vote(KEYS["c"], "c", Phase.PREPARE, 1, x)))
    [qc_message] = [e.message for e in effects if isinstance(e, Broadcast)]
    assert [s for s, _ in qc_message.qc.signers] == ["a", "b", "c"]
    late = sign_vote(KEYS["d"], "d", Phase.PREPARE, 1, x)
    assert_dropped(b, state, Deliver(T1, "d", late), Rejection.STALE_ROUND)
    # a vote sent to a replica that does not lead the view
    assert_dropped(A, started(), Deliver(T1, "c", vote_a), Rejection.WRONG_LEADER)


def test_new_view_refusals() -> None:
    b = hotstuff_program(config("b"))
    state = started(b)
    nv = sign_new_view(KEYS["a"], "a", 1, GENESIS_QC)
    state, _ = run(b, state, Deliver(0, "a", nv))
    assert_dropped(b, state, Deliver(0, "a", nv), Rejection.DUPLICATE_MESSAGE)
    again = sign_new_view(KEYS["a"], "a", 1, make_qc(Phase.PREPARE, 0, GENESIS_DIGEST))
    assert_dropped(b, state, Deliver(0, "a", again), Rejection.EQUIVOCATION)
    view_0_qc = sign_new_view(KEYS["c"], "c", 1, make_qc(Phase.PREPARE, 0, GENESIS_DIGEST))
    assert_dropped(b, state, Deliver(0, "c", view_0_qc), Rejection.BAD_INPUT)
    ahead = sign_new_view(KEYS["c"], "c", 1, make_qc(Phase.PREPARE, 1, GENESIS_DIGEST))
    assert_dropped(b, state, Deliver(0, "c", ahead), Rejection.BAD_INPUT)
    assert_dropped(
        b,
        state,
        Deliver(0, "z", sign_new_view(KEYS["a"], "z", 1, GENESIS_QC)),
        Rejection.NOT_VALIDATOR,
    )
    # a new-view reaches every replica (view sync), so one to a replica not leading is kept
    kept, _ = A.step(started(), Deliver(0, "c", sign_new_view(KEYS["c"], "c", 1, GENESIS_QC)))
    assert "c" in kept.new_views
    assert_dropped(
        b,
        state,
        Deliver(0, "c", replace(sign_new_view(KEYS["c"], "c", 1, GENESIS_QC), signature=bytes(64))),
        Rejection.BAD_SIGNATURE,
    )


def test_held_messages_are_bounded() -> None:
    small = replace(PARAMS, max_pending_messages=1)
    program = hotstuff_program(config("a", small))
    state = started(program)
    unknown = bytes(range(32))
    justify = make_qc(Phase.PREPARE, 1, unknown)
    now = INTERVAL + 10
    first = proposal(Block(2, unknown, (), now, "c", 2), view=2, justify=justify)
    state, effects = run(program, state, Deliver(now, "c", first))
    assert [e.message for e in effects] == [BlockRequest(unknown)] and len(state.held) == 1
    assert_dropped(program, state, Deliver(now, "c", first), Rejection.DUPLICATE_MESSAGE)
    second = proposal(Block(2, unknown, (), now, "d", 3), view=3, justify=justify)
    assert_dropped(program, state, Deliver(now, "d", second), Rejection.MISSING_PARENT)


def test_client_transactions() -> None:
    small = replace(PARAMS, max_batch_txs=1, max_batch_bytes=64)
    program = hotstuff_program(config("a", small))
    state, _ = run(program, started(program), ClientTx(0, b"one"))
    assert state.mempool == (b"one",)
    assert_dropped(program, state, ClientTx(0, b"one"), Rejection.DUPLICATE_MESSAGE)
    assert_dropped(program, state, ClientTx(0, b"x" * 65), Rejection.OVERSIZED_BATCH)
    for n in range(3):
        state, _ = run(program, state, ClientTx(0, b"%d" % n))
    assert_dropped(program, state, ClientTx(0, b"full"), Rejection.OVERSIZED_BATCH)
    assert_dropped(program, state, ClientTx(0, "text"), Rejection.BAD_INPUT)  # type: ignore[arg-type]
    assert_dropped(program, state, TimerFired(0, "nonsense"), Rejection.BAD_INPUT)
    assert_dropped(
        program, state, Deliver(0, "b", BlockRequest(bytes(32))), Rejection.MISSING_PARENT
    )


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.binary(max_size=70),
    st.text(max_size=4),
    st.sampled_from(Phase),
    st.lists(st.tuples(st.sampled_from(NAMES), st.binary(min_size=64, max_size=64))).map(tuple),
)
QCS = st.builds(QC, JUNK, JUNK, JUNK, JUNK)
MESSAGES = st.one_of(
    JUNK,
    st.builds(Proposal, JUNK, st.builds(Block, *[JUNK] * 6) | JUNK, QCS, JUNK),
    st.builds(Vote, JUNK, JUNK, JUNK, JUNK, JUNK),
    st.builds(PhaseQC, QCS | JUNK),
    st.builds(NewView, JUNK, QCS | JUNK, JUNK, JUNK),
    st.builds(BlockRequest, JUNK),
    st.builds(BlockResponse, JUNK),
    st.sampled_from(["view", "height", "time_ms", "payload", "parent", "signature"]).flatmap(
        lambda name: JUNK.map(lambda value: mutated(name, value))
    ),
)


def mutated(name: str, value: Any) -> Proposal:
    """A valid proposal with one field (of the proposal or its block) replaced by junk."""
    p = proposal()
    if name in ("view", "signature"):
        return replace(p, **{name: value})
    return replace(p, block=replace(p.block, **{name: value}))


@given(message=MESSAGES, sender=JUNK | st.sampled_from(NAMES))
def test_no_exception_escapes_and_refusals_change_nothing(message: Any, sender: Any) -> None:
    state = started()
    for event in (Deliver(T1, sender, message), ClientTx(0, message), TimerFired(0, message)):
        after, effects = A.step(state, event)
        if effects and all(isinstance(e, Dropped) for e in effects):
            assert replace(after, stats=state.stats) == state
        assert after.stats.received == state.stats.received + 1


# ---- liveness ----------------------------------------------------------------------------------


def logs_of(pump: Pump, names: Sequence[str] = NAMES) -> dict[str, list[Decided]]:
    return {name: decisions(pump.outputs[name]) for name in names}


def test_four_honest_replicas_decide_every_interval_each_transaction_once() -> None:
    pump = Pump(programs())
    txs = [b"tx-%d" % i for i in range(24)]
    for i, tx in enumerate(txs):
        pump.run_until(i * 700 + 1)
        for name in NAMES[: 1 + i % 4]:  # some go to one replica, some to all of them
            pump.submit(name, tx)
    pump.run_until(12 * INTERVAL + 500)
    logs = logs_of(pump)
    check_safety(logs)
    log = logs["a"]
    assert all(len(other) == len(log) for other in logs.values()) and len(log) >= 11
    assert [d.block.time_ms for d in log] == [INTERVAL * h for h in range(1, len(log) + 1)]
    decided = [tx for d in log for tx in d.block.payload]
    assert sorted(decided) == sorted(txs)  # every transaction, each exactly once
    for name in NAMES:
        assert not pump.states[name].mempool
        assert Rejection.BAD_INPUT.value not in pump.states[name].stats.dropped


def test_one_silent_replica_the_rest_still_decide() -> None:
    pump = Pump(programs(), blocked=lambda sender, to, message: sender == "d")
    pump.run_until(40_000)
    logs = logs_of(pump, NAMES[:3])
    check_safety(logs)
    assert min(len(log) for log in logs.values()) >= 8
    assert {d.block.proposer for d in logs["a"]} == {"a", "b", "c"}
    assert max(d.block.view for d in logs["a"]) > 8  # views of d timed out and were left


# ---- an equivocating leader --------------------------------------------------------------------


@dataclass
class Byzantine:
    """A test-side leader d with a real key: signs what it likes, forms certificates from votes."""

    honest: dict[str, Program[HotStuffState]]
    states: dict[str, HotStuffState] = field(default_factory=dict)
    logs: dict[str, list[Any]] = field(default_factory=dict)
    votes: dict[tuple[Phase, int, bytes], set[str]] = field(default_factory=dict)

    def start(self) -> None:
        for name, program in self.honest.items():
            self.states[name], self.logs[name] = run(program, program.initial(), Start(0))

    def deliver(self, now: int, message: Any, to: Sequence[str]) -> None:
        for name in to:
            self.states[name], effects = run(
                self.honest[name], self.states[name], Deliver(now, "d", message)
            )
            self.logs[name].extend(effects)
            for e in effects:
                if isinstance(e, Send) and e.to == "d" and isinstance(e.message, Vote):
                    v = e.message
                    self.votes.setdefault((v.phase, v.view, v.block), set()).add(v.signer)

    def timeout(self, now: int, to: Sequence[str]) -> None:
        for name in to:
            self.states[name], effects = run(
                self.honest[name], self.states[name], TimerFired(now, VIEW_TIMER)
            )
            self.logs[name].extend(effects)

    def qc(self, phase: Phase, view: int, block: bytes) -> QC | None:
        signers = self.votes.get((phase, view, block), set()) | {"d"}
        return (
            make_qc(phase, view, block, sorted(signers)) if COMMITTEE.is_quorum(signers) else None
        )

    def drive(self, now: int, p: Proposal, to: Sequence[str], decide_at: Sequence[str]) -> None:
        """Propose, then push each certificate that forms; the commitQC only to `decide_at`."""
        self.deliver(now, p, to)
        b = block_digest(p.block)
        for phase in Phase:
            qc = self.qc(phase, p.view, b)
            if qc is None:
                return
            self.deliver(now, PhaseQC(qc), decide_at if phase is Phase.COMMIT else to)

    def decided(self) -> dict[str, list[Decided]]:
        return {name: decisions(log) for name, log in self.logs.items()}


def attack(byzantine: Byzantine) -> None:
    """d leads every view. View 1: X decided at a only, b and c locked on X. View 2: d proposes a
    sibling Y of X on the genesis certificate to b and c; d signs two blocks for height 1."""
    byzantine.start()
    x = Block(1, GENESIS_DIGEST, (b"x",), INTERVAL, "d", 1)
    byzantine.drive(T1, sign_proposal(KEYS["d"], 1, x, GENESIS_QC), "abc", decide_at="a")
    byzantine.deliver(
        T1, sign_proposal(KEYS["d"], 1, replace(x, payload=(b"x2",)), GENESIS_QC), "c"
    )
    byzantine.timeout(PARAMS.view_timeout_ms, "bc")
    now = PARAMS.view_timeout_ms + 10
    y = Block(1, GENESIS_DIGEST, (b"y",), now, "d", 2)
    byzantine.drive(now, sign_proposal(KEYS["d"], 2, y, GENESIS_QC), "bc", decide_at="bc")


def twins_leader() -> Byzantine:
    return Byzantine({name: hotstuff_program(config(name, leaders=("d",))) for name in "abc"})


def test_an_equivocating_leader_cannot_split_honest_replicas() -> None:
    byzantine = twins_leader()
    attack(byzantine)
    logs = byzantine.decided()
    check_safety(logs)
    assert [block_digest(d.block) for d in logs["a"]] == [block_digest(logs["a"][0].block)]
    reasons = {e.reason for log in byzantine.logs.values() for e in log if isinstance(e, Dropped)}
    assert {Rejection.EQUIVOCATION, Rejection.UNSAFE_PROPOSAL} <= reasons


def test_a_planted_broken_safe_node_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hotstuff, "safe_node", lambda *args: True)
    byzantine = twins_leader()
    attack(byzantine)
    logs = byzantine.decided()
    assert logs["a"] and logs["b"]
    with pytest.raises(AssertionError, match="two blocks at 1"):
        check_safety(logs)


# ---- random schedules --------------------------------------------------------------------------


SYNCHRONOUS_DELAY_MS = 100  # below max_clock_drift_ms: a timely block is never refused as late


@dataclass
class RandomNet:
    """A seeded scheduler: random delays (so reorderings), drops and duplicates until `gst_ms`;
    after it, every message arrives within `SYNCHRONOUS_DELAY_MS` (partial synchrony)."""

    programs: Mapping[str, Program[Any]]
    rng: random.Random
    max_delay_ms: int
    loss: float
    gst_ms: int
    states: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, list[Any]] = field(default_factory=dict)
    queue: list[tuple[int, int, str, Input]] = field(default_factory=list)
    timers: dict[tuple[str, str], int] = field(default_factory=dict)
    seq: int = 0

    def __post_init__(self) -> None:
        for name, program in self.programs.items():
            self.states[name], self.outputs[name] = program.initial(), []
            self.push(self.rng.randrange(50), name, Start(0))

    def push(self, at: int, to: str, event: Input) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, to, event))

    def send(self, now: int, sender: str, to: str, message: Any) -> None:
        synchronous = now >= self.gst_ms
        copies = 1 if synchronous else self.rng.choices((0, 1, 2), (self.loss, 1, 0.05))[0]
        delay = min(self.max_delay_ms, SYNCHRONOUS_DELAY_MS) if synchronous else self.max_delay_ms
        for _ in range(copies):
            at = now + 1 + self.rng.randrange(delay)
            self.push(at, to, Deliver(at, sender, message))

    def run_until(self, end_ms: int) -> None:
        while self.queue and self.queue[0][0] < end_ms:
            now, _, name, event = heapq.heappop(self.queue)
            if isinstance(event, TimerFired) and self.timers.get((name, event.key)) != now:
                continue
            if isinstance(event, Start):
                event = Start(now)
            self.states[name], effects = self.programs[name].step(self.states[name], event)
            for e in effects:
                if isinstance(e, Send) and e.to in self.programs:
                    self.send(now, name, e.to, e.message)
                elif isinstance(e, Broadcast):
                    for other in sorted(self.programs):
                        if other != name:
                            self.send(now, name, other, e.message)
                elif isinstance(e, SetTimer):
                    self.timers[(name, e.key)] = e.at_ms
                    self.push(e.at_ms, name, TimerFired(e.at_ms, e.key))
                else:
                    self.outputs[name].append(e)


def equivocating(program: Program[HotStuffState], name: str) -> Program[HotStuffState]:
    """An honest machine whose proposals are doubled: half the replicas get a signed twin."""

    def step(state: HotStuffState, event: Input) -> tuple[HotStuffState, tuple[Any, ...]]:
        state, effects = program.step(state, event)
        out: list[Any] = []
        for e in effects:
            if isinstance(e, Broadcast) and isinstance(e.message, Proposal):
                p = e.message
                twin = replace(p.block, payload=(*p.block.payload, b"twin-%d" % p.view))
                q = sign_proposal(KEYS[name], p.view, twin, p.justify)
                others = [n for n in NAMES if n != name]
                out += [Send(n, p if i % 2 else q) for i, n in enumerate(others)]
            else:
                out.append(e)
        return state, tuple(out)

    return Program(program.initial, step, program.recover)


@settings()
@given(
    seed=st.integers(0, 2**32),
    max_delay_ms=st.sampled_from([5, 100, 1500, 5000]),
    loss=st.sampled_from([0.0, 0.2, 0.5]),
    gst_ms=st.integers(0, 30_000),
    byzantine=st.booleans(),
)
def test_random_schedules_never_split_decisions(
    seed: int, max_delay_ms: int, loss: float, gst_ms: int, byzantine: bool
) -> None:
    machines = programs()
    if byzantine:
        machines["d"] = equivocating(machines["d"], "d")
    net = RandomNet(machines, random.Random(seed), max_delay_ms, loss, gst_ms)
    net.run_until(gst_ms + 3 * PARAMS.max_view_timeout_ms)
    honest = NAMES[:3] if byzantine else NAMES
    logs = {name: decisions(net.outputs[name]) for name in honest}
    check_safety(logs)
    assert all(logs.values())  # and, once the network is timely, they decide


def test_the_random_scheduler_lets_replicas_decide_after_stabilisation() -> None:
    net = RandomNet(programs(), random.Random(7), 400, 0.3, 10_000)
    net.run_until(40_000)
    logs = {name: decisions(net.outputs[name]) for name in NAMES}
    check_safety(logs)
    assert min(len(log) for log in logs.values()) >= 5
