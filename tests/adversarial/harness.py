"""Shared setup of the adversarial suites: committees, machines, checked runs, drop counts, and
the scenario budgets that scale with the Hypothesis profile."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from hypothesis import settings

from aci_ref.consensus.committee import Committee, Validator
from aci_ref.consensus.dag import DagState, dag_program
from aci_ref.consensus.dag_messages import DagConfig
from aci_ref.consensus.hotstuff import HotStuffConfig, HotStuffState, hotstuff_program
from aci_ref.consensus.io import Dropped, Program
from aci_ref.crypto import KeyPair
from aci_ref.errors import Rejection
from aci_ref.params import Params, default_params
from aci_ref.sim.byzantine import Identity, make_byzantine, message_round, outsider
from aci_ref.sim.faults import Faults
from aci_ref.sim.network import ClientTxAt, Network, Scenario
from aci_ref.sim.safety import SafetyChecker, watch
from aci_ref.sim.twins import TwinsScenario, TwinsSettings

PARAMS: Final = default_params()
DAG_PARAMS: Final = replace(PARAMS, gc_depth_rounds=16)
"""A short garbage-collection depth, so stale rounds appear within a second of fast-path time."""

DAG_MS: Final = 2_000
"""How long a fast-path scenario runs (virtual ms): about 40 rounds."""
HOTSTUFF_MS: Final = 40_000
"""How long a settlement scenario runs (virtual ms): about 15 blocks at one per 2 s."""

OUTSIDER: Final = "x9"
"""The address and name of a node outside the committee."""


def names_of(n: int) -> tuple[str, ...]:
    """v1 .. vn, the names the Twins generator uses too."""
    return tuple(f"v{i}" for i in range(1, n + 1))


def key_of(name: str) -> KeyPair:
    """Every validator's (and the outsider's) reproducible key."""
    return KeyPair.from_label("adversarial/" + name)


def committee_of(n: int) -> Committee:
    """n validators of equal stake."""
    return Committee(tuple(Validator(name, key_of(name).public, 1) for name in names_of(n)))


def identity(committee: Committee, name: str, params: Params, seed: int = 0) -> Identity:
    """Who a Byzantine validator (or the outsider) is."""
    return Identity(committee, name, key_of(name), params, seed)


def dag_machine(committee: Committee, name: str, params: Params = DAG_PARAMS) -> Program[DagState]:
    """An honest fast-path validator."""
    return dag_program(DagConfig(committee, name, key_of(name), params))


def hotstuff_machine(
    committee: Committee,
    name: str,
    params: Params = PARAMS,
    leaders: tuple[str, ...] | None = None,
) -> Program[HotStuffState]:
    """An honest settlement replica."""
    return hotstuff_program(HotStuffConfig(committee, name, key_of(name), params, leaders=leaders))


def machines(
    protocol: str,
    committee: Committee,
    byzantine: Mapping[str, str] | None = None,
    *,
    seed: int = 0,
    with_outsider: bool = False,
) -> dict[str, Program[Any]]:
    """Every validator of `protocol` ("dag" or "hotstuff"), those in `byzantine` (name ->
    adversary) wrapped, and optionally an outsider node."""
    params = DAG_PARAMS if protocol == "dag" else PARAMS
    make = dag_machine if protocol == "dag" else hotstuff_machine
    out: dict[str, Program[Any]] = {}
    for name in committee.names:
        program: Program[Any] = make(committee, name, params)
        kind = (byzantine or {}).get(name)
        if kind is not None:
            program = make_byzantine(kind, program, identity(committee, name, params, seed))
        out[name] = program
    if with_outsider:
        out[OUTSIDER] = outsider(identity(committee, OUTSIDER, params, seed))
    return out


def run_checked(
    programs: Mapping[str, Program[Any]],
    scenario: Scenario,
    committee: Committee,
    honest: Iterable[str],
) -> tuple[Network, SafetyChecker]:
    """Run a scenario to its end with the checker after every step."""
    network, checker = watch(programs, scenario, committee, honest, message_round=message_round)
    network.run()
    return network, checker


def drop_counts(network: Network, addresses: Iterable[str]) -> Counter[Rejection]:
    """The drops the addresses' Stats counted, by reason; they must match the Dropped effects."""
    counted: Counter[Rejection] = Counter()
    reported: Counter[Rejection] = Counter()
    for address in addresses:
        for reason, count in network.states[address].stats.dropped.items():
            counted[Rejection(reason)] += count
        reported.update(e.reason for _, e in network.outputs[address] if type(e) is Dropped)
    assert counted == reported, (counted, reported)
    return counted


_INTERNAL: Final = re.compile(r"^(malformed input: )?\w*(Error|Exception)\b")


def hides_exception(effect: Any) -> bool:
    """Is this a drop that hides an exception raised inside a step (a would-be crash)?"""
    return type(effect) is Dropped and _INTERNAL.match(effect.detail) is not None


def internal_errors(network: Network, addresses: Iterable[str]) -> list[str]:
    """The drops of `addresses` that hide an exception raised inside a step."""
    return [
        f"{address}: {effect.detail}"
        for address in addresses
        for _, effect in network.outputs[address]
        if hides_exception(effect)
    ]


# ---- scenario budgets ----------------------------------------------------------------------------

EXAMPLES: Final = settings().max_examples
"""Hypothesis examples per test in the loaded profile (ci: 60, deep: 2000)."""


def budget(ci: int, deep: int) -> int:
    """Scenarios a seeded test runs: `ci` at the ci profile's 60 examples, `deep` at 2000,
    in proportion in between (and below 60, in proportion to `ci`)."""
    if EXAMPLES <= 60:
        return max(1, ci * EXAMPLES // 60)
    return ci + (deep - ci) * (min(EXAMPLES, 2000) - 60) // (2000 - 60)


def honest_of(addresses: Sequence[str], faulty: Iterable[str]) -> tuple[str, ...]:
    """The addresses not in `faulty`."""
    bad = set(faulty)
    return tuple(a for a in addresses if a not in bad)


# ---- Twins ---------------------------------------------------------------------------------------

TWINS_HORIZON_MS: Final = {"hotstuff": 600_000, "dag": 3_000}
"""How long a Twins run may take to show progress after its partitioned rounds (virtual ms)."""
_TWINS_CHUNK_MS: Final = {"hotstuff": 5_000, "dag": 250}


def progressed(checker: SafetyChecker, protocol: str, address: str, rounds: int) -> bool:
    """Has `address` decided a block of a view after `rounds`, or committed a vertex of a later
    round (a Twins scenario's partitions cover rounds and views 1 .. rounds only)?"""
    if protocol == "hotstuff":
        return any(block.view > rounds for _, block in checker.decisions(address))
    return any(c.round > rounds for _, c in checker.commits(address))


def run_twins(
    protocol: str, settings: TwinsSettings, scenario: TwinsScenario
) -> tuple[Network, SafetyChecker, tuple[str, ...]]:
    """One Twins scenario, checked after every step, run until every untwinned validator has
    progressed past the partitioned rounds (or the horizon). Each node, twins included, is
    handed its own client transaction at the start, so that twins propose different blocks."""
    committee = committee_of(settings.validators)
    programs: dict[str, Program[Any]] = {}
    leaders = scenario.leader_schedule(first_view=1)
    for address, name in settings.nodes():
        if protocol == "hotstuff":
            programs[address] = hotstuff_machine(committee, name, leaders=leaders)
        else:
            programs[address] = dag_machine(committee, name)
    honest = tuple(a for a, name in settings.nodes() if name not in settings.twinned)
    txs = tuple(ClientTxAt(0, a, b"twins/" + a.encode()) for a in settings.addresses)
    horizon = TWINS_HORIZON_MS[protocol]
    run = Scenario(
        nodes=settings.nodes(),
        faults=scenario.faults(Faults(jitter_ms=5), first_view=1),
        client_txs=txs,
        end_ms=horizon,
    )
    network, checker = watch(programs, run, committee, honest, message_round=message_round)
    until = 0
    while until < horizon and not all(
        progressed(checker, protocol, a, settings.rounds) for a in honest
    ):
        until += _TWINS_CHUNK_MS[protocol]
        network.run(end_ms=until)
    return network, checker, honest


def dag_can_progress(settings: TwinsSettings, scenario: TwinsScenario) -> bool:
    """Can the fast path get past a Twins scenario's rounds at all? A round's messages stay cut
    between its groups forever (a DAG cannot skip a round as a view can time out), so each round
    needs a group whose untwinned validators alone hold a quorum of stake."""
    committee = committee_of(settings.validators)
    names = dict(settings.nodes())
    twinned = set(settings.twinned)
    return all(
        any(committee.is_quorum({names[a] for a in group} - twinned) for group in item.groups)
        for item in scenario.rounds
    )
