"""§6.1's adversaries (`aci_ref.sim.adversaries`) against the real chain: each is caught where
`ADVERSARIES` says it is, and an honest control group beside them is never slashed."""

from __future__ import annotations

from fractions import Fraction

import pytest

from aci_ref.chain import Slashed
from aci_ref.chain.invariants import check_chain, check_effects
from aci_ref.chain.jobs import check_level1
from aci_ref.economics.ledger import Role
from aci_ref.economics.slashing import Violation
from aci_ref.errors import RejectedError, Rejection
from aci_ref.market.jobs import JobStatus
from aci_ref.sim.adversaries import (
    ADVERSARIES,
    ColludingVerifiers,
    ColludingWorkers,
    HonestWorker,
    LazyVerifier,
    LazyWorker,
    MaliciousVerifier,
    SubtleTamperer,
    SybilAttacker,
    TeeAttacker,
    WorkerPolicy,
    skips,
)
from aci_ref.sim.adversary_runs import (
    all_caught,
    bootstrap_registering,
    decide,
    run_epochs,
    submit_response,
)
from aci_ref.sim.world import WorkerSpec, World, build_world, world_params

ALWAYS = Fraction(1)
NEVER = Fraction(0)
ALL = Fraction(1)


def slashes(world: World) -> list[Slashed]:
    return [e for e in world.log if isinstance(e, Slashed)]


def holds(world: World) -> None:
    check_chain(world.state)
    check_effects(world.log, world.state)


def one_job(world: World, policy: WorkerPolicy) -> bytes:
    """Order a job, let `policy` answer (a validator reports a Level 1 failure), seal, decide."""
    job_id = world.order("client-0")
    submit_response(world, job_id, policy, world.validators[0])
    world.seal()
    if world.job(job_id).status in (JobStatus.VERIFYING, JobStatus.DISPUTED):
        decide(world, job_id, {})
    return job_id


def test_every_adversary_names_what_should_catch_it() -> None:
    assert set(ADVERSARIES) >= {"lazy-careless", "lazy-careful", "sybil", "tee-attacker"}
    for name, info in ADVERSARIES.items():
        assert info.role in {"worker", "verifier"}, name
        assert (info.violation is None) == (info.level is None), name
        assert info.summary and info.caught_by


def test_skipping_is_by_hash_reproducible_and_near_delta() -> None:
    ids = [bytes([i % 256, i // 256]) * 16 for i in range(2000)]
    chosen = [skips("lazy", job, Fraction(1, 4)) for job in ids]
    assert chosen == [skips("lazy", job, Fraction(1, 4)) for job in ids]
    assert chosen != [skips("other", job, Fraction(1, 4)) for job in ids]
    assert 400 < sum(chosen) < 600
    assert not any(skips("lazy", job, NEVER) for job in ids[:50])
    assert all(skips("lazy", job, ALL) for job in ids[:50])
    with pytest.raises(RejectedError):
        LazyWorker(Fraction(3, 2))


def test_a_careless_lazy_worker_is_caught_at_level1_and_loses_half() -> None:
    world = build_world(world_params(NEVER), workers=(WorkerSpec("lazy-0"),))
    stake = world.stake("lazy-0", Role.WORKER)
    job_id = world.order("client-0")
    response, refused = submit_response(
        world, job_id, LazyWorker(ALL, careful=False), world.validators[0]
    )
    assert response.skipped and refused is Rejection.METRICS_INCONSISTENT
    (slash,) = slashes(world)
    assert slash.violation is Violation.INVALID_ATTESTATION and slash.level == 1
    assert slash.record.amount == stake * world.params.slash_invalid_attestation_bps // 10_000
    holds(world)


@pytest.mark.parametrize("mode", ["random", "cached", "copied"])
def test_a_careful_lazy_worker_passes_level1_and_is_caught_only_when_sampled(mode: str) -> None:
    specs = (WorkerSpec("honest-0"), WorkerSpec("lazy-0", throughput=9))  # lazy-0 quoted first
    for rate, caught in ((NEVER, False), (ALWAYS, True)):
        world = build_world(world_params(rate), workers=specs, verifiers=7)
        first = world.order("client-0")
        second = world.order("client-1")
        assert {world.job(first).worker, world.job(second).worker} == {"honest-0", "lazy-0"}
        lazy, honest = (first, second) if world.job(first).worker == "lazy-0" else (second, first)
        submit_response(world, honest, HonestWorker(), None)  # something to copy from
        response, refused = submit_response(world, lazy, LazyWorker(ALL, mode), None)
        assert response.skipped and refused is None
        assert response.output != world.honest_output(lazy)
        world.seal()
        for job_id in (first, second):
            if world.job(job_id).status is not JobStatus.SETTLED:
                decide(world, job_id, {})
        found = [(s.record.offender, s.violation, s.level) for s in slashes(world)]
        assert found == ([("lazy-0", Violation.WRONG_OUTPUT, 2)] if caught else [])
        assert world.state.workers["lazy-0"].banned is caught
        holds(world)


def test_a_tee_attacker_passes_level1_and_is_caught_when_sampled() -> None:
    attacker = TeeAttacker(ALL, "cheap")
    for rate, caught in ((NEVER, False), (ALWAYS, True)):
        world = build_world(world_params(rate), workers=(WorkerSpec("tee-0"),), verifiers=7)
        job_id = world.order("client-0")
        response = attacker.respond(world, job_id)
        check_level1(world.state, world.job(job_id), response.body(job_id))  # no refusal
        assert attacker.forger(world, "tee-0").key == world.enclaves["tee-0"].key
        world.apply(world.sign("tee-0", response.body(job_id)))
        world.seal()
        if caught:
            decide(world, job_id, {})
        assert [s.violation for s in slashes(world)] == ([Violation.WRONG_OUTPUT] if caught else [])
        assert world.job(job_id).status is (JobStatus.REFUNDED if caught else JobStatus.SETTLED)


def test_sybil_identities_on_one_platform_are_slashed_at_registration() -> None:
    attacker = SybilAttacker(3)
    honest = (WorkerSpec("honest-0"),)
    world = build_world(world_params(NEVER), workers=(*honest, *attacker.specs()), bootstrap=False)
    outcome = bootstrap_registering(world, (*honest, *attacker.specs()))
    assert outcome == {
        "honest-0": "",
        "sybil-0": "",
        "sybil-1": "",
        "sybil-2": Rejection.WORKER_BANNED.value,
    }
    found = {(s.record.offender, s.violation, s.record.rate_bps) for s in slashes(world)}
    assert found == {("sybil-0", Violation.SYBIL, 10_000), ("sybil-1", Violation.SYBIL, 10_000)}
    assert world.state.workers["sybil-0"].banned and world.state.workers["sybil-1"].banned
    assert world.stake("sybil-0", Role.WORKER) == world.stake("sybil-1", Role.WORKER) == 0
    assert world.job(world.order("client-0")).worker == "honest-0"
    holds(world)


def test_sybil_identities_on_distinct_platforms_pay_theorem_4s_price() -> None:
    attacker = SybilAttacker(3)
    world = build_world(world_params(NEVER), workers=attacker.distinct_specs(), bootstrap=False)
    assert set(bootstrap_registering(world, attacker.distinct_specs()).values()) == {""}
    assert not slashes(world)
    bonded = sum(world.stake(name, Role.WORKER) for name in attacker.names())
    assert bonded == attacker.stake_needed(world.params)


def test_colluders_share_one_wrong_answer_and_are_all_slashed_once_sampled() -> None:
    members = ("colluder-0", "colluder-1", "colluder-2")
    coalition = ColludingWorkers(frozenset(members), ALL, "c")
    world = build_world(
        world_params(ALWAYS), workers=(*map(WorkerSpec, members), WorkerSpec("honest-0"))
    )
    data = world.new_input()
    first = world.request("client-0", data=data)
    world.accept(first)
    second = world.request("client-1", data=data)
    world.accept(second)
    assert world.job(first).worker != world.job(second).worker
    outputs = {coalition.respond(world, job).output for job in (first, second)}
    assert len(outputs) == 1 and outputs != {world.honest_output(first)}
    with pytest.raises(RejectedError):
        ColludingWorkers(frozenset({"someone-else"}), ALL).respond(world, first)
    world = build_world(
        world_params(ALWAYS), workers=(*map(WorkerSpec, members), WorkerSpec("honest-0"))
    )
    log = run_epochs(
        world,
        dict.fromkeys(members, coalition),
        epochs=2,
        jobs_per_worker=2,
        until=all_caught(members),
    )
    assert log.epochs == 1
    assert {c.offender for c in log.slashes} == set(members)
    assert {c.violation for c in log.slashes} == {Violation.WRONG_OUTPUT.value}


def test_a_malicious_verifiers_false_accusation_is_slashed_by_arbitration() -> None:
    world = build_world(world_params(ALWAYS), workers=(WorkerSpec("honest-0"),), verifiers=7)
    job_id = world.order("client-0")
    submit_response(world, job_id, HonestWorker(), None)
    world.seal()
    (accuser,) = world.job(job_id).committee
    decide(world, job_id, {accuser: MaliciousVerifier()})
    (slash,) = slashes(world)
    assert slash.record.offender == accuser and slash.violation is Violation.FALSE_ACCUSATION
    assert world.job(job_id).status is JobStatus.SETTLED
    assert not world.state.workers["honest-0"].banned
    holds(world)


def test_a_lazy_or_colluding_verifier_decides_only_holding_the_committee() -> None:
    # The shipped committee is one verifier: whoever sits on it holds the quorum.
    for lenient in ("lazy", "colluding"):
        world = build_world(world_params(ALWAYS), workers=(WorkerSpec("lazy-0"),), verifiers=7)
        job_id = world.order("client-0")
        submit_response(world, job_id, LazyWorker(ALL), None)
        world.seal()
        (member,) = world.job(job_id).committee
        policy = (
            LazyVerifier()
            if lenient == "lazy"
            else ColludingVerifiers(frozenset({member}), frozenset({"lazy-0"}))
        )
        decide(world, job_id, {member: policy})
        assert world.job(job_id).status is JobStatus.SETTLED
        assert not [s for s in slashes(world) if s.record.offender == "lazy-0"]
    # A colluder in the arbitration minority cannot save a wrong output.
    world = build_world(world_params(ALWAYS), workers=(WorkerSpec("lazy-0"),), verifiers=7)
    job_id = world.order("client-0")
    submit_response(world, job_id, LazyWorker(ALL), None)
    world.seal()
    (member,) = world.job(job_id).committee
    outsider = next(v for v in world.verifiers if v != member)
    decide(
        world, job_id, {outsider: ColludingVerifiers(frozenset({outsider}), frozenset({"lazy-0"}))}
    )
    assert world.state.workers["lazy-0"].banned


def test_a_subtle_tamperer_passes_level1_and_is_caught_when_sampled() -> None:
    pytest.importorskip("aci_ref.sim.tampering")
    world = build_world(world_params(ALWAYS), workers=(WorkerSpec("tamper-0"),), verifiers=7)
    job_id = one_job(world, SubtleTamperer("nudge"))
    assert [s.violation for s in slashes(world)] == [Violation.WRONG_OUTPUT]
    assert world.job(job_id).sampled


def test_the_honest_control_group_is_never_slashed() -> None:
    specs = (
        WorkerSpec("careless-0"),
        WorkerSpec("careful-0"),
        WorkerSpec("tee-0"),
        WorkerSpec("honest-0"),
        WorkerSpec("honest-1"),
    )
    world = build_world(world_params(Fraction(1, 2)), workers=specs, verifiers=7)
    policies: dict[str, WorkerPolicy] = {
        "careless-0": LazyWorker(Fraction(1, 2), "cached", careful=False, label="a"),
        "careful-0": LazyWorker(Fraction(1, 2), "copied", label="b"),
        "tee-0": TeeAttacker(Fraction(1, 2), "random", label="c"),
    }
    log = run_epochs(world, policies, epochs=2, jobs_per_worker=4)
    offenders = {c.offender for c in log.slashes}
    assert offenders <= set(policies)
    assert "careless-0" in offenders
    assert all(r.outcome == "settled" for r in log.jobs.values() if r.worker.startswith("honest"))
    holds(world)
