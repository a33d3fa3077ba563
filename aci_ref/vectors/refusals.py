"""ref: refusal cases — every way `chain.apply` refuses an event, one case each, on one world.

A case is (name, how to build the event from the prepared world, the expected Rejection). Each is
applied to the same prepared state, must be refused with exactly its code, and must leave the
state untouched (same object, same canonical bytes). The suite runs these rows
(`tests/unit/test_chain_rejections.py`) and the vector generator writes the same rows as
(pre-state, event, rejection).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from aci_ref.crypto import KeyPair, sha256
from aci_ref.economics.ledger import Role
from aci_ref.errors import Rejection
from aci_ref.events import (
    AcceptQuote,
    Bond,
    CastVote,
    RegisterWorker,
    ReportInvalidAttestation,
    RequestQuote,
    SealBlock,
    SignedEvent,
    SubmitResult,
    Transfer,
    Unbond,
    WithdrawLiquidity,
)
from aci_ref.poai.attestation import Metrics
from aci_ref.poai.tee import provision_enclave, register_worker
from aci_ref.poai.votes import sign_vote
from aci_ref.sim.world import (
    MODEL_ID,
    RESOURCE_CLASS,
    SEQUENCER,
    SLA_MS,
    register_body,
)
from aci_ref.vectors.refusal_world import NOWHERE, Prepared


@dataclass(frozen=True)
class Case:
    """One refusal: a readable name, the event built from the prepared world, its code."""

    name: str
    build: Callable[[Prepared], SignedEvent]
    expected: Rejection


# ---- builders -----------------------------------------------------------------------------------


def _transfer(p: Prepared, **how: object) -> SignedEvent:
    return p.world.sign("client-0", Transfer("client-1", 1), **how)  # type: ignore[arg-type]


def _result(p: Prepared, job: bytes, **overrides: object) -> SignedEvent:
    return p.world.result_event(job, **overrides)  # type: ignore[arg-type]


def _replayed(p: Prepared) -> SignedEvent:
    settled = p.world.job(p.settled)
    old = p.world.submissions[p.settled.hex()].body
    assert isinstance(old, SubmitResult)
    worker = p.world.job(p.executing).worker
    return p.world.sign(worker, SubmitResult(p.executing, settled.output, old.attestation))


def _foreign_enclave(p: Prepared) -> SignedEvent:
    stranger = p.other_worker(p.executing)
    return _result(p, p.executing, enclave=p.world.enclaves[stranger])


def _forged_attestation(p: Prepared) -> SignedEvent:
    event = _result(p, p.executing)
    body = event.body
    assert isinstance(body, SubmitResult)
    forged = replace(body.attestation, signature=bytes(64))
    return p.world.sign(event.sender, replace(body, attestation=forged))


def _seal(p: Prepared, sender: str = SEQUENCER, **changes: object) -> SignedEvent:
    body = p.world.seal_event().body
    assert isinstance(body, SealBlock)
    return p.world.sign(sender, replace(body, **changes))  # type: ignore[arg-type]


def _vote(p: Prepared, job: bytes, voter: str, sender: str | None = None) -> SignedEvent:
    vote = sign_vote(p.world.keys[voter], job, voter, True, None)
    return p.world.sign(voter if sender is None else sender, CastVote(vote))


def _vote_sent_by_another(p: Prepared) -> SignedEvent:
    member = p.world.members(p.verifying)[0]
    sender = next(v for v in p.world.verifiers if v != member)
    return _vote(p, p.verifying, member, sender=sender)


def _outsider(p: Prepared, job: bytes) -> str:
    members = p.world.members(job)
    return next(v for v in p.world.verifiers if v not in members)


def _report(p: Prepared, submission: SignedEvent, reporter: str = "validator-1") -> SignedEvent:
    return p.world.sign(reporter, ReportInvalidAttestation(submission))


def _request(p: Prepared, model: str = MODEL_ID, budget: int = 10**9) -> SignedEvent:
    return p.world.sign("client-0", RequestQuote(model, b"\x00" * 256, SLA_MS, budget))


def _accept(p: Prepared, job: bytes, client: str | None = None, bound: int = 0) -> SignedEvent:
    owner = p.world.job(job).client if job != NOWHERE else "client-0"
    price = p.world.job(job).price if job != NOWHERE else 1
    return p.world.sign(client or owner, AcceptQuote(job, price + bound))


def _untrusted_registration(p: Prepared) -> SignedEvent:
    rogue = KeyPair.from_label("rogue/vendor")
    enclave = provision_enclave(rogue, KeyPair.from_label("rogue/p"), KeyPair.from_label("rogue/e"))
    body = RegisterWorker(RESOURCE_CLASS, 4, 8, register_worker(enclave, "client-0"))
    return p.world.sign("client-0", body)


CASES = [
    # -- admission
    Case(
        "unknown sender",
        lambda p: p.world.sign("mallory", Transfer("client-0", 1), key=KeyPair.from_label("m")),
        Rejection.UNKNOWN_SENDER,
    ),
    Case(
        "replayed nonce",
        lambda p: _transfer(p, nonce=p.world.next_nonce("client-0") - 1),
        Rejection.REPLAYED_EVENT,
    ),
    Case(
        "nonce gap",
        lambda p: _transfer(p, nonce=p.world.next_nonce("client-0") + 1),
        Rejection.NONCE_GAP,
    ),
    Case(
        "bad signature",
        lambda p: _transfer(p, key=p.world.keys["client-1"]),
        Rejection.BAD_SIGNATURE,
    ),
    # -- matching (Algorithm 1 lines 2-4)
    Case("unknown model", lambda p: _request(p, model="gpt-nope"), Rejection.UNKNOWN_MODEL),
    Case("budget below the quote", lambda p: _request(p, budget=1), Rejection.BUDGET_EXCEEDED),
    Case("unknown job", lambda p: _accept(p, NOWHERE), Rejection.UNKNOWN_JOB),
    Case(
        "accepted by another client",
        lambda p: _accept(p, p.quoted, client="client-0"),
        Rejection.NOT_JOB_CLIENT,
    ),
    Case("quote from an earlier block", lambda p: _accept(p, p.expired), Rejection.QUOTE_EXPIRED),
    Case(
        "bound above the budget",
        lambda p: _accept(p, p.quoted, bound=10**12),
        Rejection.BUDGET_EXCEEDED,
    ),
    Case(
        "bound below the price",
        lambda p: _accept(p, p.quoted, bound=-1),
        Rejection.SLIPPAGE_EXCEEDED,
    ),
    Case("client too poor", lambda p: _accept(p, p.poor_quoted), Rejection.INSUFFICIENT_ESCROW),
    Case("accepted twice", lambda p: _accept(p, p.executing), Rejection.ILLEGAL_TRANSITION),
    # -- results (Algorithm 1 line 8, Algorithm 2 Level 1)
    Case(
        "result for an unknown job",
        lambda p: _result(p, p.executing, body_job_id=NOWHERE),
        Rejection.UNKNOWN_JOB,
    ),
    Case(
        "result by another worker",
        lambda p: _result(p, p.executing, sender=p.other_worker(p.executing)),
        Rejection.NOT_JOB_WORKER,
    ),
    Case(
        "result for a quoted job",
        lambda p: _result(
            p, p.executing, sender=p.world.job(p.quoted).worker, body_job_id=p.quoted
        ),
        Rejection.NOT_JOB_WORKER,
    ),
    Case("second result", lambda p: _result(p, p.verifying), Rejection.ILLEGAL_TRANSITION),
    Case("result after settlement", lambda p: _result(p, p.settled), Rejection.ALREADY_SETTLED),
    Case(
        "attestation for another model",
        lambda p: _result(p, p.executing, h_model=sha256(b"other weights")),
        Rejection.ATTESTATION_WRONG_MODEL,
    ),
    Case(
        "attestation for another input",
        lambda p: _result(p, p.executing, h_input=sha256(b"other input")),
        Rejection.ATTESTATION_WRONG_INPUT,
    ),
    Case(
        "attestation for another job",
        lambda p: _result(p, p.executing, job_id=p.quoted),
        Rejection.ATTESTATION_WRONG_JOB,
    ),
    Case(
        "output not the attested one",
        lambda p: _result(p, p.executing, h_output=sha256(b"other output")),
        Rejection.ATTESTATION_WRONG_OUTPUT,
    ),
    Case(
        "attestation of an older run",
        lambda p: _result(p, p.executing, t_start_ms=p.world.job(p.executing).escrowed_at_ms - 1),
        Rejection.ATTESTATION_STALE,
    ),
    Case("attestation replayed", _replayed, Rejection.ATTESTATION_REPLAYED),
    Case("enclave not the worker's", _foreign_enclave, Rejection.ATTESTATION_BAD_CERT_CHAIN),
    Case("enclave signature forged", _forged_attestation, Rejection.ATTESTATION_BAD_SIGNATURE),
    Case(
        "impossible metrics",
        lambda p: _result(p, p.executing, behaviour="careless"),
        Rejection.METRICS_INCONSISTENT,
    ),
    Case(
        "FLOPs claimed off the model",
        lambda p: _result(p, p.executing, metrics=Metrics(1, 10**6, 10_000)),
        Rejection.METRICS_INCONSISTENT,
    ),
    # -- blocks
    Case(
        "block by a non-sequencer", lambda p: _seal(p, sender="client-0"), Rejection.NOT_SEQUENCER
    ),
    Case(
        "block skipping a height",
        lambda p: _seal(p, height=p.world.state.height + 2),
        Rejection.BAD_HEIGHT,
    ),
    Case(
        "block repeating a height",
        lambda p: _seal(p, height=p.world.state.height),
        Rejection.BAD_HEIGHT,
    ),
    Case(
        "block going back in time",
        lambda p: _seal(p, now_ms=p.world.state.now_ms - 1),
        Rejection.STALE_EVENT,
    ),
    Case("block with a short beacon", lambda p: _seal(p, beacon=bytes(31)), Rejection.BAD_INPUT),
    # -- votes (Algorithm 1 lines 12 and 15)
    Case(
        "vote by a non-member",
        lambda p: _vote(p, p.verifying, _outsider(p, p.verifying)),
        Rejection.NOT_A_VERIFIER,
    ),
    Case(
        "vote by the accuser in arbitration",
        lambda p: _vote(p, p.disputed, p.world.job(p.disputed).accusers[0]),
        Rejection.NOT_A_VERIFIER,
    ),
    Case(
        "duplicate vote",
        lambda p: _vote(p, p.disputed, p.world.job(p.disputed).votes[0].verifier),
        Rejection.DUPLICATE_VOTE,
    ),
    Case("vote sent by someone else", _vote_sent_by_another, Rejection.BAD_INPUT),
    Case(
        "vote on a settled job",
        lambda p: _vote(p, p.settled, p.world.verifiers[0]),
        Rejection.ALREADY_SETTLED,
    ),
    Case(
        "vote on a running job",
        lambda p: _vote(p, p.executing, p.world.verifiers[0]),
        Rejection.ILLEGAL_TRANSITION,
    ),
    Case(
        "vote on an unknown job",
        lambda p: _vote(p, NOWHERE, p.world.verifiers[0]),
        Rejection.UNKNOWN_JOB,
    ),
    # -- reports (Table 2 row Invalid attestation)
    Case(
        "report of a valid submission",
        lambda p: _report(p, p.world.submissions[p.settled.hex()]),
        Rejection.EVIDENCE_MISMATCH,
    ),
    Case(
        "report of another worker's submission",
        lambda p: _report(
            p, _result(p, p.executing, sender=p.other_worker(p.executing), behaviour="careless")
        ),
        Rejection.EVIDENCE_MISMATCH,
    ),
    Case(
        "report of something not a result",
        lambda p: _report(p, _transfer(p)),
        Rejection.EVIDENCE_MISMATCH,
    ),
    Case(
        "report of a forged submission",
        lambda p: _report(p, replace(p.careless_submission, nonce=99)),
        Rejection.BAD_SIGNATURE,
    ),
    Case(
        "report made twice",
        lambda p: _report(p, p.careless_submission),
        Rejection.DUPLICATE_EVIDENCE,
    ),
    # -- stake, registration, liquidity
    Case(
        "worker stake bonded by a non-worker",
        lambda p: p.world.sign("client-0", Bond(Role.WORKER, 1)),
        Rejection.UNKNOWN_WORKER,
    ),
    Case(
        "LP stake unbonded directly",
        lambda p: p.world.sign("lp-0", Unbond(Role.LP, 1)),
        Rejection.ROLE_NOT_STAKEABLE,
    ),
    Case(
        "worker registered twice",
        lambda p: p.world.sign("honest-0", register_body(p.world, "honest-0")),
        Rejection.WORKER_EXISTS,
    ),
    Case(
        "registration naming another worker",
        lambda p: p.world.sign("client-0", register_body(p.world, "honest-0")),
        Rejection.BAD_INPUT,
    ),
    Case(
        "registration under an untrusted vendor",
        _untrusted_registration,
        Rejection.ATTESTATION_BAD_CERT_CHAIN,
    ),
    Case(
        "more liquidity shares than held",
        lambda p: p.world.sign("lp-0", WithdrawLiquidity(RESOURCE_CLASS, 10**18)),
        Rejection.INSUFFICIENT_SHARES,
    ),
    Case(
        "transfer beyond the balance",
        lambda p: p.world.sign("poor-0", Transfer("client-0", 1)),
        Rejection.INSUFFICIENT_BALANCE,
    ),
]
