"""ref: replica vectors — one HotStuff replica's inputs and outputs, step by step (§4.3).

A replica is a pure machine (`aci_ref.consensus.io:Program`): from its fresh state, each input (a
start, a delivered message, a fired timer, a client transaction) yields effects (messages sent or
broadcast, timers set, blocks decided, messages dropped with their code). A case gives the
replica's configuration (`config`: committee, name, key seed), and `steps`: each input with the
effects it must produce. An implementation starts its replica from the same configuration, feeds
the inputs in order and compares the effects, as fork-choice step files do; every vote and
proposal it signs must be the same bytes (Ed25519 signatures are deterministic).

Inputs and effects are CBOR maps {"kind": record name, "value": record}; a message inside one is
{"kind", "value"} again, because messages are records without type names. A drop is compared by
its code only: the detail is free text for people.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, Final

from aci_ref.consensus import hotstuff_messages as hs
from aci_ref.consensus.committee import Committee, Validator
from aci_ref.consensus.hotstuff import Decided, hotstuff_program
from aci_ref.consensus.hotstuff_state import HotStuffConfig, HotStuffState
from aci_ref.consensus.io import (
    Broadcast,
    ClientTx,
    Deliver,
    Dropped,
    Input,
    Program,
    Send,
    SetTimer,
    Start,
    TimerFired,
)
from aci_ref.crypto import KeyPair, sha256
from aci_ref.decoding import from_plain
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params, default_params
from aci_ref.vectors.tree import VectorCase

MESSAGES: Final[dict[str, type]] = {
    cls.__name__: cls
    for cls in (hs.Proposal, hs.Vote, hs.PhaseQC, hs.NewView, hs.BlockRequest, hs.BlockResponse)
}
INPUTS: Final[dict[str, type]] = {c.__name__: c for c in (Start, Deliver, TimerFired, ClientTx)}

Plain = dict[str, Any]


def tagged(record: Any) -> Plain:
    """A record as {"kind", "value"}, its `message` field (if any) tagged the same way."""
    value: Plain = {f.name: getattr(record, f.name) for f in fields(record)}
    if "message" in value:
        value["message"] = tagged(value["message"])
    if isinstance(record, Dropped):
        value = {"reason": record.reason}
    return {"kind": type(record).__name__, "value": value}


def decode_input(plain: Any) -> Input:
    """The replica input a tagged map describes; `bad_input` for anything else."""
    if not isinstance(plain, dict) or set(plain) != {"kind", "value"}:
        raise RejectedError(Rejection.BAD_INPUT, "an input is {kind, value}")
    cls = INPUTS.get(plain["kind"]) if isinstance(plain["kind"], str) else None
    value = plain["value"]
    if cls is None or not isinstance(value, dict):
        raise RejectedError(Rejection.BAD_INPUT, "unknown input kind")
    if cls is not Deliver:
        built: Input = from_plain(cls, value)
        return built
    message = value.get("message")
    if not isinstance(message, dict) or set(message) != {"kind", "value"}:
        raise RejectedError(Rejection.BAD_INPUT, "a delivered message is {kind, value}")
    kind = MESSAGES.get(message["kind"]) if isinstance(message["kind"], str) else None
    if kind is None:
        raise RejectedError(Rejection.BAD_INPUT, "unknown message kind")
    rest = {k: v for k, v in value.items() if k != "message"}
    if set(rest) != {"now_ms", "sender"}:
        raise RejectedError(Rejection.BAD_INPUT, "Deliver fields")
    now, sender = rest["now_ms"], rest["sender"]
    if type(now) is not int or type(sender) is not str:
        raise RejectedError(Rejection.BAD_INPUT, "Deliver fields")
    return Deliver(now, sender, from_plain(kind, message["value"]))


@dataclass(frozen=True)
class ReplicaConfig:
    """ref: replica vectors — what a case says of its replica: the committee, its name, its seed."""

    validators: tuple[Validator, ...]
    name: str
    seed: bytes


def replica(config: ReplicaConfig, params: Params) -> Program[HotStuffState]:
    """The reference replica a configuration describes."""
    key = KeyPair.from_seed(config.seed)
    setup = HotStuffConfig(Committee(config.validators), config.name, key, params)
    return hotstuff_program(setup)


def effect_list(effects: tuple[Any, ...]) -> list[Plain]:
    """A step's effects as tagged maps (drops by their code only)."""
    return [tagged(effect) for effect in effects]


# ---- a small honest run, recorded from one replica's point of view ----------------------------

NAMES: Final = ("replica-a", "replica-b", "replica-c", "replica-d")


def _configs() -> dict[str, ReplicaConfig]:
    seeds = {n: sha256(f"vectors/replica/{n}".encode()) for n in NAMES}
    validators = tuple(Validator(n, KeyPair.from_seed(seeds[n]).public, 1) for n in NAMES)
    return {n: ReplicaConfig(validators, n, seeds[n]) for n in NAMES}


def record_run(
    watched: str, decisions: int, silent: frozenset[str] = frozenset(), max_inputs: int = 4000
) -> tuple[ReplicaConfig, list[Plain]]:
    """Run four replicas over an in-order network until `watched` decided `decisions` blocks;
    `silent` replicas receive but never send (a crashed leader). Returns the watched replica's
    configuration and its steps."""
    params = default_params()
    configs = _configs()
    programs = {n: replica(configs[n], params) for n in NAMES}
    states = {n: programs[n].initial() for n in NAMES}
    queue: list[tuple[int, int, str, Input]] = []
    timers: dict[tuple[str, str], int] = {}
    order = 0
    steps: list[Plain] = []
    decided = 0

    def push(at: int, to: str, event: Input) -> None:
        nonlocal order
        order += 1
        heapq.heappush(queue, (at, order, to, event))

    for n in NAMES:
        push(0, n, Start(0))
    for i in range(6):
        tx = sha256(f"vectors/replica/tx/{i}".encode())
        for n in NAMES:
            push(1 + i, n, ClientTx(1 + i, tx))
    for _ in range(max_inputs):
        if not queue:
            if not timers:
                break
            (owner, key), at = min(timers.items(), key=lambda item: (item[1], item[0]))
            del timers[(owner, key)]
            push(at, owner, TimerFired(at, key))
        at, _, to, event = heapq.heappop(queue)
        states[to], effects = programs[to].step(states[to], event)
        if to == watched:
            steps.append({"effects": effect_list(effects), "input": tagged(event)})
            decided += sum(isinstance(e, Decided) for e in effects)
            if decided >= decisions:
                break
        if to in silent:
            continue
        for effect in effects:
            if isinstance(effect, Send):
                push(at + 1, effect.to, Deliver(at + 1, to, effect.message))
            elif isinstance(effect, Broadcast):
                for other in NAMES:
                    if other != to:
                        push(at + 1, other, Deliver(at + 1, to, effect.message))
            elif isinstance(effect, SetTimer):
                timers[(to, effect.key)] = effect.at_ms
    return configs[watched], steps


def replica_cases() -> Iterator[VectorCase]:
    """ref: replica vectors — an honest run and one with a silent leader, from two seats."""
    runs = (
        ("honest", "replica-a", frozenset[str](), "four honest replicas decide three blocks"),
        ("honest", "replica-c", frozenset[str](), "the same run from another seat"),
        ("silent_leader", "replica-c", frozenset({"replica-b"}), "a leader that never speaks"),
    )
    for suite, watched, silent, description in runs:
        config, steps = record_run(watched, decisions=3, silent=silent)
        parts = {"config": config, "steps": steps}
        meta = {"params": "params.cbor", "steps": len(steps)}
        name = watched.replace("-", "_")
        yield VectorCase("consensus", "hotstuff_replica", suite, name, description, parts, meta)
