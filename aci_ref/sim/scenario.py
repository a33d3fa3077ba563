"""ref: network simulator: what a run is given (`Scenario`) and what it leaves (`RunResult`).

A `Scenario` pairs addresses with the validators they run and carries the faults, the client
load (`ClientTxAt`), the seed and the bounds; `RunResult` and `Counters` are what `Network` hands
back; `Observer` and `AfterStep` are the shapes of its hooks. Plain data only: the simulator that
runs a scenario is `network.Network`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aci_ref.consensus.io import Effects
from aci_ref.sim.faults import Faults


@dataclass(frozen=True, slots=True)
class ClientTxAt:
    """A client hands `tx` to address `address` at virtual time `at_ms`."""

    at_ms: int
    address: str
    tx: bytes


@dataclass(frozen=True, slots=True)
class Scenario:
    """One run: who runs which validator, the faults, the client load, the seed and the bounds.

    `nodes` pairs each address with the validator name it runs; an address missing from it runs
    as itself. The run stops at virtual time `end_ms` (exclusive) or after `max_steps` steps; at
    most `max_in_flight` events wait in the queue (further messages are dropped as overflow).
    """

    nodes: tuple[tuple[str, str], ...] = ()
    faults: Faults = field(default_factory=Faults)
    client_txs: tuple[ClientTxAt, ...] = ()
    seed: int = 0
    end_ms: int | None = None
    max_steps: int | None = None
    max_in_flight: int = 1_000_000


@dataclass(frozen=True, slots=True)
class Counters:
    """What the network did: transmissions, deliveries, drops by cause, duplicates, holds."""

    sent: int
    delivered: int
    duplicated: int
    held: int
    dropped_by: Mapping[str, int]
    lost_client_txs: int

    @property
    def dropped(self) -> int:
        """Every message the faults removed, whatever the cause."""
        return sum(self.dropped_by.values())


DROP_CAUSES: Final = ("random", "partition", "round", "down", "unknown", "overflow")


Observer = Callable[[int, str, Any], None]
"""observe(virtual time, address, effect) for every effect that is not Send/Broadcast/SetTimer."""


AfterStep = Callable[[int, str, Any, Effects], None]
"""after_step(virtual time, address, new state, effects) after every step."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run left: per address its non-I/O effects with their virtual times, its state."""

    now_ms: int
    steps: int
    outputs: Mapping[str, tuple[tuple[int, Any], ...]]
    states: Mapping[str, Any]
    up: Mapping[str, bool]
    counters: Counters
    trace_digest: bytes
