"""A deterministic network of pure consensus machines on a virtual clock (the only I/O layer).

Each node is an address ("v1", or "v1'" for a twin) running one validator name; two addresses may
run the same name and key (Twins). The simulator moves messages, fires timers, feeds client
transactions and records every input it delivers; the faults it injects come from a frozen,
declarative `Faults` description and one `random.Random(seed)`, so a seed (or an explicit jitter
schedule) reproduces a run exactly, which `Network.trace_digest` proves.

One heap of events ordered by (virtual time, sequence) carries everything, so a flood costs
O(log queue) per message and ties break in the order events were created. A broadcast hands the
same message object to every receiver; its trace digest is computed once per send. The scenario
and result types are in `scenario` (re-exported here).
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable, Mapping
from typing import Any

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
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError
from aci_ref.sim.faults import group_index
from aci_ref.sim.scenario import (
    DROP_CAUSES,
    AfterStep,
    ClientTxAt,
    Counters,
    Observer,
    RunResult,
    Scenario,
)

__all__ = [
    "DROP_CAUSES",
    "AfterStep",
    "ClientTxAt",
    "Counters",
    "Network",
    "Observer",
    "RunResult",
    "Scenario",
    "simulate",
]


# Event kinds, in the heap as small ints (tuples compare by (time, sequence) first: never further).
_START, _DELIVER, _TIMER, _CLIENT, _CRASH, _RESTART = range(6)


def _message_digest(message: Any) -> bytes:
    """What the trace records of a message: the hash of its canonical bytes.

    A message outside the canonical encoding is recorded by its type and repr, which is
    deterministic only if its repr is (the protocol's messages are all encodable).
    """
    try:
        data = canonical_bytes(message)
    except RejectedError:
        data = f"{type(message).__qualname__}:{message!r}".encode()
    return hashlib.sha256(data).digest()


class Network:
    """Run `programs` (address -> Program) through `scenario`; see the module docstring.

    `message_round(message)` names the round/view a message belongs to for the round partitions
    (None: never cut). `observe` and `after_step` are the caller's hooks, e.g. an invariant
    checker; they must not feed anything back for the run to stay deterministic. With
    `digest=False` nothing is hashed (for benchmarks); `keep_trace` also keeps every record.
    """

    def __init__(
        self,
        programs: Mapping[str, Program[Any]],
        scenario: Scenario,
        *,
        message_round: Callable[[Any], int | None] | None = None,
        observe: Observer | None = None,
        after_step: AfterStep | None = None,
        digest: bool = True,
        keep_trace: bool = False,
    ) -> None:
        faults = scenario.faults
        self.programs = dict(sorted(programs.items()))
        self.scenario = scenario
        self.now_ms = 0
        self.steps = 0
        self.states: dict[str, Any] = {}
        self.outputs: dict[str, list[tuple[int, Any]]] = {a: [] for a in self.programs}
        self.trace: list[bytes] | None = [] if keep_trace else None
        self._digest = digest or keep_trace
        self._message_round = message_round
        self._observe = observe
        self._after_step = after_step
        self._rng = random.Random(scenario.seed)
        self._hasher = hashlib.sha256()
        self._queue: list[tuple[Any, ...]] = []
        self._seq = 0
        self._jitter_turn = 0
        named = dict(scenario.nodes)
        self._name = {a: named.get(a, a) for a in self.programs}
        by_name: dict[str, list[str]] = {}
        for address, name in self._name.items():
            by_name.setdefault(name, []).append(address)
        self._addresses = {name: tuple(group) for name, group in by_name.items()}
        self._others = {a: tuple(b for b in self.programs if b != a) for a in self.programs}
        self._skew = {a: 0 for a in self.programs} | dict(faults.skew_ms)
        self._links = {(x.sender, x.receiver): (x.base_ms, x.jitter_ms) for x in faults.links}
        self._windows = [(w, group_index(w.groups)) for w in faults.partitions]
        self._rounds = {p.round: group_index(p.groups) for p in faults.round_partitions}
        self._up = {a: True for a in self.programs}
        self._timers: dict[str, dict[str, int]] = {a: {} for a in self.programs}
        self._sent = self._delivered = self._duplicated = self._held = self._lost_txs = 0
        self._dropped = dict.fromkeys(DROP_CAUSES, 0)
        for address, program in self.programs.items():
            self.states[address] = program.initial()
            self._push(0, _START, address, None, None)
        for crash in sorted(faults.crashes, key=lambda c: (c.at_ms, c.address)):
            self._push(crash.at_ms, _CRASH, crash.address, None, None)
            if crash.restart_ms is not None:
                self._push(crash.restart_ms, _RESTART, crash.address, crash.amnesia, None)
        for item in scenario.client_txs:
            self._push(item.at_ms, _CLIENT, item.address, item.tx, None)

    # ---- queue ---------------------------------------------------------------------------------

    def _push(self, at_ms: int, kind: int, address: str, a: Any, b: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at_ms, self._seq, kind, address, a, b))

    def submit(self, address: str, tx: bytes, at_ms: int | None = None) -> None:
        """Hand `tx` to `address` at virtual time `at_ms` (default: now)."""
        self._push(
            self.now_ms if at_ms is None else max(at_ms, self.now_ms), _CLIENT, address, tx, None
        )

    def local_time(self, address: str) -> int:
        """The local clock of `address` now: virtual time plus its skew."""
        return self.now_ms + self._skew[address]

    # ---- routing -------------------------------------------------------------------------------

    def _latency(self, sender: str, receiver: str) -> int:
        faults = self.scenario.faults
        base, jitter = self._links.get(
            (sender, receiver), (faults.base_latency_ms, faults.jitter_ms)
        )
        if faults.jitter_schedule:
            schedule = faults.jitter_schedule
            extra = schedule[self._jitter_turn % len(schedule)]
            self._jitter_turn += 1
        else:
            extra = self._rng.randint(0, jitter) if jitter > 0 else 0
        for window in faults.delays:
            if (
                window.start_ms <= self.now_ms < window.end_ms
                and (not window.senders or sender in window.senders)
                and (not window.receivers or receiver in window.receivers)
            ):
                extra += window.extra_ms
        return max(0, base + extra)

    def _transmit(self, sender: str, targets: tuple[str, ...], message: Any) -> None:
        """Put `message` from `sender` on the wire to each address of `targets`, with faults."""
        faults = self.scenario.faults
        now = self.now_ms
        name = self._name[sender]
        digest = _message_digest(message) if self._digest else b""
        cut: dict[str, int] | None = None
        if self._rounds and self._message_round is not None:
            number = self._message_round(message)
            cut = self._rounds.get(number) if number is not None else None
        windows = [w for w in self._windows if w[0].start_ms <= now < w[0].end_ms]
        drop_p, dup_p = faults.drop_probability, faults.duplicate_probability
        limit = self.scenario.max_in_flight
        for receiver in targets:
            self._sent += 1
            if receiver not in self._up:
                self._dropped["unknown"] += 1
                continue
            if cut is not None and cut.get(sender, sender) != cut.get(receiver, receiver):
                self._dropped["round"] += 1
                continue
            release = now
            blocked = False
            for window, index in windows:
                if index.get(sender, sender) != index.get(receiver, receiver):
                    if not window.hold:
                        blocked = True
                        break
                    release = max(release, window.end_ms)
            if blocked:
                self._dropped["partition"] += 1
                continue
            if drop_p > 0 and self._rng.random() < drop_p:
                self._dropped["random"] += 1
                continue
            copies = 2 if dup_p > 0 and self._rng.random() < dup_p else 1
            if release > now:
                self._held += 1
            for copy in range(copies):
                if len(self._queue) >= limit:
                    self._dropped["overflow"] += 1
                    continue
                self._duplicated += copy
                at = release + self._latency(sender, receiver)
                self._push(at, _DELIVER, receiver, (name, message), digest)

    def _route(self, address: str, effects: Effects) -> None:
        for effect in effects:
            kind = type(effect)
            if kind is Broadcast:
                self._transmit(address, self._others[address], effect.message)
            elif kind is Send:
                targets = self._addresses.get(effect.to, ())
                if not targets:
                    self._sent += 1
                    self._dropped["unknown"] += 1
                    continue
                self._transmit(address, targets, effect.message)
            elif kind is SetTimer:
                # Timers are set in local time; the queue runs on virtual time.
                at = max(self.now_ms, effect.at_ms - self._skew[address])
                self._seq += 1
                self._timers[address][effect.key] = self._seq
                heapq.heappush(self._queue, (at, self._seq, _TIMER, address, effect.key, None))
            else:
                self.outputs[address].append((self.now_ms, effect))
                if self._observe is not None:
                    self._observe(self.now_ms, address, effect)

    # ---- running -------------------------------------------------------------------------------

    def _record(self, record: tuple[Any, ...]) -> None:
        if not self._digest:
            return
        data = canonical_bytes(record)
        self._hasher.update(data)
        if self.trace is not None:
            self.trace.append(data)

    def _step(self, address: str, event: Input) -> None:
        state, effects = self.programs[address].step(self.states[address], event)
        self.states[address] = state
        self.steps += 1
        self._route(address, effects)
        if self._after_step is not None:
            self._after_step(self.now_ms, address, state, effects)

    def _handle(self, kind: int, address: str, a: Any, b: Any, seq: int) -> bool:
        """Process one event; False when it was void (no step taken)."""
        now = self.now_ms
        up = self._up.get(address)
        if kind == _DELIVER:
            if not up:
                self._dropped["down" if up is not None else "unknown"] += 1
                return False
            local = now + self._skew[address]
            sender, message = a
            self._delivered += 1
            self._record((now, address, kind, local, sender, b))
            self._step(address, Deliver(local, sender, message))
        elif kind == _TIMER:
            if not up or self._timers[address].get(a) != seq:
                return False  # superseded by a later SetTimer of that key, or lost in a crash
            del self._timers[address][a]
            local = now + self._skew[address]
            self._record((now, address, kind, local, a))
            self._step(address, TimerFired(local, a))
        elif kind == _CLIENT:
            if not up:
                self._lost_txs += 1
                return False
            local = now + self._skew[address]
            self._record((now, address, kind, local, a))
            self._step(address, ClientTx(local, a))
        elif kind == _START:
            self._record((now, address, kind, now + self._skew[address]))
            self._step(address, Start(now + self._skew[address]))
        elif kind == _CRASH:
            if not up:
                return False
            self._up[address] = False
            self._timers[address] = {}
            self._record((now, address, kind))
        elif kind == _RESTART:
            if up is not False:
                return False
            program = self.programs[address]
            self._up[address] = True
            self.states[address] = program.initial() if a else program.recover(self.states[address])
            self._record((now, address, kind, bool(a), now + self._skew[address]))
            self._step(address, Start(now + self._skew[address]))
        return True

    def run(self, end_ms: int | None = None, max_steps: int | None = None) -> RunResult:
        """Process events due before `end_ms` until `max_steps` steps in all (defaults: the
        scenario's; at least one bound or an eventually empty queue is needed to stop)."""
        end = self.scenario.end_ms if end_ms is None else end_ms
        limit = self.scenario.max_steps if max_steps is None else max_steps
        queue = self._queue
        while queue and (end is None or queue[0][0] < end):
            if limit is not None and self.steps >= limit:
                break
            at, seq, kind, address, a, b = heapq.heappop(queue)
            self.now_ms = at
            self._handle(kind, address, a, b, seq)
        if end is not None and (limit is None or self.steps < limit):
            self.now_ms = max(self.now_ms, end)
        return self.result()

    def trace_digest(self) -> bytes:
        """SHA-256 over the canonical record of every input delivered so far (and crashes)."""
        return self._hasher.copy().digest()

    def counters(self) -> Counters:
        """The network's counters so far."""
        return Counters(
            sent=self._sent,
            delivered=self._delivered,
            duplicated=self._duplicated,
            held=self._held,
            dropped_by=dict(self._dropped),
            lost_client_txs=self._lost_txs,
        )

    def result(self) -> RunResult:
        """A snapshot of the run: outputs, final states, counters and trace digest."""
        return RunResult(
            now_ms=self.now_ms,
            steps=self.steps,
            outputs={a: tuple(items) for a, items in self.outputs.items()},
            states=dict(self.states),
            up=dict(self._up),
            counters=self.counters(),
            trace_digest=self.trace_digest(),
        )


def simulate(
    programs: Mapping[str, Program[Any]],
    scenario: Scenario,
    *,
    message_round: Callable[[Any], int | None] | None = None,
    observe: Observer | None = None,
    after_step: AfterStep | None = None,
) -> RunResult:
    """Run `scenario` to its end and return what it left."""
    network = Network(
        programs, scenario, message_round=message_round, observe=observe, after_step=after_step
    )
    return network.run()
