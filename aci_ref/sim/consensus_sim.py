"""The whole protocol with its events ordered by the validators instead of a sequencer.

The same actors as `simulate.Simulation` (clients, workers, verifiers, validators' stake, liquidity
providers) hand their signed events to a committee of `consensus_validators` machines
(`consensus.validator`) running in the deterministic network simulator; `byzantine` of them are
adversaries (`sim.byzantine`). The actors read the chain as one honest validator — the observer —
has executed it: an event "returns" when the observer executes it, and every block's effects are
followed up (sampled jobs re-executed and voted on) once the observer runs the block. Fast-path
events go to one honest validator; settlement events to every honest one, whose next leader
carries them.

Besides the simulator's report this reports the consensus figures (virtual time throughout):
fast-path rounds, settlement blocks, settled checkpoints, the safety checker's violations, whether
honest validators' state and checkpoint roots agree, the match latency (an `AcceptQuote` handed
over → the observer executes it) and the settlement finality (a settlement event handed over →
the block carrying it executes at the observer).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from aci_ref.chain import Effect
from aci_ref.consensus.execution import BlockExecuted, Executed, Refused
from aci_ref.consensus.transactions import Track, encode_transaction, track_of
from aci_ref.consensus.validator import ValidatorState
from aci_ref.crypto import sha256
from aci_ref.errors import InvariantViolation
from aci_ref.events import SignedEvent
from aci_ref.sim.byzantine import make_byzantine
from aci_ref.sim.byzantine_wrapper import Identity
from aci_ref.sim.cluster import Cluster, build_cluster
from aci_ref.sim.faults import Faults
from aci_ref.sim.network import Network
from aci_ref.sim.safety import check_run
from aci_ref.sim.safety_report import Property, Violation
from aci_ref.sim.scenario import Scenario
from aci_ref.sim.simulate import SimConfig, Simulation

SLICE_MS: Final = 50
"""How far the network runs between two looks at the observer's output."""
STALL_MS: Final = 120_000
"""Virtual time an event may wait for execution before the run counts as halted."""
TACTICS: Final = ("equivocator", "double-voter", "certificate-forger", "vote-withholder")
"""What the Byzantine validators do, in turn: equivocate, vote twice, forge, withhold."""
LATENCY_MS: Final = 20
JITTER_MS: Final = 10


@dataclass(frozen=True, slots=True)
class ConsensusSetup:
    """How many validators order the events, and how many of them are Byzantine."""

    validators: int = 4
    byzantine: int = 0


class ConsensusSimulation(Simulation):
    """`Simulation` whose events are ordered by the two consensus tracks (see the module)."""

    def __init__(
        self,
        config: SimConfig,
        setup: ConsensusSetup,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__(config, progress)
        self.setup = setup
        self.cluster: Cluster = build_cluster(
            self.state, self.params, setup.validators, label=f"sim/{config.seed}"
        )
        names = self.cluster.names
        self.faulty = names[len(names) - setup.byzantine :] if setup.byzantine else ()
        self.honest = tuple(n for n in names if n not in self.faulty)
        self.observer = self.honest[0]
        programs: dict[str, Any] = {}
        for index, name in enumerate(names):
            program: Any = self.cluster.program(name)
            if name in self.faulty:
                setup_of = self.cluster.configs[name]
                me = Identity(self.cluster.committee, name, setup_of.key, self.params, config.seed)
                program = make_byzantine(TACTICS[index % len(TACTICS)], program, me)
            programs[name] = program
        faults = Faults(base_latency_ms=LATENCY_MS, jitter_ms=JITTER_MS)
        self.net = Network(programs, Scenario(faults=faults, seed=config.seed), digest=False)
        self.cursor = 0
        self.waiting: dict[bytes, tuple[Track, int]] = {}
        self.results: dict[bytes, tuple[Effect, ...] | None] = {}
        self.blocks: list[BlockExecuted] = []
        self.match_latency: list[int] = []
        self.finality: list[int] = []
        self.batching = False

    def _block_interval(self) -> int:
        # Job deadlines are set from this: a result waits for a leader and a marker.
        return 4 * self.params.settlement_interval_ms

    # ---- moving events through the validators ------------------------------------------------

    def _observed(self) -> ValidatorState:
        state: ValidatorState = self.net.states[self.observer]
        return state

    def _scan(self) -> None:
        """Read what the observer executed since the last look."""
        output = self.net.outputs[self.observer]
        now = self.net.now_ms
        while self.cursor < len(output):
            _, effect = output[self.cursor]
            self.cursor += 1
            if isinstance(effect, Executed | Refused) and effect.digest in self.waiting:
                track, handed = self.waiting.pop(effect.digest)
                if isinstance(effect, Executed):
                    self.results[effect.digest] = effect.effects
                    latency = self.finality if track is Track.SETTLEMENT else self.match_latency
                    latency.append(now - handed)
                else:
                    self.results[effect.digest] = None
                    self.tally.refused_events[effect.reason.value] += 1
            elif isinstance(effect, BlockExecuted):
                self._observe(effect.effects)
                self.blocks.append(effect)
        chain = self._observed().execution.chain
        self.state, self.height, self.now_ms = chain, chain.height, chain.now_ms

    def _pump(self, done: Callable[[], bool]) -> None:
        start = self.net.now_ms
        while not done():
            if self.net.now_ms - start > STALL_MS:
                raise InvariantViolation(
                    f"consensus halted: nothing executed for {STALL_MS} ms of virtual time"
                )
            self.net.run(end_ms=self.net.now_ms + SLICE_MS)
            self._scan()

    def _hand_over(self, event: SignedEvent) -> bytes:
        tx = encode_transaction(event)
        digest = sha256(tx)
        track = track_of(event)
        assert track is not None, "the simulator never submits a block step"
        self.waiting[digest] = (track, self.net.now_ms)
        for address in (self.observer,) if track is Track.FAST else self.honest:
            self.net.submit(address, tx)
        return digest

    def submit(self, event: SignedEvent) -> tuple[Effect, ...] | None:
        """Hand `event` over and wait until the observer executes (or refuses) it."""
        digest = self._hand_over(event)
        if self.batching:
            return None
        self._pump(lambda: digest in self.results)
        effects = self.results.pop(digest)
        if effects is None:
            self._actor(event.sender).nonce -= 1
            return None
        self._observe(effects)
        return effects

    @contextmanager
    def _batch(self) -> Iterator[None]:
        """Events handed over inside run together; their outcomes are only counted."""
        self.batching = True
        try:
            yield
        finally:
            self.batching = False
        self._pump(lambda: not self.waiting)
        for effects in self.results.values():
            if effects is not None:
                self._observe(effects)
        self.results.clear()

    def bootstrap(self) -> None:
        """Every role's stake and the pool's liquidity, handed over at once."""
        with self._batch():
            super().bootstrap()

    def seal(self) -> None:
        """Wait for the next settlement block, then follow up every block not yet followed."""
        seen = len(self.blocks)
        self._pump(lambda: len(self.blocks) > seen)
        while self.blocks:
            block = self.blocks.pop(0)
            self._follow_up(block.effects)

    # ---- the report --------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        self._pump(lambda: not self.waiting)
        report = super().report()
        safety = check_run(self.net, self.cluster.committee, self.honest, roots_of=state_roots)
        observed = self._observed()
        report |= {
            "validators": self.setup.validators,
            "byzantine": self.setup.byzantine,
            "fast_path_rounds": observed.dag.last_committed_round,
            "settlement_blocks": observed.execution.block_height,
            "checkpoints": observed.execution.settled,
            "safety_violations": len(safety.violations),
            "state_roots_agree": not _roots_differ(safety.violations, "state root"),
            "checkpoint_roots_agree": not _roots_differ(safety.violations, "checkpoint"),
            "match_latency_ms": _percentiles(self.match_latency),
            "settlement_finality_ms": _percentiles(self.finality),
            "virtual_ms": self.net.now_ms,
        }
        return report


def state_roots(state: Any) -> dict[int, bytes]:
    """The state root a validator recorded at each of its checkpoints."""
    validator: ValidatorState = state.inner if hasattr(state, "inner") else state
    return {i: c.state_root for i, c in validator.execution.checkpoints.items()}


def _roots_differ(violations: tuple[Violation, ...], what: str) -> bool:
    return any(v.property is Property.ROOTS and v.detail.startswith(what) for v in violations)


def _percentiles(values: list[int]) -> dict[str, int]:
    if not values:
        return {"p50": 0, "p99": 0}
    if len(values) == 1:
        return {"p50": values[0], "p99": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(statistics.median(values)), "p99": round(cuts[98])}


def simulate_consensus(
    config: SimConfig,
    progress: Callable[[int, int], None] | None = None,
    *,
    setup: ConsensusSetup,
) -> dict[str, Any]:
    """Run one simulation with consensus and return its report."""
    return ConsensusSimulation(config, setup, progress).run()
