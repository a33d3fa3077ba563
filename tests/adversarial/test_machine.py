"""Hypothesis state machines over four validators, one of them Byzantine: the rules deliver, drop,
duplicate and delay messages one by one, fire timers, crash and restart nodes (the Byzantine one
may come back with amnesia), hand out client transactions and inject junk, far-future and badly
signed messages; the checker runs after every step and raises at the first violation.

At teardown the network heals: every node comes back, every message flows with a fixed latency,
and every honest validator must then produce something new within a bound (on the fast path; on
the settlement path this found a pacemaker bug, pinned in test_adversaries.py, so there only
safety is asked for until it is fixed). The random phase is
kept short enough (in virtual time) that no honest node falls further behind than the protocol
can catch up from (`max_round_lead` and `gc_depth_rounds`: see the xfailed test in
test_adversaries.py for what happens beyond).
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from typing import Any, ClassVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from aci_ref.consensus.io import (
    Broadcast,
    ClientTx,
    Deliver,
    Effects,
    Input,
    Program,
    Send,
    SetTimer,
    Start,
    TimerFired,
)
from aci_ref.consensus.transactions import Track
from aci_ref.params import Params
from aci_ref.sim.byzantine import ADVERSARIES, Identity, junk, make_byzantine, message_round
from aci_ref.sim.safety import Progress, SafetyChecker
from tests.adversarial.harness import (
    EXAMPLES,
    PARAMS,
    committee_of,
    dag_machine,
    hides_exception,
    hotstuff_machine,
    key_of,
)

COMMITTEE = committee_of(4)
HONEST = ("v1", "v2", "v3")
BYZANTINE = "v4"
LATENCY_MS = 10
RAN: dict[str, int] = {"dag": 0, "hotstuff": 0}
"""Examples run per machine, for the scenario count."""


class ConsensusMachine(RuleBasedStateMachine):
    """The shared rules; a subclass names the protocol, its machines and its time scale."""

    protocol: ClassVar[str]
    heal_liveness: ClassVar[bool]
    steps: ClassVar[int]
    max_tick_ms: ClassVar[int]
    heal_ms: ClassVar[int]
    params: ClassVar[Params]

    def make(self, name: str) -> Program[Any]:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.checker = SafetyChecker(COMMITTEE, HONEST, raise_on_violation=True)
        self.programs: dict[str, Program[Any]] = {}
        self.states: dict[str, Any] = {}
        self.up: dict[str, bool] = {}
        self.flight: list[tuple[str, str, Any]] = []  # (to, from, message)
        self.timers: dict[tuple[str, str], int] = {}
        self.txs = 0

    @initialize(kind=st.sampled_from(sorted(ADVERSARIES)), seed=st.integers(0, 2**16))
    def start(self, kind: str, seed: int) -> None:
        for name in COMMITTEE.names:
            program = self.make(name)
            if name == BYZANTINE:
                me = Identity(COMMITTEE, name, key_of(name), self.params, seed)
                program = make_byzantine(kind, program, me)
            self.programs[name] = program
            self.states[name] = program.initial()
            self.up[name] = True
            self.step(name, Start(0))

    # ---- the world -------------------------------------------------------------------------

    def step(self, name: str, event: Input) -> None:
        state, effects = self.programs[name].step(self.states[name], event)
        self.states[name] = state
        self.route(name, effects)
        self.checker.after_step(self.now, name, state, effects)
        if name in HONEST:
            hidden = [e.detail for e in effects if hides_exception(e)]
            assert not hidden, hidden

    def route(self, name: str, effects: Effects) -> None:
        for effect in effects:
            if type(effect) is Send:
                self.flight.append((effect.to, name, effect.message))
            elif type(effect) is Broadcast:
                self.flight += [(o, name, effect.message) for o in COMMITTEE.names if o != name]
            elif type(effect) is SetTimer:
                self.timers[(name, effect.key)] = effect.at_ms

    # ---- rules -------------------------------------------------------------------------------

    @rule(pick=st.integers(0, 2**16), count=st.integers(1, 64))
    def deliver(self, pick: int, count: int) -> None:
        """Deliver `count` messages, each chosen from what is in flight by a walk from `pick`."""
        for turn in range(count):
            if not self.flight:
                return
            index = (pick + turn * 7919) % len(self.flight)
            to, sender, message = self.flight.pop(index)
            if self.up.get(to):
                self.step(to, Deliver(self.now, sender, message))

    @rule()
    def flush(self) -> None:
        """A timely moment: everything now in flight arrives, in the order it was sent."""
        flight, self.flight = self.flight, []
        for to, sender, message in flight:
            if self.up.get(to):
                self.step(to, Deliver(self.now, sender, message))

    @rule(pick=st.integers(0, 2**16))
    def drop(self, pick: int) -> None:
        if self.flight:
            self.flight.pop(pick % len(self.flight))

    @rule(pick=st.integers(0, 2**16))
    def duplicate(self, pick: int) -> None:
        if self.flight:
            self.flight.append(self.flight[pick % len(self.flight)])

    @rule(pick=st.integers(0, 2**16))
    def delay(self, pick: int) -> None:
        if self.flight:
            self.flight.append(self.flight.pop(pick % len(self.flight)))

    @rule(ms=st.integers(1, 10**6))
    def tick(self, ms: int) -> None:
        self.advance(self.now + 1 + ms % self.max_tick_ms)

    def advance(self, until: int) -> None:
        """Move the clock to `until`, firing every timer that falls due, in time order."""
        while True:
            due = sorted((at, key) for key, at in self.timers.items() if at <= until)
            if not due:
                break
            at, (name, key) = due[0]
            del self.timers[(name, key)]
            self.now = max(self.now, at)
            if self.up[name]:
                self.step(name, TimerFired(self.now, key))
        self.now = until

    @rule(name=st.sampled_from(COMMITTEE.names))
    def crash(self, name: str) -> None:
        self.up[name] = False
        self.timers = {k: at for k, at in self.timers.items() if k[0] != name}

    @rule(name=st.sampled_from(COMMITTEE.names), amnesia=st.booleans())
    def restart(self, name: str, amnesia: bool) -> None:
        if self.up[name]:
            return
        program = self.programs[name]
        forget = amnesia and name == BYZANTINE  # an honest node keeps its durable state
        self.states[name] = program.initial() if forget else program.recover(self.states[name])
        self.up[name] = True
        self.step(name, Start(self.now))

    @rule(name=st.sampled_from(COMMITTEE.names))
    def client_tx(self, name: str) -> None:
        self.txs += 1
        if self.up[name]:
            self.step(name, ClientTx(self.now, b"tx-%d" % self.txs))

    @rule(to=st.sampled_from(HONEST), turn=st.integers(0, 2**16))
    def inject(self, to: str, turn: int) -> None:
        """Junk, a far-future message or a bad signature, from the Byzantine validator."""
        me = Identity(COMMITTEE, BYZANTINE, key_of(BYZANTINE), self.params, turn)
        self.flight.append((to, BYZANTINE, junk(me, turn)))
        mine = [
            m
            for _, sender, m in self.flight
            if sender == BYZANTINE and message_round(m) is not None and hasattr(m, "signature")
        ]
        if mine:
            message = mine[turn % len(mine)]
            bad = replace(message, signature=bytes(64))
            self.flight.append((to, BYZANTINE, bad))
            if hasattr(message, "view"):
                self.flight.append((to, BYZANTINE, replace(message, view=message.view + 10**4)))
            elif hasattr(message, "round"):
                self.flight.append((to, BYZANTINE, replace(message, round=message.round + 10**4)))

    @invariant()
    def safe(self) -> None:
        assert self.checker.report().ok  # (the checker raises first; this says it in the open)

    # ---- healing -----------------------------------------------------------------------------

    def teardown(self) -> None:
        if not self.programs:
            return
        RAN[self.protocol] += 1
        for name in COMMITTEE.names:
            self.restart(name, amnesia=False)
        healed = self.now
        queue: list[tuple[int, int, str, str, Any]] = []
        for seq, (to, sender, message) in enumerate(self.flight):
            heapq.heappush(queue, (self.now + LATENCY_MS, seq, to, sender, message))
        seq = len(self.flight)
        self.flight = []
        end = healed + self.heal_ms
        while self.now < end and not self.progressed_since(healed):
            next_timer = min(self.timers.values(), default=end)
            if queue and queue[0][0] <= next_timer:
                at, _, to, sender, message = heapq.heappop(queue)
                self.advance(at)
                self.step(to, Deliver(self.now, sender, message))
            else:
                self.advance(min(next_timer, end))
            for to, sender, message in self.flight:
                seq += 1
                heapq.heappush(queue, (self.now + LATENCY_MS, seq, to, sender, message))
            self.flight = []
        goal = Progress(healed, self.heal_ms, (self.track,))
        report = self.checker.report(goal if self.heal_liveness else None)
        assert report.ok, report.summary()

    @property
    def track(self) -> Track:
        return Track.FAST if self.protocol == "dag" else Track.SETTLEMENT

    def progressed_since(self, healed: int) -> bool:
        """Has every honest validator produced something since the heal? (Then stop early.)"""
        read = self.checker.commits if self.protocol == "dag" else self.checker.decisions
        return all(read(name) and read(name)[-1][0] >= healed for name in HONEST)


class DagMachine(ConsensusMachine):
    protocol = "dag"
    heal_liveness = True
    steps = 100
    max_tick_ms = 30  # 100 steps stay within 3 s: fewer than max_round_lead rounds
    heal_ms = 1_500
    params = PARAMS

    def make(self, name: str) -> Program[Any]:
        return dag_machine(COMMITTEE, name, self.params)


class HotStuffMachine(ConsensusMachine):
    protocol = "hotstuff"
    # This machine found restarts that left two pairs in adjacent views forever; that is fixed
    # (pacemaker.sync_view, E86; pinned in test_adversaries.py). The deep profile still finds a
    # schedule (crashes and a Byzantine replica) after which no honest replica decides within
    # 300 s of the heal: an open liveness bug, so heal liveness stays off here and only safety
    # is checked.
    heal_liveness = False
    steps = 50
    max_tick_ms = 2_000  # 50 steps stay within 100 s: fewer than max_round_lead views
    heal_ms = 300_000  # failed views double their timeout: the first whole view may come late
    params = PARAMS

    def make(self, name: str) -> Program[Any]:
        return hotstuff_machine(COMMITTEE, name, self.params)


def run(machine: type[ConsensusMachine]) -> None:
    before = RAN[machine.protocol]
    run_state_machine_as_test(machine, settings=settings(stateful_step_count=machine.steps))
    assert RAN[machine.protocol] - before >= EXAMPLES


def test_the_fast_path_under_random_schedules_and_an_adversary() -> None:
    run(DagMachine)


def test_the_settlement_path_under_random_schedules_and_an_adversary() -> None:
    run(HotStuffMachine)
