"""ref: refusal cases — the one prepared world every refusal row is applied to.

A world at sampling rate 1 holding a job in each interesting state (settled, expired, verifying,
disputed, careless and reported, executing, quoted, quoted for a client with nothing), all built
through the public actor harness; `aci_ref.vectors.refusals` holds the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cache

from aci_ref.crypto import sha256
from aci_ref.errors import Rejection
from aci_ref.events import (
    ReportInvalidAttestation,
    SignedEvent,
)
from aci_ref.market.jobs import JobStatus
from aci_ref.sim.world import (
    World,
    build_world,
    workers_of,
    world_params,
)

NOWHERE = sha256(b"no such job")


@dataclass(frozen=True)
class Prepared:
    """A world at rate 1 holding a job in each interesting state, all in its current block."""

    world: World
    settled: bytes  # sampled, accepted by its committee, paid
    expired: bytes  # quoted in an earlier block
    verifying: bytes  # sampled, its committee has not voted
    disputed: bytes  # rejected by its committee; one arbiter voted to accept
    careless: bytes  # its worker's careless result was refused and reported
    careless_submission: SignedEvent
    executing: bytes  # accepted in this block, no result yet
    quoted: bytes  # quoted in this block
    poor_quoted: bytes  # quoted in this block for a client with no balance

    def other_worker(self, job_id: bytes) -> str:
        return next(w for w in self.world.workers if w != self.world.job(job_id).worker)


@cache
def prepared() -> Prepared:
    world = build_world(
        world_params(Fraction(1)),
        label="rejections",
        poor_clients=1,
        workers=workers_of(*["honest"] * 3),
    )
    settled = world.run_job("client-0")
    expired = world.request("client-1")
    verifying = world.order("client-0")
    world.submit(verifying)
    disputed = world.order("client-1")
    world.submit(disputed)
    world.seal()
    (accuser,) = world.job(disputed).committee
    world.vote(accuser, disputed, accept=False)
    assert world.job(disputed).status is JobStatus.DISPUTED
    world.vote(world.job(disputed).arbiters[0], disputed)
    assert world.job(disputed).status is JobStatus.DISPUTED
    careless = world.order("client-0")
    careless_submission = world.result_event(careless, behaviour="careless")
    assert world.refuse(careless_submission) is Rejection.METRICS_INCONSISTENT
    world.act("validator-0", ReportInvalidAttestation(careless_submission))
    executing = world.order("client-0")
    quoted = world.request("client-1")
    poor_quoted = world.request("poor-0")
    return Prepared(
        world,
        settled,
        expired,
        verifying,
        disputed,
        careless,
        careless_submission,
        executing,
        quoted,
        poor_quoted,
    )
