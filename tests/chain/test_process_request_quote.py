"""RequestQuote: the client broadcasts J = (model, input, SLA, budget); the HMM quotes."""

from __future__ import annotations

import struct
from fractions import Fraction

import pytest

from aci_ref.errors import Rejection
from aci_ref.events import RequestQuote
from aci_ref.sim.world import MODEL_ID, build_world, world_params
from tests.chain.helpers import admits_sla, largest_sla

NEVER = Fraction(0)


def test_an_sla_shorter_than_the_chain_can_observe_is_refused() -> None:
    world = build_world(world_params(NEVER))
    event = world.sign("client-0", RequestQuote(MODEL_ID, world.new_input(), 1, 10**12))
    assert world.refuse(event) is Rejection.SLA_OUT_OF_RANGE
    assert not admits_sla(world, world.params.settlement_interval_ms - 1)


def test_no_admitted_sla_outlives_the_stake_that_answers_for_it() -> None:
    world = build_world(world_params(NEVER))
    sla = largest_sla(world)
    # execution, verification and arbitration windows all close before unbonded stake is free
    assert 3 * world.params.timeout_sla_multiple * sla <= world.params.unbonding_delay_ms


@pytest.mark.parametrize(
    "data",
    [b"", b"abc", b"\x00" * 255, struct.pack("<f", float("nan")) * 64, b"\x00" * 257],
    ids=["empty", "three-bytes", "short", "nan", "long"],
)
def test_input_the_model_cannot_run_is_refused_at_quote_time(data: bytes) -> None:
    world = build_world(world_params(NEVER))
    event = world.sign("client-0", RequestQuote(MODEL_ID, data, 10_000, 10**12))
    assert world.refuse(event) is Rejection.INPUT_UNRUNNABLE
    assert not world.state.jobs


def test_input_beyond_the_size_bound_is_refused() -> None:
    world = build_world(world_params(NEVER))
    event = world.sign("client-0", RequestQuote(MODEL_ID, b"\x00" * 50_000_000, 10_000, 10**12))
    assert world.refuse(event) is Rejection.INPUT_TOO_LARGE
