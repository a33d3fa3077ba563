"""§4 (what no fault may break): the properties the safety checker holds, and what it reports.

`Property` names each property, a `Violation` is one breach of it (raised as `SafetyViolation`
when the checker is asked to stop at the first), `Progress` is a liveness goal, and
`SafetyReport` sums up a check. The checker itself is in `safety_checker`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from aci_ref.consensus.transactions import Track


class Property(StrEnum):
    """The properties the checker holds honest validators to."""

    AGREEMENT = "agreement"
    CHAIN = "chain"
    PREFIX = "prefix"
    SLOT = "slot"
    CERTIFICATE = "certificate"
    ROOTS = "roots"
    LIVENESS = "liveness"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken property: which, at which honest address, when (virtual ms), and how."""

    property: Property
    address: str
    at_ms: int
    detail: str


class SafetyViolation(AssertionError):
    """Raised at the first violation when the checker runs with `raise_on_violation`."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(f"{violation.property}: {violation.address}: {violation.detail}")
        self.violation = violation


@dataclass(frozen=True, slots=True)
class Progress:
    """A liveness goal: from `since_ms`, within `within_ms`, something new on each track.

    `addresses` defaults to every honest address; the fast track counts `Committed` effects, the
    settlement track `Decided` ones.
    """

    since_ms: int
    within_ms: int
    tracks: tuple[Track, ...] = (Track.FAST, Track.SETTLEMENT)
    addresses: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SafetyReport:
    """What the checker found: the violations, and how much it saw and verified."""

    violations: tuple[Violation, ...]
    decided: Mapping[str, int]
    committed: Mapping[str, int]
    checkpoints: int
    certificates_checked: int
    certificates_unchecked: int
    steps: int

    @property
    def ok(self) -> bool:
        """True when no property was broken."""
        return not self.violations

    def count(self, prop: Property) -> int:
        """How many violations of `prop` were found."""
        return sum(1 for v in self.violations if v.property is prop)

    def kinds(self) -> frozenset[Property]:
        """The properties broken at least once."""
        return frozenset(v.property for v in self.violations)

    def summary(self, limit: int = 5) -> str:
        """A short text for an assertion message: counts and the first few violations."""
        head = ", ".join(f"{p}={self.count(p)}" for p in Property if self.count(p))
        lines = [f"{v.property} at {v.address} ({v.at_ms} ms): {v.detail}" for v in self.violations]
        return "; ".join([head or "no violation", *lines[:limit]])
