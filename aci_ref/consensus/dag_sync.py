"""Algorithm 3, §4.2: the fast path's waiting room, certificate fetch and retransmission.

A checked vertex or certificate whose parents a validator lacks waits in a bounded room (at most
`max_pending_messages`, keyed by round so garbage collection can empty whole rounds), while a
`CertificateRequest` asks the peer that sent it for the missing certificates. A
`CertificateReply` feeds what comes back through the ordinary certificate check, and each
certificate added to the DAG releases what waited on its round. A validator stuck in a round
rebroadcasts its own latest vertex and certificate (`resend`). The machine (`dag`) hands in its
own handlers, so this module never calls back into it by name. The state, `Out` and `drop` are
in `dag_state`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import immutables

from aci_ref.consensus.dag_messages import (
    Certificate,
    CertificateReply,
    CertificateRequest,
    DagConfig,
    Problem,
    Vertex,
    digest_tuple,
    horizon,
    resolve_parents,
)
from aci_ref.consensus.dag_state import DagState, Held, Out, drop
from aci_ref.consensus.io import Broadcast, Send
from aci_ref.errors import Rejection

__all__ = [
    "Admit",
    "Held",
    "Out",
    "Resume",
    "drop",
    "hold",
    "missing_parents",
    "on_reply",
    "on_request",
    "release",
    "resend",
]

Map = immutables.Map

Resume = Callable[["DagState", Out, Vertex | Certificate, str], "DagState"]
"""The machine's handler for a held message whose parents are now present (already checked)."""

Admit = Callable[["DagState", Out, Certificate, str], "DagState"]
"""The machine's handler for a fetched certificate (not yet checked)."""


def missing_parents(
    config: DagConfig, state: DagState, vertex: Vertex
) -> tuple[Problem | None, list[bytes]]:
    """The vertex's parents against our DAG: a problem, or the digests we still lack."""
    low = horizon(config, state.last_committed_round)
    return resolve_parents(config, vertex, state.index, low)


def hold(
    config: DagConfig, state: DagState, out: Out, held: Held, missing: list[bytes]
) -> DagState:
    """Put a message in the waiting room and ask its sender for the parents we lack."""
    message = held.message
    vertex = message.vertex if isinstance(message, Certificate) else message
    key = (b"c" if isinstance(message, Certificate) else b"v") + vertex.digest()
    room = state.pending.get(vertex.round, Map())
    if key in room:
        return drop(state, out, (Rejection.DUPLICATE_MESSAGE, "already waiting for parents"))
    if state.held_count >= config.params.max_pending_messages:
        return drop(state, out, (Rejection.MISSING_PARENT, "the waiting room is full"))
    out.append(Send(held.sender, CertificateRequest(tuple(missing))))
    pending = state.pending.set(vertex.round, room.set(key, held))
    return replace(state, pending=pending, held_count=state.held_count + 1)


def release(config: DagConfig, state: DagState, out: Out, round_: int, resume: Resume) -> DagState:
    """Retry the messages of `round_` that waited for parents (some may be ready now)."""
    room = state.pending.get(round_)
    if not room:
        return state
    for key in sorted(room):
        held = room[key]
        message = held.message
        vertex = message.vertex if isinstance(message, Certificate) else message
        if missing_parents(config, state, vertex)[1]:
            continue  # still missing some
        # Handling an earlier message may have collected this one's round: look again.
        current = state.pending.get(round_, Map())
        if key not in current:
            continue
        rest = current.delete(key)
        pending = state.pending.set(round_, rest) if rest else state.pending.delete(round_)
        state = replace(state, pending=pending, held_count=state.held_count - 1)
        state = resume(state, out, message, held.sender)
    return state


def on_request(
    config: DagConfig, state: DagState, out: Out, request: object, sender: str
) -> DagState:
    """Answer a peer's request with the certificates we hold among those it names."""
    if type(request) is not CertificateRequest or not digest_tuple(request.digests):
        return drop(state, out, (Rejection.BAD_INPUT, "malformed certificate request"))
    if len(request.digests) > config.params.max_pending_messages:
        return drop(state, out, (Rejection.BAD_INPUT, "too many digests in one request"))
    found = []
    for digest in request.digests:
        slot = state.index.get(digest)
        if slot is not None:
            found.append(state.dag[slot[0]][slot[1]].certificate)
    if found:
        out.append(Send(sender, CertificateReply(tuple(found))))
    return state


def on_reply(
    config: DagConfig, state: DagState, out: Out, reply: object, sender: str, admit: Admit
) -> DagState:
    """Check each fetched certificate like any other, lowest round first (parents before)."""
    if type(reply) is not CertificateReply or type(reply.certificates) is not tuple:
        return drop(state, out, (Rejection.BAD_INPUT, "malformed certificate reply"))
    if len(reply.certificates) > config.params.max_pending_messages:
        return drop(state, out, (Rejection.BAD_INPUT, "too many certificates in one reply"))
    for certificate in sorted(reply.certificates, key=_round_key):
        state = admit(state, out, certificate, sender)
    return state


def _round_key(certificate: object) -> int:
    # A reply is untrusted: anything that is not a certificate with an integer round sorts first.
    vertex = getattr(certificate, "vertex", None)
    value = getattr(vertex, "round", 0)
    return value if type(value) is int else 0


def resend(config: DagConfig, state: DagState, out: Out, now: int) -> DagState:
    """Rebroadcast what peers may have missed: our uncertified vertex and our latest certificate."""
    mine = state.own.get(state.proposed_round)
    if mine is not None and config.name not in state.dag.get(state.proposed_round, Map()):
        out.append(Broadcast(mine))
    for round_ in sorted(state.own, reverse=True):
        node = state.dag.get(round_, Map()).get(config.name)
        if node is not None:
            out.append(Broadcast(node.certificate))
            break
    return replace(state, last_resend_ms=now)
