"""The signed events a chain accepts, and their envelope.

Every event body is a frozen dataclass; its sender signs the deterministic CBOR of
{"domain": EVENT_DOMAIN, "body": body, "kind": kind, "nonce": nonce, "sender": sender}. The nonce
must be exactly one more than the sender's last accepted nonce, so an event can be applied once
and in the sender's order (a replay is refused with `replayed_event`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aci_ref.crypto import KeyPair, sha256, verify_signature
from aci_ref.economics.ledger import Role
from aci_ref.encoding import canonical_bytes
from aci_ref.poai.attestation import Attestation
from aci_ref.poai.tee import Registration
from aci_ref.poai.votes import Vote

EVENT_DOMAIN: Final = "aci-ref/event/v1"
JOB_DOMAIN: Final = "aci-ref/job/v1"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Move tokens between two accounts."""

    to: str
    amount: int


@dataclass(frozen=True, slots=True)
class Bond:
    """Bond stake for a validator, verifier or LP role (workers bond through RegisterWorker)."""

    role: Role
    amount: int


@dataclass(frozen=True, slots=True)
class Unbond:
    """Start unbonding stake of a role; it stays slashable until the unbonding delay passes."""

    role: Role
    amount: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Withdraw matured unbonding stake of a role to the balance."""

    role: Role


@dataclass(frozen=True, slots=True)
class RegisterWorker:
    """Join a resource pool: bond the capacity-proportional stake and present a TEE identity."""

    resource_class: str
    capacity: int
    throughput: int
    registration: Registration
    stake: int = 0  # base units to bond; 0 bonds exactly the requirement of Definition 1


@dataclass(frozen=True, slots=True)
class DepositLiquidity:
    """Bond LP stake into a pool's liquidity and receive shares."""

    resource_class: str
    amount: int


@dataclass(frozen=True, slots=True)
class WithdrawLiquidity:
    """Burn pool shares; the liquidity they stand for starts unbonding as LP stake."""

    resource_class: str
    shares: int


@dataclass(frozen=True, slots=True)
class RequestQuote:
    """Algorithm 1 lines 2–3, §2.2: the client broadcasts J; the HMM quotes (worker, price, ETA).

    The job's id is not chosen by the client: it is `job_id_of(sender, nonce)`.
    """

    model_id: str
    input: bytes
    sla_ms: int
    budget: int


@dataclass(frozen=True, slots=True)
class AcceptQuote:
    """Algorithm 1 line 4, §2.2: the client accepts and escrows, paying at most `max_price`."""

    job_id: bytes
    max_price: int


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """Algorithm 1 line 8, §2.2: the worker submits its output y and attestation σ."""

    job_id: bytes
    output: bytes
    attestation: Attestation


@dataclass(frozen=True, slots=True)
class SealBlock:
    """The sequencer closes a block: the time advances and a fresh beacon samples the results."""

    height: int
    now_ms: int
    beacon: bytes


@dataclass(frozen=True, slots=True)
class CastVote:
    """Algorithm 1 lines 12 and 15, §2.2: a committee member's verdict on a job it re-ran.

    While the job is verifying, the vote is a verification vote (accept = the output matches);
    once it is disputed, an arbitration vote (accept = the worker was right).
    """

    vote: Vote


@dataclass(frozen=True, slots=True)
class ReportInvalidAttestation:
    """Table 2, invalid attestation: a worker's own signed submission that fails Level 1."""

    submission: SignedEvent


@dataclass(frozen=True, slots=True)
class RevealProbe:
    """ref: probes (errata E90) — an auditor shows that its wrong output was planted.

    `salt` opens the commitment SHA-256(canonical {"domain": "aci-ref/poai/probe", "salt",
    "worker"}) that genesis holds for the sending worker.
    """

    job_id: bytes
    salt: bytes


@dataclass(frozen=True, slots=True)
class CallContract:
    """§5.4: call `function(*args)` of a contract deployed at genesis, with `data` as its input.

    The call buys at most `gas_limit` gas; the contract reads `data` through `call_data_copy`.
    """

    contract: str
    function: str
    args: tuple[int, ...]
    data: bytes
    gas_limit: int


Event = (
    Transfer
    | Bond
    | Unbond
    | Withdraw
    | RegisterWorker
    | DepositLiquidity
    | WithdrawLiquidity
    | RequestQuote
    | AcceptQuote
    | SubmitResult
    | SealBlock
    | CastVote
    | ReportInvalidAttestation
    | RevealProbe
    | CallContract
)


@dataclass(frozen=True, slots=True)
class SignedEvent:
    """An event body with its sender, the sender's nonce and an Ed25519 signature."""

    sender: str
    nonce: int
    body: Event
    signature: bytes

    def signed_bytes(self) -> bytes:
        """The bytes the sender signed."""
        return signing_bytes(self.sender, self.nonce, self.body)

    def digest(self) -> bytes:
        """SHA-256 of the whole signed event (its identity in evidence and logs)."""
        return sha256(canonical_bytes(self))

    def verifies(self, public: bytes) -> bool:
        """True when the signature is the sender key's over this event."""
        return verify_signature(public, self.signed_bytes(), self.signature)


def signing_bytes(sender: str, nonce: int, body: Event) -> bytes:
    """Domain-separated canonical bytes of an event; naming its kind keeps bodies apart."""
    return canonical_bytes(
        {
            "body": body,
            "domain": EVENT_DOMAIN,
            "kind": type(body).__name__,
            "nonce": nonce,
            "sender": sender,
        }
    )


def job_id_of(client: str, nonce: int) -> bytes:
    """ref: job identity — SHA-256 of the client's name and the nonce of its RequestQuote."""
    return sha256(canonical_bytes({"client": client, "domain": JOB_DOMAIN, "nonce": nonce}))


def sign_event(key: KeyPair, sender: str, nonce: int, body: Event) -> SignedEvent:
    """Sign `body` as `sender` with `key`."""
    return SignedEvent(sender, nonce, body, key.sign(signing_bytes(sender, nonce, body)))
