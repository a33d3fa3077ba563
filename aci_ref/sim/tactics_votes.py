"""§4.1: Byzantine tactics on votes, acknowledgements, certificates and signatures.

Each is a `Tactic` (see `byzantine_wrapper`): it doubles, repeats, withholds or corrupts the
votes and acknowledgements its validator signs, or replaces the certificates it sends by forged
or undersigned ones. Every tactic knows both paths' messages and passes anything else through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from aci_ref.consensus.dag_messages import ACK_DOMAIN, Ack, Certificate, Vertex, ack_payload
from aci_ref.consensus.hotstuff_messages import (
    QC,
    VOTE_DOMAIN,
    NewView,
    Phase,
    PhaseQC,
    Proposal,
    Vote,
    certify,
    sign_new_view,
    sign_proposal,
    sign_vote,
    vote_payload,
)
from aci_ref.consensus.io import Effects, Input
from aci_ref.consensus.signing import sign
from aci_ref.sim.byzantine_wrapper import Identity, Memory, Sent, fake_digest, own_message, rewrite


def _forged_qc(me: Identity, phase: Phase, view: int, block: bytes) -> QC:
    """A certificate naming every member, each "vote" signed with our own key."""
    signature = sign(me.key, VOTE_DOMAIN, vote_payload(phase, view, block))
    return certify(phase, view, block, dict.fromkeys(me.committee.names, signature))


def _thin_qc(me: Identity, phase: Phase, view: int, block: bytes, turn: int) -> QC:
    """Our own real vote only: alone (below quorum) or listed as many times as a quorum needs."""
    vote = (me.name, sign_vote(me.key, me.name, phase, view, block).signature)
    copies = 1 if turn % 2 else me.committee.size
    return QC(phase, view, block, (vote,) * copies)


def _ack(me: Identity, vertex_digest: bytes, round_: int, author: str) -> Ack:
    payload = ack_payload(vertex_digest, round_, author, me.name)
    return Ack(vertex_digest, round_, author, me.name, sign(me.key, ACK_DOMAIN, payload))


def _flip(signature: bytes) -> bytes:
    return bytes([signature[0] ^ 1]) + signature[1:] if signature else b"\x01"


def double_vote(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """After each vote or acknowledgement, a second one of the same view/phase or slot for a
    block or vertex that does not exist."""

    def double(effect: Any) -> list[Any]:
        message = own_message(me, effect, Vote, Ack)
        if message is None:
            return [effect]
        if type(message) is Vote:
            other = fake_digest("vote", message.view)
            second: Any = sign_vote(me.key, me.name, message.phase, message.view, other)
        else:
            second = _ack(me, fake_digest("ack", message.round), message.round, message.author)
        return [effect, replace(effect, message=second)]

    return rewrite(effects, double), memory


def duplicate_vote(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """Every vote and acknowledgement sent twice."""

    def twice(effect: Any) -> list[Any]:
        return [effect, effect] if own_message(me, effect, Vote, Ack) is not None else [effect]

    return rewrite(effects, twice), memory


def withhold_votes(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """No vote and no acknowledgement ever leaves."""
    return rewrite(
        effects, lambda e: [] if own_message(me, e, Vote, Ack) is not None else [e]
    ), memory


def corrupt_signatures(
    me: Identity, turn: int, memory: Memory, event: Input, effects: Effects
) -> Sent:
    """Before each message it signs, a copy whose signature has one bit flipped."""

    def corrupt(effect: Any) -> list[Any]:
        message = own_message(me, effect, Vertex, Ack, Vote, NewView, Proposal)
        if message is None:
            return [effect]
        bad = replace(message, signature=_flip(message.signature))
        return [replace(effect, message=bad), effect]

    return rewrite(effects, corrupt), memory


QcMaker = Callable[[Identity, Phase, int, bytes], QC]
"""make(me, phase, view, block): a bad certificate of (phase, view, block)."""


def _spoil_certificates(
    me: Identity,
    effects: Effects,
    signers: Callable[[Certificate], tuple[tuple[str, bytes], ...]],
    make: QcMaker,
) -> Effects:
    """Our certificates with `signers` in place of theirs, our phase certificates and the
    justifications of our new-views and proposals (after view 1) remade by `make`."""

    def spoil(effect: Any) -> list[Any]:
        message = own_message(me, effect, Certificate, PhaseQC, NewView, Proposal)
        if type(message) is Certificate:
            return [replace(effect, message=Certificate(message.vertex, signers(message)))]
        if type(message) is PhaseQC:
            qc = message.qc
            return [replace(effect, message=PhaseQC(make(me, qc.phase, qc.view, qc.block)))]
        if message is None or message.view < 2:  # only the genesis certificate is of view 0
            return [effect]
        if type(message) is NewView:
            justify = make(me, Phase.PREPARE, message.view - 1, fake_digest("qc", message.view))
            return [replace(effect, message=sign_new_view(me.key, me.name, message.view, justify))]
        justify = make(me, Phase.PREPARE, message.view - 1, message.block.parent)
        return [
            replace(effect, message=sign_proposal(me.key, message.view, message.block, justify))
        ]

    return rewrite(effects, spoil)


def forge_certificates(
    me: Identity, turn: int, memory: Memory, event: Input, effects: Effects
) -> Sent:
    """Every certificate it sends (its own, in phase messages, new-views and proposals) names a
    quorum whose signatures it made itself, with its own key."""

    def forged(certificate: Certificate) -> tuple[tuple[str, bytes], ...]:
        v = certificate.vertex
        digest = v.digest()
        return tuple(
            (name, sign(me.key, ACK_DOMAIN, ack_payload(digest, v.round, v.author, name)))
            for name, _ in certificate.signers
        )

    return _spoil_certificates(me, effects, forged, _forged_qc), memory


def undersign_certificates(
    me: Identity, turn: int, memory: Memory, event: Input, effects: Effects
) -> Sent:
    """Every certificate it sends is short of a quorum, or lists one signer again and again."""

    def thin(certificate: Certificate) -> tuple[tuple[str, bytes], ...]:
        first = certificate.signers[:1]
        return first if turn % 2 else first * len(certificate.signers)

    return _spoil_certificates(me, effects, thin, partial(_thin_qc, turn=turn)), memory
