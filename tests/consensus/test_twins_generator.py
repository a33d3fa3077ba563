"""The Twins scenario generator: exact counts against brute force, seeded distinct samples."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aci_ref.consensus.io import Broadcast, Deliver, Effects, Input, Program, Start
from aci_ref.sim.faults import Faults, Groups
from aci_ref.sim.network import Scenario, simulate
from aci_ref.sim.twins import (
    LeaderPool,
    TwinsRound,
    TwinsScenario,
    TwinsSettings,
    enumerate_scenarios,
    partitions,
    round_choices,
    sample_scenarios,
    scenario_at,
    scenario_space,
    twin_address,
)


def brute_force_partitions(addresses: tuple[str, ...], max_groups: int) -> set[frozenset[Any]]:
    """Every map of addresses to group labels, forgetting the labels and the empty groups."""
    found = set()
    for labels in itertools.product(range(max_groups), repeat=len(addresses)):
        groups = {
            frozenset(a for a, label in zip(addresses, labels, strict=True) if label == g)
            for g in range(max_groups)
        }
        found.add(frozenset(g for g in groups if g))
    return found


def as_set(groups: Groups) -> frozenset[frozenset[str]]:
    return frozenset(frozenset(g) for g in groups)


@pytest.mark.parametrize("size", range(0, 7))
@pytest.mark.parametrize("max_groups", range(1, 5))
def test_partitions_are_exactly_the_brute_force_ones_each_once(size: int, max_groups: int) -> None:
    addresses = tuple(f"n{i}" for i in range(size))
    found = partitions(addresses, max_groups)
    assert len({as_set(p) for p in found}) == len(found)  # no duplicate up to group relabelling
    assert {as_set(p) for p in found} == (
        brute_force_partitions(addresses, max_groups) if size else set()
    )
    for groups in found:  # canonical: groups in address order, ordered by their first address
        assert all(g and list(g) == sorted(g, key=addresses.index) for g in groups)
        assert [addresses.index(g[0]) for g in groups] == sorted(
            addresses.index(g[0]) for g in groups
        )


def test_four_nodes_in_two_groups_and_the_bell_numbers() -> None:
    assert len(partitions(("a", "b", "c", "d"), 2)) == 1 + 7  # S(4,1) + S(4,2)
    assert [len(partitions(tuple("abcdefg"[:n]), n)) for n in range(1, 8)] == [
        1,
        2,
        5,
        15,
        52,
        203,
        877,
    ]


def test_settings_name_nodes_and_twins() -> None:
    s = TwinsSettings(validators=4, twins=1, partitions=2, rounds=3)
    assert s.names == ("v1", "v2", "v3", "v4") and s.twinned == ("v1",)
    assert (
        s.addresses
        == ("v1", twin_address("v1"), "v2", "v3", "v4")
        == ("v1", "v1'", "v2", "v3", "v4")
    )
    assert ("v1'", "v1") in s.nodes() and ("v2", "v2") in s.nodes()
    assert TwinsSettings(4, 1, 2, 1, LeaderPool.TWINNED).leaders() == ("v1",)
    assert TwinsSettings(4, 1, 2, 1, LeaderPool.UNTWINNED).leaders() == ("v2", "v3", "v4")
    assert TwinsSettings(4, 1, 2, 1, ("v3", "v2")).leaders() == ("v2", "v3")
    for bad in ((0, 0, 1, 1), (3, 4, 1, 1), (3, 1, 0, 1), (3, 1, 1, 0)):
        with pytest.raises(ValueError):
            TwinsSettings(*bad)
    with pytest.raises(ValueError):
        TwinsSettings(4, 1, 2, 1, ("x",))
    with pytest.raises(ValueError):
        TwinsSettings(4, 0, 2, 1, LeaderPool.TWINNED)


@pytest.mark.parametrize(
    "setting",
    [
        TwinsSettings(validators=2, twins=1, partitions=2, rounds=2),
        TwinsSettings(validators=3, twins=0, partitions=2, rounds=2, leaders_from=("v1",)),
        TwinsSettings(validators=1, twins=1, partitions=3, rounds=3),
    ],
)
def test_the_space_counts_the_brute_force_product(setting: TwinsSettings) -> None:
    per_round = [
        TwinsRound(leader, groups)
        for groups in partitions(setting.addresses, setting.partitions)
        for leader in setting.leaders()
    ]
    brute = {tuple(c) for c in itertools.product(per_round, repeat=setting.rounds)}
    listed = [s.rounds for s in enumerate_scenarios(setting)]
    assert scenario_space(setting) == len(brute) == len(listed) == len(set(listed))
    assert set(listed) == brute


def test_the_paper_sized_space_is_huge() -> None:
    s = TwinsSettings(validators=4, twins=1, partitions=2, rounds=8)
    assert round_choices(s) == 4 * (1 + 15)
    assert scenario_space(s) == 64**8


@given(st.integers(0, 2**32), st.integers(0, 30))
@settings()
def test_samples_are_deterministic_distinct_and_in_the_space(seed: int, count: int) -> None:
    s = TwinsSettings(validators=4, twins=1, partitions=3, rounds=4)
    sample = sample_scenarios(s, count, seed)
    assert sample == sample_scenarios(s, count, seed)
    assert len(set(sample)) == count
    options = set(partitions(s.addresses, s.partitions))
    for scenario in sample:
        assert len(scenario.rounds) == 4
        assert all(r.leader in s.leaders() and r.groups in options for r in scenario.rounds)


def test_samples_differ_by_seed_and_can_cover_a_small_space() -> None:
    big = TwinsSettings(validators=4, twins=1, partitions=2, rounds=6)
    assert sample_scenarios(big, 5, 1) != sample_scenarios(big, 5, 2)
    small = TwinsSettings(validators=2, twins=1, partitions=2, rounds=2)
    everything = sample_scenarios(small, scenario_space(small), 9)
    assert set(everything) == set(enumerate_scenarios(small))
    with pytest.raises(ValueError):
        sample_scenarios(small, scenario_space(small) + 1, 9)
    with pytest.raises(ValueError):
        scenario_at(small, scenario_space(small))


def test_a_scenario_gives_a_leader_schedule_and_round_partitions() -> None:
    split = (("v1", "v2"), ("v1'", "v3", "v4"))
    whole = (("v1", "v1'", "v2", "v3", "v4"),)
    scenario = TwinsScenario(
        (TwinsRound("v2", split), TwinsRound("v3", whole), TwinsRound("v1", split))
    )
    schedule = scenario.leader_schedule(first_view=1)
    assert [schedule[view % len(schedule)] for view in (1, 2, 3)] == ["v2", "v3", "v1"]
    schedule0 = scenario.leader_schedule(first_view=0)
    assert schedule0 == ("v2", "v3", "v1")
    faults = scenario.faults(Faults(base_latency_ms=3), first_view=1)
    assert faults.base_latency_ms == 3
    assert [(p.round, p.groups) for p in faults.round_partitions] == [
        (1, split),
        (2, whole),
        (3, split),
    ]


def test_a_twins_scenario_runs_in_the_simulator() -> None:
    """Each node broadcasts one message per view at start; the twins' view-1 split holds."""
    s = TwinsSettings(validators=4, twins=1, partitions=2, rounds=1)
    split = (("v1", "v2"), ("v1'", "v3", "v4"))
    scenario = TwinsScenario((TwinsRound("v1", split),))

    def node(name: str) -> Program[tuple[Any, ...]]:
        def step(state: tuple[Any, ...], event: Input) -> tuple[tuple[Any, ...], Effects]:
            if isinstance(event, Start):
                return state, (Broadcast(("view", 1, name)), Broadcast(("view", 2, name)))
            if isinstance(event, Deliver):
                return (*state, (event.sender, event.message)), ()
            return state, ()

        return Program(tuple, step, lambda state: state)

    nodes = {address: node(name) for address, name in s.nodes()}
    run = simulate(
        nodes,
        Scenario(nodes=s.nodes(), faults=scenario.faults(), end_ms=1_000),
        message_round=lambda m: m[1],
    )
    view1 = {a: sorted(sender for sender, m in st if m[1] == 1) for a, st in run.states.items()}
    assert view1 == {
        "v1": ["v2"],
        "v2": ["v1"],
        "v1'": ["v3", "v4"],
        "v3": ["v1", "v4"],  # from the twin v1', whose messages read "v1"
        "v4": ["v1", "v3"],
    }
    assert all(len([m for _, m in st if m[1] == 2]) == 4 for st in run.states.values())
