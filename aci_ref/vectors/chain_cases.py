"""ref: chain vectors — the chain transition as (pre-state, events, post-state or rejection).

Each case's `pre` is a whole `ChainState` in canonical CBOR (its root is SHA-256 of those bytes,
`aci_ref.chain.state:state_root`); `steps` lists, for each event in order, its transaction bytes
(`aci_ref.consensus.transactions:encode_transaction`) and either the root and effects after it
or the code it is refused with (a refused step leaves the state as it was); `post` is the final
state, omitted when every step was refused. Accepted steps come from the scenarios below, played
by the public actor harness with its trace on; refused ones are the rows of
`aci_ref.vectors.refusals`, the same rows the test suite runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from typing import Any, Final

import wasmtime

from aci_ref.aivm.bundled import bundled_contracts
from aci_ref.aivm.engine import WASM_HEADER, sections
from aci_ref.chain import ChainState, Effects, apply
from aci_ref.chain.effects import Refunded, RefundReason, Sampled, Settled
from aci_ref.chain.state import state_root
from aci_ref.consensus.transactions import encode_transaction
from aci_ref.economics.ledger import Role
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import (
    Bond,
    CallContract,
    DepositLiquidity,
    ReportInvalidAttestation,
    SealBlock,
    SignedEvent,
    SubmitResult,
    Transfer,
    Unbond,
    Withdraw,
    WithdrawLiquidity,
    job_id_of,
)
from aci_ref.sim.world import (
    MODEL_ID,
    RESOURCE_CLASS,
    SLA_MS,
    WorkerSpec,
    World,
    build_world,
    register_body,
    workers_of,
    world_params,
)
from aci_ref.vectors import refusal_world, refusals
from aci_ref.vectors.tree import VectorCase, slug, snake

Step = tuple[ChainState, SignedEvent, ChainState, Effects]

RARELY: Final = Fraction(1, 1 << 63)
"""The sampling rate of scenarios meant to go unsampled: a file's rate must lie in (0, 1], and
at 2⁻⁶⁴ the named beacons of these worlds draw nothing (the vectors show it: no `Sampled`)."""


def effect_list(effects: Effects) -> list[dict[str, Any]]:
    """Effects as CBOR: each is {"kind": its class name, "effect": its fields}."""
    return [{"effect": effect, "kind": type(effect).__name__} for effect in effects]


def outcome(state: ChainState, event: SignedEvent) -> tuple[ChainState, dict[str, Any]]:
    """Apply one event as a vector step: the state after it and what the step records."""
    transaction = encode_transaction(event)
    try:
        after, effects = apply(state, event)
    except RejectedError as refused:
        return state, {"event": transaction, "rejection": refused.rejection.value}
    return after, {"effects": effect_list(effects), "event": transaction, "root": state_root(after)}


def chain_case(
    runner: str,
    handler: str,
    suite: str,
    name: str,
    description: str,
    pre: ChainState,
    events: Sequence[SignedEvent],
) -> VectorCase:
    """ref: chain vectors — a case replaying `events` on `pre` through `chain.apply`."""
    state = pre
    steps = []
    for event in events:
        state, step = outcome(state, event)
        steps.append(step)
    parts: dict[str, Any] = {"pre": pre, "steps": steps}
    meta: dict[str, Any] = {"pre_root": state_root(pre).hex()}
    if state is not pre:
        parts["post"] = state
        meta["post_root"] = state_root(state).hex()
    if len(steps) == 1 and "rejection" in steps[0]:
        meta["rejection"] = steps[0]["rejection"]
    return VectorCase(runner, handler, suite, name, description, parts, meta)


# ---- scenarios: the accepted steps ---------------------------------------------------------------


def _traced(world: World) -> World:
    world.trace = []
    return world


def _lifecycle(rate: Fraction) -> World:
    world = _traced(build_world(world_params(rate), label=f"vectors-{rate}"))
    world.run_job("client-0")
    world.run_job("client-1", behaviour="lazy")
    return world


def _timeout_and_epoch() -> World:
    world = _traced(build_world(world_params(RARELY), label="vectors-timeout"))
    job_id = world.order("client-0")
    world.time_out(job_id)
    world.request("client-1")
    world.seal()  # the quote expires
    world.seal(advance_ms=world.params.epoch_duration_ms)
    return world


def _stake_and_liquidity() -> World:
    world = _traced(build_world(world_params(RARELY), label="vectors-stake"))
    world.act("client-0", Transfer("client-1", 1_000))
    world.act("validator-0", Bond(Role.VALIDATOR, 1_000))
    world.act("validator-0", Unbond(Role.VALIDATOR, 1_000))
    epochs = world.params.unbonding_delay_epochs + 1
    for _ in range(epochs):
        world.seal(advance_ms=world.params.epoch_duration_ms)
    world.act("validator-0", Withdraw(Role.VALIDATOR))
    bonded = world.state.ledger.stakes["honest-0/worker"].bonded
    world.act("honest-0", Unbond(Role.WORKER, bonded))  # leaves its pool...
    world.act("honest-0", register_body(world, "honest-0"))  # ...and comes back
    world.act("lp-0", DepositLiquidity(RESOURCE_CLASS, 5_000))
    world.act("lp-0", WithdrawLiquidity(RESOURCE_CLASS, 1_000))
    return world


def _dispute() -> World:
    world = _traced(
        build_world(
            world_params(Fraction(1)),
            label="vectors-dispute",
            workers=workers_of("honest", "honest", "lazy"),
        )
    )
    job_id = world.order("client-0")
    world.submit(job_id, behaviour="lazy")
    world.seal()
    world.decide(job_id)
    careless = world.order("client-1")
    submission = world.result_event(careless, behaviour="careless")
    world.act("validator-0", ReportInvalidAttestation(submission))
    return world


def _probe() -> World:
    auditor = WorkerSpec("auditor-0", "lazy", auditor=True)
    world = _traced(
        build_world(world_params(Fraction(1)), label="vectors-probe", workers=(auditor,))
    )
    job_id = world.order("client-0")
    world.submit(job_id, behaviour="lazy")
    world.seal()
    (member,) = world.job(job_id).committee
    world.vote(member, job_id, accept=True)  # accepted unseen: the probe catches it
    world.reveal(job_id)
    world.review(job_id)
    return world


CONTRACT_GAS: Final = 1_000_000
CUSTOM_SECTION: Final = 0


def _marketplace() -> bytes:
    """The marketplace contract without custom sections: they hold only the names of its
    functions, which wasmtime's text compiler may write differently from one release to the
    next, and the contract's bytes are part of every state root of these cases."""
    wasm = bytes(wasmtime.wat2wasm(bundled_contracts()["marketplace"]))
    kept = b"".join(wasm[s.start : s.end] for s in sections(wasm) if s.kind != CUSTOM_SECTION)
    return WASM_HEADER + kept


def _contract_calls() -> World:
    world = _traced(
        build_world(
            world_params(RARELY), label="vectors-aivm", contracts=(("marketplace", _marketplace()),)
        )
    )
    call_data = bytes([len(MODEL_ID)]) + MODEL_ID.encode() + world.new_input()
    rich, poor = (SLA_MS, 10**9, 10**9), (SLA_MS, 1, 1)
    world.act("client-0", _call("submitJob", rich, call_data))
    job_id = job_id_of("client-0", world.state.nonces["client-0"])  # the call's nonce names it
    # a budget below the quote reverts; a limit below the call's needs runs out of gas
    world.act("client-1", _call("submitJob", poor, call_data))
    world.act("client-1", _call("submitJob", rich, call_data, gas=21_500))
    output, attestation = world.attestation(job_id)
    result = canonical_bytes(SubmitResult(job_id, output, attestation))
    world.act(world.job(job_id).worker, _call("settleJob", (), result))
    world.seal()
    verifier = world.verifiers[0]
    world.act(verifier, _call("stake", (1, 1_000), b""))
    world.act(verifier, _call("unstake", (1, 1_000), b""))
    world.act(verifier, _call("stake", (7, 1_000), b""))  # no such role: the call traps
    return world


def _call(function: str, args: tuple[int, ...], data: bytes, gas: int = 0) -> CallContract:
    return CallContract("marketplace", function, args, data, gas or CONTRACT_GAS)


SCENARIOS: Final[dict[str, Callable[[], World]]] = {
    "contract_calls": _contract_calls,
    "dispute_and_report": _dispute,
    "lifecycle_always_sampled": lambda: _lifecycle(Fraction(1)),
    "lifecycle_never_sampled": lambda: _lifecycle(RARELY),
    "probe_revealed": _probe,
    "stake_and_liquidity": _stake_and_liquidity,
    "timeout_expiry_epoch": _timeout_and_epoch,
}
"""ref: chain vectors — the scripted runs whose every accepted step becomes a vector."""


def block_handler(step: Step) -> str:
    """What a sealed block did, for its vector's handler name."""
    before, _, after, effects = step
    if any(isinstance(e, Refunded) and e.why is RefundReason.TIMED_OUT for e in effects):
        return "timeout"
    if any(isinstance(e, Sampled) for e in effects):
        return "sampling"
    if after.epoch != before.epoch:
        return "epoch_close"
    if any(isinstance(e, Settled) for e in effects):
        return "settlement"
    return "plain"


def _handler(step: Step) -> tuple[str, str]:
    body = step[1].body
    if isinstance(body, SealBlock):
        return "block", block_handler(step)
    if isinstance(body, CallContract):
        return "aivm", "call"
    return "chain", snake(type(body).__name__)


def accepted_cases() -> Iterator[VectorCase]:
    """One case per accepted step of every scenario, and each scenario whole as a steps case."""
    for scenario, play in sorted(SCENARIOS.items()):
        world = play()
        trace = world.trace or []
        seen: dict[tuple[str, str], int] = {}
        for step in trace:
            runner, handler = _handler(step)
            index = seen.get((runner, handler), 0)
            seen[(runner, handler)] = index + 1
            what = type(step[1].body).__name__
            yield chain_case(
                runner,
                handler,
                scenario,
                f"step_{index}",
                f"{what} by {step[1].sender} in the {scenario.replace('_', ' ')} scenario",
                step[0],
                [step[1]],
            )
        if trace:
            yield chain_case(
                "chain",
                "sequence",
                "scenarios",
                scenario,
                f"every event of the {scenario.replace('_', ' ')} scenario in order",
                trace[0][0],
                [step[1] for step in trace],
            )


def refused_cases() -> Iterator[VectorCase]:
    """Every refusal row of `aci_ref.vectors.refusals`, on its prepared world."""
    prepared = refusal_world.prepared()
    for row in refusals.CASES:
        event = row.build(prepared)
        runner, handler = _handler((prepared.world.state, event, prepared.world.state, ()))
        case = chain_case(
            runner,
            handler,
            "refused",
            slug(row.name),
            f"refused: {row.name}",
            prepared.world.state,
            [event],
        )
        if case.meta.get("rejection") != row.expected.value:
            raise RejectedError(Rejection.BAD_INPUT, f"{row.name}: the row no longer holds")
        yield case
