"""Bond: stake a role; a registered worker tops its stake up with it."""

from __future__ import annotations

from fractions import Fraction

from aci_ref.economics.ledger import Role
from aci_ref.economics.staking import is_active, required_stake
from aci_ref.events import Bond
from aci_ref.sim.world import WORKER_CAPACITY, build_world, workers_of, world_params
from tests.chain.helpers import holds

NEVER = Fraction(0)


def test_a_worker_slashed_below_its_minimum_tops_up_and_is_quoted_again() -> None:
    world = build_world(world_params(NEVER), workers=workers_of("honest"))
    job_id = world.order("client-0")
    world.time_out(job_id)
    params = world.params
    assert not is_active(world.state.ledger, params, "honest-0", Role.WORKER)
    assert not world.state.workers["honest-0"].banned  # one 10 % slash is no ban
    required = required_stake(params, Role.WORKER, WORKER_CAPACITY)
    missing = required - world.state.ledger.stakes["honest-0/worker"].backing
    world.act("honest-0", Bond(Role.WORKER, missing))
    assert is_active(world.state.ledger, params, "honest-0", Role.WORKER)
    again = world.order("client-0")
    assert world.job(again).worker == "honest-0"
    holds(world)
