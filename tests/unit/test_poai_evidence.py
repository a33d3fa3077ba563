"""Table 2's evidence by example: Sybil detection, evidence checks, stable digests."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from aci_ref.crypto import KeyPair, sha256
from aci_ref.errors import Rejection
from aci_ref.params import default_params
from aci_ref.poai.attestation import Attestation, honest_metrics, sign_attestation
from aci_ref.poai.evidence import (
    Evidence,
    InvalidAttestationEvidence,
    SybilEvidence,
    WrongOutputEvidence,
    check_evidence,
    detect_sybil,
    sybil_evidence,
)
from aci_ref.poai.matching import OutputKind, compare_outputs, encode_numeric
from aci_ref.poai.profiles import HARDWARE_CLASSES, ModelProfile
from aci_ref.poai.tee import (
    WORKER_PROGRAM,
    TrustAnchors,
    launch_enclave,
    measurement_of,
    provision_enclave,
    register_worker,
)
from aci_ref.poai.verification import ExpectedJob, min_duration_ms

PARAMS = default_params()
PROFILE = ModelProfile(flops_per_input=20_480, weight_bytes=41_536)
HW = HARDWARE_CLASSES["cpu-small"]
VENDOR = KeyPair.from_label("vendor/root")
ANCHORS = TrustAnchors.of([VENDOR.public], [measurement_of(WORKER_PROGRAM)])
PLATFORM = KeyPair.from_label("platform/p1")
ENCLAVE = provision_enclave(VENDOR, PLATFORM, KeyPair.from_label("enclave/p1"))
JOB_INPUT = b"input bytes"
EXPECTED = ExpectedJob(b"job-9", sha256(JOB_INPUT), sha256(b"model"), 100)
CLAIMED = encode_numeric(np.array([1.0, 2.0, 3.0], dtype="<f4"))
REFERENCE = encode_numeric(np.array([1.0, 2.0, 3.5], dtype="<f4"))


def attest(output: bytes, **overrides: object) -> Attestation:
    fields: dict[str, object] = {
        "job_id": EXPECTED.job_id,
        "h_input": EXPECTED.h_input,
        "h_output": sha256(output),
        "h_model": EXPECTED.h_model,
        "t_start_ms": 200,
        "duration_ms": min_duration_ms(PROFILE.flops_per_input, HW),
        "metrics": honest_metrics(PROFILE),
    }
    fields.update(overrides)
    return sign_attestation(ENCLAVE, **fields)  # type: ignore[arg-type]


def wrong_output() -> WrongOutputEvidence:
    result = compare_outputs(OutputKind.NUMERIC, CLAIMED, REFERENCE, PARAMS)
    return WrongOutputEvidence(
        attest(CLAIMED),
        JOB_INPUT,
        CLAIMED,
        REFERENCE,
        OutputKind.NUMERIC,
        result,
    )


def invalid_attestation() -> InvalidAttestationEvidence:
    stale = attest(CLAIMED, t_start_ms=50)
    return InvalidAttestationEvidence(stale, EXPECTED, CLAIMED, Rejection.ATTESTATION_STALE)


def sybils() -> SybilEvidence:
    second = launch_enclave(
        ENCLAVE.platform_cert, PLATFORM, KeyPair.from_label("e2"), WORKER_PROGRAM
    )
    registrations = {
        "alice": register_worker(ENCLAVE, "alice"),
        "bob": register_worker(second, "bob"),
    }
    (found,) = sybil_evidence(registrations, ANCHORS)
    return found


def test_detect_sybil_groups_identities_by_platform() -> None:
    assert detect_sybil({"a": b"P", "b": b"Q", "c": b"P", "d": b"R", "e": b"Q", "f": b"P"}) == [
        ("a", "c", "f"),
        ("b", "e"),
    ]
    assert detect_sybil({"a": b"P", "b": b"Q"}) == []
    assert detect_sybil({}) == []


def test_sybil_evidence_needs_proof_of_possession() -> None:
    found = sybils()
    assert found.workers == ("alice", "bob")
    assert found.platform_key == PLATFORM.public
    assert check_evidence(found, anchors=ANCHORS, params=PARAMS)
    # someone presenting alice's public certificates under a new name cannot sign for it
    framed = replace(register_worker(ENCLAVE, "mallory"), worker="carol")
    assert (
        sybil_evidence({"alice": register_worker(ENCLAVE, "alice"), "carol": framed}, ANCHORS) == []
    )
    forged = SybilEvidence(PLATFORM.public, (register_worker(ENCLAVE, "alice"), framed))
    assert not check_evidence(forged, anchors=ANCHORS, params=PARAMS)
    single = SybilEvidence(PLATFORM.public, found.registrations[:1])
    assert not check_evidence(single, anchors=ANCHORS, params=PARAMS)
    unsorted = SybilEvidence(PLATFORM.public, found.registrations[::-1])
    assert not check_evidence(unsorted, anchors=ANCHORS, params=PARAMS)
    elsewhere = SybilEvidence(KeyPair.from_label("p2").public, found.registrations)
    assert not check_evidence(elsewhere, anchors=ANCHORS, params=PARAMS)


def test_wrong_output_evidence_checks() -> None:
    evidence = wrong_output()
    assert not evidence.result.match
    assert check_evidence(evidence, anchors=ANCHORS, params=PARAMS, expected=EXPECTED)
    assert check_evidence(
        evidence,
        anchors=ANCHORS,
        params=PARAMS,
        kind=OutputKind.NUMERIC,
        reexecute=lambda data, seed, claimed: REFERENCE,
    )
    # an honest re-execution by the checker clears the worker
    assert not check_evidence(
        evidence, anchors=ANCHORS, params=PARAMS, reexecute=lambda data, seed, claimed: CLAIMED
    )
    tampered = [
        replace(evidence, reference_output=CLAIMED),  # the outputs match after all
        replace(evidence, result=replace(evidence.result, match=True)),
        replace(evidence, output=REFERENCE),  # not the attested output
        replace(evidence, job_input=b"other"),
        replace(evidence, kind=OutputKind.EXACT),  # recorded result no longer reproduces
        replace(evidence, attestation=replace(evidence.attestation, signature=b"\x01" * 64)),
    ]
    for bad in tampered:
        assert not check_evidence(bad, anchors=ANCHORS, params=PARAMS)
    assert not check_evidence(evidence, anchors=ANCHORS, params=PARAMS, kind=OutputKind.SAMPLED)
    other_job = replace(EXPECTED, job_id=b"job-10")
    assert not check_evidence(evidence, anchors=ANCHORS, params=PARAMS, expected=other_job)


def test_invalid_attestation_evidence_checks() -> None:
    evidence = invalid_attestation()
    context = {"anchors": ANCHORS, "params": PARAMS, "profile": PROFILE, "hardware": HW}
    assert check_evidence(evidence, expected=EXPECTED, **context)  # type: ignore[arg-type]
    assert not check_evidence(evidence, anchors=ANCHORS, params=PARAMS)  # no profile known
    wrong_code = replace(evidence, rejection=Rejection.METRICS_INCONSISTENT)
    assert not check_evidence(wrong_code, **context)  # type: ignore[arg-type]
    not_level1 = replace(evidence, rejection=Rejection.OUTPUT_MISMATCH)
    assert not check_evidence(not_level1, **context)  # type: ignore[arg-type]
    valid = replace(evidence, attestation=attest(CLAIMED))
    assert not check_evidence(valid, **context)  # type: ignore[arg-type]
    moved = replace(EXPECTED, not_before_ms=0)
    assert not check_evidence(evidence, expected=moved, **context)  # type: ignore[arg-type]


def test_evidence_digests_are_stable_and_distinct() -> None:
    evidence: list[Evidence] = [wrong_output(), invalid_attestation(), sybils()]
    digests = [e.digest() for e in evidence]
    again: list[Evidence] = [wrong_output(), invalid_attestation(), sybils()]
    assert digests == [e.digest() for e in again]
    assert len(set(digests)) == 3 and all(len(d) == 32 for d in digests)
    # known answers: any change to the encoding or the domain tags shows up here
    assert [d.hex()[:16] for d in digests] == PINNED_DIGESTS
    first = evidence[0]
    assert isinstance(first, WrongOutputEvidence)
    assert replace(first, reference_output=REFERENCE + b"\x00" * 4).digest() != first.digest()


def test_offence_ids_name_the_offence_not_the_proof() -> None:
    evidence = wrong_output()
    reworded = replace(
        evidence,
        reference_output=encode_numeric(np.array([9.0, 2.0, 3.0], dtype="<f4")),
    )
    assert reworded.digest() != evidence.digest()
    assert reworded.offence_id() == evidence.offence_id()
    assert evidence.offence_id() != invalid_attestation().offence_id()
    found = sybils()
    assert found.offence_id("alice") != found.offence_id("bob")


# E71: ExpectedJob grew its deadline and enclave, so the invalid-attestation digest moved
PINNED_DIGESTS = ["0579df6539bede15", "1c01c3b9f2be8c8f", "5c7300e945340a53"]
