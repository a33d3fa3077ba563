"""§4.1: Byzantine tactics that add traffic: junk of every shape, and stale replays.

Each is a `Tactic` (see `byzantine_wrapper`). `junk` is also used directly by tests that feed a
machine malformed input; its choice is drawn from a hash of (seed, step).
"""

from __future__ import annotations

from typing import Any

from aci_ref.consensus.dag_messages import (
    Ack,
    Certificate,
    CertificateReply,
    CertificateRequest,
    Vertex,
)
from aci_ref.consensus.hotstuff_messages import (
    BlockRequest,
    BlockResponse,
    NewView,
    PhaseQC,
    Proposal,
    Vote,
)
from aci_ref.consensus.io import Broadcast, Deliver, Effects, Input
from aci_ref.sim.byzantine_wrapper import Identity, Memory, Sent, fake_digest, message_round


def send_junk(me: Identity, turn: int, memory: Memory, event: Input, effects: Effects) -> Sent:
    """On every other message it receives, it broadcasts junk: bytes, numbers, text, or protocol
    messages with fields of the wrong types and sizes."""
    if type(event) is not Deliver or turn % 2:
        return effects, memory
    return (*effects, Broadcast(junk(me, turn))), memory


def junk(me: Identity, turn: int) -> Any:
    """One piece of junk, chosen by (seed, turn)."""
    noise = fake_digest("junk", turn)
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
