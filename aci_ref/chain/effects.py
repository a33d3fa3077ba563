"""What a transition tells the outside world: one frozen record per thing that happened."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aci_ref.economics.fees import FeeSplit
from aci_ref.economics.slashing import SlashRecord, Violation
from aci_ref.errors import Rejection


@dataclass(frozen=True, slots=True)
class Quoted:
    """Effect: Algorithm 1 line 3 — the HMM quoted (worker, price, ETA)."""

    job_id: bytes
    worker: str
    price: int
    eta_ms: int


@dataclass(frozen=True, slots=True)
class Assigned:
    """Effect: Algorithm 1 lines 4–6 — escrow locked; the worker must run the job in time."""

    job_id: bytes
    worker: str
    price: int
    started_ms: int
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class Attested:
    """Effect: Algorithm 1 line 8 — a result passed Level 1 and waits for the next beacon."""

    job_id: bytes
    worker: str


@dataclass(frozen=True, slots=True)
class Sampled:
    """Effect: Algorithm 2 lines 7–8 — the job was drawn; `committee` must re-execute and vote."""

    job_id: bytes
    committee: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DisputeOpened:
    """Effect: Algorithm 1 line 15 — verification did not accept; `arbiters` must re-execute."""

    job_id: bytes
    accusers: tuple[str, ...]
    arbiters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Settled:
    """Effect: Algorithm 1 line 14 — the worker is paid and the fees distributed.

    `reexecuted` is true only when verifiers re-ran the job and their votes accepted it.
    """

    job_id: bytes
    worker: str
    split: FeeSplit
    reexecuted: bool


class RefundReason(StrEnum):
    """Why a client's escrow came back."""

    TIMED_OUT = "timed_out"  # no accepted result by the deadline (Table 2 row Timeout)
    ARBITRATED = "arbitrated"  # arbitration found the output wrong
    UNRESOLVED = "unresolved"  # arbitration decided nothing (split, silent, or no arbiters)
    PROBE = "probe"  # the output was an auditor's planted fault (E90)


@dataclass(frozen=True, slots=True)
class Refunded:
    """Effect: the client's escrow came back, for `why`."""

    job_id: bytes
    client: str
    amount: int
    why: RefundReason


@dataclass(frozen=True, slots=True)
class Expired:
    """Effect: a quote was not accepted before the next block."""

    job_id: bytes


@dataclass(frozen=True, slots=True)
class Slashed:
    """Effect: Table 2 — stake taken with evidence; `level` is the PoAI level that caught it."""

    record: SlashRecord
    violation: Violation
    level: int
    job_id: bytes


@dataclass(frozen=True, slots=True)
class QualityChanged:
    """Effect: Algorithm 2 line 16 — a worker's quality score moved."""

    worker: str
    quality_bps: int


@dataclass(frozen=True, slots=True)
class ProbeRevealed:
    """Effect: ref: probes (errata E90) — an auditor revealed a planted fault; `arbiters` review it.

    For a disputed job the dispute's arbiters decide; for a settled one a review is drawn.
    """

    job_id: bytes
    auditor: str
    arbiters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VerifiersPaid:
    """Effect: ref: verifier pay (errata E90) — an epoch's verification pool paid for votes."""

    epoch: int
    paid: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class ContractCalled:
    """Effect: §5.4 — a contract call returned `returned` after using `gas_used` gas.

    `fee` base units were burned from the caller (`gas_fee(gas_used)`, errata E105);
    `opcode_gas` lists (opcode, gas) for each opcode that charged, by name — the rest of
    `gas_used` is plain instructions.
    """

    contract: str
    function: str
    returned: tuple[int, ...]
    gas_used: int
    fee: int = 0
    opcode_gas: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ContractReverted:
    """Effect: §5.4 (errata E105) — a contract call failed with `reason`; only its fee remains.

    Everything the call did is undone; the caller's nonce advances and `fee` (its whole gas
    limit × `aivm_gas_price`) is burned.
    """

    contract: str
    function: str
    reason: Rejection
    fee: int


Effect = (
    Quoted
    | Assigned
    | Attested
    | Sampled
    | DisputeOpened
    | Settled
    | Refunded
    | Expired
    | Slashed
    | QualityChanged
    | ProbeRevealed
    | VerifiersPaid
    | ContractCalled
    | ContractReverted
)
Effects = tuple[Effect, ...]
