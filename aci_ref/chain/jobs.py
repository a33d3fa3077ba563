"""The job lifecycle's signed events: RequestQuote, AcceptQuote, SubmitResult (Algorithm 1)."""

from __future__ import annotations

from dataclasses import replace

from aci_ref.chain.effects import Assigned, Attested, Effects, Quoted
from aci_ref.chain.state import ChainState, ModelInfo
from aci_ref.chain.steps import job_of, put_job, worker_info
from aci_ref.crypto import sha256
from aci_ref.economics import ledger
from aci_ref.errors import InvariantViolation, RejectedError, Rejection
from aci_ref.events import AcceptQuote, RequestQuote, SubmitResult, job_id_of
from aci_ref.market import hmm
from aci_ref.market.jobs import (
    Job,
    JobEvent,
    JobSpec,
    JobStatus,
    advance,
    legal_outcomes,
    sla_bounds,
    timeout_deadline,
)
from aci_ref.poai.attestation import attestation_digest
from aci_ref.poai.profiles import HARDWARE_CLASSES, check_input
from aci_ref.poai.verification import ExpectedJob, check_attestation


def model_of(state: ChainState, job: Job) -> ModelInfo:
    """The registry entry of a job's model (a job of an unknown model is a bug)."""
    model = state.models.get(job.spec.model_id)
    if model is None:
        raise InvariantViolation(f"job {job.job_id.hex()[:16]} names no registered model")
    return model


def expected_job(state: ChainState, job: Job) -> ExpectedJob:
    """Algorithm 2 line 3: what the chain knows of the job an attestation must be about."""
    return ExpectedJob(
        job.job_id,
        job.spec.h_input,
        model_of(state, job).h_model,
        job.escrowed_at_ms,
        not_after_ms=job.deadline_ms,
        enclave_key=job.enclave_key,
    )


def check_level1(state: ChainState, job: Job, body: SubmitResult) -> None:
    """Algorithm 2 Level 1 against what the chain knows of this job and its worker."""
    model = model_of(state, job)
    check_attestation(
        body.attestation,
        state.anchors,
        expected_job(state, job),
        body.output,
        model.profile,
        HARDWARE_CLASSES[job.resource_class],
        state.params,
    )


def process_request_quote(
    state: ChainState, body: RequestQuote, sender: str, nonce: int
) -> tuple[ChainState, Effects]:
    """Algorithm 1 lines 2–3, §2.2: the client broadcasts J; the HMM quotes (worker, price, ETA).

    Refused before anything is stored, in order: `unknown_model`; `non_positive_amount` for a
    budget under 1; `sla_out_of_range` outside `sla_bounds`; `input_too_large` /
    `input_unrunnable` for an input the model cannot run (errata E71); then the market's codes.
    The job's id is `job_id_of(sender, nonce)`, never the client's choice.
    """
    model = state.models.get(body.model_id)
    if model is None:
        raise RejectedError(Rejection.UNKNOWN_MODEL, body.model_id)
    if body.budget <= 0:
        raise RejectedError(Rejection.NON_POSITIVE_AMOUNT, "a budget must be positive")
    shortest, longest = sla_bounds(state.params)
    if not shortest <= body.sla_ms <= longest:
        raise RejectedError(
            Rejection.SLA_OUT_OF_RANGE, f"SLA {body.sla_ms} ms outside [{shortest}, {longest}]"
        )
    check_input(model.input_rule, body.input, state.params.max_input_bytes)
    job_id = job_id_of(sender, nonce)
    if job_id.hex() in state.jobs:
        raise InvariantViolation(f"job id {job_id.hex()[:16]} reused: nonces are unique")
    quote = hmm.quote(state.market, state.params, model.resource_class, model.units)
    if quote.price > body.budget:
        raise RejectedError(Rejection.BUDGET_EXCEEDED, f"price {quote.price} > {body.budget}")
    spec = JobSpec(body.model_id, body.input, sha256(body.input), body.sla_ms, body.budget)
    job = Job(job_id, sender, spec, JobStatus.SUBMITTED, model.resource_class, model.units)
    job = advance(
        job,
        JobStatus.QUOTED,
        worker=quote.worker,
        price=quote.price,
        eta_ms=quote.eta_ms,
        quoted_at_ms=state.now_ms,
        quoted_height=state.height,
    )
    state = replace(put_job(state, job), open_quotes=(*state.open_quotes, job_id.hex()))
    return state, (Quoted(job_id, quote.worker, quote.price, quote.eta_ms),)


def process_accept_quote(
    state: ChainState, body: AcceptQuote, sender: str
) -> tuple[ChainState, Effects]:
    """Algorithm 1 line 4, §2.2: the client accepts; HMM_SWAP fills in its bound; escrow locks."""
    job = job_of(state, body.job_id)
    if job.client != sender:
        raise RejectedError(Rejection.NOT_JOB_CLIENT, sender)
    if job.status is JobStatus.EXPIRED:
        raise RejectedError(Rejection.QUOTE_EXPIRED, body.job_id.hex()[:16])
    legal_outcomes(job, JobEvent.ACCEPT_QUOTE)
    if job.quoted_height != state.height:
        raise InvariantViolation(f"quote {body.job_id.hex()[:16]} outlived its block")
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
        escrowed_height=state.height,
        deadline_ms=deadline,
        enclave_key=worker_info(state, fill.worker).enclave_key,
    )
    state = replace(
        put_job(state, running),
        ledger=new_ledger,
        market=market,
        open_quotes=tuple(q for q in state.open_quotes if q != job.job_id.hex()),
        executing=state.executing.set(job.job_id.hex(), deadline),
    )
    return state, (Assigned(job.job_id, fill.worker, fill.price, state.now_ms, deadline),)


def process_submit_result(
    state: ChainState, body: SubmitResult, sender: str
) -> tuple[ChainState, Effects]:
    """Algorithm 1 line 8, §2.2, and Algorithm 2 Level 1: the worker's (y, σ) is checked.

    A job that was only quoted has no worker yet (`not_job_worker`); a job still executing takes
    its worker's result until the block that times it out, whatever the clock says (E70).
    """
    job = job_of(state, body.job_id)
    if job.worker != sender or job.status is JobStatus.QUOTED:
        raise RejectedError(Rejection.NOT_JOB_WORKER, sender)
    legal_outcomes(job, JobEvent.SUBMIT_RESULT)
    digest = attestation_digest(body.attestation)
    if digest.hex() in state.attestations:
        raise RejectedError(Rejection.ATTESTATION_REPLAYED, digest.hex()[:16])
    check_level1(state, job, body)
    attested = advance(
        job,
        JobStatus.ATTESTED,
        h_output=body.attestation.h_output,
        output=body.output,
        attestation_digest=digest,
    )
    state = replace(
        put_job(state, attested),
        attestations=state.attestations.set(digest.hex(), job.job_id.hex()),
        pending=(*state.pending, job.job_id.hex()),
        executing=state.executing.delete(job.job_id.hex()),
    )
    return state, (Attested(job.job_id, job.worker),)
