"""CastVote: a committee member's verdict; a stake-weighted quorum decides."""

from __future__ import annotations

from fractions import Fraction

from aci_ref.economics.ledger import Role
from aci_ref.events import Bond, Transfer
from aci_ref.market.jobs import JobStatus
from aci_ref.sim.world import build_world, world_params
from tests.chain.helpers import holds

ALWAYS = Fraction(1)


def test_an_arbiter_topping_up_after_the_draw_cannot_decide_alone() -> None:
    world = build_world(world_params(ALWAYS), verifiers=7)
    job_id = world.order("client-0")
    world.submit(job_id)
    world.seal()
    (accuser,) = world.job(job_id).committee
    world.vote(accuser, job_id, accept=False)
    disputed = world.job(job_id)
    assert disputed.status is JobStatus.DISPUTED
    captor = disputed.arbiters[0]
    extra = world.params.tokens(8 * world.params.verifier_min_stake)
    world.act("client-0", Transfer(captor, extra))
    world.act(captor, Bond(Role.VERIFIER, extra))
    world.vote(captor, job_id, accept=False)  # a lie, alone, with stake bonded after the draw
    assert world.job(job_id).status is JobStatus.DISPUTED
    world.decide(job_id)
    assert world.job(job_id).status is JobStatus.SETTLED
    holds(world)


def test_two_of_three_equal_votes_decide() -> None:
    world = build_world(world_params(ALWAYS, verification_committee_size=3), verifiers=3)
    job_id = world.order("client-0")
    world.submit(job_id)
    world.seal()
    first, second, _ = world.job(job_id).committee
    world.vote(first, job_id)
    assert world.job(job_id).status is JobStatus.VERIFYING
    world.vote(second, job_id)
    assert world.job(job_id).status is JobStatus.SETTLED
    holds(world)
