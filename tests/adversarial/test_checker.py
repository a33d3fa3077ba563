"""The checker is itself checked: each property broken by hand-made reports is caught, f + 1
twins are caught somewhere in a bounded sample, and so are planted broken rules (HotStuff's
safeNode and lock, the DAG's commit threshold) in pinned deterministic scenarios that pass with
the real rules."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

import pytest

from aci_ref.consensus import hotstuff, order
from aci_ref.consensus.checkpoint import make_checkpoint
from aci_ref.consensus.dag_messages import Committed, certify, sign_ack, sign_vertex
from aci_ref.consensus.execution import CheckpointReached
from aci_ref.consensus.hotstuff import Decided
from aci_ref.consensus.hotstuff_messages import (
    GENESIS_BLOCK,
    QC,
    Block,
    Phase,
    block_digest,
    sign_vote,
)
from aci_ref.consensus.hotstuff_messages import certify as certify_qc
from aci_ref.consensus.order import Node, node_of
from aci_ref.consensus.transactions import Track
from aci_ref.sim.faults import DelayWindow, Faults
from aci_ref.sim.network import Scenario
from aci_ref.sim.safety import (
    Progress,
    Property,
    SafetyChecker,
    SafetyViolation,
    check_run,
)
from aci_ref.sim.twins import LeaderPool, TwinsSettings, sample_scenarios
from tests.adversarial.harness import (
    committee_of,
    key_of,
    machines,
    run_checked,
    run_twins,
)

COMMITTEE = committee_of(4)
GENESIS = block_digest(GENESIS_BLOCK)


def block(height: int, parent: bytes, tag: bytes = b"") -> Block:
    return Block(height, parent, (tag,), 2_000 * height, "v1", height)


def qc(
    target: Block, phase: Phase = Phase.COMMIT, signers: tuple[str, ...] = ("v1", "v2", "v3")
) -> QC:
    digest = block_digest(target)
    votes = {s: sign_vote(key_of(s), s, phase, target.view, digest).signature for s in signers}
    return certify_qc(phase, target.view, digest, votes)


def decided(target: Block, **options: Any) -> Decided:
    return Decided(target, qc(target, **options))


def fresh(**options: Any) -> SafetyChecker:
    return SafetyChecker(COMMITTEE, ("v1", "v2", "v3"), **options)


def kinds(checker: SafetyChecker) -> set[Property]:
    return set(checker.report().kinds())


# ---- the settlement properties ------------------------------------------------------------------


def test_agreeing_chains_pass_and_a_byzantine_address_is_not_checked() -> None:
    checker = fresh()
    one = block(1, GENESIS)
    two = block(2, block_digest(one))
    for address in ("v1", "v2"):
        checker.after_step(10, address, None, (decided(one), decided(two)))
    checker.after_step(10, "v4", None, (decided(block(1, GENESIS, b"fork")),))
    report = checker.report()
    assert report.ok and report.decided == {"v1": 2, "v2": 2, "v3": 0}


def test_two_blocks_at_one_height_break_agreement() -> None:
    checker = fresh()
    checker.after_step(10, "v1", None, (decided(block(1, GENESIS, b"x")),))
    checker.after_step(20, "v2", None, (decided(block(1, GENESIS, b"y")),))
    [violation] = checker.report().violations
    assert violation.property is Property.AGREEMENT and violation.address == "v2"
    assert violation.at_ms == 20


def test_a_decision_that_skips_a_height_or_a_parent_breaks_the_chain() -> None:
    checker = fresh()
    one = block(1, GENESIS)
    checker.after_step(10, "v1", None, (decided(block(2, block_digest(one))),))
    checker.after_step(10, "v2", None, (decided(one), decided(block(2, bytes(32)))))
    assert checker.report().count(Property.CHAIN) == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda b: Decided(b, qc(b, signers=("v1", "v2"))),  # below quorum
        lambda b: Decided(b, qc(b, phase=Phase.PRE_COMMIT)),  # not a commitQC
        lambda b: Decided(b, replace(qc(b), signers=qc(b).signers[:1] * 3)),  # one signer thrice
        lambda b: Decided(b, replace(qc(b), signers=((qc(b).signers[0][0], bytes(64)),) * 3)),
        lambda b: Decided(b, qc(block(1, GENESIS, b"other"))),  # names a block never decided
    ],
)
def test_a_decision_without_a_valid_commit_certificate(make: Any) -> None:
    checker = fresh()
    checker.after_step(10, "v1", None, (make(block(1, GENESIS)),))
    assert kinds(checker) == {Property.CERTIFICATE}


def test_raise_on_violation_stops_at_the_first() -> None:
    checker = fresh(raise_on_violation=True)
    checker.after_step(10, "v1", None, (decided(block(1, GENESIS, b"x")),))
    with pytest.raises(SafetyViolation) as caught:
        checker.after_step(11, "v2", None, (decided(block(1, GENESIS, b"y")),))
    assert caught.value.violation.property is Property.AGREEMENT


# ---- the fast-path properties --------------------------------------------------------------------


@dataclass(frozen=True)
class FakeState:
    """A state that shows the checker a DAG (round -> author -> node), as a DagState does."""

    dag: dict[int, dict[str, Node]]


def certified(author: str, round_: int = 1, signers: tuple[str, ...] = ("v1", "v2", "v3")) -> Node:
    vertex = sign_vertex(key_of(author), round_, author, (), (author.encode(),))
    return node_of(certify(vertex, {s: sign_ack(key_of(s), vertex, s).signature for s in signers}))


def committed(sequence: int, node: Node) -> Committed:
    return Committed(sequence, node.digest, node.round, node.author, node.batch, 2)


def dag_of(*nodes: Node) -> FakeState:
    dag: dict[int, dict[str, Node]] = {}
    for node in nodes:
        dag.setdefault(node.round, {})[node.author] = node
    return FakeState(dag)


def test_consistent_commit_logs_pass_with_their_certificates_checked() -> None:
    a, b = certified("v1"), certified("v2")
    checker = fresh()
    for address in ("v1", "v2"):
        checker.after_step(5, address, dag_of(a, b), (committed(0, a), committed(1, b)))
    checker.after_step(6, "v3", dag_of(a), (committed(0, a),))  # a prefix is fine
    report = checker.report()
    assert report.ok and report.certificates_checked == 2 and report.certificates_unchecked == 0


def test_logs_that_differ_gap_or_repeat_break_prefix_consistency() -> None:
    a, b, c = certified("v1"), certified("v2"), certified("v3")
    state = dag_of(a, b, c)
    checker = fresh()
    checker.after_step(5, "v1", state, (committed(0, a), committed(1, b)))
    checker.after_step(5, "v2", state, (committed(0, a), committed(1, c)))  # differs at 1
    checker.after_step(5, "v3", state, (committed(1, a),))  # a gap, and a at another place
    assert checker.report().count(Property.PREFIX) == 3
    again = fresh()
    again.after_step(5, "v1", state, (committed(0, a), committed(1, a)))
    assert kinds(again) == {Property.PREFIX}  # one vertex ordered twice


def test_two_vertices_committed_in_one_slot() -> None:
    first = certified("v1")
    second = certified("v1", signers=("v2", "v3", "v4"))  # same vertex, another certificate...
    assert first.digest == second.digest  # ...is the same DAG node: no violation
    other = node_of(
        certify(
            sign_vertex(key_of("v1"), 1, "v1", (), (b"twin",)),
            {s: b"" for s in ("v1", "v2", "v3")},
        )
    )
    checker = fresh()
    checker.after_step(5, "v1", dag_of(first), (committed(0, first),))
    checker.after_step(5, "v2", FakeState({}), (committed(0, first), committed(1, other)))
    assert Property.SLOT in kinds(checker)


def test_a_commit_whose_certificate_is_bad_or_missing() -> None:
    good = certified("v1")
    short = certified("v2", signers=("v1", "v2"))
    forged = node_of(
        replace(
            good.certificate, signers=tuple((s, bytes(64)) for s, _ in good.certificate.signers)
        )
    )
    checker = fresh()
    checker.after_step(5, "v1", dag_of(short), (committed(0, short),))
    checker.after_step(5, "v2", dag_of(forged), (committed(0, forged),))
    assert checker.report().count(Property.CERTIFICATE) == 2
    lost = fresh()
    lost.after_step(5, "v1", FakeState({}), (committed(0, good),))
    assert lost.report().ok and lost.report().certificates_unchecked == 1
    lost.after_step(6, "v2", dag_of(good), (committed(0, good),))  # found in another DAG
    assert lost.report().certificates_unchecked == 0


def test_another_vertex_in_the_dag_slot_than_the_commit() -> None:
    checker = fresh()
    checker.after_step(
        5, "v1", dag_of(certified("v1")), (committed(0, certified("v1", 1, ("v2", "v3", "v4"))),)
    )
    assert checker.report().ok  # one vertex, one node
    twin = certified("v2")
    checker.after_step(5, "v2", dag_of(replace(twin, digest=bytes(32))), (committed(1, twin),))
    assert Property.CERTIFICATE in kinds(checker)


# ---- roots and liveness ------------------------------------------------------------------------


def test_checkpoints_and_state_roots_must_agree() -> None:
    first = make_checkpoint(1, 0, (b"a",), bytes(32), bytes(32))
    other = make_checkpoint(1, 0, (b"b",), bytes(32), bytes(32))
    checker = fresh(roots_of=lambda state: state)
    checker.after_step(5, "v1", {1: b"r1"}, (CheckpointReached(first),))
    checker.after_step(5, "v2", {1: b"r1", 2: b"r2"}, (CheckpointReached(first),))
    assert checker.report().ok and checker.report().checkpoints == 1
    checker.after_step(6, "v3", {1: b"r1", 2: b"xx"}, (CheckpointReached(other),))
    assert checker.report().count(Property.ROOTS) == 2


def test_liveness_asks_for_something_new_on_each_track_in_the_window() -> None:
    one = block(1, GENESIS)
    a = certified("v1")
    checker = fresh()
    checker.after_step(100, "v1", dag_of(a), (decided(one), committed(0, a)))
    checker.after_step(300, "v2", dag_of(a), (decided(one), committed(0, a)))
    report = checker.report(Progress(50, 100, addresses=("v1", "v2")))
    assert [(v.address, v.property) for v in report.violations] == [
        ("v2", Property.LIVENESS),
        ("v2", Property.LIVENESS),
    ]
    assert checker.report(Progress(50, 300, (Track.SETTLEMENT,), ("v1", "v2"))).ok
    assert checker.report().ok  # without a goal, liveness is not asked


def test_after_the_fact_and_step_by_step_agree_on_a_real_run() -> None:
    scenario = Scenario(faults=Faults(jitter_ms=20), seed=4, end_ms=1_000)
    network, checker = run_checked(machines("dag", COMMITTEE), scenario, COMMITTEE, COMMITTEE.names)
    live = checker.report()
    later = check_run(network, COMMITTEE, COMMITTEE.names)
    assert live.ok and later.ok
    assert live.committed == later.committed and min(live.committed.values()) > 20
    assert later.certificates_checked + later.certificates_unchecked == live.certificates_checked


# ---- the checker catches what must fail ---------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "rounds", "caught"),
    [("hotstuff", 4, Property.AGREEMENT), ("dag", 2, Property.PREFIX)],
)
def test_f_plus_one_twins_are_caught_in_a_bounded_sample(
    protocol: str, rounds: int, caught: Property
) -> None:
    """Two of four validators twinned: some sampled scenario splits the two honest ones."""
    leaders = ("v1",) if protocol == "dag" else LeaderPool.ALL
    settings = TwinsSettings(4, 2, 2, rounds, leaders_from=leaders)
    for scenario in sample_scenarios(settings, 100, seed=5):
        _, checker, _ = run_twins(protocol, settings, scenario)
        if not checker.report().ok:
            assert caught in checker.report().kinds()
            break
    else:
        pytest.fail("no scenario of the sample was caught")


# A slow network, not a Byzantine one, towards v1: v2 and v3 reach it only after 30 s.
SLOW_TO_V1 = Scenario(
    faults=Faults(jitter_ms=10, delays=(DelayWindow(0, 20_000, 30_000, ("v2", "v3"), ("v1",)),)),
    seed=0,
    end_ms=60_000,
)


def fork_run() -> SafetyChecker:
    """v4 re-roots its proposal on genesis and certifies it itself; v1 lags behind."""
    programs = machines("hotstuff", COMMITTEE, {"v4": "fork-proposer"})
    return run_checked(programs, SLOW_TO_V1, COMMITTEE, COMMITTEE.names[:3])[1]


def test_the_pinned_fork_is_refused_by_the_real_rules() -> None:
    report = fork_run().report(Progress(30_000, 30_000, (Track.SETTLEMENT,)))
    assert report.ok, report.summary()


@pytest.mark.parametrize(
    ("rule", "broken"),
    [("safe_node", lambda *args: True), ("update_lock", lambda locked, qc: locked)],
    ids=["safe-node-accepts-all", "never-lock"],
)
def test_a_planted_broken_hotstuff_rule_is_caught(
    monkeypatch: pytest.MonkeyPatch, rule: str, broken: Any
) -> None:
    monkeypatch.setattr(hotstuff, rule, broken)
    report = fork_run().report()
    assert report.kinds() == {Property.AGREEMENT}, report.summary()


def random_delays(seed: int) -> Faults:
    """Four windows in which one validator's messages to some others are slow (seeded)."""
    rng = random.Random(seed)
    windows = []
    names = COMMITTEE.names
    for _ in range(4):
        start = rng.randrange(0, 800)
        end, extra = start + rng.randrange(50, 400), rng.randrange(150, 600)
        sender = rng.choice(names)
        receivers = tuple(rng.sample(names, rng.randrange(1, 4)))
        windows.append(DelayWindow(start, end, extra, (sender,), receivers))
    return Faults(jitter_ms=10, delays=tuple(windows))


PINNED_DAG_SEED = 33
"""The first seed of `random_delays` under which an anchor committed without support forks."""


def dag_run(seed: int) -> SafetyChecker:
    scenario = Scenario(faults=random_delays(seed), seed=seed, end_ms=1_500)
    return run_checked(machines("dag", COMMITTEE), scenario, COMMITTEE, COMMITTEE.names)[1]


def test_the_pinned_dag_schedule_is_safe_with_the_real_commit_rule() -> None:
    assert dag_run(PINNED_DAG_SEED).report().ok


def test_a_planted_weaker_commit_threshold_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """An anchor committed with no support at all (the rule asks for validity stake)."""
    real = order.commit_anchors

    def weaker(dag: Any, last: int, committee: Any, enough: Any = None) -> Any:
        return real(dag, last, committee, lambda authors: True)

    monkeypatch.setattr(order, "commit_anchors", weaker)
    report = dag_run(PINNED_DAG_SEED).report()
    assert Property.PREFIX in report.kinds(), report.summary()
