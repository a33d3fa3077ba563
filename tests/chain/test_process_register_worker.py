"""RegisterWorker: bond stake, present a TEE identity; the platform keeps its record."""

from __future__ import annotations

from fractions import Fraction

from aci_ref.crypto import KeyPair
from aci_ref.economics.ledger import Role
from aci_ref.errors import Rejection
from aci_ref.events import Unbond
from aci_ref.poai.tee import provision_enclave
from aci_ref.sim.world import WorkerSpec, World, build_world, register_body, world_params
from tests.chain.helpers import holds

NEVER = Fraction(0)


def on_platform(world: World, account: str, platform: str) -> None:
    """Give `account` an enclave on the machine `platform` of the world."""
    world.enclaves[account] = provision_enclave(
        world.vendor,
        KeyPair.from_label(f"{world.label}/platform/{platform}"),
        KeyPair.from_label(f"{world.label}/enclave/{account}"),
    )


def test_a_low_score_follows_the_platform_to_a_new_account() -> None:
    world = build_world(world_params(NEVER), workers=(WorkerSpec("honest-0", stake_multiple=2),))
    job_id = world.order("client-0")
    world.time_out(job_id)
    lowered = world.quality("honest-0")
    assert lowered < 10_000
    held = world.state.ledger.stakes["honest-0/worker"].bonded
    world.act("honest-0", Unbond(Role.WORKER, held))
    on_platform(world, "client-1", "honest-0")
    world.act("client-1", register_body(world, "client-1"))
    assert world.quality("client-1") == lowered
    holds(world)


def test_a_ban_follows_the_platform_to_a_new_account() -> None:
    pair = (WorkerSpec("sybil-a", platform="shared"), WorkerSpec("sybil-b", platform="shared"))
    world = build_world(world_params(NEVER), workers=pair)
    assert world.state.workers["sybil-a"].banned and world.state.workers["sybil-b"].banned
    on_platform(world, "client-1", "shared")
    event = world.sign("client-1", register_body(world, "client-1"))
    assert world.refuse(event) is Rejection.WORKER_BANNED
