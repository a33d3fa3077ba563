"""ref: slashing — Table 2's violations as data, and the one function that applies a slash.

A slash needs evidence: a 32-byte digest of the proof material, used at most once. The amount
is a fraction of everything the position holds, unbonding stake included (that is what the
unbonding delay is for); it is taken from bonded, then locked, then unbonding stake newest
first. A share goes to the reporter, the rest is burned. The records a slash takes and leaves
(`Violation`, `Evidence`, `SlashRecord`) live in `records`, shared with the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from aci_ref.economics.ledger import (
    Ledger,
    StakePosition,
    Unbonding,
    _check_role,
    keeps_supply,
    stake_key,
)
from aci_ref.economics.records import Evidence as Evidence
from aci_ref.economics.records import Role
from aci_ref.economics.records import SlashRecord as SlashRecord
from aci_ref.economics.records import Violation as Violation
from aci_ref.errors import ParamsError, RejectedError, Rejection
from aci_ref.params import BPS, Params

EVIDENCE_ID_BYTES = 32
"""An evidence id is a SHA-256 digest of the proof material."""


@dataclass(frozen=True, slots=True)
class SlashRule:
    """ref: slashing — one row of the slashing table.

    `level` is the PoAI level whose check finds the offence (0: deadline monitoring, outside
    Algorithm 2; 1: attestation validation or registration; 2: re-execution and arbitration;
    3: quality scoring).
    """

    bps_param: str
    detection: str
    role: Role
    level: int


class SlashingTable(Mapping[Violation, SlashRule]):
    """ref: slashing — a read-only violation → rule mapping (the type of SLASHING_TABLE)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Mapping[Violation, SlashRule]) -> None:
        self._rows = MappingProxyType(dict(rows))

    def __getitem__(self, violation: Violation) -> SlashRule:
        return self._rows[violation]

    def __iter__(self) -> Iterator[Violation]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def rate_bps(self, params: Params, violation: Violation) -> int:
        """The slash rate of `violation` under `params`, in basis points."""
        rate: int = getattr(params, self._rows[violation].bps_param)
        return rate


SLASHING_TABLE = SlashingTable(
    {
        Violation.WRONG_OUTPUT: SlashRule(
            "slash_wrong_output_bps", "statistical sampling", Role.WORKER, 2
        ),
        Violation.INVALID_ATTESTATION: SlashRule(
            "slash_invalid_attestation_bps", "signature verification", Role.WORKER, 1
        ),
        Violation.TIMEOUT: SlashRule("slash_timeout_bps", "deadline monitoring", Role.WORKER, 0),
        Violation.LOW_QUALITY: SlashRule(
            "slash_low_quality_bps_per_epoch", "quality score decay", Role.WORKER, 3
        ),
        Violation.SYBIL: SlashRule("slash_sybil_bps", "network analysis", Role.WORKER, 1),
        Violation.FALSE_ACCUSATION: SlashRule(
            "slash_false_accusation_bps", "arbitration", Role.VERIFIER, 2
        ),
        Violation.MISSED_FAULT: SlashRule(
            "slash_missed_fault_bps", "arbitration or a revealed probe", Role.VERIFIER, 2
        ),
    }
)
"""Table 2, §3.5: PoAI slashing conditions — each violation's rate, detection method, role.

Rates are `Params` fields in basis points of the stake at risk: wrong output (verified) 100 %,
found by statistical sampling; invalid attestation 50 %, by signature verification; timeout beyond
2 × SLA 10 %, by deadline monitoring; quality below threshold 5 % per epoch, by quality-score
decay; Sybil 100 %, by network analysis. All five slash the worker. The reference adds a sixth
row (errata E11): a verifier whose accusation arbitration rejects loses
`slash_false_accusation_bps` of its verifier stake, and a seventh (errata E90): a verifier that
voted to accept an output arbitration or a revealed probe proves wrong loses
`slash_missed_fault_bps` of its verifier stake.
"""


def _take(position: StakePosition, amount: int) -> tuple[StakePosition, int, int, int]:
    """Take `amount` from bonded, then locked, then unbonding entries newest (last) first."""
    from_bonded = min(amount, position.bonded)
    from_locked = min(amount - from_bonded, position.locked)
    rest = amount - from_bonded - from_locked
    from_unbonding = rest
    kept: list[Unbonding] = []
    for entry in reversed(position.unbonding):
        cut = min(rest, entry.amount)
        rest -= cut
        if entry.amount > cut:
            kept.append(replace(entry, amount=entry.amount - cut))
    kept.reverse()
    taken = replace(
        position,
        bonded=position.bonded - from_bonded,
        locked=position.locked - from_locked,
        unbonding=tuple(kept),
        slashed=position.slashed + amount,
    )
    return taken, from_bonded, from_locked, from_unbonding


def _check_evidence_id(evidence_id: object) -> bytes:
    if (
        not isinstance(evidence_id, bytes)
        or len(evidence_id) != EVIDENCE_ID_BYTES
        or not any(evidence_id)
    ):
        raise RejectedError(
            Rejection.SLASH_WITHOUT_EVIDENCE,
            f"evidence id must be a non-zero {EVIDENCE_ID_BYTES}-byte digest, got {evidence_id!r}",
        )
    return evidence_id


def _check_bps(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= BPS:
        raise ParamsError(Rejection.PARAMS_OUT_OF_RANGE, name, f"{value!r} is not in [0, {BPS}]")


@keeps_supply(pair=True)
def slash(ledger: Ledger, params: Params, evidence: Evidence) -> tuple[Ledger, SlashRecord]:
    """ref: slash application — take Table 2's share of an offender's stake, once per evidence.

    stake_at_risk = bonded + locked + unbonding; amount = floor(stake_at_risk × rate / 10000),
    taken from bonded, then locked, then unbonding entries newest first. The reporter, when it
    is an existing account other than the offender, gets floor(amount ×
    slash_reporter_reward_bps / 10000); the rest is burned. The position's `slashed` grows by
    the amount, and the evidence id is recorded so it cannot slash again. Refuses, in order:
    EVIDENCE_MISMATCH (unknown violation), SLASH_WITHOUT_EVIDENCE (id not a non-zero 32-byte
    digest), DUPLICATE_EVIDENCE, UNKNOWN_ROLE, EVIDENCE_MISMATCH (role other than the table's
    role for the violation), NO_STAKE (no position, or nothing held), and PARAMS_OUT_OF_RANGE
    (a ParamsError) when a rate in `params` lies outside [0, 10000].
    """
    try:
        violation = Violation(evidence.violation)
    except ValueError:
        raise RejectedError(
            Rejection.EVIDENCE_MISMATCH, f"unknown violation {evidence.violation!r}"
        ) from None
    evidence_id = _check_evidence_id(evidence.evidence_id)
    if evidence_id.hex() in ledger.evidence_used:
        raise RejectedError(Rejection.DUPLICATE_EVIDENCE, evidence_id.hex())
    role = _check_role(evidence.role)
    rule = SLASHING_TABLE[violation]
    if role is not rule.role:
        raise RejectedError(
            Rejection.EVIDENCE_MISMATCH,
            f"{violation.value} slashes a {rule.role.value}, not {role}",
        )
    key = stake_key(evidence.offender, role) if isinstance(evidence.offender, str) else ""
    position = ledger.stakes.get(key)
    if position is None or position.held == 0:
        raise RejectedError(Rejection.NO_STAKE, key or repr(evidence.offender))

    rate = SLASHING_TABLE.rate_bps(params, violation)
    _check_bps(rule.bps_param, rate)
    _check_bps("slash_reporter_reward_bps", params.slash_reporter_reward_bps)
    at_risk = position.held
    amount = at_risk * rate // BPS
    taken, from_bonded, from_locked, from_unbonding = _take(position, amount)
    reporter = evidence.reporter
    rewarded = (
        reporter is not None and reporter in ledger.balances and reporter != evidence.offender
    )
    reward = amount * params.slash_reporter_reward_bps // BPS if rewarded else 0
    record = SlashRecord(
        evidence_id=evidence_id,
        violation=violation,
        offender=evidence.offender,
        role=role,
        stake_at_risk=at_risk,
        rate_bps=rate,
        amount=amount,
        from_bonded=from_bonded,
        from_locked=from_locked,
        from_unbonding=from_unbonding,
        reporter=reporter,
        reporter_reward=reward,
        burned=amount - reward,
    )
    balances = ledger.balances
    if reward and reporter is not None:
        balances = balances.set(reporter, balances[reporter] + reward)
    slashed = replace(
        ledger,
        balances=balances,
        stakes=ledger.stakes.set(key, taken),
        burned=ledger.burned + record.burned,
        evidence_used=ledger.evidence_used.set(evidence_id.hex(), record),
    )
    return slashed, record
