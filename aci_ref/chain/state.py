"""The chain's state and configuration: what a chain starts from and what it holds between events.

Every value is immutable (frozen, slotted dataclasses and persistent maps), so a refused event
cannot have changed the state it was given, and a transition's result shares structure with its
input instead of copying it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import immutables

from aci_ref.crypto import sha256
from aci_ref.economics.ledger import Ledger
from aci_ref.encoding import canonical_bytes
from aci_ref.market.hmm import Market
from aci_ref.market.jobs import Job
from aci_ref.params import Params
from aci_ref.poai.matching import OutputKind
from aci_ref.poai.profiles import InputRule, ModelProfile
from aci_ref.poai.quality import INITIAL_QUALITY_BPS
from aci_ref.poai.tee import TrustAnchors
from aci_ref.poai.votes import Vote

VERIFICATION_POOL: Final = "pool:verification"
"""ref: verifier pay (errata E90) — the account the verifiers' fee share accrues in; no key."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """ref: model registry — what the chain knows of a workload without running it."""

    model_id: str
    h_model: bytes
    kind: OutputKind
    resource_class: str
    units: int
    profile: ModelProfile
    input_rule: InputRule


@dataclass(frozen=True, slots=True)
class Account:
    """ref: genesis account — a name, its Ed25519 public key and its opening balance."""

    name: str
    public_key: bytes
    balance: int


@dataclass(frozen=True, slots=True)
class Genesis:
    """ref: genesis — everything a chain starts from.

    `probe_commitments` are the audit programme's hidden worker identities (errata E90): each is
    SHA-256(canonical {"domain": "aci-ref/poai/probe", "salt", "worker"}), opened by RevealProbe.
    `contracts` are (name, WebAssembly binary) pairs deployed at genesis (§5.4).
    """

    params: Params
    accounts: tuple[Account, ...]
    sequencer: str
    anchors: TrustAnchors
    models: tuple[ModelInfo, ...]
    resource_classes: tuple[str, ...]
    probe_commitments: tuple[bytes, ...] = ()
    contracts: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """ref: worker registry — a worker's pool, its TEE identity and its PoAI record.

    `quality_bps` is the Level 3 score, kept here whatever the market shows: a banned or
    under-staked worker is offered to no client (the market sees quality 0), but its score is
    not lost, and neither leaving nor a top-up resets it. `banned` is for good (Sybil, a verified
    wrong output); `departed` means it unbonded all of its stake and left its pool.
    """

    resource_class: str
    platform_key: bytes
    enclave_key: bytes
    quality_bps: int = INITIAL_QUALITY_BPS
    banned: bool = False
    departed: bool = False


@dataclass(frozen=True, slots=True)
class PlatformRecord:
    """ref: platform registry (errata E73) — what a TEE platform has done, whoever it served.

    `workers` are the identities registered on it now (two or more is a Sybil); `quality_bps`
    the lowest score any of its identities had when it left; `banned` whether one was banned.
    A new account on the same machine starts from this record, so leaving launders nothing.
    """

    workers: tuple[str, ...] = ()
    quality_bps: int = INITIAL_QUALITY_BPS
    banned: bool = False


@dataclass(frozen=True, slots=True)
class ProbeReview:
    """ref: probes (errata E90) — arbiters checking that a settled, revealed probe was wrong.

    `accused` are the committee's votes under review; `arbiters` (sorted) with the stakes they had
    when drawn cast `votes` until a quorum forms, all have voted, or `deadline_ms` passes.
    """

    auditor: str
    accused: tuple[Vote, ...]
    arbiters: tuple[str, ...]
    arbiter_stakes: tuple[int, ...]
    votes: tuple[Vote, ...]
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class ChainState:
    """ref: chain state — the ledger, the market, every job and the bookkeeping around them.

    `nonces` holds each sender's last accepted nonce; `attestations` every accepted attestation
    digest (hex) with its job; `pending` the jobs attested since the last block; `open_quotes` the
    quotes of the current block; `executing` each running job's deadline; `voting` the deadline of
    each job waiting for committee or arbitration votes; `platforms` the record of every TEE
    platform ever registered (keyed by the hex of its key); `vote_credits` each verifier's votes
    this epoch that agreed with the decision (errata E90); `probes` every auditor commitment of
    genesis (hex) and whether it has been revealed; `reviews` the settled probes under review;
    `contracts` the AIVM contracts deployed at genesis (WebAssembly binaries by name) and
    `contract_storage` each one's storage (hex keys).
    """

    params: Params
    ledger: Ledger
    market: Market
    jobs: immutables.Map[str, Job]
    keys: immutables.Map[str, bytes]
    nonces: immutables.Map[str, int]
    workers: immutables.Map[str, WorkerInfo]
    platforms: immutables.Map[str, PlatformRecord]
    attestations: immutables.Map[str, str]
    models: immutables.Map[str, ModelInfo]
    anchors: TrustAnchors
    sequencer: str
    height: int
    now_ms: int
    epoch: int
    pending: tuple[str, ...]
    open_quotes: tuple[str, ...]
    executing: immutables.Map[str, int]
    voting: immutables.Map[str, int]
    vote_credits: immutables.Map[str, int]
    probes: immutables.Map[str, bool]
    reviews: immutables.Map[str, ProbeReview]
    contracts: immutables.Map[str, bytes]
    contract_storage: immutables.Map[str, immutables.Map[str, bytes]]
    block_gas: int = 0
    """Contract gas used since the last sealed block (errata E105), ≤ `aivm_block_gas_limit`."""


def state_root(state: ChainState) -> bytes:
    """ref: state root — SHA-256 of the canonical CBOR of the whole chain state.

    Two states have one root exactly when every field agrees, so validators (and other
    implementations) can be compared by root alone.
    """
    return sha256(canonical_bytes(state))
