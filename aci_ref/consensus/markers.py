"""What crosses from the settlement path to the fast path: beacon shares and settlement markers.

A decided block becomes executable once 2f + 1 beacon shares of its height combine; the marker
that carries it into the fast-path order must prove, by signatures alone, that the block is final
and the beacon is the height's. Who puts the marker into a vertex is fixed per height.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from aci_ref.consensus.beacon import BeaconKeys, verify_beacon
from aci_ref.consensus.committee import Committee
from aci_ref.consensus.execution import SettlementMarker
from aci_ref.consensus.hotstuff_messages import QC, Block, Phase, block_digest, check_qc
from aci_ref.errors import Rejection


@dataclass(frozen=True, slots=True)
class BeaconShare:
    """§3.3 beacon: `signer`'s threshold-signature share over a decided settlement height."""

    height: int
    signer: str
    share: bytes


@dataclass(frozen=True, slots=True)
class Pending:
    """A decided block waiting for its beacon: the block, its decision proof, shares so far."""

    block: Block
    descendants: tuple[Block, ...]
    certificate: QC


def check_marker(
    committee: Committee, keys: BeaconKeys, marker: SettlementMarker
) -> Rejection | None:
    """§4.3 decide + §3.3 beacon: None when the marker proves its block final and its beacon."""
    chain = (marker.block, *marker.descendants)
    for parent, child in pairwise(chain):
        if child.parent != block_digest(parent) or child.height != parent.height + 1:
            return Rejection.BAD_SETTLEMENT
    qc = marker.certificate
    if qc.phase is not Phase.COMMIT or qc.block != block_digest(chain[-1]):
        return Rejection.BAD_SETTLEMENT
    problem, _ = check_qc(qc, committee)
    if problem is not None:
        return Rejection.BAD_SETTLEMENT
    if not verify_beacon(keys, marker.height, marker.beacon):
        return Rejection.BAD_BEACON
    return None


def injectors(committee: Committee, height: int) -> tuple[str, ...]:
    """The f + 1 validators that put height `height`'s marker into the fast path: one is honest."""
    names = committee.names
    return tuple(names[(height + i) % len(names)] for i in range(committee.max_faulty + 1))
