"""The faults a simulated network injects, as frozen declarative data (§4 test harness).

Nothing here acts: `Network` reads a `Faults` value and applies it with its one seeded
`random.Random`, so the same description and seed give the same run. Addresses are network
addresses ("v1", or "v1'" for a Twins copy), not validator names.
"""

from __future__ import annotations

from dataclasses import dataclass

Groups = tuple[tuple[str, ...], ...]
"""A partition of addresses into groups; an address named in no group is alone in its own."""


@dataclass(frozen=True, slots=True)
class Link:
    """The latency of messages from address `sender` to address `receiver` (overrides the base)."""

    sender: str
    receiver: str
    base_ms: int
    jitter_ms: int = 0


@dataclass(frozen=True, slots=True)
class PartitionWindow:
    """From `start_ms` (inclusive) to `end_ms` (exclusive) messages between groups are cut.

    A message sent across groups inside the window is dropped, or with `hold` delayed until the
    window ends (then it takes its ordinary latency).
    """

    start_ms: int
    end_ms: int
    groups: Groups
    hold: bool = False


@dataclass(frozen=True, slots=True)
class RoundPartition:
    """Twins: messages of round/view `round` only pass between addresses of one group."""

    round: int
    groups: Groups


@dataclass(frozen=True, slots=True)
class DelayWindow:
    """Messages sent in [start_ms, end_ms) from `senders` to `receivers` (empty: all) are slower."""

    start_ms: int
    end_ms: int
    extra_ms: int
    senders: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Crash:
    """Address `address` stops at `at_ms`; it restarts at `restart_ms` (None: never).

    On restart it resumes from `recover(state)` (its durable state), or with `amnesia` from
    `initial()`; pending timers are lost either way, as are messages that arrive while it is down.
    """

    address: str
    at_ms: int
    restart_ms: int | None = None
    amnesia: bool = False


@dataclass(frozen=True, slots=True)
class Faults:
    """Everything the network does to messages and nodes, as pure data.

    Latency is `base_latency_ms` (or a `Link`'s) plus a jitter drawn uniformly from
    0..jitter_ms, or taken in turn from `jitter_schedule` when it is given (so a test generator
    can choose the schedule itself); jitter reorders messages. Probabilities are per receiver.
    `skew_ms` pairs an address with the offset of its local clock from virtual time.
    """

    base_latency_ms: int = 10
    jitter_ms: int = 0
    jitter_schedule: tuple[int, ...] = ()
    links: tuple[Link, ...] = ()
    drop_probability: float = 0.0
    duplicate_probability: float = 0.0
    delays: tuple[DelayWindow, ...] = ()
    partitions: tuple[PartitionWindow, ...] = ()
    round_partitions: tuple[RoundPartition, ...] = ()
    crashes: tuple[Crash, ...] = ()
    skew_ms: tuple[tuple[str, int], ...] = ()


def group_index(groups: Groups) -> dict[str, int]:
    """Each grouped address's group number (an address in no group is alone: absent here)."""
    return {address: i for i, group in enumerate(groups) for address in group}
