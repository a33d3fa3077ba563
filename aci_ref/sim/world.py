"""The actor harness: a small, deterministic world around `aci_ref.chain` (docs/scenarios.md).

Keys come from labels, so a world with the same arguments is the same world, byte for byte. A
world holds the current `ChainState`, every effect applied so far and the actors' secrets (their
keys, the workers' enclaves). Helpers sign events (each sender's next nonce is read from the
state, so a refused event never desynchronises a sender), apply them, build honest, lazy and
careless results, vote as committee members do, and run whole jobs.

Only the MLP workload is used: it runs in tens of microseconds.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fractions import Fraction
from typing import Final

from aci_ref.chain import (
    Account,
    Assigned,
    ChainState,
    Effect,
    Effects,
    Genesis,
    ModelInfo,
    apply,
    genesis,
)
from aci_ref.chain.probes import probe_commitment
from aci_ref.crypto import KeyPair, draw_below, sha256
from aci_ref.economics.ledger import Role, stake_key
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import (
    AcceptQuote,
    Bond,
    CastVote,
    DepositLiquidity,
    Event,
    RegisterWorker,
    RequestQuote,
    RevealProbe,
    SealBlock,
    SignedEvent,
    SubmitResult,
    job_id_of,
    sign_event,
)
from aci_ref.market.jobs import Job, JobStatus
from aci_ref.params import Params, default_params
from aci_ref.poai.attestation import Attestation, Metrics, honest_metrics, sign_attestation
from aci_ref.poai.matching import compare_outputs, seed_from_job
from aci_ref.poai.profiles import HARDWARE_CLASSES
from aci_ref.poai.tee import (
    WORKER_PROGRAM,
    Enclave,
    TrustAnchors,
    measurement_of,
    provision_enclave,
    register_worker,
)
from aci_ref.poai.verification import min_duration_ms, selected_for_reexecution
from aci_ref.poai.votes import sign_vote
from aci_ref.poai.workloads import Workload, get_workload, lazy_output

RESOURCE_CLASS: Final = "cpu-small"
MODEL_ID: Final = "mlp-64-128-16"
SEQUENCER: Final = "sequencer"
BLOCK_MS: Final = 2_000
SLA_MS: Final = 10_000
BUDGET_TOKENS: Final = 1_000
CLIENT_TOKENS: Final = 1_000_000
WORKER_CAPACITY: Final = 4
WORKER_THROUGHPUT: Final = 8


class Behaviour(StrEnum):
    """How a worker of a world acts (§6.1)."""

    HONEST = "honest"  # runs the model
    LAZY = "lazy"  # returns a wrong output under a genuine attestation (only Level 2 sees it)
    CARELESS = "careless"  # also claims impossible metrics, which Level 1 refuses


BEHAVIOURS: Final = tuple(Behaviour)
"""Every behaviour, in order."""


def world_params(sampling_rate: Fraction = Fraction(0), **changes: object) -> Params:
    """The default parameters with `sampling_rate` (and any other field) replaced."""
    return replace(default_params(), sampling_rate=sampling_rate, **changes)  # type: ignore[arg-type]


def mlp() -> Workload:
    """The one workload the chain tests run."""
    return get_workload(MODEL_ID)


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """One worker of a world: its name, how it behaves, its capacity, platform and throughput.

    Two workers with the same `platform` present one TEE platform key (a Sybil pair). The HMM
    quotes the worker with the smallest ETA first, so a higher throughput attracts jobs.
    """

    name: str
    behaviour: str = Behaviour.HONEST
    capacity: int = WORKER_CAPACITY
    platform: str = ""
    throughput: int = WORKER_THROUGHPUT
    stake_multiple: int = 1  # registers with this multiple of its required stake (at most 3)
    auditor: bool = False  # genesis commits to it as a probe planter (errata E90)


def workers_of(*behaviours: str, capacity: int = WORKER_CAPACITY) -> tuple[WorkerSpec, ...]:
    """Workers named `<behaviour>-<i>`, each on its own platform."""
    return tuple(WorkerSpec(f"{b}-{i}", b, capacity) for i, b in enumerate(behaviours))


@dataclass
class World:
    """A chain state with the secrets and the bookkeeping of the actors around it."""

    params: Params
    label: str
    state: ChainState
    keys: dict[str, KeyPair]
    enclaves: dict[str, Enclave]
    behaviours: dict[str, str]
    clients: tuple[str, ...]
    validators: tuple[str, ...]
    verifiers: tuple[str, ...]
    lps: tuple[str, ...]
    vendor: KeyPair
    log: list[Effect] = field(default_factory=list)
    submissions: dict[str, SignedEvent] = field(default_factory=dict)
    inputs_made: int = 0
    probe_salts: dict[str, bytes] = field(default_factory=dict)
    trace: list[tuple[ChainState, SignedEvent, ChainState, Effects]] | None = None
    """When a list, every accepted event is appended as (before, event, after, effects)."""

    # ---- copies and lookups ----------------------------------------------------------------

    def fork(self) -> World:
        """An independent copy (the chain state is immutable and shared)."""
        twin = copy.copy(self)
        twin.keys = dict(self.keys)
        twin.enclaves = dict(self.enclaves)
        twin.behaviours = dict(self.behaviours)
        twin.log = list(self.log)
        twin.submissions = dict(self.submissions)
        return twin

    @property
    def workers(self) -> tuple[str, ...]:
        """Every worker identity of the world, sorted."""
        return tuple(sorted(self.behaviours))

    def job(self, job_id: bytes) -> Job:
        """The chain's record of a job."""
        return self.state.jobs[job_id.hex()]

    def balance(self, name: str) -> int:
        return self.state.ledger.balances[name]

    def stake(self, name: str, role: Role) -> int:
        """Everything `name` holds in `role` (bonded + locked + unbonding), 0 if nothing."""
        position = self.state.ledger.stakes.get(stake_key(name, role))
        return 0 if position is None else position.held

    def quality(self, worker: str) -> int:
        return self.state.market.pools[RESOURCE_CLASS].workers[worker].quality_bps

    # ---- signing and applying ----------------------------------------------------------------

    def next_nonce(self, sender: str) -> int:
        return self.state.nonces.get(sender, 0) + 1

    def sign(
        self, sender: str, body: Event, *, nonce: int | None = None, key: KeyPair | None = None
    ) -> SignedEvent:
        """`body` signed by `sender` (or by `key`) with its next nonce (or `nonce`)."""
        signer = key if key is not None else self.keys[sender]
        return sign_event(signer, sender, self.next_nonce(sender) if nonce is None else nonce, body)

    def apply(self, event: SignedEvent) -> Effects:
        """Apply `event`; a refusal propagates and changes nothing."""
        before = self.state
        self.state, effects = apply(before, event)
        self.log.extend(effects)
        if self.trace is not None:
            self.trace.append((before, event, self.state, effects))
        return effects

    def act(self, sender: str, body: Event) -> Effects:
        """Sign `body` as `sender` and apply it."""
        return self.apply(self.sign(sender, body))

    def refuse(self, event: SignedEvent) -> Rejection:
        """Apply an event that must be refused; check the state is untouched; return the code."""
        before = self.state
        fingerprint = canonical_bytes(before)
        try:
            apply(before, event)
        except RejectedError as refused:
            assert self.state is before
            assert canonical_bytes(before) == fingerprint
            return refused.rejection
        raise AssertionError(f"{type(event.body).__name__} by {event.sender} was accepted")

    # ---- blocks ------------------------------------------------------------------------------

    def beacon(self, height: int) -> bytes:
        return sha256(f"{self.label}/beacon/{height}".encode())

    def seal_event(self, advance_ms: int = BLOCK_MS, beacon: bytes | None = None) -> SignedEvent:
        """The sequencer's next block, `advance_ms` after the last one."""
        height = self.state.height + 1
        chosen = self.beacon(height) if beacon is None else beacon
        return self.sign(SEQUENCER, SealBlock(height, self.state.now_ms + advance_ms, chosen))

    def seal(self, advance_ms: int = BLOCK_MS, beacon: bytes | None = None) -> Effects:
        """Seal the next block."""
        return self.apply(self.seal_event(advance_ms, beacon))

    def seal_until(self, job_id: bytes, status: JobStatus, advance_ms: int = BLOCK_MS) -> None:
        """Seal blocks `advance_ms` apart until the job reaches `status` (at most 200 blocks)."""
        for _ in range(200):
            if self.job(job_id).status is status:
                return
            self.seal(advance_ms=advance_ms)
        raise AssertionError(f"job never reached {status}: {self.job(job_id).status}")

    def time_out(self, job_id: bytes) -> None:
        """Seal blocks past the job's deadline until the chain times it out and refunds it."""
        job = self.job(job_id)
        self.seal(advance_ms=max(1, job.deadline_ms - self.state.now_ms + 1))
        self.seal_until(job_id, JobStatus.REFUNDED)

    # ---- the job lifecycle -------------------------------------------------------------------

    def new_input(self) -> bytes:
        self.inputs_made += 1
        return mlp().make_input(self.inputs_made)

    def request(
        self,
        client: str,
        *,
        budget: int | None = None,
        sla_ms: int = SLA_MS,
        data: bytes | None = None,
    ) -> bytes:
        """Algorithm 1 lines 2–3: `client` asks for a quote; returns the new job's id."""
        nonce = self.next_nonce(client)
        body = RequestQuote(
            MODEL_ID,
            self.new_input() if data is None else data,
            sla_ms,
            self.params.tokens(BUDGET_TOKENS) if budget is None else budget,
        )
        self.apply(self.sign(client, body, nonce=nonce))
        return job_id_of(client, nonce)

    def accept(self, job_id: bytes, *, max_price: int | None = None) -> Assigned:
        """Algorithm 1 line 4: the client accepts at the quoted price (or `max_price`)."""
        job = self.job(job_id)
        bound = job.price if max_price is None else max_price
        effects = self.act(job.client, AcceptQuote(job_id, bound))
        return next(e for e in effects if isinstance(e, Assigned))

    def order(self, client: str) -> bytes:
        """Request and accept a job in one block; returns its id (now EXECUTING)."""
        job_id = self.request(client)
        self.accept(job_id)
        return job_id

    def honest_output(self, job_id: bytes) -> bytes:
        job = self.job(job_id)
        return mlp().run(job.spec.input, seed_from_job(job_id))

    def attestation(
        self,
        job_id: bytes,
        /,
        *,
        behaviour: str = Behaviour.HONEST,
        enclave: Enclave | None = None,
        output: bytes | None = None,
        **fields: object,
    ) -> tuple[bytes, Attestation]:
        """An (output, attestation) pair for `job_id` as its worker would make it.

        `behaviour` is honest, lazy or careless; `fields` override the attested statement
        (job_id, h_input, h_output, h_model, t_start_ms, duration_ms, metrics).
        """
        job = self.job(job_id)
        workload = mlp()
        seed = seed_from_job(job_id)
        profile = workload.profile()
        metrics = honest_metrics(profile)
        duration = min_duration_ms(profile.flops_per_input, HARDWARE_CLASSES[RESOURCE_CLASS]) + 1
        if behaviour == Behaviour.HONEST:
            made = workload.run(job.spec.input, seed)
        else:
            made = lazy_output(workload, job.spec.input, "random", seed)
        if behaviour == Behaviour.CARELESS:
            metrics, duration = Metrics(0, 0, 0), 0
        if output is not None:
            made = output
        statement: dict[str, object] = {
            "job_id": job_id,
            "h_input": job.spec.h_input,
            "h_output": sha256(made),
            "h_model": workload.h_model,
            "t_start_ms": job.escrowed_at_ms,
            "duration_ms": duration,
            "metrics": metrics,
        }
        statement.update(fields)
        signer = self.enclaves[job.worker] if enclave is None else enclave
        return made, sign_attestation(signer, **statement)  # type: ignore[arg-type]

    def result_event(
        self,
        job_id: bytes,
        /,
        *,
        behaviour: str = Behaviour.HONEST,
        sender: str | None = None,
        body_job_id: bytes | None = None,
        **overrides: object,
    ) -> SignedEvent:
        """The worker's signed SubmitResult for `job_id` (see `attestation` for `overrides`)."""
        output, attestation = self.attestation(job_id, behaviour=behaviour, **overrides)  # type: ignore[arg-type]
        body = SubmitResult(job_id if body_job_id is None else body_job_id, output, attestation)
        return self.sign(self.job(job_id).worker if sender is None else sender, body)

    def submit(self, job_id: bytes, *, behaviour: str = Behaviour.HONEST) -> Effects:
        """The job's worker submits its result."""
        event = self.result_event(job_id, behaviour=behaviour)
        self.submissions[job_id.hex()] = event
        return self.apply(event)

    def output_correct(self, job_id: bytes) -> bool:
        """Re-execute the job as a verifier does and compare with the submitted output."""
        job = self.job(job_id)
        workload = mlp()
        reference = workload.reference_output(job.spec.input, seed_from_job(job_id), job.output)
        return compare_outputs(workload.kind, job.output, reference, self.params).match

    def vote_event(self, verifier: str, job_id: bytes, accept: bool | None = None) -> SignedEvent:
        """`verifier`'s signed vote on `job_id`: its honest verdict unless `accept` is given."""
        verdict = self.output_correct(job_id) if accept is None else accept
        reason = None if verdict else Rejection.OUTPUT_MISMATCH
        vote = sign_vote(self.keys[verifier], job_id, verifier, verdict, reason)
        return self.sign(verifier, CastVote(vote))

    def vote(self, verifier: str, job_id: bytes, accept: bool | None = None) -> Effects:
        return self.apply(self.vote_event(verifier, job_id, accept))

    def reveal(self, job_id: bytes) -> Effects:
        """The job's worker, an auditor, reveals its planted fault (errata E90)."""
        worker = self.job(job_id).worker
        return self.act(worker, RevealProbe(job_id, self.probe_salts[worker]))

    def review(self, job_id: bytes, liars: Mapping[str, bool] | None = None) -> Effects:
        """The arbiters reviewing a settled probe vote until it concludes (errata E90)."""
        collected: list[Effect] = []
        while (review := self.state.reviews.get(job_id.hex())) is not None:
            voted = {v.verifier for v in review.votes}
            member = next(m for m in review.arbiters if m not in voted)
            lie = None if liars is None else liars.get(member)
            collected += self.vote(member, job_id, lie)
        return tuple(collected)

    def members(self, job_id: bytes) -> tuple[str, ...]:
        """Whoever votes on the job now: its committee, or its arbiters once disputed."""
        job = self.job(job_id)
        return job.arbiters if job.status is JobStatus.DISPUTED else job.committee

    def decide(self, job_id: bytes, liars: Mapping[str, bool] | None = None) -> Effects:
        """Committee, then arbiters, vote until decided: honestly, or as `liars` dictates
        (verifier → the verdict it casts whatever the truth)."""
        collected: list[Effect] = []
        while self.job(job_id).status in (JobStatus.VERIFYING, JobStatus.DISPUTED):
            job = self.job(job_id)
            voted = {v.verifier for v in job.votes}
            member = next(m for m in self.members(job_id) if m not in voted)
            lie = None if liars is None else liars.get(member)
            collected += self.vote(member, job_id, lie)
        return tuple(collected)

    def run_job(
        self, client: str, *, behaviour: str = Behaviour.HONEST, beacon: bytes | None = None
    ) -> bytes:
        """Quote, accept, submit, seal and (if sampled) vote until the job is final."""
        job_id = self.order(client)
        self.submit(job_id, behaviour=behaviour)
        self.seal(beacon=beacon)
        self.decide(job_id)
        return job_id


def build_world(
    params: Params | None = None,
    *,
    label: str = "world",
    clients: int = 2,
    poor_clients: int = 0,
    validators: int = 2,
    verifiers: int = 5,
    lps: int = 1,
    workers: Sequence[WorkerSpec] = workers_of("honest", "honest"),
    bootstrap: bool = True,
    contracts: Sequence[tuple[str, bytes]] = (),
) -> World:
    """A world at genesis; with `bootstrap`, every role staked, every worker registered, and
    one block sealed (height 1). `contracts` are AIVM contracts deployed at genesis."""
    params = world_params() if params is None else params
    keys = {SEQUENCER: KeyPair.from_label(f"{label}/sequencer")}
    client_names = tuple(f"client-{i}" for i in range(clients))
    poor_names = tuple(f"poor-{i}" for i in range(poor_clients))
    validator_names = tuple(f"validator-{i}" for i in range(validators))
    verifier_names = tuple(f"verifier-{i}" for i in range(verifiers))
    lp_names = tuple(f"lp-{i}" for i in range(lps))
    names = (*client_names, *poor_names, *validator_names, *verifier_names, *lp_names)
    names += tuple(w.name for w in workers)
    for name in names:
        keys[name] = KeyPair.from_label(f"{label}/key/{name}")
    vendor = KeyPair.from_label(f"{label}/vendor")
    enclaves = {
        w.name: provision_enclave(
            vendor,
            KeyPair.from_label(f"{label}/platform/{w.platform or w.name}"),
            KeyPair.from_label(f"{label}/enclave/{w.name}"),
        )
        for w in workers
    }
    funds = {SEQUENCER: 0}
    funds |= {c: params.tokens(CLIENT_TOKENS) for c in client_names}
    funds |= {c: 0 for c in poor_names}
    funds |= {v: params.tokens(2 * params.validator_min_stake) for v in validator_names}
    funds |= {v: params.tokens(2 * params.verifier_min_stake) for v in verifier_names}
    funds |= {lp: params.tokens(10 * params.lp_min_stake) for lp in lp_names}
    for w in workers:
        needed = max(params.worker_min_stake, w.capacity * params.worker_stake_per_capacity_unit)
        funds[w.name] = params.tokens(3 * needed)
    workload = mlp()
    model = ModelInfo(
        MODEL_ID,
        workload.h_model,
        workload.kind,
        RESOURCE_CLASS,
        1,
        workload.profile(),
        workload.input_rule(),
    )
    salts = {w.name: sha256(f"{label}/probe/{w.name}".encode()) for w in workers if w.auditor}
    config = Genesis(
        params,
        tuple(Account(name, keys[name].public, funds[name]) for name in (SEQUENCER, *names)),
        SEQUENCER,
        TrustAnchors.of([vendor.public], [measurement_of(WORKER_PROGRAM)]),
        (model,),
        (RESOURCE_CLASS,),
        tuple(sorted(probe_commitment(name, salt) for name, salt in salts.items())),
        tuple(contracts),
    )
    world = World(
        params=params,
        label=label,
        state=genesis(config),
        keys=keys,
        enclaves=enclaves,
        behaviours={w.name: w.behaviour for w in workers},
        clients=(*client_names, *poor_names),
        validators=validator_names,
        verifiers=verifier_names,
        lps=lp_names,
        vendor=vendor,
        probe_salts=salts,
    )
    if bootstrap:
        for v in validator_names:
            world.act(v, Bond(Role.VALIDATOR, params.tokens(params.validator_min_stake)))
        for v in verifier_names:
            world.act(v, Bond(Role.VERIFIER, params.tokens(params.verifier_min_stake)))
        for lp in lp_names:
            world.act(lp, DepositLiquidity(RESOURCE_CLASS, params.tokens(5 * params.lp_min_stake)))
        for w in workers:
            stake = w.stake_multiple * params.tokens(
                max(params.worker_min_stake, w.capacity * params.worker_stake_per_capacity_unit)
            )
            world.act(w.name, register_body(world, w.name, w.capacity, w.throughput, stake))
        world.seal()
    return world


def register_body(
    world: World,
    worker: str,
    capacity: int = WORKER_CAPACITY,
    throughput: int = WORKER_THROUGHPUT,
    stake: int = 0,
) -> RegisterWorker:
    """The RegisterWorker event body of `worker` with its own enclave (stake 0: the minimum)."""
    registration = register_worker(world.enclaves[worker], worker)
    return RegisterWorker(RESOURCE_CLASS, capacity, throughput, registration, stake)


def sampling_errors(before: ChainState, after: ChainState, beacon: bytes) -> list[str]:
    """Algorithm 2 lines 6–7 as a property of one block: every job attested before it (pending in
    `before`) is sampled in `after` exactly when u = H(beacon ‖ job id) / 2^256 < α, and none is
    left attested. Returns a line per job that breaks it (empty when the block was right)."""
    errors = []
    for key in before.pending:
        job = after.jobs[key]
        drawn = draw_below(beacon, job.job_id, before.params.sampling_rate)
        if job.sampled != drawn or job.status is JobStatus.ATTESTED:
            errors.append(f"{key[:16]}: drawn={drawn}, sampled={job.sampled}, {job.status}")
    return errors


def beacon_where(world: World, job_id: bytes, sampled: bool) -> bytes:
    """A beacon under which the sampling draw of `job_id` comes out as `sampled`."""
    for attempt in range(10_000):
        beacon = sha256(f"{world.label}/search/{attempt}".encode())
        if selected_for_reexecution(world.params, beacon, job_id) == sampled:
            return beacon
    raise AssertionError("no beacon found; is the sampling rate 0 or 1?")


__all__ = [
    "BEHAVIOURS",
    "BLOCK_MS",
    "MODEL_ID",
    "RESOURCE_CLASS",
    "SEQUENCER",
    "SLA_MS",
    "WORKER_CAPACITY",
    "WORKER_THROUGHPUT",
    "Behaviour",
    "WorkerSpec",
    "World",
    "beacon_where",
    "build_world",
    "mlp",
    "register_body",
    "sampling_errors",
    "workers_of",
    "world_params",
]
