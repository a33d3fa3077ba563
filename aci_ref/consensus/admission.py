"""What a validator checks of a transaction before it orders it or votes for a block holding it.

§4.3's pre-commit phase: "validators verify PoAI attestations and vote". A validator's state may
lag the block it votes on (its executor runs behind the fast path), so the check uses only what
never changes after genesis: the transaction decodes, belongs to the track that carries it, and a
submission's attestation is sound on its own — its TEE chain verifies to a trusted vendor and an
allowed measurement, the certified enclave signed it, and its output hash is the output's
(Algorithm 2 line 2 and the output half of line 3). What depends on the job (its input, model,
assigned enclave, deadline) is checked again by the chain when the block executes. An honest
validator admits nothing into its own mempool that it would refuse to vote for, so an honest
leader's block is never refused.
"""

from __future__ import annotations

from aci_ref.consensus.checkpoint import Checkpoint
from aci_ref.consensus.execution import SettlementMarker, decode_item
from aci_ref.consensus.transactions import Track, track_of
from aci_ref.crypto import sha256, verify_signature
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import SubmitResult
from aci_ref.poai.tee import TrustAnchors, verify_chain


def admit(data: bytes, track: Track, anchors: TrustAnchors) -> Rejection | None:
    """§4.3 pre-commit: None when `data` may be ordered by `track`, else the refusal's code."""
    try:
        item = decode_item(data)
    except RejectedError as refused:
        return refused.rejection
    if isinstance(item, SettlementMarker):
        return None if track is Track.FAST else Rejection.BAD_SETTLEMENT
    if isinstance(item, Checkpoint):
        return None if track is Track.SETTLEMENT else Rejection.WRONG_TRACK
    if track_of(item) is not track:
        return Rejection.WRONG_TRACK
    body = item.body
    if isinstance(body, SubmitResult):
        attestation = body.attestation
        try:
            enclave = verify_chain(attestation.platform_cert, attestation.enclave_cert, anchors)
        except RejectedError as refused:
            return refused.rejection
        if not verify_signature(enclave, attestation.signed_bytes(), attestation.signature):
            return Rejection.ATTESTATION_BAD_SIGNATURE
        if attestation.h_output != sha256(body.output):
            return Rejection.ATTESTATION_WRONG_OUTPUT
    return None


def admit_payload(payload: tuple[bytes, ...], anchors: TrustAnchors) -> Rejection | None:
    """The pre-commit check of a whole settlement block: `bad_settlement` if any entry fails."""
    for data in payload:
        if admit(data, Track.SETTLEMENT, anchors) is not None:
            return Rejection.BAD_SETTLEMENT
    return None
