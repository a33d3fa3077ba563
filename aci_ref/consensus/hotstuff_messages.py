"""§4.3's messages: blocks, quorum certificates, and what replicas and leaders send each other.

Basic HotStuff (Yin et al., PODC 2019, Algorithm 2) runs each view in four phases. The leader
proposes a block justified by the highest prepare certificate it has seen; replicas vote, the
leader turns a quorum of votes into a certificate (QC) and broadcasts it, which opens the next
phase: prepare → pre-commit (carries the prepareQC) → commit (the precommitQC, which replicas lock
on) → decide (the commitQC, which makes the block final). The functions here check what a message
says about itself (shape, signatures, stake); what it means to a replica is the machine's
business, in `hotstuff`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

from aci_ref.consensus.committee import Committee
from aci_ref.consensus.signing import sign, verify
from aci_ref.crypto import HASH_SIZE, KeyPair, sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import Rejection
from aci_ref.params import Params

PROPOSAL_DOMAIN: Final = "hotstuff/proposal"
VOTE_DOMAIN: Final = "hotstuff/vote"
NEW_VIEW_DOMAIN: Final = "hotstuff/new-view"
_SIGNATURE_SIZE: Final = 64
_U64: Final = 1 << 64

Problem = tuple[Rejection, str]
"""Why a message is refused: its code and a detail."""


class Phase(StrEnum):
    """§4.3, HotStuff: the three phases that end in a certificate (decide only consumes one)."""

    PREPARE = "prepare"
    PRE_COMMIT = "pre-commit"
    COMMIT = "commit"


NEXT_VOTE: Final = {Phase.PREPARE: Phase.PRE_COMMIT, Phase.PRE_COMMIT: Phase.COMMIT}
"""The vote a replica casts on receiving a certificate of each phase (a commitQC decides)."""


@dataclass(frozen=True, slots=True)
class Block:
    """§4.3 item 1: a settlement block: its place in the chain, its transactions, its proposer.

    `time_ms` is the proposer's clock when it proposed (bounded by `block_time_in_bounds`);
    `view` is the view it was proposed in.
    """

    height: int
    parent: bytes
    payload: tuple[bytes, ...]
    time_ms: int
    proposer: str
    view: int


@dataclass(frozen=True, slots=True)
class QC:
    """§4.3, HotStuff: a quorum certificate: votes of distinct members with a quorum of stake.

    `signers` is (name, vote signature) pairs, each signature over (phase, view, block).
    """

    phase: Phase
    view: int
    block: bytes
    signers: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Proposal:
    """§4.3, HotStuff prepare phase: the leader proposes `block` on a prepareQC."""

    view: int
    block: Block
    justify: QC
    signature: bytes


@dataclass(frozen=True, slots=True)
class Vote:
    """§4.3, HotStuff (voteMsg): one replica's vote in one (view, phase), sent to the leader."""

    phase: Phase
    view: int
    block: bytes
    signer: str
    signature: bytes


@dataclass(frozen=True, slots=True)
class PhaseQC:
    """§4.3, Basic HotStuff: a leader broadcasts a fresh certificate; it opens the next phase.

    A prepareQC opens pre-commit, a precommitQC opens commit, a commitQC is the decide message.
    """

    qc: QC


@dataclass(frozen=True, slots=True)
class NewView:
    """§4.3, HotStuff (new-view): `signer` enters `view` and hands its leader its prepareQC."""

    view: int
    justify: QC
    signer: str
    signature: bytes


@dataclass(frozen=True, slots=True)
class BlockRequest:
    """Sync: ask a peer for the block with this digest (a replica must hold every ancestor)."""

    digest: bytes


@dataclass(frozen=True, slots=True)
class BlockResponse:
    """Sync: a block a peer asked for; its digest is what makes it trustworthy."""

    block: Block


@lru_cache(maxsize=1 << 14)
def block_digest(block: Block) -> bytes:
    """SHA-256 of the block's canonical bytes: how parents, votes and certificates name it."""
    return sha256(canonical_bytes(block))


def qc_digest(qc: QC) -> bytes:
    """SHA-256 of the certificate's canonical bytes (what a proposal or new-view signs)."""
    return sha256(canonical_bytes(qc))


def message_digest(message: Any) -> bytes:
    """SHA-256 of any message's canonical bytes (to recognise an exact repeat)."""
    return sha256(canonical_bytes(message))


GENESIS_BLOCK: Final = Block(0, bytes(HASH_SIZE), (), 0, "", 0)
"""The fixed root of every chain: height 0, time 0, no transactions, no proposer."""

GENESIS_QC: Final = QC(Phase.PREPARE, 0, block_digest(GENESIS_BLOCK), ())
"""The fixed certificate of the genesis block (view 0), every replica's first lock."""


# ---- signing -----------------------------------------------------------------------------------


def vote_payload(phase: Phase, view: int, block: bytes) -> tuple[Any, ...]:
    """What a vote signs, so a certificate's signatures can be checked alone."""
    return (phase.value, view, block)


def sign_vote(key: KeyPair, signer: str, phase: Phase, view: int, block: bytes) -> Vote:
    """`signer`'s vote in (view, phase) for the block with digest `block`."""
    signature = sign(key, VOTE_DOMAIN, vote_payload(phase, view, block))
    return Vote(phase, view, block, signer, signature)


def proposal_payload(view: int, block: Block, justify: QC) -> tuple[Any, ...]:
    """What a proposal signs: its view, its block's digest and its justification's digest."""
    return (view, block_digest(block), qc_digest(justify))


def sign_proposal(key: KeyPair, view: int, block: Block, justify: QC) -> Proposal:
    """A proposal of `block` in `view`, signed by `key` (its leader's)."""
    signature = sign(key, PROPOSAL_DOMAIN, proposal_payload(view, block, justify))
    return Proposal(view, block, justify, signature)


def sign_new_view(key: KeyPair, signer: str, view: int, justify: QC) -> NewView:
    """`signer`'s new-view message for `view`, carrying its prepareQC."""
    signature = sign(key, NEW_VIEW_DOMAIN, (view, qc_digest(justify)))
    return NewView(view, justify, signer, signature)


def certify(phase: Phase, view: int, block: bytes, votes: dict[str, bytes]) -> QC:
    """The certificate of (phase, view, block) from (signer -> vote signature), sorted by signer."""
    return QC(phase, view, block, tuple(sorted(votes.items())))


# ---- shapes ------------------------------------------------------------------------------------


def _u64(value: object) -> bool:
    return type(value) is int and 0 <= value < _U64


def _digest(value: object) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def _signature(value: object) -> bool:
    return type(value) is bytes and len(value) == _SIGNATURE_SIZE


def block_shape(block: object) -> str | None:
    """None when `block` is a Block with fields of the right types, else what is wrong."""
    if type(block) is not Block:
        return "not a block"
    if not (_u64(block.height) and _u64(block.time_ms) and _u64(block.view)):
        return "height, time and view are 64-bit naturals"
    if not _digest(block.parent) or type(block.proposer) is not str:
        return "a parent is a 32-byte digest, a proposer text"
    if type(block.payload) is not tuple or any(type(tx) is not bytes for tx in block.payload):
        return "a payload is a tuple of byte strings"
    return None


def qc_shape(qc: object) -> str | None:
    """None when `qc` is a QC with fields of the right types, else what is wrong."""
    if type(qc) is not QC:
        return "not a certificate"
    if type(qc.phase) is not Phase or not _u64(qc.view) or not _digest(qc.block):
        return "a certificate has a phase, a view and a 32-byte block digest"
    signers = qc.signers
    if type(signers) is not tuple or not all(
        type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str and _signature(pair[1])
        for pair in signers
    ):
        return "signers are (name, 64-byte signature) pairs"
    return None


def message_shape(message: object) -> str | None:
    """None when `message` is one of this module's messages with well-typed fields."""
    if type(message) is Proposal:
        if not _u64(message.view) or not _signature(message.signature):
            return "a proposal has a view and a 64-byte signature"
        return block_shape(message.block) or qc_shape(message.justify)
    if type(message) is Vote:
        if type(message.phase) is not Phase or not _u64(message.view):
            return "a vote has a phase and a view"
        if not _digest(message.block) or type(message.signer) is not str:
            return "a vote names a 32-byte block digest and a signer"
        return None if _signature(message.signature) else "a vote carries a 64-byte signature"
    if type(message) is PhaseQC:
        return qc_shape(message.qc)
    if type(message) is NewView:
        if not _u64(message.view) or type(message.signer) is not str:
            return "a new-view has a view and a signer"
        if not _signature(message.signature):
            return "a new-view carries a 64-byte signature"
        return qc_shape(message.justify)
    if type(message) is BlockRequest:
        return None if _digest(message.digest) else "a block request names a 32-byte digest"
    if type(message) is BlockResponse:
        return block_shape(message.block)
    return f"not a settlement-path message: {type(message).__name__}"


# ---- checks on a message alone -----------------------------------------------------------------


def payload_problem(payload: tuple[bytes, ...], params: Params) -> Problem | None:
    """A block carries at most `max_batch_txs` transactions in `max_batch_bytes` canonical bytes."""
    if len(payload) > params.max_batch_txs:
        return Rejection.OVERSIZED_BATCH, f"{len(payload)} transactions"
    if sum(len(tx) for tx in payload) > params.max_batch_bytes:
        return Rejection.OVERSIZED_BATCH, "payload bytes"
    size = len(canonical_bytes(payload))
    if size > params.max_batch_bytes:
        return Rejection.OVERSIZED_BATCH, f"{size} bytes"
    return None


def check_qc(qc: QC, committee: Committee) -> tuple[Problem | None, int]:
    """§4.3, HotStuff (matchingQC): a valid certificate, and the signature checks asked for.

    The genesis certificate is valid by definition. Any other needs distinct signers (a name
    listed twice is refused, not counted once), all members, a quorum of stake, and every vote
    signature valid. Cheap checks come first so a forged certificate costs no verification.
    """
    if qc == GENESIS_QC:
        return None, 0
    if qc.view < 1:
        return (Rejection.BAD_INPUT, "only the genesis certificate has view 0"), 0
    names = [name for name, _ in qc.signers]
    if len(set(names)) != len(names):
        return (Rejection.DUPLICATE_SIGNER, "a signer is listed twice"), 0
    members = [committee.member(name) for name in names]
    if any(member is None for member in members):
        return (Rejection.NOT_VALIDATOR, "a signer is not in the committee"), 0
    if not committee.is_quorum(names):
        return (Rejection.UNDERSIGNED_CERTIFICATE, f"{qc.phase} QC of view {qc.view}"), 0
    payload = vote_payload(qc.phase, qc.view, qc.block)
    checked = 0
    for member, (name, signature) in zip(members, qc.signers, strict=True):
        assert member is not None
        checked += 1
        if not verify(member.public_key, VOTE_DOMAIN, payload, signature):
            return (Rejection.BAD_SIGNATURE, f"vote of {name} in a certificate"), checked
    return None, checked


def check_vote_signature(vote: Vote, committee: Committee) -> bool:
    """True when the vote's signer is a member and signed (phase, view, block)."""
    member = committee.member(vote.signer)
    payload = vote_payload(vote.phase, vote.view, vote.block)
    return member is not None and verify(member.public_key, VOTE_DOMAIN, payload, vote.signature)


def check_proposal_signature(proposal: Proposal, public_key: bytes) -> bool:
    """True when `public_key` (the view leader's) signed the proposal."""
    payload = proposal_payload(proposal.view, proposal.block, proposal.justify)
    return verify(public_key, PROPOSAL_DOMAIN, payload, proposal.signature)


def check_new_view_signature(new_view: NewView, public_key: bytes) -> bool:
    """True when `public_key` (the signer's) signed the new-view message."""
    payload = (new_view.view, qc_digest(new_view.justify))
    return verify(public_key, NEW_VIEW_DOMAIN, payload, new_view.signature)
