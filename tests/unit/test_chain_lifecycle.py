"""End-to-end examples of Algorithm 1 through `chain.apply`, one story per test.

Each story builds a small world (`aci_ref/sim/world.py`), drives it with signed events and checks
the effects, balances, stakes and statuses it must produce, then runs the chain invariants. The
last section holds stories the chain gets wrong today, as strict expected failures.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from aci_ref.chain import (
    DisputeOpened,
    Expired,
    Refunded,
    RefundReason,
    Sampled,
    Settled,
    Slashed,
)
from aci_ref.chain.invariants import check_chain, check_effects
from aci_ref.chain.state import VERIFICATION_POOL
from aci_ref.economics.fees import fee_split
from aci_ref.economics.ledger import Role
from aci_ref.economics.slashing import Violation
from aci_ref.economics.staking import required_stake
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import AcceptQuote, ReportInvalidAttestation, Unbond
from aci_ref.market.jobs import JobStatus
from aci_ref.params import BPS
from aci_ref.poai.quality import below_threshold
from aci_ref.sim.world import (
    BLOCK_MS,
    SLA_MS,
    WORKER_CAPACITY,
    WorkerSpec,
    World,
    beacon_where,
    build_world,
    register_body,
    workers_of,
    world_params,
)

ALWAYS = Fraction(1)
NEVER = Fraction(0)


def holds(world: World) -> None:
    """Every chain invariant and every per-run property of the world's history."""
    check_chain(world.state)
    check_effects(world.log, world.state)


def slashes(world: World) -> list[Slashed]:
    return [e for e in world.log if isinstance(e, Slashed)]


def test_honest_job_settles_with_the_table5_split() -> None:
    world = build_world(world_params(NEVER))
    client, before = "client-0", world.fork()
    job_id = world.order(client)
    job = world.job(job_id)
    world.submit(job_id)
    effects = world.seal()
    settled = next(e for e in effects if isinstance(e, Settled))
    split = fee_split(world.params, job.price)
    assert settled.split == split and not settled.reexecuted
    assert world.job(job_id).status is JobStatus.SETTLED
    assert world.balance(client) == before.balance(client) - job.price
    assert world.balance(job.worker) == before.balance(job.worker) + split.worker
    gained = {
        group: sum(world.balance(n) - before.balance(n) for n in names)
        for group, names in (
            ("validators", world.validators),
            ("verifiers", world.verifiers),
            ("lps", world.lps),
            ("pool", (VERIFICATION_POOL,)),
        )
    }
    # Verifiers are paid for votes, not for stake: an unsampled job's share waits in the pool (E90).
    assert gained == {
        "validators": split.validators,
        "verifiers": 0,
        "lps": split.lps,
        "pool": split.verifiers,
    }
    assert world.state.ledger.burned - before.state.ledger.burned == split.burned
    assert job_id.hex() not in world.state.ledger.escrow
    assert world.state.market.pools["cpu-small"].workers[job.worker].in_use == 0
    assert not slashes(world)
    holds(world)


def test_sampled_honest_job_is_accepted_by_its_committee() -> None:
    world = build_world(world_params(ALWAYS))
    job_id = world.order("client-0")
    world.submit(job_id)
    sampled = [e for e in world.seal() if isinstance(e, Sampled)]
    assert [s.job_id for s in sampled] == [job_id]
    assert world.job(job_id).status is JobStatus.VERIFYING
    (member,) = sampled[0].committee
    effects = world.vote(member, job_id)
    settled = next(e for e in effects if isinstance(e, Settled))
    assert settled.reexecuted
    assert world.job(job_id).status is JobStatus.SETTLED
    assert not slashes(world)
    holds(world)


def test_sampling_follows_the_beacon_draw() -> None:
    world = build_world(world_params(Fraction(1, 2)))
    drawn, skipped = world.order("client-0"), world.order("client-1")
    world.submit(drawn)
    world.seal(beacon=beacon_where(world, drawn, sampled=True))
    world.submit(skipped)
    world.seal(beacon=beacon_where(world, skipped, sampled=False))
    assert world.job(drawn).status is JobStatus.VERIFYING
    assert world.job(skipped).status is JobStatus.SETTLED
    holds(world)


@pytest.mark.parametrize("label", [f"lazy/{i}" for i in range(5)])
def test_lazy_worker_is_always_caught_at_sampling_rate_one(label: str) -> None:
    world = build_world(world_params(ALWAYS), label=label, workers=workers_of("lazy"))
    client = "client-0"
    paid_before = world.balance(client)
    job_id = world.order(client)
    world.submit(job_id, behaviour="lazy")  # δ = 1: every job skipped
    (sampled,) = [e for e in world.seal() if isinstance(e, Sampled)]
    (accuser,) = sampled.committee
    reward_base = world.balance(accuser)
    stake = world.stake("lazy-0", Role.WORKER)
    effects = world.vote(accuser, job_id)
    (dispute,) = [e for e in effects if isinstance(e, DisputeOpened)]
    assert dispute.accusers == (accuser,) and accuser not in dispute.arbiters
    world.decide(job_id)
    assert world.job(job_id).status is JobStatus.REFUNDED
    assert world.balance(client) == paid_before
    refunds = [e for e in world.log if isinstance(e, Refunded)]
    assert [(r.job_id, r.why) for r in refunds] == [(job_id, "arbitrated")]
    (slash,) = slashes(world)
    assert slash.violation is Violation.WRONG_OUTPUT and slash.level == 2
    assert slash.record.amount == stake  # 100 %
    reward = stake * world.params.slash_reporter_reward_bps // BPS
    assert slash.record.reporter == accuser and slash.record.reporter_reward == reward
    assert world.balance(accuser) == reward_base + reward
    assert world.state.workers["lazy-0"].banned and world.quality("lazy-0") == 0
    holds(world)


def test_careless_result_is_refused_and_reported_once() -> None:
    world = build_world(world_params(NEVER), workers=workers_of("careless"))
    job_id = world.order("client-0")
    submission = world.result_event(job_id, behaviour="careless")
    assert world.refuse(submission) is Rejection.METRICS_INCONSISTENT
    stake = world.stake("careless-0", Role.WORKER)
    effects = world.act("validator-0", ReportInvalidAttestation(submission))
    (slash,) = [e for e in effects if isinstance(e, Slashed)]
    assert slash.violation is Violation.INVALID_ATTESTATION and slash.level == 1
    assert slash.record.evidence_id != submission.digest()  # the offence, not the envelope (E59)
    assert slash.record.amount == stake * world.params.slash_invalid_attestation_bps // BPS
    again = world.sign("validator-1", ReportInvalidAttestation(submission))
    assert world.refuse(again) is Rejection.DUPLICATE_EVIDENCE
    holds(world)


def test_job_without_result_times_out_after_the_deadline() -> None:
    world = build_world(world_params(NEVER))
    client = "client-0"
    paid_before = world.balance(client)
    job_id = world.order(client)
    job = world.job(job_id)
    assert job.deadline_ms == job.escrowed_at_ms + world.params.timeout_sla_multiple * SLA_MS
    stake = world.stake(job.worker, Role.WORKER)
    world.seal()
    world.seal(advance_ms=job.deadline_ms - world.state.now_ms)  # at the deadline: still on time
    assert world.job(job_id).status is JobStatus.EXECUTING
    assert world.state.height >= job.escrowed_height + world.params.min_sla_blocks
    effects = world.seal(advance_ms=1)
    (refund,) = [e for e in effects if isinstance(e, Refunded)]
    assert (refund.job_id, refund.amount, refund.why) == (job_id, job.price, RefundReason.TIMED_OUT)
    assert world.job(job_id).status is JobStatus.REFUNDED
    assert world.balance(client) == paid_before
    (slash,) = slashes(world)
    assert slash.violation is Violation.TIMEOUT and slash.record.offender == job.worker
    assert slash.record.amount == stake * world.params.slash_timeout_bps // BPS
    assert world.quality(job.worker) < BPS
    holds(world)


def test_sybil_second_registration_slashes_both_identities() -> None:
    pair = (WorkerSpec("sybil-a", platform="shared"), WorkerSpec("sybil-b", platform="shared"))
    world = build_world(world_params(NEVER), workers=pair, bootstrap=False)
    world.act("sybil-a", register_body(world, "sybil-a"))
    assert not slashes(world)
    effects = world.act("sybil-b", register_body(world, "sybil-b"))
    required = required_stake(world.params, Role.WORKER, WORKER_CAPACITY)
    sybil = {e.record.offender: e for e in effects if isinstance(e, Slashed)}
    assert sorted(sybil) == ["sybil-a", "sybil-b"]
    for name, slash in sybil.items():
        assert slash.violation is Violation.SYBIL
        assert slash.record.amount == required  # 100 %
        assert world.stake(name, Role.WORKER) == 0
        assert world.state.workers[name].banned and world.quality(name) == 0
    with pytest.raises(RejectedError) as refused:
        world.request("client-0")
    assert refused.value.rejection is Rejection.NO_WORKER
    holds(world)


def test_quotes_expire_at_the_next_block() -> None:
    world = build_world(world_params(NEVER))
    job_id = world.request("client-0")
    price = world.job(job_id).price
    effects = world.seal()
    assert Expired(job_id) in effects
    assert world.job(job_id).status is JobStatus.EXPIRED
    late = world.sign("client-0", AcceptQuote(job_id, price))
    assert world.refuse(late) is Rejection.QUOTE_EXPIRED
    holds(world)


def test_low_quality_worker_is_slashed_at_epoch_close() -> None:
    # A zero timeout slash keeps the worker's stake whole, so it stays in the market while its
    # quality decays (with the default rate one timeout bans it: see the expected failure below).
    world = build_world(world_params(NEVER, slash_timeout_bps=0), workers=workers_of("honest"))
    worker = "honest-0"
    misses = 0
    while not below_threshold(world.params, world.quality(worker)):
        job_id = world.order("client-0")
        world.time_out(job_id)
        assert world.job(job_id).status is JobStatus.REFUNDED
        misses += 1
    assert misses == 7  # 10000 → 9000 → … → 4782 bps with quality_ema_rate = 0.1
    assert world.state.epoch == 0
    stake = world.stake(worker, Role.WORKER)
    epoch_ms = world.params.epoch_duration_ms
    effects = world.seal(advance_ms=epoch_ms - world.state.now_ms)
    assert world.state.epoch == 1
    (slash,) = [e for e in effects if isinstance(e, Slashed)]
    assert slash.violation is Violation.LOW_QUALITY and slash.level == 3
    assert slash.record.amount == stake * world.params.slash_low_quality_bps_per_epoch // BPS
    effects = world.seal(advance_ms=BLOCK_MS)
    assert not [e for e in effects if isinstance(e, Slashed)]  # once per epoch
    holds(world)


def test_false_accusation_fails_arbitration_and_slashes_the_accuser() -> None:
    world = build_world(world_params(ALWAYS))
    job_id = world.order("client-0")
    world.submit(job_id)
    (sampled,) = [e for e in world.seal() if isinstance(e, Sampled)]
    (liar,) = sampled.committee
    stake = world.stake(liar, Role.VERIFIER)
    effects = world.decide(job_id, liars={liar: False})
    assert any(isinstance(e, DisputeOpened) for e in effects)
    assert world.job(job_id).status is JobStatus.SETTLED
    (slash,) = slashes(world)
    assert slash.violation is Violation.FALSE_ACCUSATION and slash.record.offender == liar
    assert slash.record.amount == stake * world.params.slash_false_accusation_bps // BPS
    assert not any(s.record.offender == world.job(job_id).worker for s in slashes(world))
    holds(world)


def test_refused_event_leaves_the_state_untouched() -> None:
    world = build_world(world_params(NEVER))
    job_id = world.order("client-0")
    before = world.state
    assert world.refuse(world.result_event(job_id, behaviour="careless")) is (
        Rejection.METRICS_INCONSISTENT
    )
    assert world.state is before


# ---- stories found by the state machine (regressions) -------------------------------


def test_block_times_out_a_job_of_a_worker_slashed_to_zero() -> None:
    world = build_world(world_params(ALWAYS), workers=workers_of("lazy"))
    caught, stalled = world.order("client-0"), world.order("client-1")
    world.submit(caught, behaviour="lazy")
    world.seal()
    world.decide(caught)
    assert world.stake("lazy-0", Role.WORKER) == 0
    world.time_out(stalled)
    assert world.job(stalled).status is JobStatus.REFUNDED


def test_second_wrong_output_of_a_worker_slashed_to_zero_is_refunded() -> None:
    world = build_world(world_params(ALWAYS), workers=workers_of("lazy"))
    first, second = world.order("client-0"), world.order("client-1")
    world.submit(first, behaviour="lazy")
    world.submit(second, behaviour="lazy")
    world.seal()
    world.decide(first)
    world.decide(second)
    assert world.job(second).status is JobStatus.REFUNDED


def test_unarbitrated_accusation_does_not_slash_the_accuser() -> None:
    world = build_world(world_params(ALWAYS), verifiers=1, workers=workers_of("lazy"))
    job_id = world.run_job("client-0", behaviour="lazy")
    assert not [s for s in slashes(world) if s.violation is Violation.FALSE_ACCUSATION]
    assert world.job(job_id).status is not JobStatus.SETTLED


def test_worker_rejoining_on_its_own_platform_is_not_a_sybil() -> None:
    world = build_world(world_params(NEVER), workers=workers_of("honest"))
    world.run_job("client-0")
    bonded = world.state.ledger.stakes["honest-0/worker"].bonded
    world.act("honest-0", Unbond(Role.WORKER, bonded))
    world.act("honest-0", register_body(world, "honest-0"))
    assert not slashes(world)


def test_old_accepted_submission_is_no_evidence_after_a_new_enclave() -> None:
    from aci_ref.crypto import KeyPair
    from aci_ref.poai.tee import provision_enclave

    world = build_world(world_params(NEVER), workers=workers_of("honest"))
    job_id = world.order("client-0")
    world.submit(job_id)
    world.seal()
    old = world.submissions[job_id.hex()]
    world.act("honest-0", Unbond(Role.WORKER, world.state.ledger.stakes["honest-0/worker"].bonded))
    world.enclaves["honest-0"] = provision_enclave(
        world.vendor, KeyPair.from_label("new/platform"), KeyPair.from_label("new/enclave")
    )
    world.act("honest-0", register_body(world, "honest-0"))
    report = world.sign("validator-0", ReportInvalidAttestation(old))
    assert world.refuse(report) is Rejection.EVIDENCE_MISMATCH


def test_low_quality_slash_is_reachable_with_default_parameters() -> None:
    """A worker staked above its requirement survives a timeout slash, keeps quoting with a
    falling quality score, and pays the low-quality slash when the epoch closes."""
    over_staked = (
        WorkerSpec("honest-0", stake_multiple=3),
        WorkerSpec("honest-1", stake_multiple=3),
    )
    world = build_world(world_params(NEVER), workers=over_staked)
    for _ in range(20):  # each timeout moves quality 10 % of the way toward 0
        job_id = world.order("client-0")
        world.time_out(job_id)
        if any(below_threshold(world.params, world.quality(w)) for w in world.workers):
            break
    assert any(below_threshold(world.params, world.quality(w)) for w in world.workers)
    world.seal(advance_ms=world.params.epoch_duration_ms - world.state.now_ms)
    assert [s for s in slashes(world) if s.violation is Violation.LOW_QUALITY]
