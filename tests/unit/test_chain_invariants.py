"""The chain invariant checkers can fail: each is shown raising on a planted fault.

A valid state (jobs settled, verifying, attested, running and quoted) passes every check; each
fault breaks one rule with `dataclasses.replace` and the named check must raise
`InvariantViolation`. Then two mutations of the chain itself (a skipped Level 1, a sampling draw
that never selects) are caught both by a direct example and by the state machine of
`tests/properties/test_chain_machine.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

import aci_ref.chain
from aci_ref.chain import ChainState, Effect, Refunded, Settled, Slashed
from aci_ref.chain.invariants import (
    check_attestations,
    check_capacity,
    check_chain,
    check_effects,
    check_escrow,
    check_fee_splits,
    check_job_keys,
    check_ledger_laws,
    check_nonces,
    check_pools,
    check_queues,
    check_settled_once,
    check_slash_evidence,
    check_verifier_records,
)
from aci_ref.chain.state import VERIFICATION_POOL, ProbeReview
from aci_ref.crypto import sha256
from aci_ref.economics.ledger import Escrow, Ledger
from aci_ref.economics.slashing import Violation
from aci_ref.errors import InvariantViolation, Rejection
from aci_ref.market import hmm
from aci_ref.market.jobs import JobStatus
from aci_ref.sim.world import RESOURCE_CLASS, World, build_world, sampling_errors, workers_of
from aci_ref.sim.world import world_params as params_at
from tests.properties.test_chain_machine import ChainMachine


@dataclass(frozen=True)
class Base:
    """A valid chain with a job in each state the checks look at."""

    world: World
    settled: str
    verifying: str
    attested: str
    executing: str
    quoted: str

    @property
    def state(self) -> ChainState:
        return self.world.state


@cache
def base() -> Base:
    world = build_world(params_at(Fraction(1)), label="invariants")
    settled = world.run_job("client-0")
    verifying = world.order("client-0")
    world.submit(verifying)
    world.seal()
    attested = world.order("client-1")
    world.submit(attested)
    executing = world.order("client-0")
    quoted = world.request("client-1")
    keys = (k.hex() for k in (settled, verifying, attested, executing, quoted))
    return Base(world, *keys)


def test_the_base_state_passes_every_check() -> None:
    b = base()
    expected = {
        b.settled: JobStatus.SETTLED,
        b.verifying: JobStatus.VERIFYING,
        b.attested: JobStatus.ATTESTED,
        b.executing: JobStatus.EXECUTING,
        b.quoted: JobStatus.QUOTED,
    }
    assert {k: b.state.jobs[k].status for k in expected} == expected
    check_chain(b.state)
    check_effects(b.world.log, b.state)


# ---- planted faults in a state ------------------------------------------------------------------


def _job(b: Base, key: str, **changes: object) -> ChainState:
    job = replace(b.state.jobs[key], **changes)  # type: ignore[arg-type]
    return replace(b.state, jobs=b.state.jobs.set(key, job))


def _ledger(b: Base, **changes: object) -> ChainState:
    return replace(b.state, ledger=replace(b.state.ledger, **changes))  # type: ignore[arg-type]


def _escrow_again(b: Base) -> ChainState:
    """The settled job holds escrow again: it could be paid twice."""
    job = b.state.jobs[b.settled]
    ledger = b.state.ledger
    return _ledger(
        b,
        escrow=ledger.escrow.set(b.settled, Escrow(job.client, job.price)),
        balances=ledger.balances.set(job.client, ledger.balances[job.client] - job.price),
    )


def _escrow_dropped(b: Base) -> ChainState:
    """The running job's escrow went back to its client while the job still runs."""
    job = b.state.jobs[b.executing]
    ledger = b.state.ledger
    return _ledger(
        b,
        escrow=ledger.escrow.delete(b.executing),
        balances=ledger.balances.set(job.client, ledger.balances[job.client] + job.price),
    )


def _orphan_escrow(b: Base) -> ChainState:
    ledger = b.state.ledger
    return _ledger(
        b,
        escrow=ledger.escrow.set("ff" * 32, Escrow("client-0", 1)),
        balances=ledger.balances.set("client-0", ledger.balances["client-0"] - 1),
    )


def _capacity_released_early(b: Base) -> ChainState:
    job = b.state.jobs[b.executing]
    market = hmm.release(b.state.market, b.state.params, RESOURCE_CLASS, job.worker, job.units)
    return replace(b.state, market=market)


def _capacity_taken_for_nothing(b: Base) -> ChainState:
    market, _ = hmm.buy(b.state.market, b.state.params, RESOURCE_CLASS, 1, 10**18)
    return replace(b.state, market=market)


def _pool_theta_moved(b: Base) -> ChainState:
    pool = b.state.market.pools[RESOURCE_CLASS]
    pools = b.state.market.pools.set(RESOURCE_CLASS, replace(pool, theta=pool.theta + pool.psi))
    return replace(b.state, market=hmm.Market(pools=pools))


def _conservation_broken(b: Base) -> ChainState:
    # The Ledger's own contract refuses to build such a value, so the fault is planted past it.
    ledger = replace(b.state.ledger)
    object.__setattr__(ledger, "burned", ledger.burned + 1)
    return replace(b.state, ledger=ledger)


def _negative_balance(b: Base) -> ChainState:
    ledger: Ledger = replace(b.state.ledger)
    balances = ledger.balances
    moved = balances["client-0"] + 1
    balances = balances.set("client-0", -1).set("client-1", balances["client-1"] + moved)
    object.__setattr__(ledger, "balances", balances)
    return replace(b.state, ledger=ledger)


def _other_digest(b: Base) -> bytes:
    return sha256(b"an attestation nobody accepted")


Fault = Callable[[Base], ChainState]
STATE_FAULTS: list[tuple[str, Fault, Callable[[ChainState], None]]] = [
    ("supply not conserved", _conservation_broken, check_ledger_laws),
    ("negative balance", _negative_balance, check_ledger_laws),
    ("pool off its curve", _pool_theta_moved, check_pools),
    (
        "job filed under another id",
        lambda b: replace(b.state, jobs=b.state.jobs.set("00" * 32, b.state.jobs[b.settled])),
        check_job_keys,
    ),
    ("settled job holds escrow again", _escrow_again, check_escrow),
    ("running job lost its escrow", _escrow_dropped, check_escrow),
    ("escrow of no job", _orphan_escrow, check_escrow),
    (
        "escrow differs from the price",
        lambda b: _job(b, b.executing, price=b.state.jobs[b.executing].price + 1),
        check_escrow,
    ),
    (
        "settled without attestation",
        lambda b: _job(b, b.settled, attestation_digest=b""),
        check_attestations,
    ),
    (
        "settled on an unrecorded attestation",
        lambda b: _job(b, b.settled, attestation_digest=_other_digest(b)),
        check_attestations,
    ),
    (
        "attestation recorded for another job",
        lambda b: replace(
            b.state,
            attestations=b.state.attestations.set(
                b.state.jobs[b.settled].attestation_digest.hex(), b.verifying
            ),
        ),
        check_attestations,
    ),
    (
        "output not the attested one",
        lambda b: _job(b, b.verifying, output=b"other"),
        check_attestations,
    ),
    ("capacity released while running", _capacity_released_early, check_capacity),
    ("capacity held by no job", _capacity_taken_for_nothing, check_capacity),
    (
        "settled job still pending",
        lambda b: replace(b.state, pending=(*b.state.pending, b.settled)),
        check_queues,
    ),
    ("attested job not pending", lambda b: replace(b.state, pending=()), check_queues),
    (
        "pending job listed twice",
        lambda b: replace(b.state, pending=(b.attested, b.attested)),
        check_queues,
    ),
    (
        "finished job still executing",
        lambda b: replace(b.state, executing=b.state.executing.set(b.settled, 0)),
        check_queues,
    ),
    (
        "deadline moved",
        lambda b: replace(b.state, executing=b.state.executing.set(b.executing, 1)),
        check_queues,
    ),
    (
        "running job not executing",
        lambda b: replace(b.state, executing=b.state.executing.delete(b.executing)),
        check_queues,
    ),
    (
        "open quote from an older block",
        lambda b: _job(b, b.quoted, quoted_height=b.state.height - 1),
        check_queues,
    ),
    ("quote left open", lambda b: replace(b.state, open_quotes=()), check_queues),
    (
        "negative nonce",
        lambda b: replace(b.state, nonces=b.state.nonces.set("client-0", -1)),
        check_nonces,
    ),
    (
        "nonce of an unknown sender",
        lambda b: replace(b.state, nonces=b.state.nonces.set("mallory", 1)),
        check_nonces,
    ),
    (
        "negative vote credit",
        lambda b: replace(b.state, vote_credits=b.state.vote_credits.set("verifier-0", -5)),
        check_verifier_records,
    ),
    (
        "credit to an unknown sender",
        lambda b: replace(b.state, vote_credits=b.state.vote_credits.set("mallory", 5)),
        check_verifier_records,
    ),
    (
        "malformed probe commitment",
        lambda b: replace(b.state, probes=b.state.probes.set("xyz", False)),
        check_verifier_records,
    ),
    (
        "review of a running job",
        lambda b: replace(
            b.state, reviews=b.state.reviews.set(b.executing, ProbeReview("w", (), (), (), (), 0))
        ),
        check_verifier_records,
    ),
    (
        "verification pool with a key",
        lambda b: replace(b.state, keys=b.state.keys.set(VERIFICATION_POOL, bytes(32))),
        check_verifier_records,
    ),
]


@pytest.mark.parametrize(
    ("name", "fault", "check"), STATE_FAULTS, ids=[name for name, _, _ in STATE_FAULTS]
)
def test_state_check_fails_on_planted_fault(
    name: str, fault: Fault, check: Callable[[ChainState], None]
) -> None:
    b = base()
    check(b.state)  # the rule holds before the fault
    broken = fault(b)
    with pytest.raises(InvariantViolation):
        check(broken)
    with pytest.raises(InvariantViolation):
        check_chain(broken)


# ---- planted faults in a run's effects ----------------------------------------------------------


def _settled(b: Base) -> Settled:
    return next(e for e in b.world.log if isinstance(e, Settled))


@cache
def slashed_world() -> World:
    """A chain whose one job timed out: its history holds exactly one slash."""
    world = build_world(params_at(Fraction(0)), label="invariants/slash")
    world.time_out(world.order("client-0"))
    return world


def _slashed() -> Slashed:
    (slash,) = [e for e in slashed_world().log if isinstance(e, Slashed)]
    return slash


Run = tuple[tuple[Effect, ...], ChainState]


def _effect_faults() -> list[tuple[str, Callable[[Base], Run], Callable[..., None]]]:
    def twice(b: Base) -> Run:
        return (*b.world.log, _settled(b)), b.state

    def also_refunded(b: Base) -> Run:
        paid = _settled(b)
        return (*b.world.log, Refunded(paid.job_id, "client-0", 1, "timed_out")), b.state

    def split_moved(b: Base) -> Run:
        paid = _settled(b)
        split = replace(paid.split, worker=paid.split.worker + 1, burned=paid.split.burned - 1)
        return (replace(paid, split=split),), b.state

    def split_short(b: Base) -> Run:
        paid = _settled(b)
        return (replace(paid, split=replace(paid.split, worker=paid.split.worker - 1)),), b.state

    def paid_while_running(b: Base) -> Run:
        return (replace(_settled(b), job_id=bytes.fromhex(b.executing)),), b.state

    def paid_someone_else(b: Base) -> Run:
        return (replace(_settled(b), worker="client-0"),), b.state

    def with_evidence(evidence_id: bytes) -> Run:
        slash = _slashed()
        record = replace(slash.record, evidence_id=evidence_id)
        return (replace(slash, record=record),), slashed_world().state

    def evidence_twice(b: Base) -> Run:
        return (_slashed(), _slashed()), slashed_world().state

    def unrecorded(b: Base) -> Run:
        return (_slashed(),), b.state

    def relabelled(b: Base) -> Run:
        return (replace(_slashed(), violation=Violation.SYBIL),), slashed_world().state

    return [
        ("job settled twice", twice, check_settled_once),
        ("job settled and refunded", also_refunded, check_settled_once),
        ("fee split off Table 5", split_moved, check_fee_splits),
        ("fee split short of the price", split_short, check_fee_splits),
        ("payment to a running job", paid_while_running, check_fee_splits),
        ("payment to another account", paid_someone_else, check_fee_splits),
        ("slash with short evidence", lambda b: with_evidence(b"\x01" * 8), check_slash_evidence),
        ("slash with empty evidence", lambda b: with_evidence(bytes(32)), check_slash_evidence),
        ("evidence used twice", evidence_twice, check_slash_evidence),
        ("slash the ledger never recorded", unrecorded, check_slash_evidence),
        ("slash under another violation", relabelled, check_slash_evidence),
    ]


EFFECT_FAULTS = _effect_faults()


def test_the_slashed_run_passes_every_check() -> None:
    world = slashed_world()
    check_chain(world.state)
    check_effects(world.log, world.state)


@pytest.mark.parametrize(
    ("name", "fault", "check"), EFFECT_FAULTS, ids=[name for name, _, _ in EFFECT_FAULTS]
)
def test_effect_check_fails_on_planted_fault(
    name: str, fault: Callable[[Base], Run], check: Callable[..., None]
) -> None:
    effects, state = fault(base())
    arguments = (effects,) if check is check_settled_once else (effects, state)
    with pytest.raises(InvariantViolation):
        check(*arguments)
    with pytest.raises(InvariantViolation):
        check_effects(effects, state)


# ---- mutations of the chain's rules -------------------------------------------------------------

MUTATION_RUN = settings(
    max_examples=60,
    stateful_step_count=50,
    phases=[Phase.generate],
    report_multiple_bugs=False,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def _skip_level1(*args: object, **kwargs: object) -> None:
    """A chain that forgot Algorithm 2 Level 1."""


def _never_sample(*args: object, **kwargs: object) -> bool:
    """A chain whose sampling draw never selects."""
    return False


def test_skipped_level1_is_caught_by_check_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    world = build_world(params_at(Fraction(0)), label="mutant/level1")
    job_id = world.order("client-0")
    forged = world.result_event(job_id, h_output=sha256(b"not the output"))
    assert world.refuse(forged) is Rejection.ATTESTATION_WRONG_OUTPUT  # the real chain
    monkeypatch.setattr(aci_ref.chain.jobs, "check_attestation", _skip_level1)
    world.apply(forged)  # the mutant accepts it
    world.seal()
    assert world.job(job_id).status is JobStatus.SETTLED
    with pytest.raises(InvariantViolation, match="does not hash"):
        check_chain(world.state)


def test_sampling_that_never_selects_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def lazy_job_at_rate_one() -> tuple[ChainState, ChainState, bytes, World]:
        world = build_world(
            params_at(Fraction(1)), label="mutant/sampling", workers=workers_of("lazy")
        )
        job_id = world.order("client-0")
        world.submit(job_id, behaviour="lazy")
        before = world.state
        beacon = world.beacon(world.state.height + 1)
        world.seal()
        return before, world.state, beacon, world

    before, after, beacon, _ = lazy_job_at_rate_one()
    assert not sampling_errors(before, after, beacon)  # the real chain samples it
    monkeypatch.setattr(aci_ref.chain.block, "selected_for_reexecution", _never_sample)
    before, after, beacon, world = lazy_job_at_rate_one()
    assert sampling_errors(before, after, beacon)  # the mutant paid a wrong output unchecked
    (paid,) = [e for e in world.log if isinstance(e, Settled)]
    assert not world.output_correct(paid.job_id)


class RateOneMachine(ChainMachine):
    """The chain machine at sampling rate 1 only."""

    RATES = (Fraction(1),)


@pytest.mark.parametrize(
    ("target", "mutant", "machine", "complaint"),
    [
        ("jobs.check_attestation", _skip_level1, ChainMachine, "careless result|does not hash"),
        ("block.selected_for_reexecution", _never_sample, RateOneMachine, "sampling off"),
    ],
    ids=["no Level 1", "no sampling"],
)
def test_state_machine_catches_mutated_chain(
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    mutant: Callable[..., object],
    machine: type[ChainMachine],
    complaint: str,
) -> None:
    module, name = target.split(".")
    monkeypatch.setattr(getattr(aci_ref.chain, module), name, mutant)
    with pytest.raises((AssertionError, InvariantViolation), match=complaint):
        run_state_machine_as_test(machine, settings=MUTATION_RUN)
