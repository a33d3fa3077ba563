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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from types import MappingProxyType
from typing import Any, Final, Generic, TypeVar

from aci_ref.consensus.committee import Committee
from aci_ref.consensus.dag_messages import (
    ACK_DOMAIN,
    Ack,
    Certificate,
    CertificateReply,
    CertificateRequest,
    Vertex,
    ack_payload,
    sign_vertex,
)
from aci_ref.consensus.hotstuff_messages import (
    GENESIS_QC,
    NEXT_VOTE,
    QC,
    VOTE_DOMAIN,
    BlockRequest,
    BlockResponse,
    NewView,
    Phase,
    PhaseQC,
    Proposal,
    Vote,
    block_digest,
    certify,
    sign_new_view,
    sign_proposal,
    sign_vote,
    vote_payload,
)
from aci_ref.consensus.io import Broadcast, Deliver, Effects, Input, Program, Send, Start
from aci_ref.consensus.signing import sign
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


# ---- helpers -----------------------------------------------------------------------------------


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


def _author(message: Any) -> str | None:
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


def _rewrite(effects: Effects, change: Callable[[Any], list[Any]]) -> Effects:
    """Replace each effect by the list `change` makes of it."""
    return tuple(new for effect in effects for new in change(effect))


def _own(me: Identity, effect: Any, *kinds: type) -> Any:
    """The message of a Send/Broadcast of ours of one of `kinds`, or None."""
    if type(effect) not in (Send, Broadcast):
        return None
    message = effect.message
    if type(message) not in kinds:
        return None
    return message if type(message) is PhaseQC or _author(message) == me.name else None


def _fake_digest(label: str, number: int) -> bytes:
    return sha256(canonical_bytes(["aci-ref/byzantine/fake", label, number]))


def _forged_qc(me: Identity, phase: Phase, view: int, block: bytes) -> QC:
    """A certificate naming every member, each "vote" signed with our own key."""
    signature = sign(me.key, VOTE_DOMAIN, vote_payload(phase, view, block))
    return certify(phase, view, block, dict.fromkeys(me.committee.names, signature))


def _thin_qc(me: Identity, phase: Phase, view: int, block: bytes, turn: int) -> QC:
    """Our own real vote only: alone (below quorum) or listed as many times as a quorum needs."""
    vote = (me.name, sign_vote(me.key, me.name, phase, view, block).signature)
    copies = 1 if turn % 2 else me.committee.size
    return QC(phase, view, block, (vote,) * copies)


def _ack(me: Identity, vertex_digest: bytes, round_: int, author: str) -> Ack:
    payload = ack_payload(vertex_digest, round_, author, me.name)
    return Ack(vertex_digest, round_, author, me.name, sign(me.key, ACK_DOMAIN, payload))


def _flip(signature: bytes) -> bytes:
    return bytes([signature[0] ^ 1]) + signature[1:] if signature else b"\x01"


# ---- the tactics -------------------------------------------------------------------------------


def equivocate(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """Two vertices in one (round, author) slot, or two proposals in one view: the first half
    of the peers gets one, the rest the other, and the very first peer sees both."""

    def split(effect: Any) -> list[Any]:
        message = _own(me, effect, Vertex, Proposal)
        if message is None or type(effect) is not Broadcast:
            return [effect]
        if type(message) is Vertex:
            marker = b"equivocation/%d" % message.round
            batch = (*message.batch, marker)
            twin: Any = sign_vertex(me.key, message.round, me.name, message.parents, batch)
        else:
            block = message.block
            payload = (*block.payload, b"equivocation/%d" % message.view)
            twin = sign_proposal(
                me.key, message.view, replace(block, payload=payload), message.justify
            )
        half = max(1, len(me.peers) // 2)
        first = [Send(p, message) for p in me.peers[:half]]
        return [*first, *(Send(p, twin) for p in me.peers[half:]), Send(me.peers[0], twin)]

    return _rewrite(effects, split), memory


def double_vote(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """After each vote or acknowledgement, a second one of the same view/phase or slot for a
    block or vertex that does not exist."""

    def double(effect: Any) -> list[Any]:
        message = _own(me, effect, Vote, Ack)
        if message is None:
            return [effect]
        if type(message) is Vote:
            other = _fake_digest("vote", message.view)
            second: Any = sign_vote(me.key, me.name, message.phase, message.view, other)
        else:
            second = _ack(me, _fake_digest("ack", message.round), message.round, message.author)
        return [effect, replace(effect, message=second)]

    return _rewrite(effects, double), memory


def duplicate_vote(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """Every vote and acknowledgement sent twice."""

    def twice(effect: Any) -> list[Any]:
        return [effect, effect] if _own(me, effect, Vote, Ack) is not None else [effect]

    return _rewrite(effects, twice), memory


def withhold_votes(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """No vote and no acknowledgement ever leaves."""
    return _rewrite(effects, lambda e: [] if _own(me, e, Vote, Ack) is not None else [e]), memory


def silent_proposer(
    me: Identity, turn: int, memory: Memory, event: Input, effects: Effects
) -> Sent:
    """Votes and acknowledges, but never proposes: its vertices and proposals are swallowed."""
    return _rewrite(
        effects, lambda e: [] if _own(me, e, Vertex, Proposal) is not None else [e]
    ), memory


QcMaker = Callable[[Identity, Phase, int, bytes], QC]
"""make(me, phase, view, block): a bad certificate of (phase, view, block)."""


def _spoil_certificates(
    me: Identity,
    effects: Effects,
    signers: Callable[[Certificate], tuple[tuple[str, bytes], ...]],
    make: QcMaker,
) -> Effects:
    """Our certificates with `signers` in place of theirs, our phase certificates and the
    justifications of our new-views and proposals (after view 1) remade by `make`."""

    def spoil(effect: Any) -> list[Any]:
        message = _own(me, effect, Certificate, PhaseQC, NewView, Proposal)
        if type(message) is Certificate:
            return [replace(effect, message=Certificate(message.vertex, signers(message)))]
        if type(message) is PhaseQC:
            qc = message.qc
            return [replace(effect, message=PhaseQC(make(me, qc.phase, qc.view, qc.block)))]
        if message is None or message.view < 2:  # only the genesis certificate is of view 0
            return [effect]
        if type(message) is NewView:
            justify = make(me, Phase.PREPARE, message.view - 1, _fake_digest("qc", message.view))
            return [replace(effect, message=sign_new_view(me.key, me.name, message.view, justify))]
        justify = make(me, Phase.PREPARE, message.view - 1, message.block.parent)
        return [
            replace(effect, message=sign_proposal(me.key, message.view, message.block, justify))
        ]

    return _rewrite(effects, spoil)


def forge_certificates(
    me: Identity, turn: int, memory: Memory, event: Input, effects: Effects
) -> Sent:
    """Every certificate it sends (its own, in phase messages, new-views and proposals) names a
    quorum whose signatures it made itself, with its own key."""

    def forged(certificate: Certificate) -> tuple[tuple[str, bytes], ...]:
        v = certificate.vertex
        digest = v.digest()
        return tuple(
            (name, sign(me.key, ACK_DOMAIN, ack_payload(digest, v.round, v.author, name)))
            for name, _ in certificate.signers
        )

    return _spoil_certificates(me, effects, forged, _forged_qc), memory


def undersign_certificates(
    me: Identity, turn: int, memory: Memory, event: Input, effects: Effects
) -> Sent:
    """Every certificate it sends is short of a quorum, or lists one signer again and again."""

    def thin(certificate: Certificate) -> tuple[tuple[str, bytes], ...]:
        first = certificate.signers[:1]
        return first if turn % 2 else first * len(certificate.signers)

    return _spoil_certificates(me, effects, thin, partial(_thin_qc, turn=turn)), memory


def inflate_rounds(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """Beside each vertex, new-view and vote, a signed copy for a round or view far ahead."""
    lead = 4 * me.params.max_round_lead

    def inflate(effect: Any) -> list[Any]:
        message = _own(me, effect, Vertex, NewView, Vote)
        if message is None:
            return [effect]
        if type(message) is Vertex:
            parents = message.parents or (_fake_digest("parent", message.round),)
            far: Any = sign_vertex(me.key, message.round + lead, me.name, parents, ())
            return [effect, Broadcast(far)]
        if type(message) is NewView:
            return [
                effect,
                Broadcast(sign_new_view(me.key, me.name, message.view + lead, GENESIS_QC)),
            ]
        far = sign_vote(me.key, me.name, message.phase, message.view + lead, message.block)
        return [effect, replace(effect, message=far)]

    return _rewrite(effects, inflate), memory


def send_junk(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """On every other message it receives, it broadcasts junk: bytes, numbers, text, or protocol
    messages with fields of the wrong types and sizes."""
    if type(event) is not Deliver or turn % 2:
        return effects, memory
    return (*effects, Broadcast(junk(me, turn))), memory


def junk(me: Identity, turn: int) -> Any:
    """One piece of junk, chosen by (seed, turn)."""
    noise = _fake_digest("junk", turn)
    raw: Any = (Vertex, Certificate, Ack, Proposal, Vote, NewView)  # built with wrong field types
    menu: tuple[Any, ...] = (
        noise,
        int.from_bytes(noise[:4], "big"),
        noise.hex(),
        (noise, None, -1),
        {1: noise},
        raw[0]("1", me.name, (noise[:5],), ("text",), b""),
        raw[1](raw[0](1, me.name, (), (), b""), ((me.name,),)),
        raw[2](noise[:7], 1, me.name, me.name, b""),
        raw[3](None, None, None, None),
        raw[4]("prepare", -1, noise, me.name, noise),
        raw[5](1, None, me.name, b""),
        PhaseQC(None),  # type: ignore[arg-type]
        BlockRequest(noise[:3]),
        BlockResponse(noise),  # type: ignore[arg-type]
        CertificateRequest((noise.hex(),)),  # type: ignore[arg-type]
        CertificateReply((None,)),  # type: ignore[arg-type]
    )
    return menu[me.draw(turn, "junk", len(menu))]


def out_of_order(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """Children before parents: its certificates leave only after its next vertex (which names
    them), and each proposal skips one peer, which then sees the block's certificate first."""
    held = [*memory]
    out: list[Any] = []
    proposes = False
    for effect in effects:
        message = _own(me, effect, Certificate, Proposal, Vertex)
        if type(message) is Certificate and type(effect) is Broadcast:
            held.append(effect)
            continue
        if type(message) is Proposal and type(effect) is Broadcast:
            skipped = me.peers[message.view % len(me.peers)]
            out += [Send(p, message) for p in me.peers if p != skipped]
            continue
        proposes = proposes or type(message) is Vertex
        out.append(effect)
    if proposes or len(held) > 4:  # release after the child, and never keep more than a few
        return (*out, *held), ()
    return tuple(out), tuple(held)


def replay_stale(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """It keeps the first few vertices, certificates, proposals and new-views it received (not
    the votes addressed to it) and keeps rebroadcasting them."""
    keep = 8
    if type(event) is not Deliver:
        return effects, memory
    message = event.message
    if len(memory) < keep and type(message) not in (Ack, Vote) and message_round(message):
        return effects, (*memory, message)
    if len(memory) < keep or turn % 3:
        return effects, memory
    return (*effects, Broadcast(memory[(turn // 3) % keep])), memory


def stuff_batches(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """Beside each vertex or proposal, a signed copy carrying one transaction too many."""
    fat = (b"",) * (me.params.max_batch_txs + 1)

    def stuff(effect: Any) -> list[Any]:
        message = _own(me, effect, Vertex, Proposal)
        if message is None or type(effect) is not Broadcast:
            return [effect]
        if type(message) is Vertex:
            big: Any = sign_vertex(me.key, message.round, me.name, message.parents, fat)
        else:
            block = replace(message.block, payload=fat)
            big = sign_proposal(me.key, message.view, block, message.justify)
        return [effect, Broadcast(big)]

    return _rewrite(effects, stuff), memory


def fork_proposals(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """It ignores what it has seen: each vertex after round 1 names a single parent, and each
    proposal is re-rooted on the genesis block (justified by the genesis certificate), whose
    votes it gathers and certifies itself, phase by phase, as a leader would."""
    out: list[Any] = []
    for effect in effects:
        message = _own(me, effect, Vertex, Proposal)
        if type(message) is Vertex and type(effect) is Broadcast and message.parents:
            parents = message.parents[:1]
            effect = Broadcast(sign_vertex(me.key, message.round, me.name, parents, message.batch))
        elif type(message) is Proposal and type(effect) is Broadcast:
            block = replace(message.block, height=1, parent=GENESIS_QC.block)
            effect = Broadcast(sign_proposal(me.key, message.view, block, GENESIS_QC))
            sent, memory = _fork_vote(me, (message.view, block_digest(block), ()), Phase.PREPARE)
            out += sent
        out.append(effect)
    vote = event.message if type(event) is Deliver else None
    if memory and type(vote) is Vote and (vote.view, vote.block) == memory[:2]:
        sent, memory = _fork_vote(me, memory, vote.phase, vote)
        out += sent
    return tuple(out), memory


def _fork_vote(
    me: Identity, memory: Memory, phase: Phase, vote: Vote | None = None
) -> tuple[list[Any], Memory]:
    """Count a vote for our forked block (ours when `vote` is None); certify at a quorum."""
    view, block, votes = memory
    if vote is None:
        vote = sign_vote(me.key, me.name, phase, view, block)
    signers = {s: sig for p, s, sig in votes if p is phase}
    if vote.signer in signers or me.committee.is_quorum(signers):
        return [], memory  # a repeat, or this phase is already certified
    votes = (*votes, (phase, vote.signer, vote.signature))
    signers[vote.signer] = vote.signature
    if not me.committee.is_quorum(signers):
        return [], (view, block, votes)
    sent: list[Any] = [Broadcast(PhaseQC(certify(phase, view, block, signers)))]
    if phase in NEXT_VOTE:
        more, (_, _, votes) = _fork_vote(me, (view, block, votes), NEXT_VOTE[phase])
        sent += more
    return sent, (view, block, votes)


def corrupt_signatures(
    me: Identity, turn: int, memory: Memory, event: Input, effects: Effects
) -> Sent:
    """Before each message it signs, a copy whose signature has one bit flipped."""

    def corrupt(effect: Any) -> list[Any]:
        message = _own(me, effect, Vertex, Ack, Vote, NewView, Proposal)
        if message is None:
            return [effect]
        bad = replace(message, signature=_flip(message.signature))
        return [replace(effect, message=bad), effect]

    return _rewrite(effects, corrupt), memory


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
