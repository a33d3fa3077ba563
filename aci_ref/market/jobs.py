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


class JobEvent(StrEnum):
    """ref: job events — what can move a job: a signed event, or a step of a block."""

    ACCEPT_QUOTE = "accept_quote"  # AcceptQuote by the client
    SUBMIT_RESULT = "submit_result"  # SubmitResult by the worker
    CAST_VOTE = "cast_vote"  # CastVote by a committee member or arbiter
    REPORT = "report_invalid_attestation"  # ReportInvalidAttestation by anyone
    REVEAL_PROBE = "reveal_probe"  # RevealProbe by an auditing worker (E90)
    EXPIRE = "expire"  # block step: the quote's block ended unaccepted
    DRAW = "draw"  # block step: the beacon draws the attested job (Algorithm 2 line 6)
    TIME_OUT = "time_out"  # block step: the execution deadline passed (Table 2 row Timeout)
    VOTES_OVERDUE = "votes_overdue"  # block step: a committee's vote deadline passed (E19)


_AFTER_ESCROW: Final = (
    JobStatus.EXECUTING,
    JobStatus.ATTESTED,
    JobStatus.VERIFYING,
    JobStatus.DISPUTED,
    JobStatus.SETTLED,
    JobStatus.REFUNDED,
)

EVENT_TRANSITIONS: Final[Mapping[tuple[JobStatus, JobEvent], frozenset[JobStatus]]] = (
    MappingProxyType(
        {
            (JobStatus.QUOTED, JobEvent.ACCEPT_QUOTE): frozenset({JobStatus.EXECUTING}),
            (JobStatus.QUOTED, JobEvent.EXPIRE): frozenset({JobStatus.EXPIRED}),
            (JobStatus.EXECUTING, JobEvent.SUBMIT_RESULT): frozenset({JobStatus.ATTESTED}),
            (JobStatus.EXECUTING, JobEvent.TIME_OUT): frozenset({JobStatus.REFUNDED}),
            (JobStatus.ATTESTED, JobEvent.DRAW): frozenset(
                {JobStatus.SETTLED, JobStatus.VERIFYING}
            ),
            (JobStatus.VERIFYING, JobEvent.CAST_VOTE): frozenset(
                {JobStatus.VERIFYING, JobStatus.SETTLED, JobStatus.DISPUTED, JobStatus.REFUNDED}
            ),
            (JobStatus.VERIFYING, JobEvent.VOTES_OVERDUE): frozenset(
                {JobStatus.DISPUTED, JobStatus.REFUNDED}
            ),
            (JobStatus.DISPUTED, JobEvent.CAST_VOTE): frozenset(
                {JobStatus.DISPUTED, JobStatus.SETTLED, JobStatus.REFUNDED}
            ),
            (JobStatus.DISPUTED, JobEvent.VOTES_OVERDUE): frozenset({JobStatus.REFUNDED}),
            # A probe is revealed once its committee has judged it (E90).
            (JobStatus.DISPUTED, JobEvent.REVEAL_PROBE): frozenset({JobStatus.DISPUTED}),
            (JobStatus.SETTLED, JobEvent.REVEAL_PROBE): frozenset({JobStatus.SETTLED}),
            # Evidence of an invalid attestation exists only for a job its worker was assigned
            # (escrowed): a report changes no status.
            **{(status, JobEvent.REPORT): frozenset({status}) for status in _AFTER_ESCROW},
        }
    )
)
"""ref: job events — which event may touch a job in which status, and where it can leave it.

The h11-style companion of `TRANSITIONS`: one lookup decides whether an event is legal for a job
at all (`legal_outcomes`); the single steps it takes are then each checked by `advance`.
A VERIFYING job can end REFUNDED on a vote when the dispute it opens finds no arbiter.
"""


def legal_outcomes(job: Job, event: JobEvent) -> frozenset[JobStatus]:
    """ref: job events — the statuses `event` may leave `job` in, or the refusal.

    Refuses `already_settled` for a job in a final status and `illegal_transition` otherwise.
    """
    outcomes = EVENT_TRANSITIONS.get((job.status, event))
    if outcomes is None:
        code = Rejection.ALREADY_SETTLED if job.final else Rejection.ILLEGAL_TRANSITION
        raise RejectedError(code, f"{event.value} on a {job.status.value} job")
    return outcomes


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
    escrowed_height: int = 0
    enclave_key: bytes = b""
    committee_stakes: tuple[int, ...] = ()  # each member's stake when drawn (E56)
    arbiter_stakes: tuple[int, ...] = ()
    verification_votes: tuple[Vote, ...] = ()  # the committee's votes, kept once disputed (E90)
    probe: bool = False  # its worker revealed it as a planted fault (E90)
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


def sla_bounds(params: Params) -> tuple[int, int]:
    """ref: SLA bounds (errata E19, E70) — the shortest and the longest SLA a job may ask for.

    Shortest: `min_sla_blocks` settlement intervals, so the worker always has blocks in which to
    answer. Longest: every deadline a job can reach (execution, verification, arbitration: three
    windows of timeout_sla_multiple × SLA, each closed up to a block late, plus the execution
    window's `min_sla_blocks` of grace, a block being at most an epoch long) must close before
    stake unbonded after the job began can be withdrawn:
    3·m·SLA + (min_sla_blocks + 4)·epoch ≤ unbonding delay. When the shortest exceeds the
    longest, no SLA is admissible and every job is refused.
    """
    shortest = params.min_sla_blocks * params.settlement_interval_ms
    slack = (params.min_sla_blocks + 4) * params.epoch_duration_ms
    longest = (params.unbonding_delay_ms - slack) // (3 * params.timeout_sla_multiple)
    return shortest, longest


def vote_deadline(params: Params, now_ms: int, job: Job) -> int:
    """ref: vote deadline (errata E19) — a committee gets timeout_sla_multiple × SLA to vote."""
    return now_ms + params.timeout_sla_multiple * job.spec.sla_ms


def execution_overdue(params: Params, job: Job, height: int, now_ms: int) -> bool:
    """Table 2 row Timeout (errata E70): the block at `height`, `now_ms` times the job out.

    Both must hold: the deadline has passed, and the worker has had `min_sla_blocks` blocks since
    the one that escrowed the job — so a block that jumps far ahead in time cannot time out a job
    whose worker had no block in which to answer.
    """
    return now_ms > job.deadline_ms and height > job.escrowed_height + params.min_sla_blocks
