"""§6.1's lazy worker and TEE attacker against Algorithm 2, with the real tiny models.

A lazy worker inside a genuine enclave must attest what it returns (the enclave signs the hash of
the output it is given), so Level 1 passes and Level 2 catches it when sampled. A TEE attacker
with an extracted enclave key signs whatever it likes, including honest-looking metrics: Level 1
passes too, and only Level 2 catches it.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from aci_ref.crypto import KeyPair, sha256
from aci_ref.errors import Rejection
from aci_ref.params import Params, default_params
from aci_ref.poai.attestation import Attestation, Metrics, honest_metrics, sign_attestation
from aci_ref.poai.evidence import WrongOutputEvidence, check_evidence
from aci_ref.poai.profiles import HARDWARE_CLASSES
from aci_ref.poai.tee import (
    WORKER_PROGRAM,
    Enclave,
    TrustAnchors,
    extract_enclave_key,
    measurement_of,
    provision_enclave,
)
from aci_ref.poai.verification import (
    ExpectedJob,
    Verification,
    check_attestation,
    min_duration_ms,
    verify_job,
)
from aci_ref.poai.workloads import (
    LAZY_MODES,
    Workload,
    get_workload,
    lazy_output,
    make_input,
    seed_from_job,
)

PARAMS = default_params()
ALWAYS = replace(PARAMS, sampling_rate=Fraction(1))
NEVER = replace(PARAMS, sampling_rate=Fraction(1, 10**12))
VENDOR = KeyPair.from_label("vendor/root")
ANCHORS = TrustAnchors.of([VENDOR.public], [measurement_of(WORKER_PROGRAM)])
ENCLAVE = provision_enclave(
    VENDOR, KeyPair.from_label("platform/w"), KeyPair.from_label("enclave/w")
)
HW = HARDWARE_CLASSES["cpu-small"]
WORKLOADS = [get_workload("mlp-64-128-16"), get_workload("charlm-d32-l2")]


def job(workload: Workload, index: int) -> tuple[ExpectedJob, bytes, int]:
    data = make_input(workload, index)
    job_id = sha256(b"job/%s/%d" % (workload.model_id.encode(), index))
    return ExpectedJob(job_id, sha256(data), workload.h_model, 1_000), data, seed_from_job(job_id)


def attest(
    signer: Enclave, workload: Workload, expected: ExpectedJob, output: bytes, metrics: Metrics
) -> Attestation:
    return sign_attestation(
        signer,
        job_id=expected.job_id,
        h_input=expected.h_input,
        h_output=sha256(output),
        h_model=expected.h_model,
        t_start_ms=2_000,
        duration_ms=min_duration_ms(metrics.flops, HW),
        metrics=metrics,
    )


def verify(
    workload: Workload, params: Params, expected: ExpectedJob, data: bytes, seed: int,
    output: bytes, signer: Enclave = ENCLAVE,
) -> Verification:  # fmt: skip
    attestation = attest(signer, workload, expected, output, honest_metrics(workload.profile()))
    return verify_job(
        params,
        ANCHORS,
        expected,
        attestation,
        output,
        workload.profile(),
        HW,
        workload.kind,
        sha256(b"beacon after commit"),
        lambda claimed: workload.reference_output(data, seed, claimed, variant="float64"),
    )


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.model_id)
def test_honest_worker_is_never_refused(workload: Workload) -> None:
    for index in range(4):
        expected, data, seed = job(workload, index)
        output = workload.run(data, seed, variant="batched", threads=2 if index == 0 else 1)
        result = verify(workload, ALWAYS, expected, data, seed, output)
        assert (result.accept, result.reexecuted, result.result_bps) == (True, True, 10_000)


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.model_id)
@pytest.mark.parametrize("mode", LAZY_MODES)
def test_lazy_worker_is_caught_at_level2_when_sampled(workload: Workload, mode: str) -> None:
    for index in range(3):
        expected, data, seed = job(workload, index)
        output = lazy_output(workload, data, mode, seed)
        caught = verify(workload, ALWAYS, expected, data, seed, output)
        assert (caught.accept, caught.reason, caught.level) == (
            False,
            Rejection.OUTPUT_MISMATCH,
            2,
        )
        assert caught.match is not None and not caught.match.match
        # the verifier's finding is evidence anyone can re-check, re-executing themselves
        evidence = WrongOutputEvidence(
            attest(ENCLAVE, workload, expected, output, honest_metrics(workload.profile())),
            data,
            output,
            workload.reference_output(data, seed, output, variant="float64"),
            workload.kind,
            caught.match,
        )
        assert check_evidence(
            evidence,
            anchors=ANCHORS,
            params=PARAMS,
            expected=expected,
            kind=workload.kind,
            reexecute=workload.reference_output,
        )
        # unsampled, nothing but Level 2 could have noticed
        assert verify(workload, NEVER, expected, data, seed, output).accept


def test_careless_lazy_worker_is_caught_at_level1_by_its_metrics() -> None:
    workload = WORKLOADS[1]
    expected, data, seed = job(workload, 0)
    output = lazy_output(workload, data, "cheap", seed)
    # it reports the metrics of what it really ran: a far smaller model
    full = workload.profile()
    small = Metrics(full.flops_per_input // 8, full.weight_bytes // 8, 5_000)
    att = attest(ENCLAVE, workload, expected, output, small)
    result = verify_job(
        NEVER, ANCHORS, expected, att, output, workload.profile(), HW,
        workload.kind, b"beacon", lambda claimed: pytest.fail("Level 1 decides"),
    )  # fmt: skip
    assert (result.reason, result.level) == (Rejection.METRICS_INCONSISTENT, 1)


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.model_id)
def test_tee_attacker_passes_level1_and_only_level2_catches_it(workload: Workload) -> None:
    stolen = extract_enclave_key(ENCLAVE)
    forger = Enclave(ENCLAVE.platform_cert, ENCLAVE.enclave_cert, stolen)
    for index in range(3):
        expected, data, seed = job(workload, index)
        forged_output = lazy_output(workload, data, "random", seed)
        # a forged attestation with perfectly consistent metrics for work never done
        forged = attest(
            forger, workload, expected, forged_output, honest_metrics(workload.profile())
        )
        check_attestation(
            forged,
            ANCHORS,
            expected,
            forged_output,
            workload.profile(),
            HW,
            PARAMS,
        )  # Level 1 accepts: the chain, the signature, the hashes and the metrics all hold
        assert verify(workload, NEVER, expected, data, seed, forged_output, forger).accept
        caught = verify(workload, ALWAYS, expected, data, seed, forged_output, forger)
        assert (caught.reason, caught.level) == (Rejection.OUTPUT_MISMATCH, 2)
