"""The validator committee: who may speak, with what stake, and what counts as a quorum.

Quorums are stake-weighted. A quorum is more than two thirds of the committee's stake (2f + 1 of
3f + 1 equal stakes), so two quorums share more than a third, hence an honest validator, whenever at
most a third of the stake is Byzantine. A validity set is more than one third (f + 1 of 3f + 1): it
holds at least one honest validator. The paper's Algorithm 3 says "at least 2n/3"; for n = 3f + 1
the two agree, for n = 3f they do not, and "at least" would then let two quorums share only
Byzantine validators (errata E78).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aci_ref.errors import RejectedError, Rejection


@dataclass(frozen=True, slots=True)
class Validator:
    """ref: validator — a name, its Ed25519 public key and its voting stake (base units)."""

    name: str
    public_key: bytes
    stake: int


@dataclass(frozen=True, slots=True)
class Committee:
    """§4.2–§4.3: the validator set fixed at genesis, sorted by name, with its quorum rules."""

    validators: tuple[Validator, ...]
    _by_name: dict[str, Validator] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [v.name for v in self.validators]
        if not names or names != sorted(set(names)):
            raise RejectedError(Rejection.BAD_INPUT, "validators: non-empty, distinct, sorted")
        if any(v.stake <= 0 or len(v.public_key) != 32 for v in self.validators):
            raise RejectedError(Rejection.BAD_INPUT, "a validator needs stake and a 32-byte key")
        object.__setattr__(self, "_by_name", {v.name: v for v in self.validators})

    @property
    def names(self) -> tuple[str, ...]:
        """Every validator's name, in the committee's (sorted) order."""
        return tuple(v.name for v in self.validators)

    @property
    def size(self) -> int:
        """n, the number of validators."""
        return len(self.validators)

    @property
    def max_faulty(self) -> int:
        """f, the most validators (of equal stake) that may be Byzantine: n = 3f + 1 at best."""
        return (self.size - 1) // 3

    @property
    def total_stake(self) -> int:
        """The stake of the whole committee."""
        return sum(v.stake for v in self.validators)

    def member(self, name: str) -> Validator | None:
        """The validator of that name, or None for a non-member."""
        return self._by_name.get(name)

    def stake_of(self, names: Iterable[str]) -> int:
        """The stake of the distinct members among `names` (a name counts once, however often)."""
        return sum(self._by_name[n].stake for n in set(names) if n in self._by_name)

    def quorum_stake(self) -> int:
        """The least stake that is a quorum: more than 2/3 of the total."""
        return self.total_stake * 2 // 3 + 1

    def validity_stake(self) -> int:
        """The least stake that surely holds an honest validator: more than 1/3 of the total."""
        return self.total_stake // 3 + 1

    def is_quorum(self, names: Iterable[str]) -> bool:
        """True when the distinct members among `names` hold more than 2/3 of the stake."""
        return self.stake_of(names) >= self.quorum_stake()

    def is_validity(self, names: Iterable[str]) -> bool:
        """True when the distinct members among `names` hold more than 1/3 of the stake."""
        return self.stake_of(names) >= self.validity_stake()

    def leader(self, number: int) -> str:
        """The round-robin leader of a round or view: validators in committee order."""
        return self.validators[number % self.size].name
