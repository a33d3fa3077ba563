"""ReportInvalidAttestation: a worker's own signed submission that fails Level 1 costs 50 %."""

from __future__ import annotations

from fractions import Fraction

import pytest

from aci_ref.chain import apply
from aci_ref.economics.ledger import Role
from aci_ref.economics.slashing import Violation
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import ReportInvalidAttestation, Unbond
from aci_ref.market.jobs import JobStatus
from aci_ref.sim.world import WorkerSpec, build_world, world_params
from tests.chain.helpers import holds, slashes

NEVER = Fraction(0)


def test_a_departed_worker_still_answers_for_an_invalid_attestation() -> None:
    spec = WorkerSpec("careless-0", "careless", stake_multiple=2)
    world = build_world(world_params(NEVER), workers=(spec,))
    job_id = world.order("client-0")
    careless = world.result_event(job_id, behaviour="careless")
    assert world.refuse(careless) is Rejection.METRICS_INCONSISTENT
    world.time_out(job_id)
    held = world.state.ledger.stakes["careless-0/worker"].bonded
    world.act("careless-0", Unbond(Role.WORKER, held))
    assert world.state.workers["careless-0"].departed
    before = world.stake("careless-0", Role.WORKER)
    world.act("validator-0", ReportInvalidAttestation(careless))
    (slash,) = [s for s in slashes(world) if s.violation is Violation.INVALID_ATTESTATION]
    assert slash.record.from_unbonding == slash.record.amount > 0
    assert world.stake("careless-0", Role.WORKER) == before - slash.record.amount
    holds(world)


def test_one_invalid_attestation_is_slashed_once() -> None:
    world = build_world(world_params(NEVER), workers=(WorkerSpec("careless-0", "careless"),))
    job_id = world.order("client-0")
    first = world.result_event(job_id, behaviour="careless")
    # The same statement, signed again under another nonce: a second envelope, one offence.
    second = world.sign("careless-0", first.body, nonce=first.nonce + 1)
    assert first.digest() != second.digest()
    world.act("validator-0", ReportInvalidAttestation(first))
    report = world.sign("validator-1", ReportInvalidAttestation(second))
    assert world.refuse(report) is Rejection.DUPLICATE_EVIDENCE
    assert len(slashes(world)) == 1
    holds(world)


def test_a_submission_for_a_job_never_accepted_is_no_evidence() -> None:
    world = build_world(world_params(NEVER))
    job_id = world.request("client-0")
    assert world.job(job_id).status is JobStatus.QUOTED
    premature = world.result_event(job_id)  # a valid statement; the job was only quoted
    assert world.refuse(premature) is Rejection.NOT_JOB_WORKER
    report = world.sign("validator-0", ReportInvalidAttestation(premature))
    assert world.refuse(report) in {Rejection.EVIDENCE_MISMATCH, Rejection.ILLEGAL_TRANSITION}
    assert not slashes(world)


def test_an_attestation_the_chain_accepted_is_no_evidence() -> None:
    world = build_world(world_params(NEVER))
    job_id = world.order("client-0")
    world.submit(job_id)
    accepted = world.submissions[job_id.hex()]
    report = world.sign("validator-0", ReportInvalidAttestation(accepted))
    with pytest.raises(RejectedError, match="accepted this attestation"):
        apply(world.state, report)
    assert not slashes(world)
