"""Algorithm 2 Levels 1–3 by example: every Level-1 code, Level 2 selection, Level 3."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from fractions import Fraction

import pytest

from aci_ref.crypto import KeyPair, sha256
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params
from aci_ref.poai.attestation import (
    Attestation,
    Metrics,
    attestation_digest,
    honest_metrics,
    sign_attestation,
)
from aci_ref.poai.matching import OutputKind
from aci_ref.poai.profiles import HARDWARE_CLASSES, HardwareClass, ModelProfile
from aci_ref.poai.quality import INITIAL_QUALITY_BPS, below_threshold, update_quality
from aci_ref.poai.tee import (
    WORKER_PROGRAM,
    Enclave,
    TrustAnchors,
    certify_enclave,
    launch_enclave,
    measurement_of,
    provision_enclave,
)
from aci_ref.poai.verification import (
    LEVEL1_REJECTIONS,
    ExpectedJob,
    check_attestation,
    min_duration_ms,
    reexecution_check,
    selected_for_reexecution,
    verify_job,
)

PARAMS = default_params()
PROFILE = ModelProfile(flops_per_input=20_480, weight_bytes=41_536)
HW = HARDWARE_CLASSES["cpu-small"]
VENDOR = KeyPair.from_label("vendor/root")
OUTPUT = b"\x00\x01" * 32
INPUT = b"some job input"
H_MODEL = sha256(b"model weights")


@dataclass(frozen=True)
class World:
    anchors: TrustAnchors
    enclave: Enclave
    expected: ExpectedJob
    attestation: Attestation


def make_world(label: str = "w1", job_id: bytes = b"job-1") -> World:
    platform = KeyPair.from_label(f"platform/{label}")
    enclave = provision_enclave(VENDOR, platform, KeyPair.from_label(f"enclave/{label}"))
    anchors = TrustAnchors.of([VENDOR.public], [measurement_of(WORKER_PROGRAM)])
    expected = ExpectedJob(job_id, sha256(INPUT), H_MODEL, not_before_ms=1_000)
    return World(anchors, enclave, expected, attest(enclave, expected))


def attest(enclave: Enclave, expected: ExpectedJob, **overrides: object) -> Attestation:
    fields: dict[str, object] = {
        "job_id": expected.job_id,
        "h_input": expected.h_input,
        "h_output": sha256(OUTPUT),
        "h_model": expected.h_model,
        "t_start_ms": expected.not_before_ms + 5,
        "duration_ms": min_duration_ms(PROFILE.flops_per_input, HW),
        "metrics": honest_metrics(PROFILE),
    }
    fields.update(overrides)
    return sign_attestation(enclave, **fields)  # type: ignore[arg-type]


def level1(world: World, attestation: Attestation, output: bytes = OUTPUT) -> None:
    check_attestation(attestation, world.anchors, world.expected, output, PROFILE, HW, PARAMS)


def code_of(world: World, attestation: Attestation, output: bytes = OUTPUT) -> Rejection:
    with pytest.raises(RejectedError) as refused:
        level1(world, attestation, output)
    return refused.value.rejection


# ---- Level 1 -----------------------------------------------------------------------------------


def test_honest_attestation_passes_level1() -> None:
    world = make_world()
    level1(world, world.attestation)


def test_unsigned_change_is_a_bad_signature() -> None:
    world = make_world()
    forged = replace(world.attestation, h_output=sha256(b"other"))
    assert code_of(world, forged, b"other") is Rejection.ATTESTATION_BAD_SIGNATURE


def test_signature_by_another_enclave_is_a_bad_signature() -> None:
    world, other = make_world("a"), make_world("b")
    swapped = replace(world.attestation, signature=other.attestation.signature)
    assert code_of(world, swapped) is Rejection.ATTESTATION_BAD_SIGNATURE


def test_untrusted_vendor_is_a_bad_chain() -> None:
    world = make_world()
    rogue = provision_enclave(
        KeyPair.from_label("rogue vendor"), KeyPair.from_label("p"), KeyPair.from_label("e")
    )
    assert code_of(world, attest(rogue, world.expected)) is Rejection.ATTESTATION_BAD_CERT_CHAIN


def test_enclave_cert_from_an_uncertified_platform_is_a_bad_chain() -> None:
    world = make_world()
    intruder = KeyPair.from_label("uncertified platform")
    cert = certify_enclave(
        intruder, world.enclave.key.public, measurement_of(WORKER_PROGRAM)
    )  # issuer is not the certified platform key
    enclave = replace(world.enclave, enclave_cert=cert)
    assert code_of(world, attest(enclave, world.expected)) is Rejection.ATTESTATION_BAD_CERT_CHAIN


def test_tampered_certificates_are_a_bad_chain() -> None:
    world = make_world()
    att = world.attestation
    other_measure = replace(att.enclave_cert, measurement=sha256(b"evil program"))
    assert code_of(world, replace(att, enclave_cert=other_measure)) is (
        Rejection.ATTESTATION_BAD_CERT_CHAIN
    )
    other_platform = replace(att.platform_cert, subject=KeyPair.from_label("x").public)
    assert code_of(world, replace(att, platform_cert=other_platform)) is (
        Rejection.ATTESTATION_BAD_CERT_CHAIN
    )
    swapped = replace(att, platform_cert=att.enclave_cert, enclave_cert=att.platform_cert)
    assert code_of(world, swapped) is Rejection.ATTESTATION_BAD_CERT_CHAIN


def test_unknown_program_is_an_unknown_measurement() -> None:
    world = make_world()
    platform = KeyPair.from_label("platform/w1")
    enclave = launch_enclave(
        world.enclave.platform_cert, platform, KeyPair.from_label("e2"), "some other program"
    )
    assert code_of(world, attest(enclave, world.expected)) is (
        Rejection.ATTESTATION_UNKNOWN_MEASUREMENT
    )


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"job_id": b"job-2"}, Rejection.ATTESTATION_WRONG_JOB),
        ({"h_input": sha256(b"other input")}, Rejection.ATTESTATION_WRONG_INPUT),
        ({"h_model": sha256(b"other model")}, Rejection.ATTESTATION_WRONG_MODEL),
        ({"h_output": sha256(b"other output")}, Rejection.ATTESTATION_WRONG_OUTPUT),
        ({"t_start_ms": 999}, Rejection.ATTESTATION_STALE),
        ({"duration_ms": 0}, Rejection.METRICS_INCONSISTENT),
        ({"duration_ms": -1}, Rejection.METRICS_INCONSISTENT),
        ({"metrics": Metrics(20_480 * 2, 41_536, 9_000)}, Rejection.METRICS_INCONSISTENT),
        ({"metrics": Metrics(20_480 * 94 // 100, 41_536, 9_000)}, Rejection.METRICS_INCONSISTENT),
        ({"metrics": Metrics(20_480, 41_535, 9_000)}, Rejection.METRICS_INCONSISTENT),
        ({"metrics": Metrics(20_480, (4 << 30) + 1, 9_000)}, Rejection.METRICS_INCONSISTENT),
        ({"metrics": Metrics(20_480, 41_536, 10_001)}, Rejection.METRICS_INCONSISTENT),
        ({"metrics": Metrics(-1, 41_536, 9_000)}, Rejection.METRICS_INCONSISTENT),
    ],
)
def test_each_signed_lie_has_its_code(override: dict[str, object], code: Rejection) -> None:
    world = make_world()
    assert code in LEVEL1_REJECTIONS
    assert code_of(world, attest(world.enclave, world.expected, **override)) is code


def test_metrics_tolerance_edges() -> None:
    world = make_world()
    edge = 20_480 * 5 // 100  # 500 bps of 20480 is 1024 FLOPs exactly
    for flops in (20_480 - edge, 20_480 + edge):
        level1(world, attest(world.enclave, world.expected, metrics=Metrics(flops, 41_536, 0)))
    over = attest(world.enclave, world.expected, metrics=Metrics(20_480 + edge + 1, 41_536, 0))
    assert code_of(world, over) is Rejection.METRICS_INCONSISTENT


def test_duration_bound_is_a_ceiling_on_the_declared_peak() -> None:
    slow = HardwareClass("slow", peak_flops_per_ms=10_000, memory_bytes=1 << 30)
    assert min_duration_ms(20_480, slow) == 3
    assert min_duration_ms(20_000, slow) == 2
    assert min_duration_ms(0, slow) == 0
    world = make_world()
    att = attest(world.enclave, world.expected, duration_ms=2)
    with pytest.raises(RejectedError) as refused:
        check_attestation(att, world.anchors, world.expected, OUTPUT, PROFILE, slow, PARAMS)
    assert refused.value.rejection is Rejection.METRICS_INCONSISTENT


def test_wrong_output_bytes_for_an_honest_attestation() -> None:
    world = make_world()
    assert code_of(world, world.attestation, OUTPUT + b"!") is Rejection.ATTESTATION_WRONG_OUTPUT


def test_replayed_attestation_is_refused_on_another_job_and_has_one_digest() -> None:
    world = make_world(job_id=b"job-1")
    other_job = make_world(job_id=b"job-2")
    assert code_of(other_job, world.attestation) is Rejection.ATTESTATION_WRONG_JOB
    # re-wrapped or re-signed, the statement keeps its digest (the chain refuses a second one)
    rewrapped = replace(world.attestation, signature=b"\x00" * 64)
    assert attestation_digest(rewrapped) == attestation_digest(world.attestation)
    assert attestation_digest(other_job.attestation) != attestation_digest(world.attestation)


def test_refusal_leaves_the_inputs_unchanged() -> None:
    world = make_world()
    bad = attest(world.enclave, world.expected, t_start_ms=0)
    before = (dataclasses.astuple(bad), world.expected, world.anchors)
    code_of(world, bad)
    assert (dataclasses.astuple(bad), world.expected, world.anchors) == before


# ---- Level 2 -----------------------------------------------------------------------------------


def test_sampling_is_reproducible_and_follows_the_rate() -> None:
    beacon = sha256(b"block 7")
    assert not selected_for_reexecution(
        replace(PARAMS, sampling_rate=Fraction(1, 10**9)), beacon, b"j"
    )
    assert selected_for_reexecution(replace(PARAMS, sampling_rate=Fraction(1)), beacon, b"j")
    picks = [selected_for_reexecution(PARAMS, beacon, b"job-%d" % i) for i in range(2000)]
    assert picks == [selected_for_reexecution(PARAMS, beacon, b"job-%d" % i) for i in range(2000)]
    assert 0 < sum(picks) < 20  # 0.003 · 2000 = 6 expected


def test_reexecution_check_runs_only_when_selected() -> None:
    calls: list[bytes] = []

    def rerun(claimed: bytes) -> bytes:
        calls.append(claimed)
        return OUTPUT

    never = replace(PARAMS, sampling_rate=Fraction(1, 10**12))
    assert reexecution_check(never, b"b", b"j", OutputKind.EXACT, OUTPUT, rerun) is None
    assert calls == []
    always = replace(PARAMS, sampling_rate=Fraction(1))
    result = reexecution_check(always, b"b", b"j", OutputKind.EXACT, OUTPUT + b"x", rerun)
    assert result is not None and not result.match and result.rule == "hash"
    assert calls == [OUTPUT + b"x"]


# ---- verify_job: the three levels in order -------------------------------------------------------


def test_verify_job_levels() -> None:
    world = make_world()
    always = replace(PARAMS, sampling_rate=Fraction(1))
    never = replace(PARAMS, sampling_rate=Fraction(1, 10**12))
    honest = verify_job(
        always, world.anchors, world.expected, world.attestation, OUTPUT, PROFILE, HW,
        OutputKind.EXACT, b"beacon", lambda claimed: OUTPUT,
    )  # fmt: skip
    assert (honest.accept, honest.reason, honest.reexecuted, honest.level) == (True, None, True, 0)
    assert honest.result_bps == 10_000

    lie = b"not computed"
    lazy_att = attest(world.enclave, world.expected, h_output=sha256(lie))
    caught = verify_job(
        always, world.anchors, world.expected, lazy_att, lie, PROFILE, HW,
        OutputKind.EXACT, b"beacon", lambda claimed: OUTPUT,
    )  # fmt: skip
    assert (caught.accept, caught.reason, caught.level) == (False, Rejection.OUTPUT_MISMATCH, 2)
    assert caught.result_bps == 0
    missed = verify_job(
        never, world.anchors, world.expected, lazy_att, lie, PROFILE, HW,
        OutputKind.EXACT, b"beacon", lambda claimed: OUTPUT,
    )  # fmt: skip
    assert missed.accept and not missed.reexecuted

    stale = attest(world.enclave, world.expected, t_start_ms=0)
    refused = verify_job(
        always, world.anchors, world.expected, stale, OUTPUT, PROFILE, HW,
        OutputKind.EXACT, b"beacon", lambda claimed: pytest.fail("no re-execution at Level 1"),
    )  # fmt: skip
    assert (refused.reason, refused.level, refused.reexecuted) == (
        Rejection.ATTESTATION_STALE,
        1,
        False,
    )


# ---- Level 3 -----------------------------------------------------------------------------------


def test_quality_update_rounds_toward_the_result() -> None:
    assert INITIAL_QUALITY_BPS == 10_000
    assert update_quality(PARAMS, 10_000, 0) == 9_000
    assert update_quality(PARAMS, 9_000, 0) == 8_100
    assert update_quality(PARAMS, 5, 0) == 4  # 0.5 bps step rounds to a whole 1 bps
    assert update_quality(PARAMS, 9_995, 10_000) == 9_996
    assert update_quality(PARAMS, 9_999, 10_000) == 10_000
    assert update_quality(PARAMS, 7_000, 7_000) == 7_000
    q = 10_000
    for _ in range(200):
        q = update_quality(PARAMS, q, 0)
    assert q == 0  # a worker that always fails ends at exactly zero


def test_quality_refuses_out_of_range_scores() -> None:
    for q, result in ((-1, 0), (10_001, 0), (0, 10_001), (0, -5)):
        with pytest.raises(RejectedError) as refused:
            update_quality(PARAMS, q, result)
        assert refused.value.rejection is Rejection.BAD_INPUT


def test_threshold_is_strictly_below() -> None:
    assert PARAMS.quality_threshold == Fraction(1, 2)
    assert below_threshold(PARAMS, 4_999)
    assert not below_threshold(PARAMS, 5_000)
    assert not below_threshold(replace(PARAMS, quality_threshold=Fraction(0)), 0)


def test_the_quality_rule_catches_a_planted_overshoot() -> None:
    from aci_ref.poai import quality

    assert quality._moves_toward(9_000, 0, 8_100)
    assert not quality._moves_toward(9_000, 0, -1)  # overshoot past the result
    assert not quality._moves_toward(9_000, 10_000, 8_999)  # moved away from it
