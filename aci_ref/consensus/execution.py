"""Two tracks, one order: how each validator executes the chain from both consensus outputs.

The fast path's committed total order is the execution order (spec/consensus.md). Its items are
fast-path transactions (`RequestQuote`, `AcceptQuote`) and settlement markers: once a settlement
block is decided, validators put a marker carrying it (with its commit certificate and the height's
threshold beacon) into their next vertex, and the block executes at the first committed valid
marker of its height: its settlement transactions in block order, then the block step
(`chain.block:seal_block` with the block's time and beacon). Everything a settlement block does
therefore lands after every match the fast path had already committed, so a committed match is
never undone by settlement, and every honest validator applies one sequence to one genesis.

An item that cannot run is refused deterministically and the state is unchanged: a transaction of
the wrong track (`wrong_track`), undecodable bytes (`bad_input`), a refused event (its chain
code), a marker whose certificate or beacon fails (`bad_settlement` / `bad_beacon`). Markers for
a height already executed are duplicates; markers ahead of the next height wait (bounded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import immutables

from aci_ref.chain import apply
from aci_ref.chain.block import seal_block
from aci_ref.chain.state import ChainState, state_root
from aci_ref.consensus.beacon import beacon_bytes
from aci_ref.consensus.checkpoint import (
    GENESIS_CHECKPOINT,
    Checkpoint,
    checkpoint_due,
    make_checkpoint,
)
from aci_ref.consensus.hotstuff_messages import QC, Block, block_digest
from aci_ref.consensus.transactions import (
    Track,
    decode_transaction,
    track_of,
)
from aci_ref.crypto import sha256
from aci_ref.decoding import from_plain
from aci_ref.encoding import canonical_bytes, decode_canonical
from aci_ref.errors import InvariantViolation, RejectedError, Rejection
from aci_ref.events import SealBlock, SignedEvent


@dataclass(frozen=True, slots=True)
class SettlementMarker:
    """ref: settlement marker — a decided settlement block as it enters the fast-path order.

    `certificate` is the commitQC that decided `block`: the block's own, or that of a descendant,
    in which case `descendants` holds the blocks from the child of `block` up to the certified
    one, so the parent links prove the decision. `beacon` is the threshold signature over the
    block's height. The executor's `verify_marker` checks all three.
    """

    block: Block
    descendants: tuple[Block, ...]
    certificate: QC
    beacon: bytes

    @property
    def height(self) -> int:
        """The settlement height the marker executes."""
        return self.block.height


def marker_item(marker: SettlementMarker) -> bytes:
    """The output item (vertex batch entry) that carries a marker."""
    return canonical_bytes({"marker": marker})


def checkpoint_item(checkpoint: Checkpoint) -> bytes:
    """The settlement transaction that submits a checkpoint (§4.4 item 1)."""
    return canonical_bytes({"checkpoint": checkpoint})


Item = SignedEvent | SettlementMarker | Checkpoint


def decode_item(data: bytes) -> Item:
    """What an output item or settlement payload entry is; `bad_input` when it is nothing."""
    plain = decode_canonical(data)
    if isinstance(plain, dict) and set(plain) == {"marker"}:
        return from_plain(SettlementMarker, plain["marker"])
    if isinstance(plain, dict) and set(plain) == {"checkpoint"}:
        return from_plain(Checkpoint, plain["checkpoint"])
    return decode_transaction(data)


# ---- effects -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Executed:
    """A transaction ran: its output sequence (or block height), digest and chain effects."""

    where: str
    digest: bytes
    effects: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """An item could not run; the state is unchanged."""

    where: str
    digest: bytes
    reason: Rejection


@dataclass(frozen=True, slots=True)
class BlockExecuted:
    """A decided settlement block ran, ending with its block step (and that step's effects)."""

    height: int
    time_ms: int
    effects: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CheckpointReached:
    """This validator's output reached a checkpoint; it goes to the settlement path."""

    checkpoint: Checkpoint


@dataclass(frozen=True, slots=True)
class CheckpointSettled:
    """§4.4 item 4: a settlement block carried a checkpoint equal to this validator's own."""

    checkpoint: Checkpoint


# ---- state -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """What the executor needs besides the state: the marker check and its bounds."""

    verify_marker: Callable[[SettlementMarker], Rejection | None]
    interval_rounds: int
    max_held: int


@dataclass(frozen=True, slots=True)
class Execution:
    """ref: executor — the chain, the output so far and the checkpoints it produced and settled.

    `block_height` is the last settlement block executed; the chain's own height counts from its
    genesis, so block h seals chain height `genesis height + h`.
    """

    chain: ChainState
    block_height: int = 0
    next_sequence: int = 0
    interval_first: int = 0
    interval_items: tuple[bytes, ...] = ()
    checkpoints: immutables.Map[int, Checkpoint] = field(default_factory=immutables.Map)
    last_checkpoint: bytes = GENESIS_CHECKPOINT
    settled: int = 0
    held: immutables.Map[int, SettlementMarker] = field(default_factory=immutables.Map)

    @property
    def next_checkpoint(self) -> int:
        """The index of the checkpoint the output is working towards."""
        return len(self.checkpoints) + 1


def execute_vertex(
    state: Execution,
    config: ExecutionConfig,
    batch: tuple[bytes, ...],
    closes_anchor: int | None,
) -> tuple[Execution, tuple[Any, ...]]:
    """§4.1–§4.4: run one committed vertex's batch; `closes_anchor`: the anchor round it ends."""
    effects: list[Any] = []
    for item in batch:
        state = replace(
            state,
            next_sequence=state.next_sequence + 1,
            interval_items=(*state.interval_items, item),
        )
        state = _run_item(state, config, state.next_sequence - 1, item, effects)
    if closes_anchor is not None and checkpoint_due(
        closes_anchor, state.next_checkpoint, config.interval_rounds
    ):
        checkpoint = make_checkpoint(
            state.next_checkpoint,
            state.interval_first,
            state.interval_items,
            state_root(state.chain),
            state.last_checkpoint,
        )
        state = replace(
            state,
            checkpoints=state.checkpoints.set(checkpoint.index, checkpoint),
            last_checkpoint=checkpoint.digest(),
            interval_first=state.next_sequence,
            interval_items=(),
        )
        effects.append(CheckpointReached(checkpoint))
    return state, tuple(effects)


def _run_item(
    state: Execution, config: ExecutionConfig, sequence: int, data: bytes, out: list[Any]
) -> Execution:
    where = f"seq/{sequence}"
    digest = sha256(data)
    try:
        item = decode_item(data)
    except RejectedError as refused:
        out.append(Refused(where, digest, refused.rejection))
        return state
    if isinstance(item, SettlementMarker):
        return _run_marker(state, config, item, out)
    if isinstance(item, Checkpoint):
        out.append(Refused(where, digest, Rejection.WRONG_TRACK))
        return state
    chain = _run_event(state.chain, item, Track.FAST, where, digest, out)
    return replace(state, chain=chain)


def _run_event(
    chain: ChainState,
    event: SignedEvent,
    track: Track,
    where: str,
    digest: bytes,
    out: list[Any],
) -> ChainState:
    if track_of(event) is not track:
        out.append(Refused(where, digest, Rejection.WRONG_TRACK))
        return chain
    try:
        chain, effects = apply(chain, event)
    except RejectedError as refused:
        out.append(Refused(where, digest, refused.rejection))
        return chain
    out.append(Executed(where, digest, effects))
    return chain


def _run_marker(
    state: Execution, config: ExecutionConfig, marker: SettlementMarker, out: list[Any]
) -> Execution:
    next_height = state.block_height + 1
    if marker.height < next_height or marker.height in state.held:
        return state  # a duplicate: the height ran (or waits) already
    where, digest = f"height/{marker.height}", block_digest(marker.block)
    reason = config.verify_marker(marker)
    if reason is not None:
        out.append(Refused(where, digest, reason))
        return state
    if marker.height > next_height:
        if len(state.held) >= config.max_held:
            out.append(Refused(where, digest, Rejection.MISSING_PARENT))
            return state
        return replace(state, held=state.held.set(marker.height, marker))
    state = _run_block(state, marker, out)
    while (waiting := state.held.get(state.block_height + 1)) is not None:
        state = _run_block(replace(state, held=state.held.delete(waiting.height)), waiting, out)
    return state


def _run_block(state: Execution, marker: SettlementMarker, out: list[Any]) -> Execution:
    chain = state.chain
    block = marker.block
    for index, data in enumerate(block.payload):
        where = f"height/{marker.height}/{index}"
        digest = sha256(data)
        try:
            item = decode_item(data)
        except RejectedError as refused:
            out.append(Refused(where, digest, refused.rejection))
            continue
        if isinstance(item, Checkpoint):
            state = _settle_checkpoint(replace(state, chain=chain), item, where, digest, out)
            continue
        if isinstance(item, SettlementMarker):
            out.append(Refused(where, digest, Rejection.BAD_SETTLEMENT))
            continue
        chain = _run_event(chain, item, Track.SETTLEMENT, where, digest, out)
    step = SealBlock(chain.height + 1, block.time_ms, beacon_bytes(marker.beacon))
    try:
        chain, effects = seal_block(chain, step)
    except RejectedError as refused:
        # Validators vote only for blocks whose time the chain accepts (hotstuff's time rule).
        raise InvariantViolation(f"a decided block failed to seal: {refused}") from refused
    out.append(BlockExecuted(block.height, block.time_ms, effects))
    return replace(state, chain=chain, block_height=block.height)


def _settle_checkpoint(
    state: Execution, checkpoint: Checkpoint, where: str, digest: bytes, out: list[Any]
) -> Execution:
    if checkpoint.index <= state.settled:
        return state  # settled already; another validator submitted it too
    own = state.checkpoints.get(checkpoint.index)
    if own != checkpoint or checkpoint.index != state.settled + 1:
        out.append(Refused(where, digest, Rejection.BAD_CHECKPOINT))
        return state
    out.append(CheckpointSettled(checkpoint))
    return replace(state, settled=checkpoint.index)
