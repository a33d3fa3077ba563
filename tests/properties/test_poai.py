"""PoAI properties: the attestation chain, Level 1 codes, sampling, quality, votes, committees."""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aci_ref.crypto import KeyPair, sha256, verify_signature
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import BPS, default_params
from aci_ref.poai.attestation import Attestation, Metrics, sign_attestation
from aci_ref.poai.matching import float32_units, pinned_choice
from aci_ref.poai.profiles import HardwareClass, ModelProfile
from aci_ref.poai.quality import update_quality
from aci_ref.poai.tee import WORKER_PROGRAM, TrustAnchors, measurement_of, provision_enclave
from aci_ref.poai.verification import (
    ExpectedJob,
    check_attestation,
    min_duration_ms,
    selected_for_reexecution,
)
from aci_ref.poai.votes import Outcome, aggregate_votes, committee, sign_vote

PARAMS = default_params()
VENDOR = KeyPair.from_label("vendor/root")
ANCHORS = TrustAnchors.of([VENDOR.public], [measurement_of(WORKER_PROGRAM)])
ENCLAVE = provision_enclave(VENDOR, KeyPair.from_label("platform"), KeyPair.from_label("enclave"))
PROFILE = ModelProfile(flops_per_input=1_000_000, weight_bytes=50_000)
HW = HardwareClass("test", peak_flops_per_ms=100_000, memory_bytes=1 << 20)
OUTPUT = b"the output"

hashes = st.binary(min_size=32, max_size=32)
SIGNED_FIELDS = ("job_id", "h_input", "h_output", "h_model", "t_start_ms", "duration_ms", "metrics")


@st.composite
def honest_jobs(draw: st.DrawFn) -> tuple[ExpectedJob, Attestation]:
    """A job and an honest attestation of it, with metrics anywhere inside the allowed region."""
    not_before = draw(st.integers(0, 10**12))
    expected = ExpectedJob(
        draw(st.binary(min_size=1, max_size=40)), draw(hashes), draw(hashes), not_before
    )
    tolerance = PROFILE.flops_per_input * PARAMS.metrics_flops_tolerance_bps // BPS
    flops = draw(
        st.integers(PROFILE.flops_per_input - tolerance, PROFILE.flops_per_input + tolerance)
    )
    metrics = Metrics(
        flops, draw(st.integers(PROFILE.weight_bytes, HW.memory_bytes)), draw(st.integers(0, BPS))
    )
    attestation = sign_attestation(
        ENCLAVE,
        job_id=expected.job_id,
        h_input=expected.h_input,
        h_output=sha256(OUTPUT),
        h_model=expected.h_model,
        t_start_ms=not_before + draw(st.integers(0, 10**6)),
        duration_ms=min_duration_ms(flops, HW) + draw(st.integers(0, 10**6)),
        metrics=metrics,
    )
    return expected, attestation


def level1_code(expected: ExpectedJob, attestation: Attestation) -> Rejection | None:
    try:
        check_attestation(attestation, ANCHORS, expected, OUTPUT, PROFILE, HW, PARAMS)
    except RejectedError as refused:
        return refused.rejection
    return None


def resign(attestation: Attestation, **changes: object) -> Attestation:
    changed = replace(attestation, **changes)  # type: ignore[arg-type]
    return replace(changed, signature=ENCLAVE.sign(changed.signed_bytes()))


@given(honest_jobs(), st.sampled_from(SIGNED_FIELDS), st.data())
def test_the_chain_accepts_exactly_what_the_enclave_signed(
    job: tuple[ExpectedJob, Attestation], field: str, data: st.DataObject
) -> None:
    expected, attestation = job
    assert level1_code(expected, attestation) is None
    original = getattr(attestation, field)
    if field == "metrics":
        new = replace(original, flops=original.flops + data.draw(st.integers(1, 10)))
    elif isinstance(original, int):
        new = original + data.draw(st.integers(1, 10**6))
    else:
        new = data.draw(st.binary(min_size=len(original), max_size=len(original)))
        assume(new != original)
    tampered = replace(attestation, **{field: new})
    assert not verify_signature(ENCLAVE.key.public, tampered.signed_bytes(), tampered.signature)
    assert level1_code(expected, tampered) is Rejection.ATTESTATION_BAD_SIGNATURE


LIES = {
    "job_id": Rejection.ATTESTATION_WRONG_JOB,
    "h_input": Rejection.ATTESTATION_WRONG_INPUT,
    "h_model": Rejection.ATTESTATION_WRONG_MODEL,
    "h_output": Rejection.ATTESTATION_WRONG_OUTPUT,
}


@given(honest_jobs(), st.sampled_from(sorted(LIES)), hashes)
def test_a_signed_lie_about_a_hash_or_the_job_has_its_code(
    job: tuple[ExpectedJob, Attestation], field: str, value: bytes
) -> None:
    expected, attestation = job
    assume(value != getattr(attestation, field))
    assert level1_code(expected, resign(attestation, **{field: value})) is LIES[field]


@given(honest_jobs(), st.data())
def test_signed_implausible_timing_or_metrics_are_refused(
    job: tuple[ExpectedJob, Attestation], data: st.DataObject
) -> None:
    expected, attestation = job
    metrics = attestation.metrics
    stale = resign(
        attestation, t_start_ms=data.draw(st.integers(-(10**6), expected.not_before_ms - 1))
    )
    assert level1_code(expected, stale) is Rejection.ATTESTATION_STALE
    too_fast = resign(
        attestation, duration_ms=data.draw(st.integers(-5, min_duration_ms(metrics.flops, HW) - 1))
    )
    assert level1_code(expected, too_fast) is Rejection.METRICS_INCONSISTENT
    tolerance = PROFILE.flops_per_input * PARAMS.metrics_flops_tolerance_bps // BPS
    off = data.draw(
        st.one_of(
            st.integers(0, PROFILE.flops_per_input - tolerance - 1),
            st.integers(PROFILE.flops_per_input + tolerance + 1, 10**9),
        )
    )
    padded = min_duration_ms(off, HW)  # keep the duration plausible so FLOPs alone decide
    flops_lie = resign(attestation, metrics=replace(metrics, flops=off), duration_ms=padded)
    assert level1_code(expected, flops_lie) is Rejection.METRICS_INCONSISTENT
    small = resign(
        attestation,
        metrics=replace(metrics, memory_bytes=data.draw(st.integers(0, PROFILE.weight_bytes - 1))),
    )
    assert level1_code(expected, small) is Rejection.METRICS_INCONSISTENT


@settings(max_examples=20)
@given(
    st.sampled_from([Fraction(3, 1000), Fraction(1, 20), Fraction(1, 4), Fraction(9, 10)]),
    st.binary(min_size=32, max_size=32),
)
def test_sampling_frequency_is_within_a_binomial_bound(rate: Fraction, beacon: bytes) -> None:
    trials = 3_000
    picked = sum(
        selected_for_reexecution(replace(PARAMS, sampling_rate=rate), beacon, b"job-%d" % i)
        for i in range(trials)
    )
    mean = trials * rate
    spread = math.sqrt(trials * rate * (1 - rate))
    assert abs(picked - mean) <= 6 * spread + 1  # a 6σ band: a failure means a biased draw


scores = st.integers(0, BPS)


@given(
    scores,
    st.lists(scores, max_size=40),
    st.sampled_from([Fraction(1, 10), Fraction(1), Fraction(1, 3), Fraction(1, 10_000)]),
)
def test_quality_stays_in_range_and_moves_toward_each_result(
    start: int, results: list[int], rate: Fraction
) -> None:
    params = replace(PARAMS, quality_ema_rate=rate)
    q = start
    for result in results:
        new = update_quality(params, q, result)
        assert 0 <= new <= BPS
        assert min(q, result) <= new <= max(q, result)
        assert (new == q) == (q == result)  # it always moves, unless already there
        exact = rate * result + (1 - rate) * q
        assert abs(new - exact) < 1
        q = new


names = st.text(alphabet="abcdefgh", min_size=1, max_size=4)


@given(st.dictionaries(names, st.integers(1, 10**6), min_size=1, max_size=12), st.data())
def test_an_honest_stake_majority_decides(stakes: dict[str, int], data: st.DataObject) -> None:
    keys = {name: KeyPair.from_label(f"v/{name}") for name in stakes}
    public = {name: key.public for name, key in keys.items()}
    order = data.draw(st.permutations(sorted(stakes)))
    honest = [name for name in order if data.draw(st.booleans())]
    silent = {name for name in order if name not in honest and data.draw(st.booleans())}
    byzantine = [name for name in order if name not in honest and name not in silent]
    job = b"job"
    votes = [sign_vote(keys[n], job, n, True, None) for n in honest]
    votes += [sign_vote(keys[n], job, n, False, Rejection.OUTPUT_MISMATCH) for n in byzantine]
    votes = data.draw(st.permutations(votes))
    verdict = aggregate_votes(job, votes, stakes, public, PARAMS.verification_quorum_bps)
    total = sum(stakes.values())
    honest_stake = sum(stakes[n] for n in honest)
    if honest_stake * BPS >= PARAMS.verification_quorum_bps * total:
        assert verdict.outcome is Outcome.ACCEPTED
    if verdict.outcome is Outcome.REJECTED:
        assert sum(stakes[n] for n in byzantine) * BPS >= PARAMS.verification_quorum_bps * total
    assert verdict.accept_stake == honest_stake
    assert verdict.voters == tuple(sorted([*honest, *byzantine]))


@given(
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=1, max_size=16),
    st.dictionaries(names, st.integers(0, 1000), max_size=15),
    st.integers(0, 8),
    st.sets(names, max_size=4),
)
def test_committees_are_deterministic_sized_and_exclusive(
    beacon: bytes, job_id: bytes, verifiers: dict[str, int], size: int, exclude: set[str]
) -> None:
    drawn = committee(beacon, job_id, verifiers, size, exclude)
    eligible = {name for name, stake in verifiers.items() if stake > 0 and name not in exclude}
    assert len(drawn) == min(size, len(eligible))
    assert set(drawn) <= eligible and len(set(drawn)) == len(drawn)
    assert drawn == committee(
        beacon, job_id, dict(sorted(verifiers.items())), size, sorted(exclude)
    )


@given(
    st.lists(st.floats(0, 1e6, width=32), min_size=1, max_size=20),
    st.integers(0, (1 << 256) - 1),
    st.integers(0, (1 << 256) - 1),
)
def test_pinned_choice_is_monotone_and_never_picks_an_empty_token(
    weights: list[float], u: int, v: int
) -> None:
    probs = np.array(weights, dtype=np.float32)
    assume(sum(float32_units(probs)) > 0)
    low, high = sorted((u, v))
    first, second = pinned_choice(probs, low), pinned_choice(probs, high)
    assert first <= second
    assert probs[first] > 0 and probs[second] > 0
