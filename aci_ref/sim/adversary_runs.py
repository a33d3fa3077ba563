"""Drive §6.1's adversary policies through whole epochs of jobs on the real chain.

`run_epochs` plays blocks of jobs on a `World`: in each block every worker the market would quote
gets about one job, the job's worker answers by its policy (`aci_ref.sim.adversaries`), a result
Level 1 refuses is reported by a validator (Table 2 row Invalid attestation), the block is sealed
(its beacon samples, Algorithm 2 line 6) and every sampled job is voted on by the committee and,
if disputed, by the arbiters, each by its verifier policy. `jobs_per_worker` blocks make an epoch;
a final block jumps to the next epoch boundary, so timeouts and Level 3 epoch slashes land in the
epoch they belong to. Everything the chain did is read back from its effects into a `RunLog`.

Nothing here decides anything the chain decides: the log only records what `chain.apply` did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from aci_ref.chain import Refunded, Sampled, Settled, Slashed
from aci_ref.economics.ledger import Role
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import Bond, DepositLiquidity, ReportInvalidAttestation
from aci_ref.market.jobs import JobStatus
from aci_ref.params import BPS, Params
from aci_ref.poai.verification import LEVEL1_REJECTIONS
from aci_ref.sim.adversaries import HonestWorker, Response, VerifierPolicy, WorkerPolicy
from aci_ref.sim.world import RESOURCE_CLASS, WorkerSpec, World, register_body

HONEST: Final = HonestWorker()
NO_ROOM: Final = frozenset({Rejection.NO_WORKER, Rejection.NO_CAPACITY})
DECIDING: Final = (JobStatus.VERIFYING, JobStatus.DISPUTED)


@dataclass(frozen=True, slots=True)
class Caught:
    """One slash the chain applied during a run, with the run's epoch (from 1)."""

    epoch: int
    offender: str
    violation: str
    level: int
    amount: int
    job_id: str


@dataclass(slots=True)
class JobRecord:
    """What became of one job of a run (`outcome`: settled, timed_out, arbitrated, unresolved)."""

    worker: str
    epoch: int
    skipped: bool
    price: int
    refused: str = ""
    sampled: bool = False
    outcome: str = ""
    worker_fee: int = 0


@dataclass(slots=True)
class RunLog:
    """Every job and slash of a run, read from the chain's effects."""

    jobs: dict[str, JobRecord] = field(default_factory=dict)
    slashes: list[Caught] = field(default_factory=list)
    epochs: int = 0
    cursor: int = 0

    def jobs_of(self, worker: str) -> list[JobRecord]:
        """The worker's jobs, in the order they were served."""
        return [record for record in self.jobs.values() if record.worker == worker]

    def slashes_of(self, name: str) -> list[Caught]:
        return [caught for caught in self.slashes if caught.offender == name]

    def caught_epoch(self, name: str, violations: frozenset[str] | None = None) -> int | None:
        """The epoch of the first slash of `name` (of one of `violations`), None if never."""
        for caught in self.slashes_of(name):
            if violations is None or caught.violation in violations:
                return caught.epoch
        return None

    def stake_lost(self, name: str) -> int:
        """Base units the chain took from `name` by slashing, in every role."""
        return sum(caught.amount for caught in self.slashes_of(name))


def savings(log: RunLog, worker: str, params: Params) -> int:
    """Theorem 3 (Savings_lazy): the compute a worker skipped, valued at its fee share.

    Each skipped job saves what its compute would have cost, taken as the worker's Table 5 share
    of the job's price (cost ratio 1, the binding case of `proofs.theorem3`).
    """
    return sum(r.price * params.fee_worker_bps // BPS for r in log.jobs_of(worker) if r.skipped)


def unearned_fees(log: RunLog, worker: str) -> int:
    """ref: what the chain actually paid a worker for outputs it never computed."""
    return sum(r.worker_fee for r in log.jobs_of(worker) if r.skipped)


def eligible_workers(world: World) -> tuple[str, ...]:
    """HMM.md worker choice: the workers a quote may name now (quality bar met, capacity free)."""
    pool = world.state.market.pools[RESOURCE_CLASS]
    bar = world.params.quality_threshold
    return tuple(
        sorted(
            name
            for name, supply in pool.workers.items()
            if supply.quality_bps > 0 and Fraction(supply.quality_bps, BPS) >= bar and supply.free
        )
    )


def submit_response(
    world: World, job_id: bytes, policy: WorkerPolicy, reporter: str | None
) -> tuple[Response, Rejection | None]:
    """Algorithm 1 line 7 with Table 2 row Invalid attestation: submit the policy's answer.

    A result that Level 1 refuses stays with its signer as evidence: `reporter` (when given)
    reports it, and the chain slashes the worker. Returns the response and the Level 1 code.
    """
    worker = world.job(job_id).worker
    response = policy.respond(world, job_id)
    event = world.sign(worker, response.body(job_id))
    try:
        world.apply(event)
    except RejectedError as refused:
        if refused.rejection not in LEVEL1_REJECTIONS:
            raise
        if reporter is not None:
            world.act(reporter, ReportInvalidAttestation(event))
        return response, refused.rejection
    world.submissions[job_id.hex()] = event
    return response, None


def decide(world: World, job_id: bytes, verifiers: Mapping[str, VerifierPolicy]) -> None:
    """Algorithm 1 lines 12 and 15: committee, then arbiters, vote by their policies."""
    liars: dict[str, bool] = {}
    for name, policy in sorted(verifiers.items()):
        verdict = policy.verdict(world, name, job_id)
        if verdict is not None:
            liars[name] = verdict
    world.decide(job_id, liars)


def absorb(world: World, log: RunLog, epoch: int) -> None:
    """ref: run log — read the effects the chain applied since the last call into `log`."""
    for effect in world.log[log.cursor :]:
        if isinstance(effect, Slashed):
            record = effect.record
            log.slashes.append(
                Caught(
                    epoch,
                    record.offender,
                    effect.violation.value,
                    effect.level,
                    record.amount,
                    effect.job_id.hex(),
                )
            )
            continue
        if isinstance(effect, Sampled | Settled | Refunded):
            job = log.jobs.get(effect.job_id.hex())
            if job is None:
                continue
            if isinstance(effect, Sampled):
                job.sampled = True
            elif isinstance(effect, Settled):
                job.outcome, job.worker_fee = "settled", effect.split.worker
            else:
                job.outcome = effect.why.value
    log.cursor = len(world.log)


def play_block(
    world: World,
    workers: Mapping[str, WorkerPolicy],
    verifiers: Mapping[str, VerifierPolicy],
    log: RunLog,
    epoch: int,
    reporter: str | None,
) -> int:
    """Algorithm 1 lines 2–15 for one block of jobs, about one per eligible worker.

    Returns how many jobs were served (0 when no worker may be quoted any more).
    """
    ordered: list[bytes] = []
    for _ in eligible_workers(world):
        client = world.clients[len(log.jobs) % len(world.clients)]
        try:
            job_id = world.order(client)
        except RejectedError as full:
            if full.rejection not in NO_ROOM:
                raise
            break
        job = world.job(job_id)
        log.jobs[job_id.hex()] = JobRecord(job.worker, epoch, False, job.price)
        ordered.append(job_id)
    for job_id in ordered:
        record = log.jobs[job_id.hex()]
        response, code = submit_response(
            world, job_id, workers.get(record.worker, HONEST), reporter
        )
        record.skipped = response.skipped
        record.refused = "" if code is None else code.value
    world.seal()
    for job_id in ordered:
        if world.job(job_id).status in DECIDING:
            decide(world, job_id, verifiers)
    absorb(world, log, epoch)
    return len(ordered)


def close_epoch(world: World) -> None:
    """ref: epoch boundary — `min_sla_blocks` blocks so deadlines can pass, then the block
    that closes the epoch (timeouts and Level 3 slashes land in it)."""
    for _ in range(world.params.min_sla_blocks):
        world.seal()
    length = world.params.epoch_duration_ms
    boundary = (world.state.now_ms // length + 1) * length
    world.seal(advance_ms=boundary - world.state.now_ms)


def run_epochs(
    world: World,
    workers: Mapping[str, WorkerPolicy] | None = None,
    verifiers: Mapping[str, VerifierPolicy] | None = None,
    *,
    epochs: int,
    jobs_per_worker: int,
    report: bool = True,
    until: Callable[[RunLog], bool] | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunLog:
    """Theorem 2's setting on the real chain: `epochs` epochs of `jobs_per_worker` blocks.

    Workers missing from `workers` are honest; verifiers missing from `verifiers` vote their
    honest re-execution. With `report`, the first validator reports every result Level 1
    refused. Stops early once `until(log)` holds after an epoch; `progress(epoch)` after each.
    """
    if epochs < 0 or jobs_per_worker < 1:
        raise RejectedError(Rejection.BAD_INPUT, "need epochs >= 0 and jobs_per_worker >= 1")
    workers = {} if workers is None else workers
    verifiers = {} if verifiers is None else verifiers
    reporter = world.validators[0] if report and world.validators else None
    log = RunLog(cursor=len(world.log))
    for epoch in range(1, epochs + 1):
        for _ in range(jobs_per_worker):
            if not play_block(world, workers, verifiers, log, epoch, reporter):
                break
        close_epoch(world)
        absorb(world, log, epoch)
        log.epochs = epoch
        if progress is not None:
            progress(epoch)
        if until is not None and until(log):
            break
    return log


def all_caught(names: Sequence[str]) -> Callable[[RunLog], bool]:
    """ref: stop rule — for `run_epochs`: every one of `names` has been slashed."""
    return lambda log: all(log.slashes_of(name) for name in names)


def bootstrap_registering(world: World, specs: Sequence[WorkerSpec]) -> dict[str, str]:
    """Table 2 row Sybil: `build_world`'s bootstrap, but a refused registration is recorded.

    For a world built with `bootstrap=False`: a banned platform registers no one, so a third
    identity on it is refused rather than raising. Returns each worker's refusal code, "" when
    it registered.
    """
    params = world.params
    for v in world.validators:
        world.act(v, Bond(Role.VALIDATOR, params.tokens(params.validator_min_stake)))
    for v in world.verifiers:
        world.act(v, Bond(Role.VERIFIER, params.tokens(params.verifier_min_stake)))
    for lp in world.lps:
        world.act(lp, DepositLiquidity(RESOURCE_CLASS, params.tokens(5 * params.lp_min_stake)))
    outcome: dict[str, str] = {}
    for spec in specs:
        body = register_body(world, spec.name, spec.capacity, spec.throughput)
        try:
            world.act(spec.name, body)
        except RejectedError as refused:
            outcome[spec.name] = refused.rejection.value
        else:
            outcome[spec.name] = ""
    world.seal()
    return outcome


__all__ = [
    "Caught",
    "JobRecord",
    "RunLog",
    "absorb",
    "all_caught",
    "bootstrap_registering",
    "close_epoch",
    "decide",
    "eligible_workers",
    "play_block",
    "run_epochs",
    "savings",
    "submit_response",
    "unearned_fees",
]
