"""§4: one validator — the fast path, the settlement path, the beacon and the executor, composed.

The two consensus machines run side by side and never read each other's state; this machine
routes inputs to them and turns their reports into the chain's one execution order
(spec/consensus.md, "Two tracks, one order"):

- a client transaction passes the stateless admission check and goes to the track that orders it;
- every `Committed` fast-path vertex runs through the executor at once, in sequence order;
- every `Decided` settlement block is signed by this validator's beacon share for its height, and
  the share is broadcast only then, so nobody can know a height's beacon before its block is
  final; once a threshold of shares combine, the `f + 1` designated validators of that height put
  a marker (block, decision proof, beacon) into their next vertex, and the block executes where
  the fast path orders its first valid marker;
- a checkpoint the executor reaches is submitted to the settlement path.

Timers and messages are told apart by their component (`dag/…`, `hotstuff/…`, `validator/…`).
A refusal anywhere is a `Dropped` effect with its code; the state is unchanged but for counters.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

import immutables

from aci_ref.chain.state import ChainState
from aci_ref.consensus.admission import admit, admit_payload
from aci_ref.consensus.beacon import BeaconKeys, combine, sign_share, verify_share
from aci_ref.consensus.checkpoint import Checkpoint
from aci_ref.consensus.committee import Committee
from aci_ref.consensus.dag import DagConfig, dag_program
from aci_ref.consensus.dag_messages import (
    Ack,
    Certificate,
    CertificateReply,
    CertificateRequest,
    Committed,
    Vertex,
)
from aci_ref.consensus.dag_state import DagState
from aci_ref.consensus.execution import (
    CheckpointReached,
    Execution,
    ExecutionConfig,
    SettlementMarker,
    checkpoint_item,
    decode_item,
    execute_vertex,
    marker_item,
)
from aci_ref.consensus.hotstuff import Decided, hotstuff_program
from aci_ref.consensus.hotstuff_messages import (
    BlockRequest,
    BlockResponse,
    NewView,
    PhaseQC,
    Proposal,
    Vote,
)
from aci_ref.consensus.hotstuff_state import HotStuffConfig, HotStuffState
from aci_ref.consensus.io import (
    Broadcast,
    ClientTx,
    Deliver,
    Dropped,
    Effects,
    Input,
    Program,
    SetTimer,
    Start,
    Stats,
    TimerFired,
)
from aci_ref.consensus.markers import BeaconShare, Pending, check_marker, injectors
from aci_ref.consensus.transactions import Track, track_of
from aci_ref.crypto import KeyPair
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params

RESEND_TIMER: Final = "validator/resend"
"""Re-broadcast own beacon shares and re-inject the next marker while a height waits."""

_DAG_MESSAGES: Final = (Vertex, Ack, Certificate, CertificateRequest, CertificateReply)
_HOTSTUFF_MESSAGES: Final = (Proposal, Vote, PhaseQC, NewView, BlockRequest, BlockResponse)

Map = immutables.Map


@dataclass(frozen=True, slots=True)
class ValidatorConfig:
    """One validator's fixed setup: who it is, its beacon share, the genesis it executes from.

    The committee is fixed at genesis (no reconfiguration); the TEE trust anchors the admission
    check uses are the genesis state's.
    """

    committee: Committee
    name: str
    key: KeyPair
    params: Params
    beacon_keys: BeaconKeys
    beacon_secret: bytes
    genesis: ChainState
    leaders: tuple[str, ...] | None = None

    def dag(self) -> DagConfig:
        """The fast-path machine's setup."""
        return DagConfig(self.committee, self.name, self.key, self.params)

    def hotstuff(self) -> HotStuffConfig:
        """The settlement machine's setup: blocks are voted for only if their payload admits."""
        anchors = self.genesis.anchors
        return HotStuffConfig(
            self.committee,
            self.name,
            self.key,
            self.params,
            validate_payload=lambda payload: admit_payload(payload, anchors),
            leaders=self.leaders,
        )

    def execution(self) -> ExecutionConfig:
        """The executor's setup: markers are checked against this committee and beacon."""
        committee, keys = self.committee, self.beacon_keys
        return ExecutionConfig(
            verify_marker=lambda marker: check_marker(committee, keys, marker),
            interval_rounds=self.params.checkpoint_interval_rounds,
            max_held=self.params.max_round_lead,
        )


@dataclass(frozen=True, slots=True)
class ValidatorState:
    """The two consensus states, the executor, and the beacon bookkeeping between them."""

    dag: DagState
    hotstuff: HotStuffState
    execution: Execution
    pending: Map[int, Pending] = field(default_factory=Map)
    shares: Map[int, Map[str, bytes]] = field(default_factory=Map)
    markers: Map[int, SettlementMarker] = field(default_factory=Map)
    stats: Stats = field(default_factory=Stats)

    @property
    def height(self) -> int:
        """The last settlement block height this validator has executed."""
        return self.execution.block_height


# ---- the machine -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Parts:
    """The composed machines, built once per validator."""

    config: ValidatorConfig
    dag: Program[DagState]
    hotstuff: Program[HotStuffState]
    execution: ExecutionConfig


class _Node:
    """One step's working copy: the state being built and the effects going out."""

    def __init__(self, parts: _Parts, state: ValidatorState, now: int) -> None:
        self.config = parts.config
        self.dag = parts.dag
        self.hotstuff = parts.hotstuff
        self.exec_config = parts.execution
        self.state = state
        self.now = now
        self.out: list[Any] = []

    def drop(self, reason: Rejection, detail: str) -> None:
        self.state = replace(self.state, stats=self.state.stats.drop(reason))
        self.out.append(Dropped(reason, detail))

    def to_dag(self, event: Input) -> None:
        dag, effects = self.dag.step(self.state.dag, event)
        self.state = replace(self.state, dag=dag)
        self.absorb(effects)

    def to_hotstuff(self, event: Input) -> None:
        hotstuff, effects = self.hotstuff.step(self.state.hotstuff, event)
        self.state = replace(self.state, hotstuff=hotstuff)
        self.absorb(effects)

    def absorb(self, effects: Effects) -> None:
        decided: list[Decided] = []
        for effect in effects:
            self.out.append(effect)
            if isinstance(effect, Committed):
                self.execute(effect)
            elif isinstance(effect, Decided):
                decided.append(effect)
        if decided:
            self.on_decided(decided)

    # -- fast-path output --

    def execute(self, committed: Committed) -> None:
        closes = committed.anchor_round if committed.round == committed.anchor_round else None
        before = self.state.height
        execution, effects = execute_vertex(
            self.state.execution, self.exec_config, committed.batch, closes
        )
        self.state = replace(self.state, execution=execution)
        self.out.extend(effects)
        for effect in effects:
            if isinstance(effect, CheckpointReached):
                self.to_hotstuff(ClientTx(self.now, checkpoint_item(effect.checkpoint)))
        if self.state.height != before:
            self.prune()

    def prune(self) -> None:
        done = self.state.height
        s = self.state
        self.state = replace(
            s,
            pending=Map({h: p for h, p in s.pending.items() if h > done}),
            shares=Map({h: v for h, v in s.shares.items() if h > done}),
            markers=Map({h: m for h, m in s.markers.items() if h > done}),
        )

    # -- settlement output and the beacon --

    def on_decided(self, decided: list[Decided]) -> None:
        """Blocks decided by one certificate arrive ancestors first; each proves by the rest."""
        blocks = [d.block for d in decided]
        for at, item in enumerate(decided):
            height = item.block.height
            if height <= self.state.height or height in self.state.pending:
                continue
            pending = Pending(item.block, tuple(blocks[at + 1 :]), item.qc)
            share = sign_share(self.config.beacon_secret, height)
            self.state = replace(self.state, pending=self.state.pending.set(height, pending))
            self.out.append(Broadcast(BeaconShare(height, self.config.name, share)))
            self.add_share(height, self.config.name, share)

    def add_share(self, height: int, signer: str, share: bytes) -> None:
        shares = self.state.shares.get(height, Map()).set(signer, share)
        self.state = replace(self.state, shares=self.state.shares.set(height, shares))
        self.try_combine(height)

    def try_combine(self, height: int) -> None:
        s = self.state
        pending, shares = s.pending.get(height), s.shares.get(height, Map())
        if (
            pending is None
            or height in s.markers
            or len(shares) < self.config.beacon_keys.threshold
        ):
            return
        beacon = combine(self.config.beacon_keys, height, dict(shares))
        marker = SettlementMarker(pending.block, pending.descendants, pending.certificate, beacon)
        self.state = replace(s, markers=s.markers.set(height, marker))
        if self.config.name in injectors(self.config.committee, height):
            self.to_dag(ClientTx(self.now, marker_item(marker)))

    def on_share(self, sender: str, message: BeaconShare) -> None:
        keys, s = self.config.beacon_keys, self.state
        if type(message.height) is not int or type(message.share) is not bytes:
            return self.drop(Rejection.BAD_INPUT, "a beacon share is (height, signer, share)")
        if message.signer != sender or keys.index(sender) is None:
            return self.drop(Rejection.NOT_VALIDATOR, f"beacon share of {message.signer!r}")
        if message.height <= s.height:
            return self.drop(Rejection.STALE_ROUND, f"beacon share for height {message.height}")
        if message.height > s.hotstuff.decided_height + self.config.params.max_round_lead:
            return self.drop(Rejection.FUTURE_ROUND, f"beacon share for height {message.height}")
        if sender in s.shares.get(message.height, Map()):
            return self.drop(Rejection.DUPLICATE_MESSAGE, f"beacon share of {sender}")
        self.state = replace(s, stats=s.stats.verified())
        if not verify_share(keys, sender, message.height, message.share):
            return self.drop(Rejection.BAD_BEACON, f"beacon share of {sender}")
        self.add_share(message.height, sender, message.share)

    def resend(self) -> None:
        """While the next height waits, own shares go out again and every holder re-injects it."""
        s, name = self.state, self.config.name
        for height in sorted(s.pending):
            share = s.shares.get(height, Map()).get(name)
            if share is not None:
                self.out.append(Broadcast(BeaconShare(height, name, share)))
        waiting = s.markers.get(s.height + 1)
        if waiting is not None:
            self.to_dag(ClientTx(self.now, marker_item(waiting)))
        self.out.append(SetTimer(RESEND_TIMER, self.now + self.config.params.view_timeout_ms))

    # -- clients --

    def on_client_tx(self, tx: bytes) -> None:
        try:
            item = decode_item(tx)
        except RejectedError as refused:
            return self.drop(refused.rejection, "an undecodable transaction")
        if isinstance(item, SettlementMarker | Checkpoint):
            return self.drop(Rejection.WRONG_TRACK, "markers and checkpoints come from validators")
        track = track_of(item)
        if track is None:
            return self.drop(Rejection.WRONG_TRACK, "the block step is not a transaction")
        reason = admit(tx, track, self.config.genesis.anchors)
        if reason is not None:
            return self.drop(reason, "refused at admission")
        event = ClientTx(self.now, tx)
        self.to_dag(event) if track is Track.FAST else self.to_hotstuff(event)


def _step(parts: _Parts, state: ValidatorState, event: Input) -> tuple[ValidatorState, Effects]:
    config = parts.config
    now = event.now_ms if type(getattr(event, "now_ms", None)) is int else 0
    node = _Node(parts, state, now)
    if isinstance(event, Start):
        node.to_dag(event)
        node.to_hotstuff(event)
        node.out.append(SetTimer(RESEND_TIMER, now + config.params.view_timeout_ms))
    elif isinstance(event, ClientTx):
        if type(event.tx) is not bytes:
            node.drop(Rejection.BAD_INPUT, "a transaction is bytes")
        else:
            node.on_client_tx(event.tx)
    elif isinstance(event, TimerFired):
        key = event.key if type(event.key) is str else ""
        if key == RESEND_TIMER:
            node.resend()
        elif key.startswith("dag/"):
            node.to_dag(event)
        elif key.startswith("hotstuff/"):
            node.to_hotstuff(event)
        else:
            node.drop(Rejection.BAD_INPUT, f"unknown timer {key!r}")
    elif isinstance(event, Deliver):
        message = event.message
        if isinstance(message, _DAG_MESSAGES):
            node.to_dag(event)
        elif isinstance(message, _HOTSTUFF_MESSAGES):
            node.to_hotstuff(event)
        elif isinstance(message, BeaconShare) and type(event.sender) is str:
            node.on_share(event.sender, message)
        else:
            node.drop(Rejection.BAD_INPUT, f"unknown message {type(message).__name__}")
    else:
        node.drop(Rejection.BAD_INPUT, "unknown input")
    return node.state, tuple(node.out)


def validator_program(config: ValidatorConfig) -> Program[ValidatorState]:
    """Definition 3, §4.1: the dual-track validator as a pure `Program` for a simulator or node."""
    dag, hotstuff = dag_program(config.dag()), hotstuff_program(config.hotstuff())
    parts = _Parts(config, dag, hotstuff, config.execution())

    def initial() -> ValidatorState:
        return ValidatorState(dag.initial(), hotstuff.initial(), Execution(config.genesis))

    def step(state: ValidatorState, event: Input) -> tuple[ValidatorState, Effects]:
        try:
            return _step(parts, state, event)
        except RejectedError as refused:  # a component refused what it should have dropped
            kept = replace(state, stats=state.stats.drop(refused.rejection))
            return kept, (Dropped(refused.rejection, str(refused)),)

    def recover(state: ValidatorState) -> ValidatorState:
        """What survives a crash: each machine's durable part, the executed chain, the proofs."""
        return ValidatorState(
            dag.recover(state.dag),
            hotstuff.recover(state.hotstuff),
            state.execution,
            pending=state.pending,
            shares=Map(
                {h: _own(v, config.name) for h, v in state.shares.items() if config.name in v}
            ),
            markers=state.markers,
            stats=state.stats,
        )

    return Program(initial=initial, step=step, recover=recover)


def _own(shares: Map[str, bytes], name: str) -> Map[str, bytes]:
    return Map({name: shares[name]})


def total_stats(state: ValidatorState) -> Stats:
    """The validator's counters summed over its machines."""
    parts = (state.dag.stats, state.hotstuff.stats, state.stats)
    dropped: dict[str, int] = {}
    for part in parts:
        for reason, count in part.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + count
    return Stats(
        received=sum(p.received for p in parts),
        sent=sum(p.sent for p in parts),
        verifications=sum(p.verifications for p in parts),
        dropped=Map(dropped),
    )
