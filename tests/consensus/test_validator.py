"""The composed validator: both tracks execute in one order, and every refusal has its code."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aci_ref.chain.state import state_root
from aci_ref.consensus.beacon import sign_share
from aci_ref.consensus.checkpoint import Checkpoint
from aci_ref.consensus.committee import Committee, Validator
from aci_ref.consensus.execution import (
    BlockExecuted,
    CheckpointSettled,
    Executed,
    Execution,
    ExecutionConfig,
    Refused,
    SettlementMarker,
    checkpoint_item,
    execute_vertex,
    marker_item,
)
from aci_ref.consensus.hotstuff import Decided
from aci_ref.consensus.hotstuff_messages import QC, Block, Phase, block_digest
from aci_ref.consensus.io import ClientTx, Deliver, Dropped, Start
from aci_ref.consensus.markers import BeaconShare, check_marker, injectors
from aci_ref.consensus.transactions import encode_transaction
from aci_ref.consensus.validator import ValidatorState, total_stats
from aci_ref.crypto import KeyPair, sha256
from aci_ref.economics.ledger import Role
from aci_ref.errors import Rejection
from aci_ref.events import Bond, RequestQuote, SealBlock
from aci_ref.sim import world as W
from aci_ref.sim.cluster import Cluster, build_cluster
from aci_ref.sim.network import ClientTxAt, Network, Scenario

RUN_MS = 16_000


@pytest.fixture(scope="module")
def run() -> tuple[W.World, Cluster, Network]:
    """Four validators order a client's quotes (fast) and the stakes' bonds (settlement)."""
    world = W.build_world(bootstrap=False)
    cluster = build_cluster(world.state, world.params, 4)
    params = world.params
    txs: list[ClientTxAt] = []
    for i, validator in enumerate(world.validators):
        bond = world.sign(
            validator, Bond(Role.VALIDATOR, params.tokens(params.validator_min_stake))
        )
        for name in cluster.names:
            txs.append(ClientTxAt(200 + 10 * i, name, encode_transaction(bond)))
    client = world.clients[0]
    for i in range(6):
        body = RequestQuote(W.MODEL_ID, world.new_input(), W.SLA_MS, params.tokens(10))
        event = world.sign(client, body, nonce=i + 1)
        txs.append(ClientTxAt(300 + 40 * i, cluster.names[i % 4], encode_transaction(event)))
    network = Network(cluster.programs(), Scenario(client_txs=tuple(txs), seed=3, end_ms=RUN_MS))
    network.run()
    return world, cluster, network


def _states(network: Network) -> list[ValidatorState]:
    return [network.states[a] for a in sorted(network.states)]


def test_every_validator_executes_the_same_sequence_to_the_same_root(
    run: tuple[W.World, Cluster, Network],
) -> None:
    _, _, network = run
    states = _states(network)
    assert len({state_root(s.execution.chain) for s in states}) == 1
    heights = {s.execution.block_height for s in states}
    assert heights == {states[0].execution.block_height} and min(heights) >= 4
    logs = [
        [(e.where, e.digest) for _, e in network.outputs[a] if isinstance(e, Executed | Refused)]
        for a in sorted(network.outputs)
    ]
    assert all(log == logs[0] for log in logs)
    fast = [w for w, _ in logs[0] if w.startswith("seq/")]
    settled = [w for w, _ in logs[0] if w.startswith("height/")]
    assert len(fast) >= 6 and len(settled) >= 2  # both tracks carried events


def test_checkpoints_agree_and_settle(run: tuple[W.World, Cluster, Network]) -> None:
    _, _, network = run
    states = _states(network)
    checkpoints = [dict(s.execution.checkpoints) for s in states]
    assert checkpoints[0] and all(c == checkpoints[0] for c in checkpoints)
    assert all(s.execution.settled >= 1 for s in states)
    for address in network.outputs:
        settled = [e for _, e in network.outputs[address] if isinstance(e, CheckpointSettled)]
        assert [e.checkpoint.index for e in settled] == list(range(1, len(settled) + 1))


def test_bonds_ran_on_settlement_and_quotes_on_the_fast_path(
    run: tuple[W.World, Cluster, Network],
) -> None:
    world, _, network = run
    chain = network.states[sorted(network.states)[0]].execution.chain
    for validator in world.validators:
        assert chain.ledger.stakes[f"{validator}/validator"].bonded > 0
    blocks = [
        e for _, e in network.outputs[sorted(network.outputs)[0]] if isinstance(e, BlockExecuted)
    ]
    assert [b.height for b in blocks] == list(range(1, len(blocks) + 1))
    assert chain.height == len(blocks)


# ---- markers -----------------------------------------------------------------------------------


def _decided_marker(run: tuple[W.World, Cluster, Network]) -> SettlementMarker:
    _, cluster, network = run
    address = sorted(network.outputs)[0]
    decided = next(e for _, e in network.outputs[address] if isinstance(e, Decided))
    state: ValidatorState = network.states[address]
    assert decided.qc.block == block_digest(decided.block)
    height = decided.block.height
    shares = {n: sign_share(cluster_secret(cluster, n), height) for n in cluster.names}
    from aci_ref.consensus.beacon import combine

    beacon = combine(cluster.beacon_keys, height, shares)
    assert state.execution.block_height >= height
    return SettlementMarker(decided.block, (), decided.qc, beacon)


def cluster_secret(cluster: Cluster, name: str) -> bytes:
    return cluster.configs[name].beacon_secret


def test_a_marker_is_checked_by_its_certificate_descent_and_beacon(
    run: tuple[W.World, Cluster, Network],
) -> None:
    _, cluster, _ = run
    keys, committee = cluster.beacon_keys, cluster.committee
    marker = _decided_marker(run)
    assert check_marker(committee, keys, marker) is None
    other = sign_share(cluster_secret(cluster, cluster.names[0]), marker.height + 1)
    assert check_marker(committee, keys, replace(marker, beacon=other)) is Rejection.BAD_BEACON
    qc = marker.certificate
    few = replace(qc, signers=qc.signers[:2])
    assert (
        check_marker(committee, keys, replace(marker, certificate=few)) is Rejection.BAD_SETTLEMENT
    )
    twice = replace(qc, signers=(qc.signers[0],) * len(qc.signers))
    assert (
        check_marker(committee, keys, replace(marker, certificate=twice))
        is Rejection.BAD_SETTLEMENT
    )
    prepare = replace(qc, phase=Phase.PREPARE)
    assert (
        check_marker(committee, keys, replace(marker, certificate=prepare))
        is Rejection.BAD_SETTLEMENT
    )
    forged = replace(marker, block=replace(marker.block, time_ms=marker.block.time_ms + 1))
    assert check_marker(committee, keys, forged) is Rejection.BAD_SETTLEMENT
    stranger = Block(marker.height + 1, b"\x01" * 32, (), 0, "v01", 1)
    bad_descent = replace(marker, descendants=(stranger,))
    assert check_marker(committee, keys, bad_descent) is Rejection.BAD_SETTLEMENT


def test_injectors_are_f_plus_one_distinct_members() -> None:
    committee = Committee(tuple(Validator(f"v{i}", b"k" * 32, 1) for i in range(7)))
    for height in range(1, 10):
        chosen = injectors(committee, height)
        assert len(set(chosen)) == committee.max_faulty + 1 == 3


def test_a_third_of_the_stake_is_never_a_quorum_pair() -> None:
    """E78: with three equal validators a quorum is all three, not two."""
    committee = Committee(tuple(Validator(f"v{i}", b"k" * 32, 1) for i in range(3)))
    assert not committee.is_quorum(["v0", "v1"]) and committee.is_quorum(["v0", "v1", "v2"])


# ---- the executor alone ------------------------------------------------------------------------


def _executor(run: tuple[W.World, Cluster, Network]) -> tuple[Execution, ExecutionConfig]:
    world, _, _ = run
    config = ExecutionConfig(verify_marker=lambda _: None, interval_rounds=2, max_held=2)
    return Execution(world.state), config


def _marker(height: int, payload: tuple[bytes, ...], time_ms: int) -> SettlementMarker:
    block = Block(height, b"\x00" * 32, payload, time_ms, "v01", height)
    return SettlementMarker(block, (), QC(Phase.COMMIT, height, block_digest(block), ()), b"")


def test_the_executor_refuses_wrong_tracks_and_bad_checkpoints(
    run: tuple[W.World, Cluster, Network],
) -> None:
    world, cluster, _ = run
    state, config = _executor(run)
    keys = cluster.beacon_keys
    beacon = _decided_marker(run).beacon
    bond = world.sign(world.validators[0], Bond(Role.VALIDATOR, 1))
    state, effects = execute_vertex(state, config, (encode_transaction(bond),), None)
    assert [e.reason for e in effects if isinstance(e, Refused)] == [Rejection.WRONG_TRACK]
    state, effects = execute_vertex(state, config, (b"\xff junk",), 2)
    assert [type(e).__name__ for e in effects] == ["Refused", "CheckpointReached"]
    own = state.checkpoints[1]
    wrong = replace(own, state_root=sha256(b"other"))
    quote = world.sign(world.clients[0], RequestQuote(W.MODEL_ID, world.new_input(), 1, 1))
    payload = (checkpoint_item(wrong), encode_transaction(quote), checkpoint_item(own))
    marker = replace(_marker(1, payload, world.state.now_ms + 2_000), beacon=beacon)
    assert keys is not None
    state, effects = execute_vertex(state, config, (marker_item(marker),), None)
    reasons = [e.reason for e in effects if isinstance(e, Refused)]
    assert reasons == [Rejection.BAD_CHECKPOINT, Rejection.WRONG_TRACK]
    assert any(isinstance(e, CheckpointSettled) for e in effects)
    assert state.settled == 1 and state.block_height == 1
    again, effects = execute_vertex(state, config, (marker_item(marker),), None)
    assert again.chain is state.chain and not any(isinstance(e, BlockExecuted) for e in effects)


def test_markers_wait_for_their_height_within_a_bound(
    run: tuple[W.World, Cluster, Network],
) -> None:
    world, _, _ = run
    state, config = _executor(run)
    beacon = _decided_marker(run).beacon
    t = world.state.now_ms
    later = [replace(_marker(h, (), t + 2_000 * h), beacon=beacon) for h in (2, 3, 4)]
    state, effects = execute_vertex(state, config, tuple(marker_item(m) for m in later), None)
    assert len(state.held) == 2 and state.block_height == 0
    assert [e.reason for e in effects if isinstance(e, Refused)] == [Rejection.MISSING_PARENT]
    first = replace(_marker(1, (), t + 2_000), beacon=beacon)
    state, effects = execute_vertex(state, config, (marker_item(first),), None)
    assert state.block_height == 3 and not state.held
    assert [e.height for e in effects if isinstance(e, BlockExecuted)] == [1, 2, 3]


def test_a_checkpoint_is_only_the_settlement_tracks(run: tuple[W.World, Cluster, Network]) -> None:
    state, config = _executor(run)
    checkpoint = Checkpoint(1, 0, 0, b"\x00" * 32, b"\x00" * 32, b"\x00" * 32)
    _, effects = execute_vertex(state, config, (checkpoint_item(checkpoint),), None)
    assert [e.reason for e in effects if isinstance(e, Refused)] == [Rejection.WRONG_TRACK]


# ---- what a validator refuses ------------------------------------------------------------------


def test_clients_cannot_send_block_steps_markers_or_checkpoints(
    run: tuple[W.World, Cluster, Network],
) -> None:
    world, cluster, _ = run
    program = cluster.program("v01")
    state, _ = program.step(program.initial(), Start(0))
    seal = world.sign(world.validators[0], SealBlock(1, 1, b"\x00" * 32))
    marker = _decided_marker(run)
    checkpoint = Checkpoint(1, 0, 0, b"\x00" * 32, b"\x00" * 32, b"\x00" * 32)
    for tx in (encode_transaction(seal), marker_item(marker), checkpoint_item(checkpoint)):
        after, effects = program.step(state, ClientTx(1, tx))
        assert [e.reason for e in effects if isinstance(e, Dropped)] == [Rejection.WRONG_TRACK]
        assert after.dag == state.dag and after.hotstuff == state.hotstuff
    after, effects = program.step(state, ClientTx(1, b"\x00garbage"))
    code = Rejection.ENCODING_NOT_CANONICAL
    assert [e.reason for e in effects if isinstance(e, Dropped)] == [code]
    assert total_stats(after).dropped[code.value] == 1


def test_beacon_shares_are_refused_with_reasons(run: tuple[W.World, Cluster, Network]) -> None:
    _, cluster, _ = run
    program = cluster.program("v01")
    state, _ = program.step(program.initial(), Start(0))
    good = sign_share(cluster_secret(cluster, "v02"), 1)
    cases = [
        ("v02", BeaconShare(1, "v03", good), Rejection.NOT_VALIDATOR),
        ("x99", BeaconShare(1, "x99", good), Rejection.NOT_VALIDATOR),
        ("v02", BeaconShare(0, "v02", good), Rejection.STALE_ROUND),
        ("v02", BeaconShare(10_000, "v02", good), Rejection.FUTURE_ROUND),
        ("v02", BeaconShare(2, "v02", good), Rejection.BAD_BEACON),
        ("v02", BeaconShare(1, "v02", b"short"), Rejection.BAD_BEACON),
        ("v02", BeaconShare("1", "v02", good), Rejection.BAD_INPUT),  # type: ignore[arg-type]
    ]
    for sender, share, reason in cases:
        after, effects = program.step(state, Deliver(5, sender, share))
        assert [e.reason for e in effects if isinstance(e, Dropped)] == [reason], share
        assert after.shares == state.shares
    state, effects = program.step(state, Deliver(5, "v02", BeaconShare(1, "v02", good)))
    assert not effects and "v02" in state.shares[1]
    _, effects = program.step(state, Deliver(6, "v02", BeaconShare(1, "v02", good)))
    assert [e.reason for e in effects if isinstance(e, Dropped)] == [Rejection.DUPLICATE_MESSAGE]


def test_no_input_escapes_as_an_exception(run: tuple[W.World, Cluster, Network]) -> None:
    _, cluster, _ = run
    program = cluster.program("v01")
    state, _ = program.step(program.initial(), Start(0))
    key = KeyPair.from_label("stranger")
    junk: list[object] = [None, 7, b"x", key, BeaconShare(1, "v02", None)]  # type: ignore[arg-type]
    for message in junk:
        after, effects = program.step(state, Deliver(1, "v02", message))
        assert all(isinstance(e, Dropped) for e in effects) and effects
        assert after.dag == state.dag and after.hotstuff == state.hotstuff
