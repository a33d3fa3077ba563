"""The composed validator under attack: both tracks, the beacon and the executor, checked per step.

Each scenario runs four validators over one genesis with client load on both tracks, one of them
Byzantine (or crashed, partitioned, withholding its beacon shares), and the safety checker rides
on every step: agreement, prefix-consistent logs, one vertex per slot, certified commits, equal
checkpoint and state roots — and, from the heal on, progress on both tracks.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import settings

from aci_ref.consensus.io import Broadcast, Effects, Input
from aci_ref.consensus.markers import BeaconShare
from aci_ref.consensus.transactions import encode_transaction
from aci_ref.economics.ledger import Role
from aci_ref.events import Bond, RequestQuote
from aci_ref.sim import world as W
from aci_ref.sim.byzantine import ADVERSARIES, Identity, Memory, byzantine, make_byzantine
from aci_ref.sim.cluster import Cluster, build_cluster
from aci_ref.sim.consensus_sim import state_roots
from aci_ref.sim.faults import Crash, Faults, PartitionWindow
from aci_ref.sim.network import ClientTxAt, Scenario
from aci_ref.sim.safety import Progress, SafetyReport, watch

RUN_MS = 12_000
DEEP = settings.default.max_examples > 100
CI_TACTICS = ("equivocator", "double-voter", "certificate-forger", "round-inflater", "junk-sender")
TACTICS = tuple(sorted(ADVERSARIES)) if DEEP else CI_TACTICS


@cache
def setup() -> tuple[W.World, Cluster, tuple[ClientTxAt, ...]]:
    world = W.build_world(bootstrap=False)
    cluster = build_cluster(world.state, world.params, 4, label="adversarial")
    params = world.params
    txs: list[ClientTxAt] = []
    for i, validator in enumerate(world.validators):
        bond = world.sign(
            validator, Bond(Role.VALIDATOR, params.tokens(params.validator_min_stake))
        )
        txs += [ClientTxAt(300 + 10 * i, n, encode_transaction(bond)) for n in cluster.names[:3]]
    client = world.clients[0]
    for i in range(8):
        body = RequestQuote(W.MODEL_ID, world.new_input(), W.SLA_MS, params.tokens(10))
        event = world.sign(client, body, nonce=i + 1)
        txs.append(ClientTxAt(400 + 500 * i, cluster.names[i % 3], encode_transaction(event)))
    return world, cluster, tuple(txs)


def run(
    programs: dict[str, Any], faults: Faults, honest: tuple[str, ...], since_ms: int = 0
) -> tuple[SafetyReport, dict[str, Any]]:
    _, cluster, txs = setup()
    scenario = Scenario(faults=faults, client_txs=txs, seed=5, end_ms=RUN_MS)
    network, checker = watch(programs, scenario, cluster.committee, honest, roots_of=state_roots)
    network.run()
    report = checker.report(Progress(since_ms, RUN_MS - since_ms))
    return report, network.states


def honest_programs() -> dict[str, Any]:
    return setup()[1].programs()


def _identity(name: str) -> Identity:
    world, cluster, _ = setup()
    return Identity(cluster.committee, name, cluster.configs[name].key, world.params, 1)


def _assert_both_tracks_ran(
    report: SafetyReport, states: dict[str, Any], honest: tuple[str, ...]
) -> None:
    assert report.ok, report.summary()
    heights = [states[a].execution.block_height for a in honest]
    assert min(heights) >= 2, heights
    assert report.checkpoints >= 1
    assert all(states[a].execution.settled >= 1 for a in honest)


@pytest.mark.parametrize("tactic", TACTICS)
def test_one_byzantine_validator_of_four_breaks_nothing(tactic: str) -> None:
    programs = honest_programs()
    programs["v04"] = make_byzantine(tactic, programs["v04"], _identity("v04"))
    honest = ("v01", "v02", "v03")
    report, states = run(programs, Faults(base_latency_ms=20, jitter_ms=15), honest)
    _assert_both_tracks_ran(report, states, honest)


def _withhold_shares(
    me: Identity, turn: int, memory: Memory, event: Input, effects: Effects
) -> tuple[Effects, Memory]:
    """Never release a beacon share: the other 2f + 1 must suffice."""
    kept = tuple(
        e for e in effects if not (type(e) is Broadcast and type(e.message) is BeaconShare)
    )
    return kept, memory


def test_a_validator_withholding_its_beacon_shares_cannot_stall_settlement() -> None:
    programs = honest_programs()
    programs["v04"] = byzantine(programs["v04"], _identity("v04"), _withhold_shares)
    honest = ("v01", "v02", "v03")
    report, states = run(programs, Faults(base_latency_ms=20), honest)
    _assert_both_tracks_ran(report, states, honest)


def test_a_crash_restart_and_a_healed_partition_keep_every_honest_root_equal() -> None:
    faults = Faults(
        base_latency_ms=20,
        jitter_ms=10,
        partitions=(PartitionWindow(1_500, 3_500, (("v01", "v02", "v04"), ("v03",))),),
        crashes=(Crash("v02", 4_000, 5_000),),
    )
    honest = ("v01", "v02", "v03", "v04")
    report, states = run(honest_programs(), faults, honest, since_ms=5_000)
    _assert_both_tracks_ran(report, states, honest)


def test_a_silent_validator_costs_liveness_nothing() -> None:
    faults = Faults(base_latency_ms=20, crashes=(Crash("v04", 0, None),))
    honest = ("v01", "v02", "v03")
    report, states = run(honest_programs(), faults, honest)
    _assert_both_tracks_ran(report, states, honest)


def test_without_a_quorum_nothing_is_decided_and_nothing_diverges() -> None:
    """Two of four cut off for the whole run: no track may progress, and nothing is unsafe."""
    faults = Faults(
        base_latency_ms=20,
        partitions=(PartitionWindow(0, RUN_MS, (("v01", "v02"), ("v03", "v04"))),),
    )
    honest = ("v01", "v02", "v03", "v04")
    report, states = run(honest_programs(), faults, honest)
    assert set(report.kinds()) <= {"liveness"} and report.kinds(), report.summary()
    assert all(states[a].execution.block_height == 0 for a in honest)
