"""The whole protocol as one pure transition: `apply(state, signed_event) -> (state, effects)`.

`chain` composes the economics (ledger, stakes, fees, slashing), the market (HMM pools and the
job lifecycle of Algorithm 1) and Proof of AI (Algorithm 2). It reads no clock, socket, random
source or environment: time and randomness arrive in the sequencer's `SealBlock` events. A refused
event raises `RejectedError` and the state passed in is untouched (every value is immutable).

Ordering comes from a deterministic sequencer for now; the consensus layer (roadmap step 4)
replaces it and signs the same `SealBlock` events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Final

import immutables

from aci_ref.crypto import sha256
from aci_ref.economics import fees, ledger, slashing, staking
from aci_ref.economics.fees import FeeSplit
from aci_ref.economics.ledger import Ledger, Role
from aci_ref.economics.slashing import Evidence, SlashRecord, Violation
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
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
    Transfer,
    Unbond,
    Withdraw,
    WithdrawLiquidity,
    job_id_of,
)
from aci_ref.market import hmm
from aci_ref.market.hmm import Market
from aci_ref.market.jobs import Job, JobSpec, JobStatus, advance, timeout_deadline
from aci_ref.params import BPS, Params
from aci_ref.poai.attestation import attestation_digest
from aci_ref.poai.matching import OutputKind
from aci_ref.poai.profiles import HARDWARE_CLASSES, ModelProfile
from aci_ref.poai.quality import INITIAL_QUALITY_BPS, below_threshold, update_quality
from aci_ref.poai.tee import TrustAnchors, verify_registration
from aci_ref.poai.verification import (
    LEVEL1_REJECTIONS,
    ExpectedJob,
    check_attestation,
    selected_for_reexecution,
)
from aci_ref.poai.votes import Outcome, aggregate_votes, committee
from aci_ref.wellformed import check_well_formed

EVIDENCE_DOMAIN: Final = "aci-ref/chain/evidence"
BEACON_BYTES: Final = 32


# ---- configuration and state -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """ref: model registry — what the chain knows of a workload without running it."""

    model_id: str
    h_model: bytes
    kind: OutputKind
    resource_class: str
    units: int
    profile: ModelProfile


@dataclass(frozen=True, slots=True)
class Account:
    """ref: genesis account — a name, its Ed25519 public key and its opening balance."""

    name: str
    public_key: bytes
    balance: int


@dataclass(frozen=True, slots=True)
class Genesis:
    """ref: genesis — everything a chain starts from."""

    params: Params
    accounts: tuple[Account, ...]
    sequencer: str
    anchors: TrustAnchors
    models: tuple[ModelInfo, ...]
    resource_classes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """ref: worker registry — a worker's pool and the TEE identity it registered with."""

    resource_class: str
    platform_key: bytes
    enclave_key: bytes
    banned: bool = False
    departed: bool = False
    quality_bps: int = INITIAL_QUALITY_BPS  # kept while departed, so leaving resets nothing


@dataclass(frozen=True, slots=True)
class ChainState:
    """ref: chain state — the ledger, the market, every job and the bookkeeping around them.

    `nonces` holds each sender's last accepted nonce; `attestations` every accepted attestation
    digest (hex) with its job; `pending` the jobs attested since the last block; `open_quotes` the
    quotes of the current block; `executing` each running job's deadline; `voting` the deadline of
    each job waiting for committee or arbitration votes.
    """

    params: Params
    ledger: Ledger
    market: Market
    jobs: immutables.Map[str, Job]
    keys: immutables.Map[str, bytes]
    nonces: immutables.Map[str, int]
    workers: immutables.Map[str, WorkerInfo]
    platforms: immutables.Map[str, tuple[str, ...]]
    attestations: immutables.Map[str, str]
    models: immutables.Map[str, ModelInfo]
    anchors: TrustAnchors
    sequencer: str
    height: int
    now_ms: int
    epoch: int
    pending: tuple[str, ...]
    open_quotes: tuple[str, ...]
    executing: immutables.Map[str, int]
    voting: immutables.Map[str, int]


# ---- effects -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quoted:
    """Effect: Algorithm 1 line 3 — the HMM quoted (worker, price, ETA)."""

    job_id: bytes
    worker: str
    price: int
    eta_ms: int


@dataclass(frozen=True, slots=True)
class Assigned:
    """Effect: Algorithm 1 lines 4–6 — escrow locked; the worker must run the job in time."""

    job_id: bytes
    worker: str
    price: int
    started_ms: int
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class Attested:
    """Effect: Algorithm 1 line 8 — a result passed Level 1 and waits for the next beacon."""

    job_id: bytes
    worker: str


@dataclass(frozen=True, slots=True)
class Sampled:
    """Effect: Algorithm 2 lines 7–8 — the job was drawn; `committee` must re-execute and vote."""

    job_id: bytes
    committee: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DisputeOpened:
    """Effect: Algorithm 1 line 15 — verification did not accept; `arbiters` must re-execute."""

    job_id: bytes
    accusers: tuple[str, ...]
    arbiters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Settled:
    """Effect: Algorithm 1 line 14 — the worker is paid and the fees distributed."""

    job_id: bytes
    worker: str
    split: FeeSplit
    reexecuted: bool


@dataclass(frozen=True, slots=True)
class Refunded:
    """Effect: the client's escrow came back (`why` is timed_out or arbitrated)."""

    job_id: bytes
    client: str
    amount: int
    why: str


@dataclass(frozen=True, slots=True)
class Expired:
    """Effect: a quote was not accepted before the next block."""

    job_id: bytes


@dataclass(frozen=True, slots=True)
class Slashed:
    """Effect: Table 2 — stake taken with evidence; `level` is the PoAI level that caught it."""

    record: SlashRecord
    violation: Violation
    level: int
    job_id: bytes


@dataclass(frozen=True, slots=True)
class QualityChanged:
    """Effect: Algorithm 2 line 16 — a worker's quality score moved."""

    worker: str
    quality_bps: int


Effect = (
    Quoted
    | Assigned
    | Attested
    | Sampled
    | DisputeOpened
    | Settled
    | Refunded
    | Expired
    | Slashed
    | QualityChanged
)
Effects = tuple[Effect, ...]


# ---- genesis -----------------------------------------------------------------------------------


def genesis(config: Genesis) -> ChainState:
    """ref: genesis — the opening state: balances, keys, empty pools, the model registry."""
    names = [account.name for account in config.accounts]
    if len(set(names)) != len(names) or config.sequencer not in names:
        raise RejectedError(
            Rejection.BAD_INPUT, "accounts must be unique and include the sequencer"
        )
    market = Market()
    for resource_class in sorted(set(config.resource_classes)):
        if resource_class not in HARDWARE_CLASSES:
            raise RejectedError(Rejection.UNKNOWN_POOL, resource_class)
        market = hmm.create_pool(market, config.params, resource_class)
    for model in config.models:
        if model.resource_class not in market.pools or model.units <= 0:
            raise RejectedError(Rejection.BAD_INPUT, f"model {model.model_id}")
    return ChainState(
        params=config.params,
        ledger=ledger.genesis({a.name: a.balance for a in config.accounts}),
        market=market,
        jobs=immutables.Map(),
        keys=immutables.Map({a.name: a.public_key for a in config.accounts}),
        nonces=immutables.Map(),
        workers=immutables.Map(),
        platforms=immutables.Map(),
        attestations=immutables.Map(),
        models=immutables.Map({m.model_id: m for m in config.models}),
        anchors=config.anchors,
        sequencer=config.sequencer,
        height=0,
        now_ms=0,
        epoch=0,
        pending=(),
        open_quotes=(),
        executing=immutables.Map(),
        voting=immutables.Map(),
    )


# ---- the transition ----------------------------------------------------------------------------


def apply(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    """ref: chain transition — admit a signed event and apply it, or refuse it with a Rejection.

    Admission, in order: every field has its declared type (`bad_input`); the sender is known
    (`unknown_sender`); the nonce is the sender's next
    (`replayed_event` if already used, `nonce_gap` if it skips ahead); the signature verifies
    (`bad_signature`). Then the event's handler runs; its refusals propagate unchanged.
    """
    if type(event) is not SignedEvent:
        raise RejectedError(Rejection.BAD_INPUT, "not a signed event")
    check_well_formed(event)
    public = state.keys.get(event.sender)
    if public is None:
        raise RejectedError(Rejection.UNKNOWN_SENDER, event.sender)
    expected = state.nonces.get(event.sender, 0) + 1
    if event.nonce < expected:
        raise RejectedError(Rejection.REPLAYED_EVENT, f"nonce {event.nonce} < {expected}")
    if event.nonce > expected:
        raise RejectedError(Rejection.NONCE_GAP, f"nonce {event.nonce} > {expected}")
    if not event.verifies(public):
        raise RejectedError(Rejection.BAD_SIGNATURE, event.sender)
    handler = _HANDLERS.get(type(event.body))
    if handler is None:
        raise RejectedError(Rejection.BAD_INPUT, type(event.body).__name__)
    after, effects = handler(state, event)
    return replace(after, nonces=after.nonces.set(event.sender, event.nonce)), effects


# ---- helpers -----------------------------------------------------------------------------------


def _job(state: ChainState, job_id: bytes) -> Job:
    job = state.jobs.get(job_id.hex())
    if job is None:
        raise RejectedError(Rejection.UNKNOWN_JOB, job_id.hex()[:16])
    return job


def _without(deadlines: immutables.Map[str, int], key: str) -> immutables.Map[str, int]:
    return deadlines.delete(key) if key in deadlines else deadlines


def _put(state: ChainState, job: Job) -> ChainState:
    return replace(state, jobs=state.jobs.set(job.job_id.hex(), job))


def active_stakes(state: ChainState, role: Role) -> dict[str, int]:
    """ref: fee weights — each account actively staked in `role`, with its backing stake."""
    suffix = ledger.KEY_SEPARATOR + role.value
    found: dict[str, int] = {}
    for key, position in state.ledger.stakes.items():
        if key.endswith(suffix):
            account = key[: -len(suffix)]
            if staking.is_active(state.ledger, state.params, account, role):
                found[account] = position.backing
    return dict(sorted(found.items()))


def _evidence_id(kind: str, **fields: object) -> bytes:
    return sha256(canonical_bytes({"domain": EVIDENCE_DOMAIN, "kind": kind, **fields}))


def _slash(
    state: ChainState,
    violation: Violation,
    offender: str,
    role: Role,
    evidence_id: bytes,
    reporter: str | None,
    level: int,
    job_id: bytes = b"",
) -> tuple[ChainState, Effects]:
    """Apply one Table 2 slash; an offender that holds no stake any more loses nothing.

    A block or a vote must never be refused because its offender was already slashed to zero
    (that would stall the chain), so such an offence is recorded by no one and takes nothing.
    """
    position = state.ledger.stakes.get(ledger.stake_key(offender, role))
    if position is None or position.held == 0:
        return state, ()
    evidence = Evidence(violation, offender, role, evidence_id, reporter, job_id.hex())
    new_ledger, record = slashing.slash(state.ledger, state.params, evidence)
    state = replace(state, ledger=new_ledger)
    info = state.workers.get(offender)
    if (
        role is Role.WORKER
        and info is not None
        and not info.banned
        and not staking.is_active(new_ledger, state.params, offender, Role.WORKER)
    ):
        # A worker whose stake no longer covers its capacity receives no more quotes.
        market = hmm.set_quality(state.market, info.resource_class, offender, 0)
        workers = state.workers.set(offender, replace(info, banned=True))
        state = replace(state, workers=workers, market=market)
    return state, (Slashed(record, violation, level, job_id),)


def _set_quality(state: ChainState, worker: str, result_bps: int) -> tuple[ChainState, Effect]:
    info = state.workers[worker]
    pool = state.market.pools[info.resource_class]
    current = pool.workers[worker].quality_bps
    quality = 0 if info.banned else update_quality(state.params, current, result_bps)
    market = hmm.set_quality(state.market, info.resource_class, worker, quality)
    return replace(state, market=market), QualityChanged(worker, quality)


def _settle(state: ChainState, job: Job, to: JobStatus) -> tuple[ChainState, Effects]:
    """Algorithm 1 line 14, §2.2: release escrow as Table 5 splits it; capacity returns."""
    new_ledger, split = fees.settle_escrow(
        state.ledger,
        state.params,
        job.job_id.hex(),
        job.worker,
        active_stakes(state, Role.VALIDATOR),
        active_stakes(state, Role.VERIFIER),
        hmm.lp_weights(state.market, job.resource_class),
    )
    market = hmm.release(state.market, state.params, job.resource_class, job.worker, job.units)
    voting = (
        state.voting.delete(job.job_id.hex()) if job.job_id.hex() in state.voting else state.voting
    )
    state = _put(replace(state, ledger=new_ledger, market=market, voting=voting), advance(job, to))
    state, quality = _set_quality(state, job.worker, BPS)
    return state, (Settled(job.job_id, job.worker, split, job.sampled), quality)


def _refund(state: ChainState, job: Job, to: JobStatus, why: str) -> tuple[ChainState, Refunded]:
    new_ledger = ledger.escrow_refund(state.ledger, job.job_id.hex())
    market = hmm.release(state.market, state.params, job.resource_class, job.worker, job.units)
    state = _put(replace(state, ledger=new_ledger, market=market), advance(job, to))
    return state, Refunded(job.job_id, job.client, job.price, why)


def _expected(job: Job, model: ModelInfo) -> ExpectedJob:
    return ExpectedJob(job.job_id, job.spec.h_input, model.h_model, job.escrowed_at_ms)


# ---- handlers: tokens and stake ----------------------------------------------------------------


def _transfer(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    body = event.body
    assert isinstance(body, Transfer)
    return replace(
        state, ledger=ledger.transfer(state.ledger, event.sender, body.to, body.amount)
    ), ()


def _bond(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    body = event.body
    assert isinstance(body, Bond)
    if body.role not in (Role.VALIDATOR, Role.VERIFIER):
        raise RejectedError(
            Rejection.ROLE_NOT_STAKEABLE, f"{body.role} bonds through its own event"
        )
    new = staking.bond(state.ledger, state.params, event.sender, body.role, body.amount)
    return replace(state, ledger=new), ()


def _unbond(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    """ref: unbonding — stake starts leaving a role; a worker unbonding all of it leaves its pool.

    A departing worker's record (quality, ban) is kept, so leaving and joining again resets
    nothing; its platform is freed, so it may rejoin on the same machine without being a Sybil.
    """
    body = event.body
    assert isinstance(body, Unbond)
    if body.role is Role.LP:
        raise RejectedError(Rejection.ROLE_NOT_STAKEABLE, "LP stake leaves by WithdrawLiquidity")
    new = staking.unbond(
        state.ledger, state.params, event.sender, body.role, body.amount, state.now_ms
    )
    info = state.workers.get(event.sender)
    if body.role is not Role.WORKER or info is None or info.departed:
        return replace(state, ledger=new), ()
    if new.stakes[ledger.stake_key(event.sender, Role.WORKER)].backing > 0:
        return replace(state, ledger=new), ()
    pool = state.market.pools[info.resource_class]
    quality = pool.workers[event.sender].quality_bps
    market = hmm.remove_worker(state.market, info.resource_class, event.sender)
    platform = info.platform_key.hex()
    others = tuple(w for w in state.platforms.get(platform, ()) if w != event.sender)
    platforms = (
        state.platforms.set(platform, others) if others else state.platforms.delete(platform)
    )
    departed = replace(info, departed=True, quality_bps=quality)
    return replace(
        state,
        ledger=new,
        market=market,
        workers=state.workers.set(event.sender, departed),
        platforms=platforms,
    ), ()


def _withdraw(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    body = event.body
    assert isinstance(body, Withdraw)
    return replace(
        state, ledger=staking.withdraw(state.ledger, event.sender, body.role, state.now_ms)
    ), ()


def _register_worker(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    """Table 2 row Sybil, §3.5 and Definition 1: bond stake, present a TEE identity.

    A platform key already presented by another identity is one machine posing as many: every
    identity on it is slashed `slash_sybil_bps` and banned from quotes (errata E58).
    """
    body = event.body
    assert isinstance(body, RegisterWorker)
    worker = event.sender
    if body.registration.worker != worker:
        raise RejectedError(Rejection.BAD_INPUT, "registration names another worker")
    previous = state.workers.get(worker)
    if previous is not None and not previous.departed:
        raise RejectedError(Rejection.WORKER_EXISTS, worker)
    if previous is not None and previous.banned:
        raise RejectedError(Rejection.WORKER_BANNED, worker)
    platform = verify_registration(body.registration, state.anchors)
    params = state.params
    required = staking.required_stake(params, Role.WORKER, body.capacity)
    stake = body.stake or required
    new_ledger = staking.bond(state.ledger, params, worker, Role.WORKER, stake, body.capacity)
    market = hmm.add_worker(
        state.market,
        params,
        body.resource_class,
        worker,
        body.capacity,
        body.throughput,
        INITIAL_QUALITY_BPS if previous is None else previous.quality_bps,
    )
    info = WorkerInfo(body.resource_class, platform, body.registration.enclave_cert.subject)
    sharing = (*state.platforms.get(platform.hex(), ()), worker)
    state = replace(
        state,
        ledger=new_ledger,
        market=market,
        workers=state.workers.set(worker, info),
        platforms=state.platforms.set(platform.hex(), sharing),
    )
    if len(sharing) < 2:
        return state, ()
    effects: list[Effect] = []
    for identity in sorted(sharing):
        evidence_id = _evidence_id("sybil", platform=platform, worker=identity)
        slashed: Effects = ()
        if evidence_id.hex() not in state.ledger.evidence_used:
            state, slashed = _slash(
                state, Violation.SYBIL, identity, Role.WORKER, evidence_id, None, 1
            )
        banned = replace(state.workers[identity], banned=True)
        state = replace(state, workers=state.workers.set(identity, banned))
        state, quality = _set_quality(state, identity, 0)
        effects += [*slashed, quality]
    return state, tuple(effects)


def _deposit_liquidity(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    body = event.body
    assert isinstance(body, DepositLiquidity)
    new_ledger = staking.bond(state.ledger, state.params, event.sender, Role.LP, body.amount)
    market, _ = hmm.add_liquidity(
        state.market, state.params, body.resource_class, event.sender, body.amount
    )
    return replace(state, ledger=new_ledger, market=market), ()


def _withdraw_liquidity(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    body = event.body
    assert isinstance(body, WithdrawLiquidity)
    market, amount = hmm.remove_liquidity(
        state.market, state.params, body.resource_class, event.sender, body.shares
    )
    new_ledger = staking.unbond(
        state.ledger, state.params, event.sender, Role.LP, amount, state.now_ms
    )
    return replace(state, ledger=new_ledger, market=market), ()


# ---- handlers: the job lifecycle ---------------------------------------------------------------


def _request_quote(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    """Algorithm 1 lines 2–3: the client broadcasts J and the HMM quotes (worker, price, ETA)."""
    body = event.body
    assert isinstance(body, RequestQuote)
    model = state.models.get(body.model_id)
    if model is None:
        raise RejectedError(Rejection.UNKNOWN_MODEL, body.model_id)
    if body.sla_ms <= 0 or body.budget <= 0:
        raise RejectedError(Rejection.NON_POSITIVE_AMOUNT, "SLA and budget must be positive")
    if body.sla_ms > state.params.epoch_duration_ms * state.params.detection_horizon_epochs:
        # A deadline beyond the detection horizon could outlive the worker's slashable stake.
        raise RejectedError(Rejection.BAD_INPUT, f"SLA {body.sla_ms} ms beyond the horizon")
    job_id = job_id_of(event.sender, event.nonce)
    if job_id.hex() in state.jobs:
        raise RejectedError(Rejection.JOB_EXISTS, job_id.hex()[:16])
    quote = hmm.quote(state.market, state.params, model.resource_class, model.units)
    if quote.price > body.budget:
        raise RejectedError(Rejection.BUDGET_EXCEEDED, f"price {quote.price} > {body.budget}")
    spec = JobSpec(body.model_id, body.input, sha256(body.input), body.sla_ms, body.budget)
    job = Job(job_id, event.sender, spec, JobStatus.SUBMITTED, model.resource_class, model.units)
    job = advance(
        job,
        JobStatus.QUOTED,
        worker=quote.worker,
        price=quote.price,
        eta_ms=quote.eta_ms,
        quoted_at_ms=state.now_ms,
        quoted_height=state.height,
    )
    state = replace(_put(state, job), open_quotes=(*state.open_quotes, job_id.hex()))
    return state, (Quoted(job_id, quote.worker, quote.price, quote.eta_ms),)


def _accept_quote(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    """Algorithm 1 line 4: the client accepts; HMM_SWAP fills within its bound; escrow locks."""
    body = event.body
    assert isinstance(body, AcceptQuote)
    job = _job(state, body.job_id)
    if job.client != event.sender:
        raise RejectedError(Rejection.NOT_JOB_CLIENT, event.sender)
    if job.status is JobStatus.EXPIRED or (
        job.status is JobStatus.QUOTED and job.quoted_height != state.height
    ):
        raise RejectedError(Rejection.QUOTE_EXPIRED, body.job_id.hex()[:16])
    if body.max_price > job.spec.budget:
        raise RejectedError(Rejection.BUDGET_EXCEEDED, f"bound {body.max_price} > budget")
    escrowed = advance(job, JobStatus.ESCROWED)
    market, fill = hmm.buy(
        state.market, state.params, job.resource_class, job.units, body.max_price
    )
    try:
        new_ledger = ledger.escrow_lock(state.ledger, job.job_id.hex(), job.client, fill.price)
    except RejectedError as refused:
        if refused.rejection is Rejection.INSUFFICIENT_BALANCE:
            raise RejectedError(Rejection.INSUFFICIENT_ESCROW, refused.detail) from refused
        raise
    deadline = timeout_deadline(state.params, state.now_ms, job.spec.sla_ms)
    running = advance(
        escrowed,
        JobStatus.EXECUTING,
        worker=fill.worker,
        price=fill.price,
        eta_ms=fill.eta_ms,
        escrowed_at_ms=state.now_ms,
        deadline_ms=deadline,
        enclave_key=state.workers[fill.worker].enclave_key,
    )
    state = replace(
        _put(state, running),
        ledger=new_ledger,
        market=market,
        open_quotes=tuple(q for q in state.open_quotes if q != job.job_id.hex()),
        executing=state.executing.set(job.job_id.hex(), deadline),
    )
    return state, (Assigned(job.job_id, fill.worker, fill.price, state.now_ms, deadline),)


def _submit_result(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    """Algorithm 1 line 8 and Algorithm 2 Level 1: the worker's (y, σ) is checked and recorded."""
    body = event.body
    assert isinstance(body, SubmitResult)
    job = _job(state, body.job_id)
    if job.worker != event.sender or job.status in (JobStatus.QUOTED, JobStatus.SUBMITTED):
        raise RejectedError(Rejection.NOT_JOB_WORKER, event.sender)
    if job.final:
        raise RejectedError(Rejection.ALREADY_SETTLED, job.status.value)
    if job.status is not JobStatus.EXECUTING:
        raise RejectedError(Rejection.ILLEGAL_TRANSITION, f"result for a {job.status} job")
    if state.now_ms > job.deadline_ms:
        raise RejectedError(Rejection.DEADLINE_PASSED, f"deadline {job.deadline_ms}")
    digest = attestation_digest(body.attestation)
    if digest.hex() in state.attestations:
        raise RejectedError(Rejection.ATTESTATION_REPLAYED, digest.hex()[:16])
    _check_level1(state, job, body)
    attested = advance(
        job,
        JobStatus.ATTESTED,
        h_output=body.attestation.h_output,
        output=body.output,
        attestation_digest=digest,
        submission_digest=event.digest(),
    )
    state = replace(
        _put(state, attested),
        attestations=state.attestations.set(digest.hex(), job.job_id.hex()),
        pending=(*state.pending, job.job_id.hex()),
        executing=state.executing.delete(job.job_id.hex()),
    )
    return state, (Attested(job.job_id, job.worker),)


def _check_level1(state: ChainState, job: Job, body: SubmitResult) -> None:
    """Algorithm 2 Level 1 against what the chain knows of this job and its worker."""
    if body.attestation.enclave_cert.subject != job.enclave_key:
        raise RejectedError(Rejection.ATTESTATION_BAD_CERT_CHAIN, "not the assigned enclave")
    model = state.models[job.spec.model_id]
    check_attestation(
        body.attestation,
        state.anchors,
        _expected(job, model),
        body.output,
        model.profile,
        HARDWARE_CLASSES[job.resource_class],
        state.params,
    )


def _seal_block(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    """ref: sealed block — time advances, quotes expire, the beacon samples, deadlines and epochs.

    In order: quotes of the previous block expire; every job attested since the last block is
    drawn with this block's beacon (Algorithm 2 line 6, errata E2) and either settles or goes to a
    verifier committee; running jobs past their deadline time out (Table 2); every epoch that
    ended is closed (Level 3 low-quality slashes).
    """
    body = event.body
    assert isinstance(body, SealBlock)
    if event.sender != state.sequencer:
        raise RejectedError(Rejection.NOT_SEQUENCER, event.sender)
    if body.height != state.height + 1:
        raise RejectedError(Rejection.BAD_HEIGHT, f"{body.height} after {state.height}")
    if body.now_ms < state.now_ms:
        raise RejectedError(Rejection.STALE_EVENT, f"time {body.now_ms} < {state.now_ms}")
    if body.now_ms - state.now_ms > state.params.epoch_duration_ms:
        # Bounded so that one block closes at most one epoch boundary's worth of work.
        raise RejectedError(Rejection.TIME_JUMP, f"{body.now_ms - state.now_ms} ms in one block")
    if len(body.beacon) != BEACON_BYTES:
        raise RejectedError(Rejection.BAD_INPUT, "a beacon is 32 bytes")
    effects: list[Effect] = []
    for key in state.open_quotes:
        state = _put(state, advance(state.jobs[key], JobStatus.EXPIRED))
        effects.append(Expired(bytes.fromhex(key)))
    pending = state.pending
    state = replace(state, height=body.height, now_ms=body.now_ms, open_quotes=(), pending=())
    for key in pending:
        state, more = _sample(state, state.jobs[key], body.beacon)
        effects += more
    for key, deadline in sorted(state.executing.items()):
        if deadline < state.now_ms:
            state, more = _time_out(state, state.jobs[key])
            effects += more
    for key, deadline in sorted(state.voting.items()):
        if deadline < state.now_ms:
            state, more = _votes_overdue(state, state.jobs[key])
            effects += more
    while state.epoch < state.now_ms // state.params.epoch_duration_ms:
        state, more = _close_epoch(state)
        effects += more
    return state, tuple(effects)


def _sample(state: ChainState, job: Job, beacon: bytes) -> tuple[ChainState, Effects]:
    """ref: sealed block — Level 2's draw for one attested job; a drawn one goes to verifiers."""
    if not selected_for_reexecution(state.params, beacon, job.job_id):
        return _settle(state, job, JobStatus.SETTLED)
    members = committee(
        beacon,
        job.job_id,
        active_stakes(state, Role.VERIFIER),
        state.params.verification_committee_size,
        exclude=(job.worker,),
    )
    if not members:
        # Nobody can re-execute: the draw is recorded and the job settles on Level 1 alone.
        return _settle(state, replace(job, sampled=True, beacon=beacon), JobStatus.SETTLED)
    deadline = vote_deadline(state.params, state.now_ms, job)
    verifying = advance(
        job,
        JobStatus.VERIFYING,
        sampled=True,
        committee=members,
        beacon=beacon,
        deadline_ms=deadline,
    )
    state = replace(_put(state, verifying), voting=state.voting.set(job.job_id.hex(), deadline))
    return state, (Sampled(job.job_id, members),)


def _time_out(state: ChainState, job: Job) -> tuple[ChainState, Effects]:
    """Table 2 row Timeout: no accepted result by the deadline; refund, slash, quality falls."""
    timed_out = advance(job, JobStatus.TIMED_OUT)
    state = replace(_put(state, timed_out), executing=state.executing.delete(job.job_id.hex()))
    state, refunded = _refund(state, timed_out, JobStatus.REFUNDED, "timed_out")
    evidence_id = _evidence_id("timeout", job_id=job.job_id, deadline_ms=job.deadline_ms)
    state, slashed = _slash(
        state, Violation.TIMEOUT, job.worker, Role.WORKER, evidence_id, None, 0, job.job_id
    )
    state, quality = _set_quality(state, job.worker, 0)
    return state, (refunded, *slashed, quality)


def vote_deadline(params: Params, now_ms: int, job: Job) -> int:
    """ref: vote deadline (errata E19) — committees get timeout_sla_multiple × SLA to vote."""
    return now_ms + params.timeout_sla_multiple * job.spec.sla_ms


def _votes_overdue(state: ChainState, job: Job) -> tuple[ChainState, Effects]:
    """ref: vote deadline (errata E19) — a committee that did not decide in time.

    A verification committee that let its deadline pass opens arbitration on the votes it cast;
    arbiters who let theirs pass leave the dispute unresolved (refund, no slash, errata E16), so
    a silent verifier can never hold a client's escrow or a worker's capacity for ever.
    """
    state = replace(state, voting=_without(state.voting, job.job_id.hex()))
    if job.status is JobStatus.VERIFYING:
        return _open_dispute(state, job)
    return _arbitrate(state, job, Outcome.UNDECIDED)


def _close_epoch(state: ChainState) -> tuple[ChainState, Effects]:
    """Table 2 row Quality, Algorithm 2 Level 3: workers below the threshold lose a share."""
    epoch = state.epoch
    effects: list[Effect] = []
    for worker, info in sorted(state.workers.items()):
        quality = state.market.pools[info.resource_class].workers[worker].quality_bps
        if info.banned or not below_threshold(state.params, quality):
            continue
        evidence_id = _evidence_id("low_quality", worker=worker, epoch=epoch, quality_bps=quality)
        state, slashed = _slash(
            state, Violation.LOW_QUALITY, worker, Role.WORKER, evidence_id, None, 3
        )
        effects += slashed
    return replace(state, epoch=epoch + 1), tuple(effects)


def _cast_vote(state: ChainState, event: SignedEvent) -> tuple[ChainState, Effects]:
    """Algorithm 1 lines 12 and 15: tally a committee member's vote; decide when a quorum forms."""
    body = event.body
    assert isinstance(body, CastVote)
    vote = body.vote
    if vote.verifier != event.sender:
        raise RejectedError(Rejection.BAD_INPUT, "a vote is cast by its own verifier")
    job = _job(state, vote.job_id)
    if job.status is JobStatus.VERIFYING:
        members, quorum = job.committee, state.params.verification_quorum_bps
    elif job.status is JobStatus.DISPUTED:
        members, quorum = job.arbiters, state.params.arbitration_quorum_bps
    elif job.final:
        raise RejectedError(Rejection.ALREADY_SETTLED, job.status.value)
    else:
        raise RejectedError(Rejection.ILLEGAL_TRANSITION, f"vote on a {job.status} job")
    if event.sender not in members:
        raise RejectedError(Rejection.NOT_A_VERIFIER, event.sender)
    if any(v.verifier == event.sender for v in job.votes):
        raise RejectedError(Rejection.DUPLICATE_VOTE, event.sender)
    votes = (*job.votes, vote)
    stakes = {m: state.ledger.stakes[ledger.stake_key(m, Role.VERIFIER)].backing for m in members}
    keys = {m: state.keys[m] for m in members}
    verdict = aggregate_votes(job.job_id, votes, stakes, keys, quorum)
    job = replace(job, votes=votes)
    everyone = len(votes) == len(members)
    if job.status is JobStatus.VERIFYING:
        if verdict.outcome is Outcome.ACCEPTED:
            return _settle(state, job, JobStatus.SETTLED)
        if verdict.outcome is Outcome.REJECTED or everyone:
            return _open_dispute(state, job)
        return _put(state, job), ()
    if verdict.outcome is Outcome.UNDECIDED and not everyone:
        return _put(state, job), ()
    return _arbitrate(state, job, verdict.outcome)


def _open_dispute(state: ChainState, job: Job) -> tuple[ChainState, Effects]:
    """Algorithm 1 line 15 (errata E11): a fresh committee, without the worker or the accusers."""
    accusers = tuple(sorted(v.verifier for v in job.votes if not v.accept))
    arbiters = committee(
        job.beacon,
        job.job_id,
        active_stakes(state, Role.VERIFIER),
        state.params.arbitration_committee_size,
        exclude=(job.worker, *accusers),
        purpose="arbitration",
    )
    deadline = vote_deadline(state.params, state.now_ms, job)
    disputed = advance(
        job,
        JobStatus.DISPUTED,
        accusers=accusers,
        arbiters=arbiters,
        votes=(),
        deadline_ms=deadline,
    )
    state = replace(state, voting=state.voting.set(job.job_id.hex(), deadline))
    if not arbiters:
        # Nobody is left to arbitrate: the dispute stays unresolved (refund, no slash).
        return _arbitrate(state, disputed, Outcome.UNDECIDED)
    return _put(state, disputed), (DisputeOpened(job.job_id, accusers, arbiters),)


def _arbitrate(state: ChainState, job: Job, outcome: Outcome) -> tuple[ChainState, Effects]:
    """Algorithm 1 line 15 (errata E11): apply the arbitration's decision to both sides.

    ACCEPTED (the worker was right): the job settles and each accuser is slashed for a false
    accusation. REJECTED (the output was wrong): the client is refunded and the worker slashed
    for a wrong output, the first accuser taking the reporter's share. UNDECIDED (the arbiters
    split, or none could be drawn): nothing was proven either way, so the client is refunded and
    no one is slashed.
    """
    arbitrated = advance(job, JobStatus.ARBITRATED)
    state = replace(state, voting=_without(state.voting, job.job_id.hex()))
    effects: list[Effect] = []
    if outcome is Outcome.ACCEPTED:
        for accuser in job.accusers:
            evidence_id = _evidence_id("false_accusation", job_id=job.job_id, verifier=accuser)
            state, slashed = _slash(
                state, Violation.FALSE_ACCUSATION, accuser, Role.VERIFIER, evidence_id, None, 2,
                job.job_id,
            )  # fmt: skip
            effects += slashed
        state, settled = _settle(state, arbitrated, JobStatus.SETTLED)
        return state, (*effects, *settled)
    if outcome is Outcome.UNDECIDED:
        state, refunded = _refund(state, arbitrated, JobStatus.REFUNDED, "unresolved")
        return state, (refunded,)
    state, refunded = _refund(state, arbitrated, JobStatus.REFUNDED, "arbitrated")
    reporter = job.accusers[0] if job.accusers else None
    evidence_id = _evidence_id("wrong_output", job_id=job.job_id, h_output=job.h_output)
    state, slashed = _slash(
        state, Violation.WRONG_OUTPUT, job.worker, Role.WORKER, evidence_id, reporter, 2, job.job_id
    )
    state, quality = _set_quality(state, job.worker, 0)
    return state, (refunded, *slashed, quality)


def _report_invalid_attestation(
    state: ChainState, event: SignedEvent
) -> tuple[ChainState, Effects]:
    """Table 2 row Invalid attestation, §3.5: slash on the worker's own result failing Level 1.

    The evidence is the worker's signed SubmitResult event (which the chain refused); anyone can
    re-run Level 1 on it. It must be signed by the job's worker and fail with a Level 1 code,
    else `evidence_mismatch`.
    """
    body = event.body
    assert isinstance(body, ReportInvalidAttestation)
    submission = body.submission
    result = submission.body
    if not isinstance(result, SubmitResult):
        raise RejectedError(Rejection.EVIDENCE_MISMATCH, "evidence is not a submitted result")
    job = _job(state, result.job_id)
    if submission.sender != job.worker or job.worker not in state.workers:
        raise RejectedError(Rejection.EVIDENCE_MISMATCH, "not submitted by the job's worker")
    if not submission.verifies(state.keys[job.worker]):
        raise RejectedError(Rejection.BAD_SIGNATURE, "evidence is not the worker's")
    if attestation_digest(result.attestation).hex() in state.attestations:
        raise RejectedError(Rejection.EVIDENCE_MISMATCH, "the chain accepted this attestation")
    try:
        _check_level1(state, job, result)
    except RejectedError as failed:
        if failed.rejection not in LEVEL1_REJECTIONS:
            raise RejectedError(Rejection.EVIDENCE_MISMATCH, failed.rejection.value) from failed
    else:
        raise RejectedError(Rejection.EVIDENCE_MISMATCH, "the attestation passes Level 1")
    if submission.digest().hex() in state.ledger.evidence_used:
        raise RejectedError(Rejection.DUPLICATE_EVIDENCE, submission.digest().hex()[:16])
    return _slash(
        state,
        Violation.INVALID_ATTESTATION,
        job.worker,
        Role.WORKER,
        submission.digest(),
        event.sender,
        1,
        job.job_id,
    )


_HANDLERS: Final[Mapping[type, Callable[[ChainState, SignedEvent], tuple[ChainState, Effects]]]] = {
    Transfer: _transfer,
    Bond: _bond,
    Unbond: _unbond,
    Withdraw: _withdraw,
    RegisterWorker: _register_worker,
    DepositLiquidity: _deposit_liquidity,
    WithdrawLiquidity: _withdraw_liquidity,
    RequestQuote: _request_quote,
    AcceptQuote: _accept_quote,
    SubmitResult: _submit_result,
    SealBlock: _seal_block,
    CastVote: _cast_vote,
    ReportInvalidAttestation: _report_invalid_attestation,
}


__all__ = ["Event", "apply", "genesis"]
