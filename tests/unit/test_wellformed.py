"""Well-formedness holes: text that is not UTF-8 and events nested without bound.

`check_well_formed` is the first thing `chain.apply` does with an event from outside; whatever it
lets through must be encodable and must not exhaust the interpreter's stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest

from aci_ref.crypto import sha256
from aci_ref.economics.ledger import Role
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import (
    AcceptQuote,
    Bond,
    CastVote,
    RegisterWorker,
    ReportInvalidAttestation,
    RequestQuote,
    SignedEvent,
    SubmitResult,
    Transfer,
)
from aci_ref.poai.attestation import Attestation, Metrics
from aci_ref.poai.tee import Certificate, CertKind, Registration
from aci_ref.poai.votes import Vote
from aci_ref.sim.world import build_world, world_params
from aci_ref.wellformed import MAX_NESTING, check_well_formed

SIG = bytes(64)
LONE_SURROGATE = "\ud800"


def _signed(body: object, sender: str = "w") -> SignedEvent:
    return SignedEvent(sender, 1, body, SIG)  # type: ignore[arg-type]


def _cert(kind: CertKind = CertKind.PLATFORM) -> Certificate:
    return Certificate(kind, bytes(32), bytes(32), b"", SIG)


def _attestation() -> Attestation:
    digest = sha256(b"x")
    return Attestation(
        digest,
        digest,
        digest,
        digest,
        0,
        1,
        Metrics(1, 1, 1),
        _cert(),
        _cert(CertKind.ENCLAVE),
        SIG,
    )


def _refusal(value: object) -> Rejection:
    with pytest.raises(RejectedError) as caught:
        check_well_formed(value)
    return caught.value.rejection


# ---- lone surrogates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        _signed(Transfer("x", 1), sender=LONE_SURROGATE),
        _signed(Transfer(LONE_SURROGATE, 1)),
        _signed(Transfer("ok" + LONE_SURROGATE + "ok", 1)),
        _signed(RequestQuote("\udfff", b"", 1, 1)),
        _signed(
            RegisterWorker(
                "cpu", 1, 1, Registration(LONE_SURROGATE, _cert(), _cert(CertKind.ENCLAVE), SIG)
            )
        ),
        _signed(CastVote(Vote(bytes(32), LONE_SURROGATE, True, None, SIG))),
        _signed(ReportInvalidAttestation(_signed(Transfer("x", 1), sender=LONE_SURROGATE))),
    ],
    ids=["sender", "to", "embedded", "model_id", "registration", "vote", "nested"],
)
def test_a_string_that_is_not_utf8_text_is_bad_input(event: SignedEvent) -> None:
    assert _refusal(event) is Rejection.BAD_INPUT


def test_non_ascii_text_is_still_well_formed() -> None:
    check_well_formed(_signed(Transfer("zoë-\U0001f600-中", 1), sender="ünïcode"))


@pytest.mark.parametrize("text", [LONE_SURROGATE, "a\udc80b", "\ud83d"])
def test_the_encoder_refuses_a_lone_surrogate_with_a_project_error(text: str) -> None:
    for value in (text, [text], {"k": text}, {text: 1}, Transfer(text, 1)):
        with pytest.raises(RejectedError) as caught:
            canonical_bytes(value)
        assert caught.value.rejection in {
            Rejection.ENCODING_UNSUPPORTED_TYPE,
            Rejection.BAD_INPUT,
        }


# ---- nesting ------------------------------------------------------------------------------------


def _reports(levels: int) -> SignedEvent:
    """A signed event holding `levels` reports, each of the next one's signed event."""
    event = _signed(Transfer("x", 1))
    for _ in range(levels):
        event = _signed(ReportInvalidAttestation(event))
    return event


def _messages(levels: int) -> int:
    """How many protocol messages `_reports(levels)` nests, itself included."""
    return 2 * levels + 2  # a signed event and its body per level, and the innermost pair


@dataclass(frozen=True)
class Box:
    """A message that holds another of its kind: the simplest unbounded nesting."""

    inner: Box | None


def _boxes(depth: int) -> Box:
    box = Box(None)
    for _ in range(depth - 1):
        box = Box(box)
    return box


@pytest.mark.parametrize("levels", [50, 5000])
def test_an_event_nested_thousands_deep_is_bad_input(levels: int) -> None:
    assert _refusal(_reports(levels)) is Rejection.BAD_INPUT


def test_the_deepest_real_event_is_well_formed() -> None:
    """A report of a worker's signed submission: event, report, submission, result, attestation,
    certificate — six messages deep, within the bound."""
    submission = _signed(SubmitResult(sha256(b"job"), b"out", _attestation()))
    check_well_formed(_signed(ReportInvalidAttestation(submission)))


def test_the_bound_is_exact() -> None:
    """Nesting MAX_NESTING messages is accepted, one more is refused."""
    check_well_formed(_boxes(MAX_NESTING))
    assert _refusal(_boxes(MAX_NESTING + 1)) is Rejection.BAD_INPUT
    levels = (MAX_NESTING - 2) // 2
    assert _messages(levels) <= MAX_NESTING < _messages(levels + 1)
    check_well_formed(_reports(levels))
    assert _refusal(_reports(levels + 1)) is Rejection.BAD_INPUT


def test_the_encoder_refuses_deep_values_with_a_project_error() -> None:
    deep_list: list[object] = []
    for _ in range(100_000):
        deep_list = [deep_list]
    deep_map: dict[str, object] = {}
    for _ in range(100_000):
        deep_map = {"k": deep_map}
    for value in (_reports(5000), deep_list, deep_map):
        with pytest.raises(RejectedError) as caught:
            canonical_bytes(value)
        assert caught.value.rejection is Rejection.ENCODING_UNSUPPORTED_TYPE


def test_other_shapes_still_refused_as_before() -> None:
    assert _refusal(Transfer("x", True)) is Rejection.BAD_INPUT
    assert _refusal(_signed(Bond("validator", 1))) is Rejection.BAD_INPUT  # type: ignore[arg-type]
    assert _refusal(_signed(Bond(Role.VALIDATOR, 2**64))) is Rejection.BAD_INPUT
    assert _refusal(_signed(AcceptQuote(None, 1))) is Rejection.BAD_INPUT  # type: ignore[arg-type]
    assert _refusal("not a message") is Rejection.BAD_INPUT
    check_well_formed(_signed(Bond(Role.VALIDATOR, 2**64 - 1)))
    check_well_formed(_signed(Bond(Role.VALIDATOR, -(2**64) + 1)))


# ---- through the chain ---------------------------------------------------------------------


def test_the_chain_refuses_both_as_bad_input() -> None:
    world = build_world(world_params(Fraction(0)))
    nonce = world.next_nonce("client-0")
    deep = SignedEvent("client-0", nonce, ReportInvalidAttestation(_reports(5000)), SIG)
    assert world.refuse(deep) is Rejection.BAD_INPUT
    surrogate = SignedEvent("client-0", nonce, Transfer(LONE_SURROGATE, 1), SIG)
    assert world.refuse(surrogate) is Rejection.BAD_INPUT
    assert world.refuse(SignedEvent(LONE_SURROGATE, 1, Transfer("client-1", 1), SIG)) is (
        Rejection.BAD_INPUT
    )
