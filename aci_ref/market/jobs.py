"""The job lifecycle of Algorithm 1 as data: every state, every legal transition, the job record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params
from aci_ref.poai.votes import Vote


class JobStatus(StrEnum):
    """ref: Algorithm 1 states — where a job is in its lifecycle (errata E8)."""

    SUBMITTED = "submitted"  # Phase 1: the client broadcast J
    QUOTED = "quoted"  # Phase 1: the HMM returned (worker, price, ETA)
    ESCROWED = "escrowed"  # Phase 1: the client accepted and its payment is locked
    EXECUTING = "executing"  # Phase 2: the assigned worker runs the model in its enclave
    ATTESTED = "attested"  # Phase 2: (y, σ) passed Level 1 and waits for the beacon
    VERIFYING = "verifying"  # Phase 3: sampled; a verifier committee re-executes and votes
    DISPUTED = "disputed"  # Phase 4: verification did not accept; arbitration decides
    ARBITRATED = "arbitrated"  # Phase 4: the arbitration committee has decided
    SETTLED = "settled"  # Phase 4: the worker is paid and fees distributed (final)
    TIMED_OUT = "timed_out"  # no result within timeout_sla_multiple x SLA
    REFUNDED = "refunded"  # the client has its escrow back (final)
    EXPIRED = "expired"  # a quote the client never accepted (final)


TRANSITIONS: Final[Mapping[JobStatus, frozenset[JobStatus]]] = MappingProxyType(
    {
        JobStatus.SUBMITTED: frozenset({JobStatus.QUOTED}),
        JobStatus.QUOTED: frozenset({JobStatus.ESCROWED, JobStatus.EXPIRED}),
        JobStatus.ESCROWED: frozenset({JobStatus.EXECUTING}),
        JobStatus.EXECUTING: frozenset({JobStatus.ATTESTED, JobStatus.TIMED_OUT}),
        JobStatus.ATTESTED: frozenset({JobStatus.SETTLED, JobStatus.VERIFYING}),
        JobStatus.VERIFYING: frozenset({JobStatus.SETTLED, JobStatus.DISPUTED}),
        JobStatus.DISPUTED: frozenset({JobStatus.ARBITRATED}),
        JobStatus.ARBITRATED: frozenset({JobStatus.SETTLED, JobStatus.REFUNDED}),
        JobStatus.TIMED_OUT: frozenset({JobStatus.REFUNDED}),
        JobStatus.SETTLED: frozenset(),
        JobStatus.REFUNDED: frozenset(),
        JobStatus.EXPIRED: frozenset(),
    }
)
"""Algorithm 1, §2.2: the job lifecycle as a table of legal transitions.

Phase 1 (matching) is SUBMITTED → QUOTED → ESCROWED; Phase 2 (execution) is EXECUTING → ATTESTED;
Phase 3 (verification) is ATTESTED → VERIFYING for sampled jobs; Phase 4 (settlement) ends in
SETTLED, or passes through DISPUTED → ARBITRATED to SETTLED or REFUNDED. A job whose worker misses
its deadline goes EXECUTING → TIMED_OUT → REFUNDED. Anything not listed is refused with
`illegal_transition`.
"""

FINAL_STATES: Final = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)
"""ref: Algorithm 1 states — the states a job never leaves."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """ref: Algorithm 1 input — J = (model, input, SLA, budget), with the input's hash."""

    model_id: str
    input: bytes
    h_input: bytes
    sla_ms: int
    budget: int


@dataclass(frozen=True, slots=True)
class Job:
    """ref: Algorithm 1 record — one job and everything the chain has learned about it."""

    job_id: bytes
    client: str
    spec: JobSpec
    status: JobStatus
    resource_class: str
    units: int
    worker: str = ""
    price: int = 0
    eta_ms: int = 0
    quoted_at_ms: int = 0
    escrowed_at_ms: int = 0
    deadline_ms: int = 0
    h_output: bytes = b""
    output: bytes = b""
    attestation_digest: bytes = b""
    submission_digest: bytes = b""
    sampled: bool = False
    committee: tuple[str, ...] = ()
    votes: tuple[Vote, ...] = ()
    accusers: tuple[str, ...] = ()
    arbiters: tuple[str, ...] = ()
    beacon: bytes = b""
    quoted_height: int = 0
    enclave_key: bytes = b""
    caught_level: int = 0
    history: tuple[JobStatus, ...] = ()

    @property
    def final(self) -> bool:
        """True once the job can change no more."""
        return self.status in FINAL_STATES


def advance(job: Job, to: JobStatus, **changes: object) -> Job:
    """ref: Algorithm 1 transition — move `job` to `to` if TRANSITIONS allows, else refuse."""
    if to not in TRANSITIONS[job.status]:
        raise RejectedError(
            Rejection.ILLEGAL_TRANSITION, f"job {job.job_id.hex()[:12]}: {job.status} → {to}"
        )
    return replace(job, status=to, history=(*job.history, job.status), **changes)  # type: ignore[arg-type]


def timeout_deadline(params: Params, escrowed_at_ms: int, sla_ms: int) -> int:
    """Table 2 row Timeout, §3.5: a worker times out after timeout_sla_multiple × SLA."""
    return escrowed_at_ms + params.timeout_sla_multiple * sla_ms
