"""Transactions: every signed event the lifecycle produces round-trips; anything else is refused."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aci_ref.consensus.transactions import (
    Track,
    decode_transaction,
    encode_transaction,
    track_of,
)
from aci_ref.economics.ledger import Role
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import (
    AcceptQuote,
    Bond,
    ReportInvalidAttestation,
    RequestQuote,
    SealBlock,
    SignedEvent,
    Unbond,
)
from aci_ref.sim.world import World, build_world, world_params


def lifecycle_events() -> list[SignedEvent]:
    """Every signed event of a world that requests, accepts, submits, votes and reports."""
    seen: list[SignedEvent] = []
    world = build_world(world_params(Fraction(1)))
    original = World.apply

    def recording(self: World, event: SignedEvent) -> tuple[object, ...]:
        seen.append(event)
        return original(self, event)

    World.apply = recording  # type: ignore[method-assign]
    try:
        job = world.order("client-0")
        world.submit(job)
        world.seal()
        world.decide(job)
        second = world.order("client-1")
        bad = world.result_event(second, t_start_ms=0)
        world.act("validator-0", ReportInvalidAttestation(bad))
        world.act("validator-0", Bond(Role.VALIDATOR, 1))
        world.act("validator-0", Unbond(Role.VALIDATOR, 1))
    finally:
        World.apply = original  # type: ignore[method-assign]
    return seen


def test_every_lifecycle_event_round_trips() -> None:
    events = lifecycle_events()
    kinds = {type(e.body).__name__ for e in events}
    assert {"RequestQuote", "AcceptQuote", "SubmitResult", "CastVote", "SealBlock"} <= kinds
    assert "ReportInvalidAttestation" in kinds
    for event in events:
        assert decode_transaction(encode_transaction(event)) == event


def test_same_fields_different_kinds_stay_apart() -> None:
    bond = SignedEvent("a", 1, Bond(Role.WORKER, 5), b"\x00" * 64)
    unbond = SignedEvent("a", 1, Unbond(Role.WORKER, 5), b"\x00" * 64)
    assert decode_transaction(encode_transaction(bond)).body == Bond(Role.WORKER, 5)
    assert decode_transaction(encode_transaction(unbond)).body == Unbond(Role.WORKER, 5)


def test_tracks() -> None:
    signed = SignedEvent("a", 1, RequestQuote("m", b"", 1, 1), b"")
    assert track_of(signed) is Track.FAST
    assert track_of(SignedEvent("a", 1, AcceptQuote(b"\x00" * 32, 1), b"")) is Track.FAST
    assert track_of(SignedEvent("a", 1, Bond(Role.WORKER, 1), b"")) is Track.SETTLEMENT
    assert track_of(SignedEvent("a", 1, SealBlock(1, 1, b""), b"")) is None


@pytest.mark.parametrize(
    "plain",
    [
        {"kind": "Bond"},
        {"kind": "Nope", "event": {}},
        {"kind": "Bond", "event": {"sender": "a", "nonce": 1, "signature": b"", "body": {}}},
        {
            "kind": "Bond",
            "event": {
                "sender": "a",
                "nonce": True,
                "signature": b"",
                "body": {"role": "worker", "amount": 1},
            },
        },
        {
            "kind": "Bond",
            "event": {
                "sender": "a",
                "nonce": 1,
                "signature": b"",
                "body": {"role": "emperor", "amount": 1},
            },
        },
        [1, 2],
    ],
)
def test_malformed_transactions_are_bad_input(plain: object) -> None:
    with pytest.raises(RejectedError) as refused:
        decode_transaction(canonical_bytes(plain))
    assert refused.value.rejection is Rejection.BAD_INPUT


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_refused(data: bytes) -> None:
    try:
        event = decode_transaction(data)
    except RejectedError as refused:
        assert refused.rejection in (Rejection.BAD_INPUT, Rejection.ENCODING_NOT_CANONICAL)
    else:
        assert encode_transaction(event) == data
