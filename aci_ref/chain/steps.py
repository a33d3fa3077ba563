"""Steps shared by several transitions: slash, settle, refund, move a quality score.

Each step takes a state and returns a new one with the effects it caused. None of them checks
whether an event may take it: that is the caller's job (`aci_ref.market.jobs.legal_outcomes`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

import immutables

from aci_ref.chain.effects import Effects, QualityChanged, Refunded, RefundReason, Settled, Slashed
from aci_ref.chain.state import VERIFICATION_POOL, ChainState, PlatformRecord, WorkerInfo
from aci_ref.crypto import sha256
from aci_ref.economics import fees, ledger, slashing, staking
from aci_ref.economics.ledger import Role
from aci_ref.economics.slashing import SLASHING_TABLE, Evidence, Violation
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import InvariantViolation, RejectedError, Rejection
from aci_ref.market import hmm
from aci_ref.market.jobs import Job, JobStatus, advance
from aci_ref.params import BPS
from aci_ref.poai.quality import update_quality

EVIDENCE_DOMAIN: Final = "aci-ref/chain/evidence"

BANNING: Final = frozenset({Violation.SYBIL, Violation.WRONG_OUTPUT})
"""ref: bans (errata E70) — the offences that end a worker's (and its platform's) career.

Every other slash only costs stake: a worker whose backing falls below its required stake is
offered no job until it tops its stake up again (`Bond` in the worker role).
"""


def job_of(state: ChainState, job_id: bytes) -> Job:
    """The job `job_id`, or `unknown_job`."""
    job = state.jobs.get(job_id.hex())
    if job is None:
        raise RejectedError(Rejection.UNKNOWN_JOB, job_id.hex()[:16])
    return job


def put_job(state: ChainState, job: Job) -> ChainState:
    """`state` with `job` filed under its id."""
    return replace(state, jobs=state.jobs.set(job.job_id.hex(), job))


def without(deadlines: immutables.Map[str, int], key: str) -> immutables.Map[str, int]:
    """`deadlines` less `key`, whether or not it was there."""
    return deadlines.delete(key) if key in deadlines else deadlines


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


def offence_id(kind: str, **fields: object) -> bytes:
    """ref: offence ids (errata E59) — the digest naming one offence, so it slashes once."""
    return sha256(canonical_bytes({"domain": EVIDENCE_DOMAIN, "kind": kind, **fields}))


def worker_info(state: ChainState, worker: str) -> WorkerInfo:
    """The registry entry of a worker the chain must know (anything else is a bug)."""
    info = state.workers.get(worker)
    if info is None:
        raise InvariantViolation(f"{worker!r} is no registered worker")
    return info


def offered_quality(state: ChainState, worker: str) -> int:
    """ref: bans (errata E70) — the quality the market offers a worker at: 0 unless it may work.

    A worker may work when it is not banned and its backing reaches its required stake.
    """
    info = worker_info(state, worker)
    if info.banned or not staking.is_active(state.ledger, state.params, worker, Role.WORKER):
        return 0
    return info.quality_bps


def sync_market(state: ChainState, worker: str) -> ChainState:
    """Show the market the quality it may offer `worker` at (a departed worker is in no pool)."""
    info = worker_info(state, worker)
    pool = state.market.pools[info.resource_class]
    supply = pool.workers.get(worker)
    offered = offered_quality(state, worker)
    if supply is None or supply.quality_bps == offered:
        return state
    return replace(
        state, market=hmm.set_quality(state.market, info.resource_class, worker, offered)
    )


def ban(state: ChainState, worker: str) -> ChainState:
    """ref: bans (errata E70, E73) — `worker` and its platform never work again."""
    info = worker_info(state, worker)
    platform = info.platform_key.hex()
    record = state.platforms.get(platform, PlatformRecord())
    state = replace(
        state,
        workers=state.workers.set(worker, replace(info, banned=True)),
        platforms=state.platforms.set(platform, replace(record, banned=True)),
    )
    return sync_market(state, worker)


def slash(
    state: ChainState,
    violation: Violation,
    offender: str,
    evidence_id: bytes,
    reporter: str | None,
    job_id: bytes = b"",
) -> tuple[ChainState, Effects]:
    """Apply one Table 2 slash to `offender` in its row's role and level; then bar it if need be.

    An offender holding no stake any more loses nothing and nothing is recorded: a block or a
    vote must never be refused because its offender was already slashed to zero. A worker's
    banning offence bans it; any slash that leaves it under its required stake takes it out of
    the market until it tops up.
    """
    rule = SLASHING_TABLE[violation]
    role = rule.role
    position = state.ledger.stakes.get(ledger.stake_key(offender, role))
    if position is None or position.held == 0:
        return state, ()
    evidence = Evidence(violation, offender, role, evidence_id, reporter, job_id.hex())
    new_ledger, record = slashing.slash(state.ledger, state.params, evidence)
    state = replace(state, ledger=new_ledger)
    if role is Role.WORKER:
        state = ban(state, offender) if violation in BANNING else sync_market(state, offender)
    return state, (Slashed(record, violation, rule.level, job_id),)


def self_dealt(state: ChainState, job: Job) -> bool:
    """ref: self-dealing (errata E75) — the client is the worker, or an identity on its platform."""
    if job.client == job.worker:
        return True
    client = state.workers.get(job.client)
    return client is not None and client.platform_key == worker_info(state, job.worker).platform_key


def move_quality(state: ChainState, worker: str, result_bps: int) -> tuple[ChainState, Effects]:
    """Algorithm 2 line 16: the worker's score moves toward `result_bps` (Level 3)."""
    info = worker_info(state, worker)
    quality = update_quality(state.params, info.quality_bps, result_bps)
    state = replace(state, workers=state.workers.set(worker, replace(info, quality_bps=quality)))
    return sync_market(state, worker), (QualityChanged(worker, quality),)


def settle(state: ChainState, job: Job) -> tuple[ChainState, Effects]:
    """Algorithm 1 line 14, §2.2: release escrow as Table 5 splits it; capacity returns.

    The verifiers' share goes to the verification pool, paid out for votes (errata E90).

    The worker's quality rises unless the job was self-dealt (errata E75).
    """
    new_ledger, split = fees.settle_escrow(
        state.ledger,
        state.params,
        job.job_id.hex(),
        job.worker,
        active_stakes(state, Role.VALIDATOR),
        {VERIFICATION_POOL: 1},
        hmm.lp_weights(state.market, job.resource_class),
    )
    market = hmm.release(state.market, state.params, job.resource_class, job.worker, job.units)
    key = job.job_id.hex()
    state = replace(state, ledger=new_ledger, market=market, voting=without(state.voting, key))
    state = put_job(state, advance(job, JobStatus.SETTLED))
    settled = Settled(job.job_id, job.worker, split, reexecuted=bool(job.votes))
    if self_dealt(state, job):
        return state, (settled,)
    state, quality = move_quality(state, job.worker, BPS)
    return state, (settled, *quality)


def refund(state: ChainState, job: Job, why: RefundReason) -> tuple[ChainState, Effects]:
    """The client's escrow comes back whole; the worker's capacity returns."""
    new_ledger = ledger.escrow_refund(state.ledger, job.job_id.hex())
    market = hmm.release(state.market, state.params, job.resource_class, job.worker, job.units)
    key = job.job_id.hex()
    state = replace(state, ledger=new_ledger, market=market, voting=without(state.voting, key))
    state = put_job(state, advance(job, JobStatus.REFUNDED))
    return state, (Refunded(job.job_id, job.client, job.price, why),)
