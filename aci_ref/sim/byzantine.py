"""Byzantine validators for the simulator: honest machines whose outgoing effects are rewritten.

A Byzantine validator holds its real key, so it can sign anything. Each adversary is a `Tactic`:
a pure function of who the validator is (with its seed), the step number, a small bounded memory,
the input and the effects the honest machine it wraps produced; it returns the effects actually
sent and the memory to keep. `byzantine(program, me, tactic)` wraps a `Program` with one, and
`ADVERSARIES` names them all. Every tactic knows the fast path's messages (vertices,
acknowledgements, certificates) and the settlement path's (proposals, votes, phase certificates,
new-views) and passes anything else through, so one registry serves both machines. Choices that
look random are drawn from a hash of (seed, step), never from a global source. `outsider` is not a
wrapper: a node outside the committee, signing with a key nobody trusts.

The wrapper and its tools are in `byzantine_wrapper`, the tactics in `tactics_votes`,
`tactics_proposals` and `tactics_noise`; this module names them and re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, TypeVar

from aci_ref.consensus.dag_messages import sign_vertex
from aci_ref.consensus.hotstuff_messages import GENESIS_QC, sign_new_view
from aci_ref.consensus.io import Broadcast, Deliver, Effects, Input, Program, Start
from aci_ref.sim.byzantine_wrapper import (
    ByzantineState,
    Identity,
    Memory,
    Sent,
    Tactic,
    byzantine,
    message_round,
)
from aci_ref.sim.tactics_noise import junk, replay_stale, send_junk
from aci_ref.sim.tactics_proposals import (
    equivocate,
    fork_proposals,
    inflate_rounds,
    out_of_order,
    silent_proposer,
    stuff_batches,
)
from aci_ref.sim.tactics_votes import (
    QcMaker,
    corrupt_signatures,
    double_vote,
    duplicate_vote,
    forge_certificates,
    undersign_certificates,
    withhold_votes,
)

__all__ = [
    "ADVERSARIES",
    "ByzantineState",
    "Identity",
    "Memory",
    "QcMaker",
    "Sent",
    "Tactic",
    "byzantine",
    "corrupt_signatures",
    "double_vote",
    "duplicate_vote",
    "equivocate",
    "forge_certificates",
    "fork_proposals",
    "inflate_rounds",
    "junk",
    "make_byzantine",
    "message_round",
    "out_of_order",
    "outsider",
    "replay_stale",
    "send_junk",
    "silent_proposer",
    "stuff_batches",
    "undersign_certificates",
    "withhold_votes",
]


S = TypeVar("S")


ADVERSARIES: Final[Mapping[str, Tactic]] = MappingProxyType(
    {
        "equivocator": equivocate,
        "double-voter": double_vote,
        "duplicate-voter": duplicate_vote,
        "vote-withholder": withhold_votes,
        "silent-proposer": silent_proposer,
        "certificate-forger": forge_certificates,
        "certificate-undersigner": undersign_certificates,
        "round-inflater": inflate_rounds,
        "junk-sender": send_junk,
        "out-of-order": out_of_order,
        "stale-replayer": replay_stale,
        "batch-stuffer": stuff_batches,
        "signature-corrupter": corrupt_signatures,
        "fork-proposer": fork_proposals,
    }
)
"""Every adversary by name: `make_byzantine(name, program, me)` builds one."""


def make_byzantine(kind: str, program: Program[S], me: Identity) -> Program[ByzantineState[S]]:
    """The adversary named `kind` (a key of `ADVERSARIES`) wrapped around `program`."""
    return byzantine(program, me, ADVERSARIES[kind])


def outsider(me: Identity) -> Program[int]:
    """A node outside the committee: on every other message it hears, it answers with a vertex
    and a new-view of that round or view, signed with its own (untrusted) key."""

    def step(turn: int, event: Input) -> tuple[int, Effects]:
        if type(event) is Start or type(event) is not Deliver or turn % 2:
            return turn + 1, ()
        number = message_round(event.message)
        number = number if number is not None and 1 <= number < 1 << 62 else 1
        vertex = sign_vertex(me.key, number, me.name, (), ())
        new_view = sign_new_view(me.key, me.name, number, GENESIS_QC)
        return turn + 1, (Broadcast(vertex), Broadcast(new_view))

    return Program(lambda: 0, step, lambda turn: turn)
