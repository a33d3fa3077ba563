"""Twins scenarios (Bano et al., "Twins: BFT Systems Made Robust", 2021): enumerate and sample them.

Up to f validators get a twin: a second node with the same name and key, so together they behave
like one Byzantine validator that equivocates without any Byzantine code. A scenario fixes, for
each of R rounds (views), a leader and a partition of all nodes (twins included) into at most P
groups; messages of that round only pass inside a group. The space is the product over rounds of
(leaders x partitions), far too large to run whole beyond tiny settings, hence the seeded sampler.

Partitions are set partitions of the addresses, counted once however their groups are numbered
(canonical form: each group in address order, groups ordered by their first address); there are
sum over k <= P of S(N, k) of them (Stirling numbers of the second kind). Unlike some generators,
two partitions that differ only by swapping two untwinned validators count as distinct here: the
leader and the validators' names make them distinguishable to the protocol.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum

from aci_ref.sim.faults import Faults, Groups, RoundPartition

_EXHAUSTIVE_SAMPLING_LIMIT = 1 << 20
"""Up to this many scenarios, a sample is drawn from the whole index range at once."""


class LeaderPool(StrEnum):
    """Which validators may lead a round: all, only those with a twin, or only those without."""

    ALL = "all"
    TWINNED = "twinned"
    UNTWINNED = "untwinned"


def twin_address(name: str) -> str:
    """The address of the twin of validator `name` (the original runs at the address `name`)."""
    return name + "'"


@dataclass(frozen=True, slots=True)
class TwinsSettings:
    """Twins: `validators` validators, the first `twins` of them doubled, `partitions` groups at
    most per round, `rounds` rounds, leaders from `leaders_from` (a pool or explicit names).

    `names` are the validator names (default v1 .. vn). Twinning more than f = (n - 1) // 3 is
    allowed, to show that a protocol then fails as it should.
    """

    validators: int
    twins: int
    partitions: int
    rounds: int
    leaders_from: LeaderPool | tuple[str, ...] = LeaderPool.ALL
    names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.validators < 1 or not 0 <= self.twins <= self.validators:
            raise ValueError("need at least one validator and 0 <= twins <= validators")
        if self.partitions < 1 or self.rounds < 1:
            raise ValueError("need at least one group and one round")
        if not self.names:
            object.__setattr__(self, "names", tuple(f"v{i}" for i in range(1, self.validators + 1)))
        if len(self.names) != self.validators or len(set(self.names)) != self.validators:
            raise ValueError("names: one distinct name per validator")
        if isinstance(self.leaders_from, tuple) and (
            not self.leaders_from or not set(self.leaders_from) <= set(self.names)
        ):
            raise ValueError("leaders_from: a non-empty set of validator names")
        if not self.leaders():
            raise ValueError("the leader pool is empty")

    @property
    def twinned(self) -> tuple[str, ...]:
        """The validators that have a twin."""
        return self.names[: self.twins]

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every node: each validator's address, followed by its twin's when it has one."""
        return tuple(address for address, _ in self.nodes())

    def nodes(self) -> tuple[tuple[str, str], ...]:
        """(address, validator name) of every node, as `Scenario.nodes` takes them."""
        out: list[tuple[str, str]] = []
        for i, name in enumerate(self.names):
            out.append((name, name))
            if i < self.twins:
                out.append((twin_address(name), name))
        return tuple(out)

    def leaders(self) -> tuple[str, ...]:
        """The validators that may lead a round, in name order."""
        pool = self.leaders_from
        if isinstance(pool, tuple):
            return tuple(n for n in self.names if n in pool)
        if pool is LeaderPool.TWINNED:
            return self.twinned
        if pool is LeaderPool.UNTWINNED:
            return self.names[self.twins :]
        return self.names


@functools.lru_cache(maxsize=64)
def partitions(addresses: tuple[str, ...], max_groups: int) -> tuple[Groups, ...]:
    """Every partition of `addresses` into at most `max_groups` non-empty groups, each once.

    Walks restricted growth strings: address i joins a group already opened by an earlier address
    or opens the next one, so each partition appears exactly once, already in canonical form.
    """
    count = len(addresses)
    found: list[Groups] = []
    labels = [0] * count

    def extend(i: int, opened: int) -> None:
        if i == count:
            groups: list[list[str]] = [[] for _ in range(opened)]
            for address, label in zip(addresses, labels, strict=True):
                groups[label].append(address)
            found.append(tuple(tuple(g) for g in groups))
            return
        for label in range(min(opened + 1, max_groups)):
            labels[i] = label
            extend(i + 1, max(opened, label + 1))

    if count:
        extend(0, 0)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class TwinsRound:
    """One round of a Twins scenario: its leader's validator name and the partition of nodes."""

    leader: str
    groups: Groups


@dataclass(frozen=True, slots=True)
class TwinsScenario:
    """Twins: a leader and a partition per round; views `first_view` .. are the rounds in order.

    After the last round the network is whole again (no partition), so liveness can be checked.
    """

    rounds: tuple[TwinsRound, ...]

    def leader_schedule(self, first_view: int = 1) -> tuple[str, ...]:
        """Leaders as a HotStuff config takes them: view v is led by schedule[v % len(schedule)]."""
        size = len(self.rounds)
        schedule = [""] * size
        for offset, item in enumerate(self.rounds):
            schedule[(first_view + offset) % size] = item.leader
        return tuple(schedule)

    def round_partitions(self, first_view: int = 1) -> tuple[RoundPartition, ...]:
        """The per-view partitions as the simulator's round-keyed fault."""
        return tuple(
            RoundPartition(first_view + offset, item.groups)
            for offset, item in enumerate(self.rounds)
        )

    def faults(self, base: Faults | None = None, first_view: int = 1) -> Faults:
        """`base` (default: no other fault) with this scenario's per-view partitions."""
        return replace(base or Faults(), round_partitions=self.round_partitions(first_view))


def round_choices(settings: TwinsSettings) -> int:
    """How many (leader, partition) pairs one round can take."""
    return len(settings.leaders()) * len(partitions(settings.addresses, settings.partitions))


def scenario_space(settings: TwinsSettings) -> int:
    """Twins: the number of distinct scenarios, (leaders x partitions) ** rounds."""
    return int(round_choices(settings) ** settings.rounds)


def scenario_at(settings: TwinsSettings, index: int) -> TwinsScenario:
    """The scenario of rank `index` in the enumeration order (the first round varies slowest)."""
    if not 0 <= index < scenario_space(settings):
        raise ValueError("scenario index out of range")
    leaders = settings.leaders()
    options = partitions(settings.addresses, settings.partitions)
    base = len(leaders) * len(options)
    digits: list[int] = []
    for _ in range(settings.rounds):
        index, digit = divmod(index, base)
        digits.append(digit)
    rounds = []
    for digit in reversed(digits):
        which, leader = divmod(digit, len(leaders))
        rounds.append(TwinsRound(leaders[leader], options[which]))
    return TwinsScenario(tuple(rounds))


def enumerate_scenarios(settings: TwinsSettings) -> Iterator[TwinsScenario]:
    """Twins: every scenario once, in rank order (only for tiny settings: the space is huge)."""
    for index in range(scenario_space(settings)):
        yield scenario_at(settings, index)


def sample_scenarios(settings: TwinsSettings, count: int, seed: int) -> list[TwinsScenario]:
    """Twins: `count` distinct scenarios drawn uniformly without replacement, fixed by `seed`."""
    space = scenario_space(settings)
    if not 0 <= count <= space:
        raise ValueError(f"cannot draw {count} distinct scenarios out of {space}")
    rng = random.Random(seed)
    if space <= _EXHAUSTIVE_SAMPLING_LIMIT:
        indices = rng.sample(range(space), count)
    else:
        chosen: set[int] = set()
        indices = []
        while len(indices) < count:
            index = rng.randrange(space)
            if index not in chosen:
                chosen.add(index)
                indices.append(index)
    return [scenario_at(settings, index) for index in indices]
