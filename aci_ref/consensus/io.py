"""What every consensus machine takes in and gives out, so one network simulator drives them all.

A machine is three pure functions bundled in `Program`: a fresh state, `step(state, input)` and
`recover(state)` (what survives a crash: the durable part; everything else is forgotten). Inputs
carry the validator's own clock reading, which may be skewed; effects are requests to the I/O layer
(send, broadcast, set a timer) or reports (something committed, a message dropped and why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import immutables

from aci_ref.errors import Rejection

S = TypeVar("S")

# ---- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """The validator starts (or restarts) at local time `now_ms`."""

    now_ms: int


@dataclass(frozen=True, slots=True)
class Deliver:
    """A message from peer `sender` arrives at local time `now_ms` (the sender is not trusted)."""

    now_ms: int
    sender: str
    message: Any


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The timer named `key` fired at local time `now_ms`."""

    now_ms: int
    key: str


@dataclass(frozen=True, slots=True)
class ClientTx:
    """A client hands the validator a transaction (canonical bytes of a signed event)."""

    now_ms: int
    tx: bytes


Input = Start | Deliver | TimerFired | ClientTx

# ---- effects -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send `message` to validator `to`."""

    to: str
    message: Any


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send `message` to every other validator (the sender has already handled it itself)."""

    message: Any


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Fire timer `key` when the local clock reads `at_ms` (replacing a pending one of that key)."""

    key: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class Dropped:
    """A message was refused: `reason` is its code, `detail` says which."""

    reason: Rejection
    detail: str


Effects = tuple[Any, ...]


# ---- counters ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stats:
    """What a validator has done: messages handled, signatures checked, drops per reason."""

    received: int = 0
    sent: int = 0
    verifications: int = 0
    dropped: immutables.Map[str, int] = field(default_factory=immutables.Map)

    def drop(self, reason: Rejection) -> Stats:
        """These counters with one more drop for `reason`."""
        count = self.dropped.get(reason.value, 0) + 1
        return replace(self, dropped=self.dropped.set(reason.value, count))

    def verified(self, count: int = 1) -> Stats:
        """These counters with `count` more signature verifications."""
        return replace(self, verifications=self.verifications + count)


@dataclass(frozen=True, slots=True)
class Program(Generic[S]):
    """A consensus machine: its fresh state, its step, and what a crash leaves of a state."""

    initial: Callable[[], S]
    step: Callable[[S, Input], tuple[S, Effects]]
    recover: Callable[[S], S]
