"""A deterministic, single-process simulation of the whole protocol through `chain.apply`.

Clients, honest and lazy workers, verifiers, validators and liquidity providers act around one
pure chain; a sequencer seals blocks, each with a beacon derived from the seed. Workers and
verifiers run the real models of `aci_ref.poai.workloads`. Everything random comes from one
`random.Random(seed)` in this driver, never from the core, so a seed reproduces a run exactly.

Adversaries (§6.1): lazy workers skip a fraction of their jobs and return a random, cached or
cheap output under a genuine attestation signed with their extracted enclave key (the TEE attacker:
only Level 2 can catch them); careless workers also skip, but claim impossible metrics (Level 1
refuses their results and a validator reports them); Sybil identities register several workers on
one platform (caught at registration).
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from aci_ref.chain import (
    Account,
    Assigned,
    ChainState,
    DisputeOpened,
    Effect,
    Genesis,
    ModelInfo,
    Refunded,
    Sampled,
    Settled,
    Slashed,
    apply,
    genesis,
)
from aci_ref.chain.invariants import check_chain
from aci_ref.chain.jobs import expected_job
from aci_ref.crypto import KeyPair, sha256
from aci_ref.economics.ledger import Role, held_total
from aci_ref.economics.slashing import Violation
from aci_ref.errors import InvariantViolation, RejectedError, Rejection
from aci_ref.events import (
    AcceptQuote,
    Bond,
    CastVote,
    DepositLiquidity,
    Event,
    RegisterWorker,
    ReportInvalidAttestation,
    RequestQuote,
    SealBlock,
    SignedEvent,
    SubmitResult,
    job_id_of,
    sign_event,
)
from aci_ref.market.jobs import sla_bounds
from aci_ref.params import Params, default_params
from aci_ref.poai.attestation import Attestation, Metrics, honest_metrics, sign_attestation
from aci_ref.poai.matching import seed_from_job
from aci_ref.poai.profiles import HARDWARE_CLASSES
from aci_ref.poai.tee import (
    WORKER_PROGRAM,
    Enclave,
    TrustAnchors,
    measurement_of,
    provision_enclave,
    register_worker,
)
from aci_ref.poai.verification import min_duration_ms, verify_job
from aci_ref.poai.votes import sign_vote
from aci_ref.poai.workloads import LAZY_MODES, VARIANTS, Workload, get_workload, lazy_output

RESOURCE_CLASS = "cpu-small"
MODEL_UNITS = {"mlp-64-128-16": 1, "charlm-d32-l2": 2}
TRAILING_BLOCKS = 4  # after the last job: results settle, votes close, deadlines pass


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate; every field has a default that runs in seconds."""

    jobs: int = 2000
    workers: int = 8
    lazy_workers: int = 2
    lazy_fraction: Fraction = Fraction(1, 10)
    careless_workers: int = 1
    sybil_workers: int = 0
    clients: int = 8
    verifiers: int = 5
    validators: int = 4
    lps: int = 2
    epochs: int = 10
    jobs_per_block: int = 25
    lm_share: Fraction = Fraction(1, 5)
    worker_capacity: int = 16
    worker_throughput: int = 8
    seed: int = 0
    params: Params = field(default_factory=default_params)


@dataclass(slots=True)
class Actor:
    name: str
    key: KeyPair
    nonce: int = 0

    def sign(self, body: Event) -> SignedEvent:
        self.nonce += 1
        return sign_event(self.key, self.name, self.nonce, body)


@dataclass(slots=True)
class WorkerActor:
    actor: Actor
    enclave: Enclave
    behaviour: str  # honest | lazy | careless | sybil


@dataclass(slots=True)
class Tally:
    """Counters the report is built from."""

    submitted: int = 0
    rejected_requests: Counter[str] = field(default_factory=Counter)
    refused_events: Counter[str] = field(default_factory=Counter)
    settled: int = 0
    disputed: int = 0
    timed_out: int = 0
    refunded: int = 0
    sampled: int = 0
    lazy_jobs: int = 0
    lazy_caught: set[str] = field(default_factory=set)
    false_positives: int = 0
    honest_disputed: int = 0
    detected: Counter[str] = field(default_factory=Counter)
    slashed_count: Counter[str] = field(default_factory=Counter)
    slashed_amount: Counter[str] = field(default_factory=Counter)
    fees: Counter[str] = field(default_factory=Counter)
    compute_flops: int = 0
    reexecuted_flops: int = 0
    caught_workers: set[str] = field(default_factory=set)


def _reference(workload: Workload, data: bytes, seed: int, variant: str, claimed: bytes) -> bytes:
    """A verifier's re-execution on its own hardware variant (Algorithm 2 line 8)."""
    return workload.reference_output(data, seed, claimed, variant=variant)


class Simulation:
    """Drives one run; `run()` returns the report as a JSON-able dict."""

    def __init__(self, config: SimConfig, progress: Callable[[int, int], None] | None = None):
        self.config = config
        self.params = config.params
        self.rng = random.Random(config.seed)
        self.progress = progress
        self.tally = Tally()
        self.attested: dict[str, Attestation] = {}
        self.workloads: dict[str, Workload] = {m: get_workload(m) for m in MODEL_UNITS}
        self.lazy_jobs: set[str] = set()
        label = f"sim/{config.seed}"
        self.vendor = KeyPair.from_label(f"{label}/vendor")
        self.sequencer = Actor("sequencer", KeyPair.from_label(f"{label}/sequencer"))
        self.clients = [
            Actor(f"client-{i:03}", KeyPair.from_label(f"{label}/client/{i}"))
            for i in range(config.clients)
        ]
        self.verifiers = {
            f"verifier-{i:02}": Actor(f"verifier-{i:02}", KeyPair.from_label(f"{label}/ver/{i}"))
            for i in range(config.verifiers)
        }
        self.validators = [
            Actor(f"validator-{i:02}", KeyPair.from_label(f"{label}/val/{i}"))
            for i in range(config.validators)
        ]
        self.lps = [
            Actor(f"lp-{i:02}", KeyPair.from_label(f"{label}/lp/{i}")) for i in range(config.lps)
        ]
        self.workers = self._make_workers(label)
        self.state = self._genesis()
        self.initial_supply = self.state.ledger.supply
        self.height = 0
        self.now_ms = 0
        self.block_ms = self._block_interval()

    # ---- set-up -----------------------------------------------------------------------------

    def _make_workers(self, label: str) -> dict[str, WorkerActor]:
        config = self.config
        behaviours = (
            ["lazy"] * config.lazy_workers
            + ["careless"] * config.careless_workers
            + ["honest"] * (config.workers - config.lazy_workers - config.careless_workers)
        )
        if len(behaviours) != config.workers or config.workers < 1:
            raise RejectedError(Rejection.BAD_INPUT, "more lazy and careless workers than workers")
        workers: dict[str, WorkerActor] = {}
        for i, behaviour in enumerate(behaviours):
            name = f"worker-{i:03}"
            platform = KeyPair.from_label(f"{label}/platform/{i}")
            enclave = provision_enclave(
                self.vendor, platform, KeyPair.from_label(f"{label}/enclave/{i}")
            )
            workers[name] = WorkerActor(
                Actor(name, KeyPair.from_label(f"{label}/w/{i}")), enclave, behaviour
            )
        shared = KeyPair.from_label(f"{label}/platform/sybil")
        for i in range(config.sybil_workers):
            name = f"sybil-{i:02}"
            enclave = provision_enclave(
                self.vendor, shared, KeyPair.from_label(f"{label}/enclave/sybil/{i}")
            )
            workers[name] = WorkerActor(
                Actor(name, KeyPair.from_label(f"{label}/s/{i}")), enclave, "sybil"
            )
        return workers

    def _genesis(self) -> ChainState:
        params = self.params
        accounts = [Account(self.sequencer.name, self.sequencer.key.public, 0)]
        accounts += [Account(c.name, c.key.public, params.tokens(1_000_000)) for c in self.clients]
        accounts += [
            Account(v.name, v.key.public, params.tokens(params.verifier_min_stake * 2))
            for v in self.verifiers.values()
        ]
        accounts += [
            Account(v.name, v.key.public, params.tokens(params.validator_min_stake * 2))
            for v in self.validators
        ]
        accounts += [
            Account(lp.name, lp.key.public, params.tokens(params.lp_min_stake * 10))
            for lp in self.lps
        ]
        worker_funds = params.tokens(
            2
            * max(
                params.worker_min_stake,
                self.config.worker_capacity * params.worker_stake_per_capacity_unit,
            )
        )
        accounts += [
            Account(w.actor.name, w.actor.key.public, worker_funds) for w in self.workers.values()
        ]
        models = tuple(
            ModelInfo(
                m, w.h_model, w.kind, RESOURCE_CLASS, MODEL_UNITS[m], w.profile(), w.input_rule()
            )
            for m, w in sorted(self.workloads.items())
        )
        anchors = TrustAnchors.of([self.vendor.public], [measurement_of(WORKER_PROGRAM)])
        config = Genesis(
            params, tuple(accounts), self.sequencer.name, anchors, models, (RESOURCE_CLASS,)
        )
        return genesis(config)

    def _block_interval(self) -> int:
        """Spread the run's blocks (bootstrap, jobs and the trailing ones) over its epochs."""
        blocks = max(1, -(-self.config.jobs // self.config.jobs_per_block)) + 1 + TRAILING_BLOCKS
        span = self.config.epochs * self.params.epoch_duration_ms
        interval = max(self.params.settlement_interval_ms, span // blocks)
        return min(interval, self.params.epoch_duration_ms)

    # ---- applying events ---------------------------------------------------------------------

    def submit(self, event: SignedEvent) -> tuple[Effect, ...] | None:
        """Apply one event; a refusal is counted and the sender's nonce is given back."""
        try:
            self.state, effects = apply(self.state, event)
        except RejectedError as refused:
            self.tally.refused_events[refused.rejection.value] += 1
            self._actor(event.sender).nonce -= 1
            return None
        self._observe(effects)
        return effects

    def _actor(self, name: str) -> Actor:
        if name in self.verifiers:
            return self.verifiers[name]
        if name in self.workers:
            return self.workers[name].actor
        for actor in (self.sequencer, *self.clients, *self.validators, *self.lps):
            if actor.name == name:
                return actor
        raise KeyError(name)

    def bootstrap(self) -> None:
        """Stake every role and open the pool's liquidity."""
        params = self.params
        for validator in self.validators:
            self.submit(
                validator.sign(Bond(Role.VALIDATOR, params.tokens(params.validator_min_stake)))
            )
        for verifier in self.verifiers.values():
            self.submit(
                verifier.sign(Bond(Role.VERIFIER, params.tokens(params.verifier_min_stake)))
            )
        for lp in self.lps:
            amount = params.tokens(params.lp_min_stake * 5)
            self.submit(lp.sign(DepositLiquidity(RESOURCE_CLASS, amount)))
        for worker in self.workers.values():
            registration = register_worker(worker.enclave, worker.actor.name)
            body = RegisterWorker(
                RESOURCE_CLASS,
                self.config.worker_capacity,
                self.config.worker_throughput,
                registration,
                stake=self.state.ledger.balances[worker.actor.name],
            )
            self.submit(worker.actor.sign(body))

    def seal(self) -> None:
        self.height += 1
        self.now_ms += self.block_ms
        beacon = sha256(f"sim/{self.config.seed}/beacon/{self.height}".encode())
        effects = self.submit(self.sequencer.sign(SealBlock(self.height, self.now_ms, beacon)))
        if effects is None:
            raise RuntimeError("the sequencer's block was refused")
        self._follow_up(effects)

    # ---- actors at work ---------------------------------------------------------------------

    def run_job(self, index: int) -> None:
        client = self.clients[index % len(self.clients)]
        model_id = "charlm-d32-l2" if self.rng.random() < self.config.lm_share else "mlp-64-128-16"
        workload = self.workloads[model_id]
        data = workload.make_input(self.rng.randrange(1 << 30))
        budget = self.params.tokens(1000)
        shortest, longest = sla_bounds(self.params)
        sla_ms = max(shortest, min(2 * self.block_ms, longest))
        self.tally.submitted += 1
        effects = self.submit(client.sign(RequestQuote(model_id, data, sla_ms, budget)))
        if effects is None:
            self.tally.rejected_requests["quote"] += 1
            return
        job_id = job_id_of(client.name, client.nonce)
        quoted = effects[0]
        price = getattr(quoted, "price", 0)
        effects = self.submit(client.sign(AcceptQuote(job_id, price + price // 100)))
        if effects is None:
            self.tally.rejected_requests["accept"] += 1
            return
        assigned = next(e for e in effects if isinstance(e, Assigned))
        self._execute(assigned, workload, data)

    def _execute(self, assigned: Assigned, workload: Workload, data: bytes) -> None:
        worker = self.workers[assigned.worker]
        seed = seed_from_job(assigned.job_id)
        profile = workload.profile()
        metrics = honest_metrics(profile)
        duration = min_duration_ms(profile.flops_per_input, HARDWARE_CLASSES[RESOURCE_CLASS]) + 1
        skip = (
            worker.behaviour in ("lazy", "careless")
            and self.rng.random() < self.config.lazy_fraction
        )
        if skip:
            mode = LAZY_MODES[self.rng.randrange(len(LAZY_MODES))]
            output = lazy_output(workload, data, mode, seed)
            self.lazy_jobs.add(assigned.job_id.hex())
            self.tally.lazy_jobs += 1
            if worker.behaviour == "careless":
                metrics = Metrics(0, 0, 0)  # claims it needed no compute at all
                duration = 0
        else:
            output = workload.run(data, seed)
        self.tally.compute_flops += profile.flops_per_input
        attestation = sign_attestation(
            worker.enclave,
            job_id=assigned.job_id,
            h_input=sha256(data),
            h_output=sha256(output),
            h_model=workload.h_model,
            t_start_ms=assigned.started_ms,
            duration_ms=duration,
            metrics=metrics,
        )
        submission = worker.actor.sign(SubmitResult(assigned.job_id, output, attestation))
        self.attested[assigned.job_id.hex()] = attestation
        if self.submit(submission) is None and self.validators:
            # A validator saw a signed result fail Level 1: that is evidence.
            reporter = self.validators[self.height % len(self.validators)]
            self.submit(reporter.sign(ReportInvalidAttestation(submission)))

    def _follow_up(self, effects: tuple[Effect, ...]) -> None:
        for effect in effects:
            if isinstance(effect, Sampled):
                self._vote(effect.job_id, effect.committee)
            elif isinstance(effect, DisputeOpened):
                self._vote(effect.job_id, effect.arbiters)

    def _vote(self, job_id: bytes, members: tuple[str, ...]) -> None:
        """Committee members re-execute (each on its own 'hardware' variant) and vote."""
        for position, member in enumerate(members):
            job = self.state.jobs.get(job_id.hex())
            if job is None or job.final:
                return
            workload = self.workloads[job.spec.model_id]
            variant = VARIANTS[(position + self.height) % len(VARIANTS)]
            reexecute = functools.partial(
                _reference, workload, job.spec.input, seed_from_job(job_id), variant
            )

            # Each verifier runs Algorithm 2 itself: Level 1, then the re-execution.
            verdict = verify_job(
                self.params,
                self.state.anchors,
                expected_job(self.state, job),
                self.attested[job_id.hex()],
                job.output,
                workload.profile(),
                HARDWARE_CLASSES[job.resource_class],
                workload.kind,
                job.beacon,
                reexecute,
            )
            if verdict.reexecuted:
                self.tally.reexecuted_flops += workload.profile().flops_per_input
            reason = verdict.reason
            verifier = self.verifiers[member]
            vote = sign_vote(verifier.key, job_id, member, verdict.accept, reason)
            effects = self.submit(verifier.sign(CastVote(vote)))
            if effects:
                self._follow_up(effects)

    # ---- observing effects ------------------------------------------------------------------

    def _observe(self, effects: tuple[Effect, ...]) -> None:
        tally = self.tally
        for effect in effects:
            if isinstance(effect, Settled):
                tally.settled += 1
                for part in ("worker", "validators", "verifiers", "lps"):
                    tally.fees[part] += getattr(effect.split, part)
                tally.fees["burned"] += effect.split.burned
            elif isinstance(effect, Sampled):
                tally.sampled += 1
            elif isinstance(effect, DisputeOpened):
                tally.disputed += 1
                if effect.job_id.hex() not in self.lazy_jobs:
                    tally.honest_disputed += 1
            elif isinstance(effect, Refunded):
                tally.refunded += 1
                if effect.why == "timed_out":
                    tally.timed_out += 1
            elif isinstance(effect, Slashed):
                self._observe_slash(effect)

    def _observe_slash(self, effect: Slashed) -> None:
        tally = self.tally
        violation = effect.violation.value
        tally.slashed_count[violation] += 1
        tally.slashed_amount[violation] += effect.record.amount
        offender = effect.record.offender
        honest = offender in self.workers and self.workers[offender].behaviour == "honest"
        if honest and effect.violation is not Violation.LOW_QUALITY:
            tally.false_positives += 1
        if effect.violation is Violation.FALSE_ACCUSATION:
            return
        if effect.violation is Violation.SYBIL:
            tally.detected["sybil"] += 1
        elif effect.level:
            tally.detected[f"level{effect.level}"] += 1
        if effect.job_id and effect.job_id.hex() in self.lazy_jobs:
            tally.lazy_caught.add(effect.job_id.hex())
        if offender in self.workers and self.workers[offender].behaviour != "honest":
            tally.caught_workers.add(offender)

    # ---- the whole run ----------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.bootstrap()
        self.seal()
        done = 0
        while done < self.config.jobs:
            batch = min(self.config.jobs_per_block, self.config.jobs - done)
            for _ in range(batch):
                self.run_job(done)
                done += 1
            self.seal()
            if self.progress is not None:
                self.progress(done, self.config.jobs)
        # Let the last results settle and deadlines pass, then close the final epoch.
        for _ in range(TRAILING_BLOCKS):
            self.seal()
        return self.report()

    def _invariants_hold(self) -> bool:
        """Every chain invariant, recomputed from scratch on the final state."""
        try:
            check_chain(self.state)
        except InvariantViolation:
            return False
        return True

    def report(self) -> dict[str, Any]:
        tally, state = self.tally, self.state
        ledger = state.ledger
        lazy_workers = {n for n, w in self.workers.items() if w.behaviour != "honest"}
        return {
            "jobs_submitted": tally.submitted,
            "jobs_settled": tally.settled,
            "jobs_disputed": tally.disputed,
            "jobs_timed_out": tally.timed_out,
            "jobs_refunded": tally.refunded,
            "jobs_refused": dict(sorted(tally.rejected_requests.items())),
            "refused_events": dict(sorted(tally.refused_events.items())),
            "sampled": tally.sampled,
            "detected": {
                "level1": tally.detected["level1"],
                "level2": tally.detected["level2"],
                "level3": tally.detected["level3"],
                "sybil": tally.detected["sybil"],
                "lazy_jobs": tally.lazy_jobs,
                "lazy_jobs_caught": len(tally.lazy_caught),
                "misbehaving_workers": len(lazy_workers),
                "misbehaving_workers_caught": len(tally.caught_workers),
            },
            "slashed": {
                v.value: {
                    "count": tally.slashed_count[v.value],
                    "amount": tally.slashed_amount[v.value],
                }
                for v in Violation
            },
            "false_positives": tally.false_positives,
            "honest_jobs_disputed": tally.honest_disputed,
            "fees": {
                k: tally.fees[k] for k in ("worker", "validators", "verifiers", "lps", "burned")
            },
            "supply": {
                "initial": self.initial_supply,
                "final": ledger.supply,
                "burned": ledger.burned,
                "circulating": ledger.supply - ledger.burned,
            },
            "conservation_ok": held_total(ledger) == ledger.supply == self.initial_supply,
            "invariants_ok": self._invariants_hold(),
            "verification_overhead": (
                tally.reexecuted_flops / tally.compute_flops if tally.compute_flops else 0.0
            ),
            "blocks": state.height,
            "epochs_closed": state.epoch,
            "config": {
                "jobs": self.config.jobs,
                "workers": self.config.workers,
                "lazy_workers": self.config.lazy_workers,
                "careless_workers": self.config.careless_workers,
                "sybil_workers": self.config.sybil_workers,
                "lazy_fraction": float(self.config.lazy_fraction),
                "sampling_rate": float(self.params.sampling_rate),
                "epochs": self.config.epochs,
                "seed": self.config.seed,
            },
        }


def simulate(
    config: SimConfig, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Run one simulation and return its report."""
    return Simulation(config, progress).run()


__all__ = ["SimConfig", "Simulation", "simulate"]
