"""RevealProbe: an auditor opens its commitment and shows its wrong output was planted (E90).

Forced errors make re-executing worth a verifier's while even when every real worker is honest
(the verifier's dilemma, Luu et al. 2015; TrueBit's forced errors). A probe must look like any
other job, so it is planted by a worker: genesis holds hidden commitments to the audit
programme's worker identities; such a worker takes jobs its own clients ordered and returns, on
some, a wrong output under its genuine attestation. Once a committee has judged the job, the
auditor reveals: the accepting voters missed a fault and are slashed, the rejecting ones are
credited, and the auditor's identity, now known, works no more.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from aci_ref.chain.effects import Effects, ProbeRevealed, RefundReason
from aci_ref.chain.state import ChainState
from aci_ref.chain.steps import ban, job_of, refund
from aci_ref.chain.verifier_pay import judge_votes
from aci_ref.crypto import sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import RevealProbe
from aci_ref.market.jobs import JobEvent, JobStatus, advance, legal_outcomes

PROBE_DOMAIN: Final = "aci-ref/poai/probe"


def probe_commitment(worker: str, salt: bytes) -> bytes:
    """ref: probes (errata E90) — SHA-256(canonical {"domain", "salt", "worker"})."""
    return sha256(canonical_bytes({"domain": PROBE_DOMAIN, "salt": salt, "worker": worker}))


def process_reveal_probe(
    state: ChainState, body: RevealProbe, sender: str
) -> tuple[ChainState, Effects]:
    """ref: probes (errata E90) — settle a planted fault with the verifiers who judged it.

    Refused: `unknown_job`; `illegal_transition` or `already_settled` unless the job is disputed
    or settled; `not_job_worker` (the sender is not its worker); `not_a_probe` (genesis holds no
    commitment to (sender, salt)); `probe_already_revealed`; `probe_not_judged` (a settled job
    that was never voted on, or that arbitration decided). A disputed probe ends its dispute: the
    client is refunded and the worker is not slashed; a settled one stays settled. Either way
    every vote cast on it is judged against a wrong output and the auditor is retired (banned,
    not slashed).
    """
    job = job_of(state, body.job_id)
    legal_outcomes(job, JobEvent.REVEAL_PROBE)
    if sender != job.worker:
        raise RejectedError(Rejection.NOT_JOB_WORKER, sender)
    key = probe_commitment(sender, body.salt).hex()
    if key not in state.probes:
        raise RejectedError(Rejection.NOT_A_PROBE, sender)
    if state.probes[key]:
        raise RejectedError(Rejection.PROBE_ALREADY_REVEALED, key[:16])
    disputed = job.status is JobStatus.DISPUTED
    if disputed:
        votes = (*job.verification_votes, *job.votes)
    elif job.sampled and job.votes and JobStatus.DISPUTED not in job.history:
        votes = job.votes
    else:
        raise RejectedError(Rejection.PROBE_NOT_JUDGED, "no committee vote decided this job")
    state = replace(state, probes=state.probes.set(key, True))
    state, slashed = judge_votes(state, job, votes, output_right=False)
    refunded: Effects = ()
    if disputed:
        state, refunded = refund(state, advance(job, JobStatus.ARBITRATED), RefundReason.PROBE)
    state = ban(state, sender)
    caught = tuple(sorted(v.verifier for v in votes if not v.accept))
    missed = tuple(sorted(v.verifier for v in votes if v.accept))
    return state, (*slashed, *refunded, ProbeRevealed(job.job_id, sender, caught, missed))
