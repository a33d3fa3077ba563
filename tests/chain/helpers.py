"""Shared steps of the per-transition chain tests."""

from __future__ import annotations

from aci_ref.chain import Slashed
from aci_ref.chain.invariants import check_chain, check_effects
from aci_ref.errors import RejectedError
from aci_ref.events import RequestQuote
from aci_ref.sim.world import MODEL_ID, World


def holds(world: World) -> None:
    """Every chain invariant and every per-run property of the world's history."""
    check_chain(world.state)
    check_effects(world.log, world.state)


def slashes(world: World) -> list[Slashed]:
    """Every slash the world has seen so far."""
    return [e for e in world.log if isinstance(e, Slashed)]


def admits_sla(world: World, sla_ms: int) -> bool:
    """Whether the chain would quote a job with this SLA (nothing is applied)."""
    body = RequestQuote(MODEL_ID, world.new_input(), sla_ms, world.params.tokens(10**6))
    try:
        world.fork().apply(world.sign("client-0", body))
    except RejectedError:
        return False
    return True


def largest_sla(world: World) -> int:
    """The largest SLA the chain admits, found by bisection."""
    low, high = 1, 10 * world.params.epoch_duration_ms * world.params.detection_horizon_epochs
    assert admits_sla(world, 10_000)
    low = 10_000
    while high - low > 1:
        middle = (low + high) // 2
        if admits_sla(world, middle):
            low = middle
        else:
            high = middle
    return low
