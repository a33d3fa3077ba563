"""ref: economics records — the vocabulary the ledger and slashing share: roles, violations,
evidence and slash records.

Plain frozen values with no behaviour, so that `ledger` (which keeps every slash it applied) and
`slashing` (which makes them) both import from here and neither from the other. The names stay
importable from `aci_ref.economics.ledger`, `aci_ref.economics.slashing` and `aci_ref.economics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """ref: ledger — the roles that bond stake (Definition 1 and Table 6; clients bond none)."""

    VALIDATOR = "validator"
    VERIFIER = "verifier"
    WORKER = "worker"
    LP = "lp"


class Violation(StrEnum):
    """ref: slashing — the violations that cost stake (Table 2's rows, plus a failed accusation)."""

    WRONG_OUTPUT = "wrong_output"
    INVALID_ATTESTATION = "invalid_attestation"
    TIMEOUT = "timeout"
    LOW_QUALITY = "low_quality"
    SYBIL = "sybil"
    FALSE_ACCUSATION = "false_accusation"
    MISSED_FAULT = "missed_fault"


@dataclass(frozen=True, slots=True)
class Evidence:
    """ref: slashing — the proof that a slash is due; `evidence_id` is the digest of the proof."""

    violation: Violation
    offender: str
    role: Role
    evidence_id: bytes
    reporter: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SlashRecord:
    """ref: slash application — what one slash took, from where, and where it went."""

    evidence_id: bytes
    violation: Violation
    offender: str
    role: Role
    stake_at_risk: int
    rate_bps: int
    amount: int
    from_bonded: int
    from_locked: int
    from_unbonding: int
    reporter: str | None
    reporter_reward: int
    burned: int
