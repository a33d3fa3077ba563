"""§4.4: checkpoints — the fast path's committed output, rooted and handed to settlement.

The committed, ordered fast-path output is a sequence of items (transactions and settlement
markers, see `execution`), numbered from 0 without gaps. Checkpoint k closes at the end of the
causal history of the first committed anchor whose round is at least k × checkpoint_interval_rounds
(the paper's "every 100 fast-path rounds"); it covers the items since checkpoint k − 1. Its output
root is the RFC 6962 root over those items, each leaf being the canonical bytes of
[sequence, item], so a root pins both what was ordered and where. It carries the state root after
executing through its last item and the digest of the previous checkpoint, so the checkpoints form
one hash chain over the whole history (errata E79: over the ordered output, not over the DAG, which
is garbage-collected).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aci_ref.crypto import merkle_root, sha256
from aci_ref.encoding import canonical_bytes

GENESIS_CHECKPOINT: Final = b"\x00" * 32
"""What checkpoint 1 names as its predecessor."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """§4.4 item 2: a Merkle root of committed fast-path output, with the state it led to."""

    index: int
    first_sequence: int
    last_sequence: int
    output_root: bytes
    state_root: bytes
    previous: bytes

    def digest(self) -> bytes:
        """SHA-256 of the checkpoint's canonical bytes (what the next one names as previous)."""
        return sha256(canonical_bytes(self))


def output_leaf(sequence: int, item: bytes) -> bytes:
    """The leaf data of one ordered output item: canonical bytes of [sequence, item]."""
    return canonical_bytes([sequence, item])


def output_root(first_sequence: int, items: tuple[bytes, ...]) -> bytes:
    """§4.4 item 2: the RFC 6962 root of items numbered from `first_sequence`."""
    return merkle_root([output_leaf(first_sequence + i, item) for i, item in enumerate(items)])


def checkpoint_due(anchor_round: int, next_index: int, interval_rounds: int) -> bool:
    """§4.4 item 1: checkpoint `next_index` closes with the first anchor at or past its round."""
    return anchor_round >= next_index * interval_rounds


def make_checkpoint(
    index: int,
    first_sequence: int,
    items: tuple[bytes, ...],
    state_root: bytes,
    previous: bytes,
) -> Checkpoint:
    """§4.4 items 1–2: the checkpoint of `items`, which end where the state root was taken."""
    last = first_sequence + len(items) - 1
    return Checkpoint(
        index, first_sequence, last, output_root(first_sequence, items), state_root, previous
    )
