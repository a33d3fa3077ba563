"""ref: oracle protocol — the reference side of the differential runner, over JSON lines.

One request per line on stdin, one answer per line on stdout, bytes as lowercase hex:

    {"op": "hello"}                  → {"name": ..., "format": 1}
    {"op": "load", "state": HEX}     → {"root": HEX}   (canonical CBOR of a ChainState)
    {"op": "apply", "event": HEX}    → {"root": HEX, "effects": HEX} | {"rejection": CODE}
    {"op": "dump"}                   → {"state": HEX}
    {"op": "run", "runner": R, "handler": H, "input": HEX}
                                     → {"output": HEX} | {"rejection": CODE}
    {"op": "replica", "config": HEX} → {}   (a fresh HotStuff replica, see replica_cases)
    {"op": "replica_step", "input": HEX}
                                     → {"effects": HEX}
    {"op": "quit"}                   → {} and the process ends

A request that cannot be read is answered {"error": TEXT}; a bug of the reference itself is
answered {"internal": TEXT}, which the runner reports as the reference's failure; either way
the session goes on. `load` refuses (`bad_input`, or a `params_*` code) a state whose parameters
break a file rule or that breaks a chain invariant (`aci_ref.chain.invariants:check_chain`).
`Session.handle` is the whole protocol
as a pure function of the session and one request; `serve` only moves the
lines. The same protocol is what `aci-ref diff --impl CMD` expects of any implementation.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Final

from aci_ref.chain import ChainState, apply
from aci_ref.chain.invariants import check_chain
from aci_ref.chain.state import state_root
from aci_ref.consensus.hotstuff_state import HotStuffState
from aci_ref.consensus.io import Program
from aci_ref.consensus.transactions import decode_transaction
from aci_ref.decoding import decode_as
from aci_ref.encoding import canonical_bytes, decode_canonical
from aci_ref.errors import InvariantViolation, RejectedError, Rejection
from aci_ref.params import Params, check_params, default_params
from aci_ref.vectors.chain_cases import effect_list
from aci_ref.vectors.handlers import run_handler
from aci_ref.vectors.replica_cases import ReplicaConfig, decode_input, replica
from aci_ref.vectors.replica_cases import effect_list as replica_effects
from aci_ref.vectors.tree import FORMAT_VERSION

Request = dict[str, Any]

MAX_BRACKETS: Final = 64
"""A request line with more brackets than this is refused unread: every request is one flat
object, and a line of 100,000 brackets crashes the JSON parser's C code instead of raising."""


def _hex_field(request: Request, name: str) -> bytes:
    value = request.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a hex string")
    return bytes.fromhex(value)


@dataclass
class Session:
    """ref: oracle protocol — what one connection has loaded."""

    params: Params = field(default_factory=default_params)
    state: ChainState | None = None
    replica: tuple[Program[HotStuffState], HotStuffState] | None = None
    done: bool = False

    def handle(self, request: Request) -> Request:
        """Answer one request; refusals are answers, malformed requests are errors."""
        op = request.get("op")
        try:
            action = OPS.get(op) if isinstance(op, str) else None
            if action is None:
                return {"error": f"unknown op {op!r}"}
            return action(self, request)
        except RejectedError as refused:
            return {"rejection": refused.rejection.value}
        except ValueError as error:
            return {"error": str(error)}
        except Exception as bug:
            return {"internal": f"{type(bug).__name__}: {bug}"}


def _hello(session: Session, request: Request) -> Request:
    return {"format": FORMAT_VERSION, "name": "aci-ref"}


def _load(session: Session, request: Request) -> Request:
    state = decode_as(ChainState, _hex_field(request, "state"))
    check_params(state.params)
    try:
        check_chain(state)
    except InvariantViolation as broken:
        raise RejectedError(
            Rejection.BAD_INPUT, f"the state breaks an invariant: {broken}"
        ) from None
    session.state = state
    return {"root": state_root(state).hex()}


def _apply(session: Session, request: Request) -> Request:
    if session.state is None:
        raise ValueError("load a state first")
    event = decode_transaction(_hex_field(request, "event"))
    after, effects = apply(session.state, event)
    answer = {
        "effects": canonical_bytes(effect_list(effects)).hex(),
        "root": state_root(after).hex(),
    }
    session.state = after  # only once the answer could be written
    return answer


def _dump(session: Session, request: Request) -> Request:
    if session.state is None:
        raise ValueError("load a state first")
    return {"state": canonical_bytes(session.state).hex()}


def _run(session: Session, request: Request) -> Request:
    runner, handler = request.get("runner"), request.get("handler")
    if not isinstance(runner, str) or not isinstance(handler, str):
        raise ValueError("runner and handler are text")
    output = run_handler(session.params, runner, handler, _hex_field(request, "input"))
    return {"output": output.hex()}


def _replica(session: Session, request: Request) -> Request:
    config = decode_as(ReplicaConfig, _hex_field(request, "config"))
    program = replica(config, session.params)
    session.replica = (program, program.initial())
    return {}


def _replica_step(session: Session, request: Request) -> Request:
    if session.replica is None:
        raise ValueError("start a replica first")
    program, state = session.replica
    event = decode_input(decode_canonical(_hex_field(request, "input")))
    state, effects = program.step(state, event)
    session.replica = (program, state)
    return {"effects": canonical_bytes(replica_effects(effects)).hex()}


def _quit(session: Session, request: Request) -> Request:
    session.done = True
    return {}


OPS: Final[dict[str, Callable[[Session, Request], Request]]] = {
    "apply": _apply,
    "dump": _dump,
    "hello": _hello,
    "load": _load,
    "quit": _quit,
    "replica": _replica,
    "replica_step": _replica_step,
    "run": _run,
}
"""Every request of the protocol, by its op."""


def answer_line(session: Session, line: str) -> Request:
    """The answer to one request line."""
    if line.count("[") + line.count("{") > MAX_BRACKETS:
        # requests are flat; deep nesting can overflow the JSON parser's C stack
        return {"error": "a request nests no arrays or objects this deep"}
    try:
        request = json.loads(line)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        return {"error": f"not JSON: {error}"}
    return session.handle(request) if isinstance(request, dict) else {"error": "not an object"}


def serve(stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout) -> int:
    """Answer requests line by line until `quit` or the end of input."""
    session = Session()
    for line in stdin:
        if not line.strip():
            continue
        stdout.write(json.dumps(answer_line(session, line), sort_keys=True) + "\n")
        stdout.flush()
        if session.done:
            break
    return 0
