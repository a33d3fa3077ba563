"""ref: chain invariants — what must hold of every chain state and of every run's effects.

`check_chain(state)` recomputes from scratch what `aci_ref.chain` maintains and raises
`InvariantViolation` naming the first broken rule. `check_effects(effects, state)` checks the
per-run properties that only the stream of effects shows (no job settled twice, every fee split
exact, every slash backed by evidence). Each check is shown failing on a planted fault in
`tests/unit/test_chain_invariants.py`; a checker that cannot fail proves nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Final

from aci_ref.chain.effects import Effect, Refunded, Settled, Slashed
from aci_ref.chain.state import VERIFICATION_POOL, ChainState
from aci_ref.crypto import sha256
from aci_ref.economics.invariants import check_fee_split, check_ledger
from aci_ref.economics.slashing import EVIDENCE_ID_BYTES
from aci_ref.errors import InvariantViolation
from aci_ref.market.hmm_invariants import check_market
from aci_ref.market.jobs import Job, JobStatus

HOLDING: Final = frozenset(
    {
        JobStatus.ESCROWED,
        JobStatus.EXECUTING,
        JobStatus.ATTESTED,
        JobStatus.VERIFYING,
        JobStatus.DISPUTED,
        JobStatus.ARBITRATED,
    }
)
"""ref: chain invariants — the job states holding the client's escrow and the worker's capacity."""

RESULT_STATES: Final = frozenset(
    {
        JobStatus.ATTESTED,
        JobStatus.VERIFYING,
        JobStatus.DISPUTED,
        JobStatus.ARBITRATED,
        JobStatus.SETTLED,
    }
)
"""ref: chain invariants — the job states reached only through an accepted result."""


def _fail(rule: str, detail: str) -> InvariantViolation:
    return InvariantViolation(f"{rule}: {detail}")


def _name(job: Job) -> str:
    return job.job_id.hex()[:16]


def check_ledger_laws(state: ChainState) -> None:
    """ref: chain invariants — the ledger conserves the supply and holds no negative amount.

    Delegates to `aci_ref.economics.invariants.check_ledger` (conservation, non-negativity,
    structure, Table 5's shares, stake minimums).
    """
    check_ledger(state.ledger, state.params)


def check_pools(state: ChainState) -> None:
    """ref: chain invariants — every HMM pool is consistent and keeps H = Ψ·Θ ≥ κ.

    Delegates to `aci_ref.market.hmm_invariants.check_market`.
    """
    check_market(state.market)


def check_job_keys(state: ChainState) -> None:
    """ref: chain invariants — every job is filed under the hex of its own id."""
    for key, job in state.jobs.items():
        if key != job.job_id.hex():
            raise _fail("job keys", f"job {_name(job)} filed under {key[:16]}")


def check_escrow(state: ChainState) -> None:
    """ref: chain invariants — escrow is held exactly by the jobs in HOLDING, for their price.

    A job in HOLDING has an escrow under its id, paid by its client, of exactly its price; every
    escrow in the ledger belongs to such a job (a settled, refunded or expired job holds none).
    """
    for key, job in state.jobs.items():
        escrow = state.ledger.escrow.get(key)
        if job.status in HOLDING:
            if escrow is None:
                raise _fail("escrow", f"{job.status} job {_name(job)} holds no escrow")
            if escrow.amount != job.price or escrow.payer != job.client:
                raise _fail(
                    "escrow",
                    f"job {_name(job)} escrows {escrow.amount} from {escrow.payer!r}, "
                    f"its price is {job.price} from {job.client!r}",
                )
        elif escrow is not None:
            raise _fail("escrow", f"{job.status} job {_name(job)} still holds {escrow.amount}")
    for escrow_id in state.ledger.escrow:
        if escrow_id not in state.jobs:
            raise _fail("escrow", f"escrow {escrow_id[:16]} belongs to no job")


def check_attestations(state: ChainState) -> None:
    """ref: chain invariants — no payment without an accepted attestation.

    Every job that reached a result state (SETTLED included) has a non-empty attestation digest
    recorded in `state.attestations` for that very job, and an output that hashes to its
    attested h_output; every recorded digest names an existing job that carries it.
    """
    for key, job in state.jobs.items():
        if job.status not in RESULT_STATES and JobStatus.ATTESTED not in job.history:
            continue
        digest = job.attestation_digest
        if len(digest) != 32:
            raise _fail("attestations", f"{job.status} job {_name(job)} has no attestation")
        if state.attestations.get(digest.hex()) != key:
            raise _fail("attestations", f"job {_name(job)}'s attestation is not recorded for it")
        if sha256(job.output) != job.h_output:
            raise _fail("attestations", f"job {_name(job)}'s output does not hash to h_output")
    for digest_hex, key in state.attestations.items():
        owner = state.jobs.get(key)
        if owner is None or owner.attestation_digest.hex() != digest_hex:
            raise _fail("attestations", f"attestation {digest_hex[:16]} names no job holding it")


def check_capacity(state: ChainState) -> None:
    """ref: chain invariants — each worker's HMM in_use is the units of its jobs in HOLDING.

    Also: every job holding capacity names a worker present in its job's pool.
    """
    held: Counter[tuple[str, str]] = Counter()
    for job in state.jobs.values():
        if job.status in HOLDING:
            pool = state.market.pools.get(job.resource_class)
            if pool is None or job.worker not in pool.workers:
                raise _fail("capacity", f"job {_name(job)} holds capacity of no pooled worker")
            held[job.resource_class, job.worker] += job.units
    for resource_class, pool in state.market.pools.items():
        for worker, supply in pool.workers.items():
            expected = held[resource_class, worker]
            if supply.in_use != expected:
                raise _fail(
                    "capacity",
                    f"{worker!r} in {resource_class!r} has in_use {supply.in_use}, "
                    f"its jobs hold {expected}",
                )


def check_queues(state: ChainState) -> None:
    """ref: chain invariants — `pending`, `executing`, `voting`, `open_quotes` match job statuses.

    `pending` lists exactly the ATTESTED jobs, `executing` exactly the EXECUTING jobs with their
    deadlines, `open_quotes` exactly the QUOTED jobs, all quoted at the current height; none of
    them lists a job twice.
    """
    by_status: dict[JobStatus, set[str]] = {}
    for key, job in state.jobs.items():
        by_status.setdefault(job.status, set()).add(key)
    for name, listed, status in (
        ("pending", state.pending, JobStatus.ATTESTED),
        ("open_quotes", state.open_quotes, JobStatus.QUOTED),
        ("executing", tuple(state.executing.keys()), JobStatus.EXECUTING),
    ):
        if len(set(listed)) != len(listed):
            raise _fail("queues", f"{name} lists a job twice")
        if set(listed) != by_status.get(status, set()):
            raise _fail("queues", f"{name} does not list exactly the {status} jobs")
    for name, deadlines in (("executing", state.executing), ("voting", state.voting)):
        for key, deadline in deadlines.items():
            if state.jobs[key].deadline_ms != deadline:
                raise _fail("queues", f"{name} job {key[:16]} has deadline {deadline}, not its own")
    waiting = by_status.get(JobStatus.VERIFYING, set()) | by_status.get(JobStatus.DISPUTED, set())
    if set(state.voting.keys()) != waiting:
        raise _fail("queues", "voting does not list exactly the verifying and disputed jobs")
    for key in state.open_quotes:
        if state.jobs[key].quoted_height != state.height:
            raise _fail("queues", f"open quote {key[:16]} was made before height {state.height}")


def check_nonces(state: ChainState) -> None:
    """ref: chain invariants — every recorded nonce is positive and belongs to a known sender."""
    for sender, nonce in state.nonces.items():
        if sender not in state.keys:
            raise _fail("nonces", f"nonce recorded for unknown sender {sender!r}")
        if nonce < 1:
            raise _fail("nonces", f"{sender!r} has nonce {nonce}")


def check_chain(state: ChainState) -> None:
    """ref: chain invariants — every state-wide check, in a fixed order; raises on the first."""
    check_ledger_laws(state)
    check_pools(state)
    check_job_keys(state)
    check_escrow(state)
    check_attestations(state)
    check_capacity(state)
    check_queues(state)
    check_nonces(state)
    check_verifier_records(state)


def check_verifier_records(state: ChainState) -> None:
    """ref: chain invariants — the verification pool, vote credits, probes and reviews (E90).

    The pool is a keyless account; every credit is a positive integer held by a known sender;
    every probe commitment is a 32-byte digest in hex; every review is of a settled job, drawn
    from arbiters who vote at most once and only among themselves.
    """
    if VERIFICATION_POOL not in state.ledger.balances or VERIFICATION_POOL in state.keys:
        raise _fail("verifier pay", "the verification pool is missing or has a key")
    for name, credit in state.vote_credits.items():
        if name not in state.keys or not isinstance(credit, int) or credit <= 0:
            raise _fail("verifier pay", f"credit {credit!r} of {name!r}")
    for commitment in state.probes:
        if len(commitment) != 64 or bytes.fromhex(commitment).hex() != commitment:
            raise _fail("probes", f"commitment {commitment!r}")
    for key, review in state.reviews.items():
        job = state.jobs.get(key)
        if job is None or job.status is not JobStatus.SETTLED:
            raise _fail("probes", f"review of {key[:16]}, not a settled job")
        voters = [v.verifier for v in review.votes]
        if len(set(voters)) != len(voters) or not set(voters) <= set(review.arbiters):
            raise _fail("probes", f"review of {key[:16]} holds a vote it should not")


# ---- per-run properties, over the effects of a run -----------------------------------------------


def check_settled_once(effects: Iterable[Effect]) -> None:
    """ref: chain invariants — no job is settled twice, and no settled job is also refunded."""
    settled: Counter[bytes] = Counter()
    refunded: Counter[bytes] = Counter()
    for effect in effects:
        if isinstance(effect, Settled):
            settled[effect.job_id] += 1
        elif isinstance(effect, Refunded):
            refunded[effect.job_id] += 1
    for job_id, count in sorted(settled.items()):
        if count > 1:
            raise _fail("settlement", f"job {job_id.hex()[:16]} settled {count} times")
        if refunded[job_id]:
            raise _fail("settlement", f"job {job_id.hex()[:16]} settled and refunded")
    for job_id, count in sorted(refunded.items()):
        if count > 1:
            raise _fail("settlement", f"job {job_id.hex()[:16]} refunded {count} times")


def check_fee_splits(effects: Iterable[Effect], state: ChainState) -> None:
    """ref: chain invariants — each settlement paid a SETTLED job its price, split by Table 5.

    The split must sum to the job's price exactly and be Table 5's split
    (`aci_ref.economics.invariants.check_fee_split`), and the job must carry an accepted
    attestation (its digest recorded for it).
    """
    for effect in effects:
        if not isinstance(effect, Settled):
            continue
        job = state.jobs.get(effect.job_id.hex())
        if job is None or job.status is not JobStatus.SETTLED:
            raise _fail("settlement", f"paid job {effect.job_id.hex()[:16]} is not settled")
        if state.attestations.get(job.attestation_digest.hex()) != effect.job_id.hex():
            raise _fail("settlement", f"job {_name(job)} paid without an accepted attestation")
        if effect.worker != job.worker:
            raise _fail("settlement", f"job {_name(job)} paid {effect.worker!r}, not its worker")
        check_fee_split(state.params, job.price, effect.split)


def check_slash_evidence(effects: Iterable[Effect], state: ChainState) -> None:
    """ref: chain invariants — every slash carries a fresh 32-byte evidence id the ledger recorded.

    The id is non-zero, used by one slash only, and `state.ledger.evidence_used` holds it with
    the very record the effect reports.
    """
    seen: set[bytes] = set()
    for effect in effects:
        if not isinstance(effect, Slashed):
            continue
        evidence_id = effect.record.evidence_id
        if len(evidence_id) != EVIDENCE_ID_BYTES or not any(evidence_id):
            raise _fail("slashing", f"slash of {effect.record.offender!r} without evidence")
        if evidence_id in seen:
            raise _fail("slashing", f"evidence {evidence_id.hex()[:16]} used twice")
        seen.add(evidence_id)
        if state.ledger.evidence_used.get(evidence_id.hex()) != effect.record:
            raise _fail("slashing", f"evidence {evidence_id.hex()[:16]} not recorded as used")
        if effect.record.violation is not effect.violation:
            raise _fail("slashing", f"slash of {effect.record.offender!r} names two violations")


def check_effects(effects: Iterable[Effect], state: ChainState) -> None:
    """ref: chain invariants — every per-run property of `effects`, against the run's last state."""
    collected = tuple(effects)
    check_settled_once(collected)
    check_fee_splits(collected, state)
    check_slash_evidence(collected, state)


__all__ = [
    "HOLDING",
    "RESULT_STATES",
    "check_attestations",
    "check_capacity",
    "check_chain",
    "check_effects",
    "check_escrow",
    "check_fee_splits",
    "check_job_keys",
    "check_ledger_laws",
    "check_nonces",
    "check_pools",
    "check_queues",
    "check_settled_once",
    "check_slash_evidence",
]
