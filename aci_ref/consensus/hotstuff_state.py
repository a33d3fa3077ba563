"""§4.3: the settlement path's data, shared by the replica machine and its helper modules.

A replica's fixed setup (`HotStuffConfig`), its state (`HotStuffState`, with the current view's
part in `ViewState` and the waiting room's entries in `Held`), and the context one call of `step`
accumulates (`Step`, with `Refusal` and `attempt` for refusing a message and rolling back). This
module imports no other part of the settlement path: the checks (`hotstuff_checks`), the block
store (`hotstuff_sync`), the pacemaker and the machine (`hotstuff`) all build on it, so the
imports between them point one way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import immutables

from aci_ref.consensus.committee import Committee
from aci_ref.consensus.hotstuff_messages import (
    GENESIS_BLOCK,
    GENESIS_QC,
    QC,
    Block,
    NewView,
    Phase,
    PhaseQC,
    Proposal,
    Vote,
    block_digest,
)
from aci_ref.consensus.io import Dropped, Stats
from aci_ref.crypto import KeyPair, sha256
from aci_ref.errors import Rejection
from aci_ref.params import Params

GENESIS_DIGEST: Final = block_digest(GENESIS_BLOCK)

PayloadCheck = Callable[[tuple[bytes, ...]], Rejection | None]


@dataclass(frozen=True, slots=True)
class HotStuffConfig:
    """One replica's fixed setup: committee, its name and key, the parameters, two hooks.

    `validate_payload` is the application's pure check of a block's transactions, run before a
    prepare vote (refusal: no vote, a drop with the code it returns). `leaders`, when given,
    overrides the round-robin leader: view v is led by `leaders[v % len(leaders)]`.
    """

    committee: Committee
    name: str
    key: KeyPair
    params: Params
    validate_payload: PayloadCheck | None = None
    leaders: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ViewState:
    """What a replica knows of its current view only; entering a view starts it afresh."""

    proposal: bytes | None = None
    block: bytes | None = None
    certified: immutables.Map[Phase, bytes] = field(default_factory=immutables.Map)
    votes: immutables.Map[Phase, immutables.Map[str, Vote]] = field(default_factory=immutables.Map)
    justify: QC | None = None
    propose_at: int | None = None


@dataclass(frozen=True, slots=True)
class Held:
    """A message waiting in the waiting room for the block `needs`."""

    sender: str
    message: Proposal | PhaseQC
    needs: bytes


def _genesis_blocks() -> immutables.Map[bytes, Block]:
    return immutables.Map({GENESIS_DIGEST: GENESIS_BLOCK})


@dataclass(frozen=True, slots=True)
class HotStuffState:
    """One replica: its view, lock and highest prepareQC, votes cast, blocks, and what waits."""

    view: int = 1
    locked_qc: QC = GENESIS_QC
    prepare_qc: QC = GENESIS_QC
    voted: frozenset[tuple[int, Phase]] = frozenset()
    blocks: immutables.Map[bytes, Block] = field(default_factory=_genesis_blocks)
    undecided: frozenset[bytes] = frozenset()
    decided_tip: bytes = GENESIS_DIGEST
    decided_txs: immutables.Map[bytes, int] = field(default_factory=immutables.Map)
    mempool: tuple[bytes, ...] = ()
    held: tuple[Held, ...] = ()
    orphans: immutables.Map[bytes, Block] = field(default_factory=immutables.Map)
    wanted: frozenset[bytes] = frozenset()
    new_views: immutables.Map[str, NewView] = field(default_factory=immutables.Map)
    current: ViewState = field(default_factory=ViewState)
    failures: int = 0
    deadline_ms: int | None = None
    stats: Stats = field(default_factory=Stats)

    @property
    def decided_height(self) -> int:
        """The height of the last decided block."""
        return self.blocks[self.decided_tip].height


def leader_of(committee: Committee, leaders: tuple[str, ...] | None, view: int) -> str:
    """The leader of `view`: `leaders[view % len(leaders)]` when given, else round-robin."""
    if leaders:
        return leaders[view % len(leaders)]
    return committee.leader(view)


def tx_digest(tx: bytes) -> bytes:
    """How the mempool and the decided set name a transaction."""
    return sha256(tx)


# ---- one step's context -------------------------------------------------------------------------


class Refusal(Exception):
    """Internal: the message in hand is refused (the step rolls its state back)."""

    def __init__(self, reason: Rejection, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Step:
    """What one call of `step` accumulates (local to that call, never kept)."""

    config: HotStuffConfig
    now: int
    effects: list[Any] = field(default_factory=list)
    drops: list[Rejection] = field(default_factory=list)
    verifications: int = 0

    def leader(self, view: int) -> str:
        return leader_of(self.config.committee, self.config.leaders, view)

    @property
    def params(self) -> Params:
        return self.config.params


def attempt(
    ctx: Step, state: HotStuffState, handle: Callable[[HotStuffState], HotStuffState]
) -> HotStuffState:
    """Run `handle`; if it refuses, keep `state`, discard its effects and report the drop."""
    mark = len(ctx.effects)
    try:
        return handle(state)
    except Refusal as refusal:
        del ctx.effects[mark:]
        ctx.effects.append(Dropped(refusal.reason, refusal.detail))
        ctx.drops.append(refusal.reason)
        return state
