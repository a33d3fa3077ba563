"""Algorithm 3, §4.2: the fast path's data, shared by the DAG machine and its helper modules.

One validator's state (`DagState`), a message in the waiting room (`Held`), the effect list a step
builds (`Out`) and the refusal helper (`drop`). This module imports no other part of the fast
path: commit output (`dag_commit`), the waiting room and fetch (`dag_sync`) and the machine
(`dag`) build on it, so the imports between them point one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import immutables

from aci_ref.consensus.dag_messages import Certificate, Problem, Vertex
from aci_ref.consensus.io import Dropped, Stats
from aci_ref.consensus.order import Node

Map = immutables.Map

Out = list[Any]
"""The effects one step has produced so far, in order."""


@dataclass(frozen=True, slots=True)
class Held:
    """A checked vertex or certificate waiting for parents, and the peer that can supply them."""

    message: Vertex | Certificate
    sender: str


@dataclass(frozen=True, slots=True)
class DagState:
    """One validator's fast-path state; `recover` says which fields are durable."""

    started: bool = False
    proposed_round: int = 0
    round_started_ms: int = 0
    last_proposal_ms: int | None = None
    last_resend_ms: int = 0
    timer_at: int = -1
    own: Map[int, Vertex] = field(default_factory=Map)
    votes: Map[int, Map[str, bytes]] = field(default_factory=Map)
    acked: Map[tuple[int, str], bytes] = field(default_factory=Map)
    dag: Map[int, Map[str, Node]] = field(default_factory=Map)
    index: Map[bytes, tuple[int, str]] = field(default_factory=Map)
    pending: Map[int, Map[bytes, Held]] = field(default_factory=Map)
    held_count: int = 0
    mempool: tuple[bytes, ...] = ()
    last_committed_round: int = 0
    sequence: int = 0
    ordered: Map[bytes, int] = field(default_factory=Map)
    stats: Stats = field(default_factory=Stats)


def drop(state: DagState, out: Out, problem: Problem) -> DagState:
    """Refuse the message in hand: report it and count the drop (nothing else changes)."""
    out.append(Dropped(problem[0], problem[1]))
    return replace(state, stats=state.stats.drop(problem[0]))
