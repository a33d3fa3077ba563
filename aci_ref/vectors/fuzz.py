"""ref: differential fuzzing — generated programs run on the reference and an implementation,
a divergence shrunk by Hypothesis to a minimal program.

A program is a list of abstract operations (a kind and two integers). Each is turned into one
oracle request against the reference's current state: a chain event (transfers, stake, quotes,
results, votes, blocks, and deliberately bad ones: wrong keys, replayed nonces) or a handler call
(Merkle roots, the fee split, Ed25519 verdicts). Because the operations are abstract, Hypothesis
can shrink a failing program and every shorter program still means something.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any, Final

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from aci_ref.consensus.transactions import encode_transaction
from aci_ref.crypto import KeyPair
from aci_ref.economics.ledger import Role
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import InvariantViolation
from aci_ref.events import (
    AcceptQuote,
    Bond,
    DepositLiquidity,
    RequestQuote,
    SignedEvent,
    Transfer,
    Unbond,
    WithdrawLiquidity,
)
from aci_ref.market.jobs import JobStatus
from aci_ref.sim.world import (
    BLOCK_MS,
    MODEL_ID,
    RESOURCE_CLASS,
    SLA_MS,
    World,
    build_world,
    world_params,
)
from aci_ref.vectors.diff import Divergence, Implementation, state_fields, verdict
from aci_ref.vectors.oracle import Session

KINDS: Final = (
    "transfer",
    "bad_signature",
    "replayed_nonce",
    "bond",
    "unbond",
    "request",
    "accept",
    "submit",
    "seal",
    "vote",
    "merkle",
    "fee",
    "ed25519",
    "huge_transfer",
    "liquidity",
    "garbled",
    "proof",
    "cbor",
    "strict_cbor",
)

Op = tuple[str, int, int]
programs = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 1 << 20), st.integers(0, 1 << 20)),
    max_size=16,
)
"""The strategy of programs Hypothesis draws and shrinks."""


@cache
def _genesis() -> World:
    world = build_world(world_params(Fraction(1, 2)), label="fuzz")
    world.run_job("client-0")
    return world


@dataclass
class _Run:
    world: World

    def pick(self, names: tuple[str, ...], a: int) -> str:
        return names[a % len(names)]

    def event(self, sender: str, body: Any, **how: Any) -> dict[str, Any]:
        signed: SignedEvent = self.world.sign(sender, body, **how)
        return {"event": encode_transaction(signed).hex(), "op": "apply"}

    def job_in(self, status: JobStatus, a: int) -> bytes | None:
        found = sorted(k for k, j in self.world.state.jobs.items() if j.status is status)
        return bytes.fromhex(found[a % len(found)]) if found else None

    def request(self, kind: str, a: int, b: int) -> dict[str, Any] | None:
        w = self.world
        accounts = (*w.clients, *w.validators, *w.verifiers, *w.lps)
        if kind in ("transfer", "bad_signature", "replayed_nonce"):
            sender, to = self.pick(accounts, a), self.pick(accounts, b)
            body = Transfer(to, b % 5_000)
            if kind == "bad_signature":
                return self.event(sender, body, key=KeyPair.from_label(f"fuzz/stranger/{a % 3}"))
            if kind == "replayed_nonce":
                return self.event(sender, body, nonce=max(1, w.next_nonce(sender) - 1 - b % 2))
            return self.event(sender, body)
        if kind == "huge_transfer":  # amounts at the edge of 64 bits
            sender, to = self.pick(accounts, a), self.pick(accounts, b)
            return self.event(sender, Transfer(to, (1 << 63) - 1 - b % 3 + a % 2))
        if kind == "liquidity":
            lp = self.pick(w.lps, a)
            if a % 2:
                return self.event(lp, DepositLiquidity(RESOURCE_CLASS, 1 + b % 10_000))
            return self.event(lp, WithdrawLiquidity(RESOURCE_CLASS, 1 + b % 10_000))
        if kind == "garbled":  # a real transaction with one byte changed, or cut short
            signed = w.sign(self.pick(accounts, a), Transfer(self.pick(accounts, b), 1))
            data = bytearray(encode_transaction(signed))
            if b % 2:
                del data[b % len(data) :]
            else:
                data[a % len(data)] ^= 1 << (b % 8)
            return {"event": bytes(data).hex(), "op": "apply"}
        if kind in ("bond", "unbond"):
            who = self.pick(w.validators, a)
            kind_of = Bond if kind == "bond" else Unbond
            return self.event(who, kind_of(Role.VALIDATOR, 1 + b % 10_000))
        if kind == "request":
            client = self.pick(w.clients, a)
            return self.event(
                client, RequestQuote(MODEL_ID, w.new_input(), SLA_MS, 10**9 >> (b % 40))
            )
        if kind == "accept":
            job_id = self.job_in(JobStatus.QUOTED, a)
            if job_id is None:
                return None
            job = w.job(job_id)
            return self.event(job.client, AcceptQuote(job_id, job.price + b % 3 - 1))
        if kind == "submit":
            job_id = self.job_in(JobStatus.EXECUTING, a)
            if job_id is None:
                return None
            behaviour = ("honest", "lazy", "careless")[b % 3]
            signed = w.result_event(job_id, behaviour=behaviour)
            return {"event": encode_transaction(signed).hex(), "op": "apply"}
        if kind == "seal":
            signed = w.seal_event(advance_ms=1 + b % (4 * BLOCK_MS))
            return {"event": encode_transaction(signed).hex(), "op": "apply"}
        if kind == "vote":
            job_id = self.job_in(JobStatus.VERIFYING, a)
            if job_id is None:
                return None
            members = [
                m for m in w.members(job_id) if m not in {v.verifier for v in w.job(job_id).votes}
            ]
            if not members:
                return None
            signed = w.vote_event(
                members[b % len(members)], job_id, accept=None if b % 4 else False
            )
            return {"event": encode_transaction(signed).hex(), "op": "apply"}
        return _call(kind, a, b)


def _call(kind: str, a: int, b: int) -> dict[str, Any]:
    if kind == "merkle":
        leaves = [bytes([i % 256]) for i in range(min(a, 40))]  # monotone in a, to shrink well
        return _run_request("merkle", "root", {"leaves": leaves})
    if kind == "fee":
        return _run_request("economics", "fee_split", {"amount": a * (b + 1)})
    if kind == "proof":
        leaves = [bytes([i % 256]) for i in range(1 + a % 20)]
        return _run_request("merkle", "proof", {"index": b % (len(leaves) + 1), "leaves": leaves})
    if kind in ("cbor", "strict_cbor"):  # six bytes of heads, lengths and payload
        data = ((a << 21) | (b & 0x1FFFFF)).to_bytes(6, "big").lstrip(b"\0") or b"\0"
        handler = "canonical" if kind == "cbor" else "strict_decode"
        return _run_request("encoding", handler, {"cbor": data})
    key = KeyPair.from_label(f"fuzz/signer/{a % 4}")
    message = a.to_bytes(3, "big")
    signature = bytearray(key.sign(message))
    if b % 2:
        signature[(b // 2) % 64] ^= 1 << (b % 8)
    return _run_request(
        "crypto",
        "ed25519_verify",
        {"message": message, "public": key.public, "signature": bytes(signature)},
    )


def _run_request(runner: str, handler: str, plain: dict[str, Any]) -> dict[str, Any]:
    return {
        "handler": handler,
        "input": canonical_bytes(plain).hex(),
        "op": "run",
        "runner": runner,
    }


class FuzzDivergence(AssertionError):
    """Raised inside a Hypothesis example when the two sides disagree."""

    def __init__(self, divergence: Divergence, program: list[Op]) -> None:
        super().__init__(divergence.report())
        self.divergence = divergence
        self.program = program


def run_program(impl: Implementation, program: list[Op]) -> None:
    """Play one program on both sides from the fuzz genesis; raise at the first disagreement."""
    run = _Run(_genesis().fork())
    reference = Session()
    load = {"op": "load", "state": canonical_bytes(run.world.state).hex()}
    reference.handle(load)
    if verdict(impl.request(load)) != verdict(Session().handle(load)):
        raise FuzzDivergence(Divergence("fuzz", None, {}, {}, ("loading the genesis",)), program)
    for index, (kind, a, b) in enumerate(program):
        request = run.request(kind, a, b)
        if request is None:
            continue
        answer = reference.handle(request)
        if "internal" in answer or "error" in answer:
            raise InvariantViolation(f"the reference failed on {kind}({a}, {b}): {answer}")
        want = verdict(answer)
        got = verdict(impl.request(request))
        if reference.state is not None:
            run.world.state = reference.state
        if got != want:
            label = f"fuzz {kind}({a}, {b})"
            lines: tuple[str, ...] = ()
            if "output" in want and "output" in got:
                lines = state_fields(bytes.fromhex(want["output"]), got["output"])
            raise FuzzDivergence(Divergence(label, index, want, got, lines), program)
    mine = reference.handle({"op": "dump"})["state"]
    theirs = impl.request({"op": "dump"}).get("state")
    if theirs != mine:
        lines = ("the final state differs", *state_fields(bytes.fromhex(mine), theirs))
        raise FuzzDivergence(Divergence("fuzz, the final state", None, {}, {}, lines), program)


@dataclass
class FuzzResult:
    """How a fuzzing run ended: examples tried, and the shrunk divergence if one was found."""

    examples: int
    failure: FuzzDivergence | None


def fuzz(impl: Implementation, examples: int) -> FuzzResult:
    """ref: differential fuzzing — run `examples` generated programs on the reference and
    `impl`; shrink the first divergence to a minimal program."""
    tried = 0
    last: list[FuzzDivergence] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
    )
    @given(programs)
    def check(program: list[Op]) -> None:
        nonlocal tried
        tried += 1
        try:
            run_program(impl, program)
        except FuzzDivergence as found:
            last.append(found)
            raise

    try:
        check()
    except FuzzDivergence:
        return FuzzResult(tried, last[-1])
    return FuzzResult(tried, None)
