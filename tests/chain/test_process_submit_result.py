"""SubmitResult: the worker's (y, σ) passes Level 1 or is refused with its code."""

from __future__ import annotations

from fractions import Fraction

from aci_ref.errors import Rejection
from aci_ref.sim.world import build_world, world_params

NEVER = Fraction(0)


def test_a_result_claiming_a_run_past_its_deadline_is_refused() -> None:
    world = build_world(world_params(NEVER))
    job_id = world.order("client-0")
    late = world.result_event(job_id, t_start_ms=world.job(job_id).deadline_ms)
    assert world.refuse(late) is Rejection.ATTESTATION_STALE
