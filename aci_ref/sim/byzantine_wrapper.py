"""§4.1 (3f + 1 validators, f Byzantine): an honest machine whose sent effects a tactic rewrites.

A Byzantine validator holds its real key, so it can sign anything. `byzantine(program, me,
tactic)` wraps a `Program` so that every step's effects pass through a `Tactic`: a pure function
of who the validator is (`Identity`, with its seed), the step number, a small bounded memory, the
input and the honest effects, returning what is actually sent and the memory to keep. The small
tools every tactic uses to find and rewrite its own messages live here too. The tactics are in
the `tactics_*` modules and named in `byzantine.ADVERSARIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aci_ref.consensus.committee import Committee
from aci_ref.consensus.dag_messages import Ack, Certificate, Vertex
from aci_ref.consensus.hotstuff_messages import QC, NewView, PhaseQC, Proposal, Vote
from aci_ref.consensus.io import Broadcast, Effects, Input, Program, Send
from aci_ref.crypto import KeyPair, sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.params import Params

S = TypeVar("S")


Memory = tuple[Any, ...]
"""What a tactic keeps between steps (each tactic bounds its own)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a Byzantine validator is: the committee, its name and real key, the parameters, and
    the seed its choices are drawn from."""

    committee: Committee
    name: str
    key: KeyPair
    params: Params
    seed: int = 0

    @property
    def peers(self) -> tuple[str, ...]:
        """Every other validator's name, in committee order."""
        return tuple(n for n in self.committee.names if n != self.name)

    def draw(self, turn: int, salt: str, bound: int) -> int:
        """A number in [0, bound) fixed by (seed, turn, salt): the adversary's only randomness."""
        digest = sha256(canonical_bytes(["aci-ref/byzantine", self.seed, turn, salt]))
        return int.from_bytes(digest[:8], "big") % bound


@dataclass(frozen=True, slots=True)
class ByzantineState(Generic[S]):
    """The wrapped honest machine's state, the step count and the tactic's memory."""

    inner: S
    turn: int = 0
    memory: Memory = ()


Sent = tuple[Effects, Memory]
"""What a tactic returns: the effects actually sent, and the memory to keep."""


Tactic = Callable[[Identity, int, Memory, Input, Effects], Sent]
"""tactic(me, turn, memory, input, honest effects) -> (effects sent, memory kept)."""


def byzantine(program: Program[S], me: Identity, tactic: Tactic) -> Program[ByzantineState[S]]:
    """`program` run by a Byzantine validator: every step's effects pass through `tactic`."""

    def initial() -> ByzantineState[S]:
        return ByzantineState(program.initial())

    def step(state: ByzantineState[S], event: Input) -> tuple[ByzantineState[S], Effects]:
        inner, effects = program.step(state.inner, event)
        out, memory = tactic(me, state.turn, state.memory, event, effects)
        return ByzantineState(inner, state.turn + 1, memory), out

    def recover(state: ByzantineState[S]) -> ByzantineState[S]:
        return ByzantineState(program.recover(state.inner), state.turn, state.memory)

    return Program(initial, step, recover)


def message_round(message: Any) -> int | None:
    """The round (fast path) or view (settlement path) a message belongs to, else None.

    What a Twins round partition cuts by: sync traffic (requests and replies) has no round.
    """
    if type(message) is Certificate:
        message = message.vertex
    elif type(message) is PhaseQC:
        message = message.qc
    if type(message) in (Vertex, Ack):
        value = message.round
    elif type(message) in (Proposal, Vote, NewView, QC):
        value = message.view
    else:
        return None
    return value if type(value) is int else None


def author_of(message: Any) -> str | None:
    """Who signed a protocol message as its author or voter (None for anything else)."""
    if type(message) is Vertex:
        return str(message.author)
    if type(message) is Certificate:
        return str(message.vertex.author)
    if type(message) in (Ack, Vote, NewView):
        return str(message.signer)
    if type(message) is Proposal:
        return str(message.block.proposer)
    return None


def rewrite(effects: Effects, change: Callable[[Any], list[Any]]) -> Effects:
    """Replace each effect by the list `change` makes of it."""
    return tuple(new for effect in effects for new in change(effect))


def own_message(me: Identity, effect: Any, *kinds: type) -> Any:
    """The message of a Send/Broadcast of ours of one of `kinds`, or None."""
    if type(effect) not in (Send, Broadcast):
        return None
    message = effect.message
    if type(message) not in kinds:
        return None
    return message if type(message) is PhaseQC or author_of(message) == me.name else None


def fake_digest(label: str, number: int) -> bytes:
    return sha256(canonical_bytes(["aci-ref/byzantine/fake", label, number]))
