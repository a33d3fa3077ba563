"""Unbond: stake starts leaving a role; a worker unbonding all of it leaves its pool."""

from __future__ import annotations

from fractions import Fraction

from aci_ref.economics.ledger import Role
from aci_ref.economics.slashing import Violation
from aci_ref.errors import RejectedError
from aci_ref.events import RequestQuote, Unbond, Withdraw, job_id_of
from aci_ref.market.jobs import JobStatus
from aci_ref.sim.world import MODEL_ID, build_world, workers_of, world_params
from tests.chain.helpers import holds, largest_sla, slashes

ALWAYS = Fraction(1)
NEVER = Fraction(0)


def test_a_departing_worker_does_not_halt_the_epoch_close() -> None:
    world = build_world(world_params(NEVER), workers=workers_of("honest", "honest"))
    bonded = world.state.ledger.stakes["honest-0/worker"].bonded
    world.act("honest-0", Unbond(Role.WORKER, bonded))
    epoch_ms = world.params.epoch_duration_ms
    for _ in range(3):  # every later epoch-crossing block must seal too
        world.seal(advance_ms=epoch_ms)
    assert world.state.epoch == 3
    holds(world)


def test_a_false_accuser_cannot_unbond_before_its_accusation_fails() -> None:
    world = build_world(world_params(ALWAYS), verifiers=7)
    sla = largest_sla(world)
    nonce = world.next_nonce("client-0")
    body = RequestQuote(MODEL_ID, world.new_input(), sla, world.params.tokens(10**6))
    world.act("client-0", body)
    job_id = job_id_of("client-0", nonce)
    world.accept(job_id)
    world.submit(job_id)
    world.seal()
    (accuser,) = world.job(job_id).committee
    world.vote(accuser, job_id, accept=False)
    assert world.job(job_id).status is JobStatus.DISPUTED
    world.act(accuser, Unbond(Role.VERIFIER, world.stake(accuser, Role.VERIFIER)))
    # The accuser waits as long as it can before the arbiters decide, then tries to leave.
    arbitration = world.job(job_id)
    while world.state.now_ms + world.params.epoch_duration_ms < arbitration.deadline_ms:
        world.seal(advance_ms=world.params.epoch_duration_ms)
        try:
            world.fork().act(accuser, Withdraw(Role.VERIFIER))
        except RejectedError:
            continue
        world.act(accuser, Withdraw(Role.VERIFIER))
        break
    world.decide(job_id)
    assert world.job(job_id).status is JobStatus.SETTLED
    accusations = [s for s in slashes(world) if s.violation is Violation.FALSE_ACCUSATION]
    assert [s.record.offender for s in accusations] == [accuser]
    assert accusations[0].record.amount > 0
    holds(world)
