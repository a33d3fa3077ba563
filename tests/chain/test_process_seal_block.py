"""SealBlock: time advances, quotes expire, the beacon samples, deadlines and epochs close."""

from __future__ import annotations

from fractions import Fraction

from aci_ref.chain import Settled
from aci_ref.events import AcceptQuote, RequestQuote, job_id_of
from aci_ref.market.jobs import JobStatus
from aci_ref.sim.world import MODEL_ID, WorkerSpec, build_world, world_params
from tests.chain.helpers import holds

ALWAYS = Fraction(1)
NEVER = Fraction(0)


def test_a_time_jump_cannot_time_out_a_job_before_its_worker_had_a_block() -> None:
    world = build_world(world_params(NEVER))
    sla = 2 * world.params.settlement_interval_ms
    nonce = world.next_nonce("client-0")
    world.act("client-0", RequestQuote(MODEL_ID, world.new_input(), sla, 10**12))
    job_id = job_id_of("client-0", nonce)
    world.act("client-0", AcceptQuote(job_id, world.job(job_id).price))
    world.seal(advance_ms=world.params.epoch_duration_ms)  # far past 2 x SLA, in one block
    assert world.job(job_id).status is JobStatus.EXECUTING
    world.submit(job_id)
    assert world.job(job_id).status is JobStatus.ATTESTED
    holds(world)


def test_a_self_dealt_job_does_not_raise_quality() -> None:
    world = build_world(world_params(NEVER), workers=(WorkerSpec("honest-0", stake_multiple=2),))
    world.time_out(world.order("client-0"))
    lowered = world.quality("honest-0")
    job_id = world.order("honest-0")  # the worker is its own client
    assert world.job(job_id).worker == "honest-0"
    world.submit(job_id)
    effects = world.seal()
    assert any(isinstance(e, Settled) for e in effects)
    assert world.quality("honest-0") == lowered
    holds(world)


def test_a_sampled_job_nobody_reexecuted_is_not_reported_reexecuted() -> None:
    world = build_world(world_params(ALWAYS), verifiers=0)
    job_id = world.order("client-0")
    world.submit(job_id)
    (settled,) = [e for e in world.seal() if isinstance(e, Settled)]
    assert world.job(job_id).sampled
    assert not settled.reexecuted
    holds(world)
