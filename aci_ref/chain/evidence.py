"""ReportInvalidAttestation: a worker's own signed submission that fails Level 1 costs it 50 %."""

from __future__ import annotations

from aci_ref.chain.effects import Effects
from aci_ref.chain.jobs import check_level1, expected_job, model_of
from aci_ref.chain.state import ChainState
from aci_ref.chain.steps import job_of, slash
from aci_ref.economics.slashing import Violation
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import ReportInvalidAttestation, SubmitResult
from aci_ref.market.jobs import JobEvent, legal_outcomes
from aci_ref.poai.attestation import attestation_digest
from aci_ref.poai.evidence import InvalidAttestationEvidence, check_evidence
from aci_ref.poai.profiles import HARDWARE_CLASSES
from aci_ref.poai.verification import LEVEL1_REJECTIONS


def process_report_invalid_attestation(
    state: ChainState, body: ReportInvalidAttestation, sender: str
) -> tuple[ChainState, Effects]:
    """Table 2 row Invalid attestation, §3.5: slash on the worker's own result failing Level 1.

    The proof is the worker's signed SubmitResult (which the chain refused): it must be for a job
    the worker was assigned (escrowed: `legal_outcomes`), signed by that worker, not an
    attestation the chain accepted, and fail Level 1 with a Level 1 code; the chain then checks
    it as `InvalidAttestationEvidence` (`check_evidence`). Its offence is (attestation, job)
    (errata E59): however many envelopes carry one statement, it slashes once. A worker that
    has left still answers with its unbonding stake.
    """
    submission = body.submission
    result = submission.body
    if not isinstance(result, SubmitResult):
        raise RejectedError(Rejection.EVIDENCE_MISMATCH, "evidence is not a submitted result")
    job = job_of(state, result.job_id)
    legal_outcomes(job, JobEvent.REPORT)
    if submission.sender != job.worker:
        raise RejectedError(Rejection.EVIDENCE_MISMATCH, "not submitted by the job's worker")
    if not submission.verifies(state.keys[job.worker]):
        raise RejectedError(Rejection.BAD_SIGNATURE, "evidence is not the worker's")
    if attestation_digest(result.attestation).hex() in state.attestations:
        raise RejectedError(Rejection.EVIDENCE_MISMATCH, "the chain accepted this attestation")
    try:
        check_level1(state, job, result)
    except RejectedError as failed:
        code = failed.rejection
    else:
        raise RejectedError(Rejection.EVIDENCE_MISMATCH, "the attestation passes Level 1")
    if code not in LEVEL1_REJECTIONS:
        raise RejectedError(Rejection.EVIDENCE_MISMATCH, code.value)
    expected = expected_job(state, job)
    evidence = InvalidAttestationEvidence(result.attestation, expected, result.output, code)
    proven = check_evidence(
        evidence,
        anchors=state.anchors,
        params=state.params,
        expected=expected,
        profile=model_of(state, job).profile,
        hardware=HARDWARE_CLASSES[job.resource_class],
    )
    if not proven:
        raise RejectedError(Rejection.EVIDENCE_MISMATCH, "the evidence does not check out")
    offence = evidence.offence_id()
    if offence.hex() in state.ledger.evidence_used:
        raise RejectedError(Rejection.DUPLICATE_EVIDENCE, offence.hex()[:16])
    return slash(state, Violation.INVALID_ATTESTATION, job.worker, offence, sender, job.job_id)
