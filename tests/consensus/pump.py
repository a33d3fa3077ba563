"""A minimal message pump for unit tests of one consensus machine family (no faults).

Fixed link latency, timers, FIFO by (time, sequence); deterministic. The network simulator in
`aci_ref.sim.network` is the full tool (drops, partitions, crashes, skew); this pump is for tests
that only need messages to flow.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aci_ref.consensus.io import (
    Broadcast,
    ClientTx,
    Deliver,
    Input,
    Program,
    Send,
    SetTimer,
    Start,
    TimerFired,
)


@dataclass
class Pump:
    """Run `programs` (name -> Program) with `latency_ms` per message; collect every effect."""

    programs: Mapping[str, Program[Any]]
    latency_ms: int = 10
    now_ms: int = 0
    states: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, list[Any]] = field(default_factory=dict)
    blocked: Callable[[str, str, Any], bool] = lambda sender, to, message: False
    _queue: list[tuple[int, int, str, Input]] = field(default_factory=list)
    _timers: dict[tuple[str, str], int] = field(default_factory=dict)
    _seq: int = 0

    def __post_init__(self) -> None:
        for name, program in self.programs.items():
            self.states[name] = program.initial()
            self.outputs[name] = []
            self._push(0, name, Start(0))

    def _push(self, at_ms: int, to: str, event: Input) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at_ms, self._seq, to, event))

    def submit(self, to: str, tx: bytes) -> None:
        """Hand `tx` to validator `to` now."""
        self._push(self.now_ms, to, ClientTx(self.now_ms, tx))

    def _route(self, name: str, effects: tuple[Any, ...]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                targets = [effect.to]
            elif isinstance(effect, Broadcast):
                targets = [other for other in self.programs if other != name]
            elif isinstance(effect, SetTimer):
                self._timers[(name, effect.key)] = effect.at_ms
                self._push(effect.at_ms, name, TimerFired(effect.at_ms, effect.key))
                continue
            else:
                self.outputs[name].append(effect)
                continue
            message = effect.message
            for to in targets:
                if to in self.programs and not self.blocked(name, to, message):
                    at = self.now_ms + self.latency_ms
                    self._push(at, to, Deliver(at, name, message))

    def run_until(self, end_ms: int, max_steps: int = 1_000_000) -> None:
        """Process every input due before `end_ms` (at most `max_steps`)."""
        steps = 0
        while self._queue and self._queue[0][0] < end_ms and steps < max_steps:
            at, _, to, event = heapq.heappop(self._queue)
            if isinstance(event, TimerFired) and self._timers.get((to, event.key)) != at:
                continue  # superseded by a later SetTimer of the same key
            self.now_ms = at
            state, effects = self.programs[to].step(self.states[to], event)
            self.states[to] = state
            self._route(to, effects)
            steps += 1
        self.now_ms = max(self.now_ms, end_ms)
