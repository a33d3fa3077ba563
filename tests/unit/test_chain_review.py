"""Regressions for faults found by review: silent committees, stale evidence, rejoining workers,
ill-typed events, time jumps and unbounded SLAs."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from aci_ref.crypto import KeyPair
from aci_ref.economics.ledger import Role
from aci_ref.errors import Rejection
from aci_ref.events import (
    AcceptQuote,
    ReportInvalidAttestation,
    RequestQuote,
    SealBlock,
    SignedEvent,
    Transfer,
    Unbond,
)
from aci_ref.market.jobs import JobStatus
from aci_ref.poai.tee import provision_enclave
from aci_ref.sim.world import (
    MODEL_ID,
    WorkerSpec,
    build_world,
    register_body,
    world_params,
)

ALWAYS = Fraction(1)
NEVER = Fraction(0)


def test_a_silent_verifier_cannot_hold_a_job_for_ever() -> None:
    world = build_world(world_params(ALWAYS), verifiers=2)
    job_id = world.order("client-0")
    world.submit(job_id)
    world.seal()
    job = world.job(job_id)
    assert job.status is JobStatus.VERIFYING
    escrow_before = world.balance("client-0")
    world.seal(advance_ms=job.deadline_ms - world.state.now_ms + 1)
    assert world.job(job_id).status is JobStatus.DISPUTED
    disputed = world.job(job_id)
    world.seal(advance_ms=disputed.deadline_ms - world.state.now_ms + 1)
    after = world.job(job_id)
    assert after.status is JobStatus.REFUNDED
    assert world.balance("client-0") == escrow_before + job.price
    assert job_id.hex() not in world.state.voting
    assert not world.state.ledger.evidence_used  # nothing proven, nobody slashed


def test_an_old_valid_result_is_no_evidence_after_a_new_enclave() -> None:
    world = build_world(world_params(NEVER), workers=(WorkerSpec("honest-0", stake_multiple=2),))
    job_id = world.order("client-0")
    late = world.result_event(job_id)
    world.time_out(job_id)
    assert world.job(job_id).status is JobStatus.REFUNDED
    bonded = world.state.ledger.stakes["honest-0/worker"].bonded
    world.act("honest-0", Unbond(Role.WORKER, bonded))
    world.enclaves["honest-0"] = provision_enclave(
        world.vendor, KeyPair.from_label("new/platform"), KeyPair.from_label("new/enclave")
    )
    world.act("honest-0", register_body(world, "honest-0"))
    report = world.sign("validator-0", ReportInvalidAttestation(late))
    assert world.refuse(report) is Rejection.EVIDENCE_MISMATCH


def test_leaving_and_rejoining_keeps_quality_and_bans() -> None:
    over = (WorkerSpec("honest-0", stake_multiple=2), WorkerSpec("honest-1", stake_multiple=2))
    world = build_world(world_params(NEVER), workers=over)
    job_id = world.order("client-0")
    worker = world.job(job_id).worker
    world.time_out(job_id)
    lowered = world.quality(worker)
    assert lowered < 10_000
    held = world.state.ledger.stakes[f"{worker}/worker"].bonded
    world.act(worker, Unbond(Role.WORKER, held))
    assert world.state.workers[worker].departed
    world.act(worker, register_body(world, worker))
    assert world.quality(worker) == lowered


def test_a_banned_worker_cannot_rejoin() -> None:
    pair = (WorkerSpec("sybil-a", platform="shared"), WorkerSpec("sybil-b", platform="shared"))
    world = build_world(world_params(NEVER), workers=pair)
    assert world.state.workers["sybil-b"].banned
    left = world.state.ledger.stakes["sybil-b/worker"].bonded
    if left:
        world.act("sybil-b", Unbond(Role.WORKER, left))
    else:
        world.state = dataclasses.replace(
            world.state,
            workers=world.state.workers.set(
                "sybil-b", dataclasses.replace(world.state.workers["sybil-b"], departed=True)
            ),
        )
    event = world.sign("sybil-b", register_body(world, "sybil-b"))
    assert world.refuse(event) in {Rejection.WORKER_BANNED, Rejection.WORKER_BUSY}


def test_a_partial_worker_unbond_keeps_the_worker() -> None:
    world = build_world(world_params(NEVER), workers=(WorkerSpec("honest-0", stake_multiple=3),))
    held = world.state.ledger.stakes["honest-0/worker"].bonded
    world.act("honest-0", Unbond(Role.WORKER, held // 3))
    assert not world.state.workers["honest-0"].departed
    assert "honest-0" in world.state.market.pools["cpu-small"].workers


def ill_typed(world_event: SignedEvent, **changes: object) -> SignedEvent:
    return dataclasses.replace(world_event, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    ["nonce_str", "nonce_bool", "signature_none", "amount_bool", "sla_none", "job_id_none"],
)
def test_ill_typed_events_are_refused_as_bad_input(name: str) -> None:
    world = build_world(world_params(NEVER))
    transfer = world.sign("client-0", Transfer("client-1", 5))
    cases = {
        "nonce_str": lambda: ill_typed(transfer, nonce="1"),
        "nonce_bool": lambda: ill_typed(transfer, nonce=True),
        "signature_none": lambda: ill_typed(transfer, signature=None),
        "amount_bool": lambda: ill_typed(transfer, body=Transfer("client-1", True)),
        "sla_none": lambda: ill_typed(
            transfer,
            body=RequestQuote(MODEL_ID, b"x", None, 10),  # type: ignore[arg-type]
        ),
        "job_id_none": lambda: ill_typed(
            transfer,
            body=AcceptQuote(None, 10),  # type: ignore[arg-type]
        ),
    }
    assert world.refuse(cases[name]()) is Rejection.BAD_INPUT


def test_a_block_may_not_jump_past_an_epoch() -> None:
    world = build_world(world_params(NEVER))
    jump = world.params.epoch_duration_ms + 1
    assert world.refuse(world.seal_event(advance_ms=jump)) is Rejection.TIME_JUMP
    world.seal(advance_ms=world.params.epoch_duration_ms)


def test_an_sla_beyond_the_unbonding_delay_is_refused() -> None:
    world = build_world(world_params(NEVER))
    too_long = world.params.unbonding_delay_ms // (3 * world.params.timeout_sla_multiple) + 1
    event = world.sign("client-0", RequestQuote(MODEL_ID, world.new_input(), too_long, 10**12))
    assert world.refuse(event) is Rejection.SLA_OUT_OF_RANGE


def test_sealblock_fields_are_typed() -> None:
    world = build_world(world_params(NEVER))
    event = world.sign("sequencer", SealBlock(world.state.height + 1, None, b"\x00" * 32))  # type: ignore[arg-type]
    assert world.refuse(event) is Rejection.BAD_INPUT
