"""Algorithm 2, PoAI statistical verification, one named function per level.

- Level 1 `check_attestation`: the simulated TEE chain, the enclave signature, the hash chain, the
  job binding, freshness and metrics consistency. Every job goes through it.
- Level 2 `reexecution_check`: a beacon draw selects the job with probability `sampling_rate`; a
  selected job is re-executed and compared by the rules of §3.4 (`aci_ref.poai.matching`).
- Level 3 `aci_ref.poai.quality:update_quality`: the worker's quality score moves toward the job's
  result (`Verification.result_bps`), once the chain has decided the job.

`verify_job` runs the levels in order for one verifier and says how it would vote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aci_ref.crypto import draw_below, sha256, verify_signature
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import BPS, Params
from aci_ref.poai.attestation import Attestation, Metrics
from aci_ref.poai.matching import MatchResult, OutputKind, compare_outputs
from aci_ref.poai.profiles import HardwareClass, ModelProfile
from aci_ref.poai.tee import TrustAnchors, verify_chain

LEVEL1_REJECTIONS: Final = frozenset(
    {
        Rejection.ATTESTATION_BAD_SIGNATURE,
        Rejection.ATTESTATION_BAD_CERT_CHAIN,
        Rejection.ATTESTATION_UNKNOWN_MEASUREMENT,
        Rejection.ATTESTATION_WRONG_INPUT,
        Rejection.ATTESTATION_WRONG_OUTPUT,
        Rejection.ATTESTATION_WRONG_MODEL,
        Rejection.ATTESTATION_WRONG_JOB,
        Rejection.ATTESTATION_STALE,
        Rejection.METRICS_INCONSISTENT,
    }
)
"""Algorithm 2 Level 1 (codes): every refusal `check_attestation` can raise."""


@dataclass(frozen=True, slots=True)
class ExpectedJob:
    """Algorithm 2 line 3 (what the chain knows): the job an attestation must be about.

    `not_before_ms` is the earliest time a run may have started (the moment the job was escrowed):
    an attestation of an earlier run was not made for this job. `not_after_ms` is the latest
    time it may have ended (the job's deadline) and `enclave_key` the enclave the job was
    assigned to; None where the checker does not know them.
    """

    job_id: bytes
    h_input: bytes
    h_model: bytes
    not_before_ms: int
    not_after_ms: int | None = None
    enclave_key: bytes | None = None


# ---- Level 1 -----------------------------------------------------------------------------------


def min_duration_ms(flops: int, hardware: HardwareClass) -> int:
    """Algorithm 2 line 4 (duration bound): ceil(flops / declared peak FLOPs per ms)."""
    return -(-flops // hardware.peak_flops_per_ms)


def check_metrics(
    metrics: Metrics,
    duration_ms: int,
    profile: ModelProfile,
    hardware: HardwareClass,
    params: Params,
) -> None:
    """Algorithm 2 line 4: metrics consistency — FLOPs vs. model size vs. duration (errata E51).

    With K the model's known FLOPs per input and F the claimed FLOPs, refuses with
    `metrics_inconsistent` unless all hold: F, memory and duration are non-negative and the
    utilisation lies in [0, 10000] bps; |F − K| · 10000 ≤ metrics_flops_tolerance_bps · K; the
    duration is at least ceil(F / peak) ms of the declared hardware class; the claimed memory is at
    least the model's weight bytes and at most the hardware's memory.
    """
    bad = Rejection.METRICS_INCONSISTENT
    if min(metrics.flops, metrics.memory_bytes, duration_ms) < 0:
        raise RejectedError(bad, "negative metric")
    if not 0 <= metrics.gpu_util_bps <= BPS:
        raise RejectedError(bad, f"utilisation {metrics.gpu_util_bps} bps")
    known = profile.flops_per_input
    if abs(metrics.flops - known) * BPS > params.metrics_flops_tolerance_bps * known:
        raise RejectedError(bad, f"claimed {metrics.flops} FLOPs, model needs {known}")
    shortest = min_duration_ms(metrics.flops, hardware)
    if duration_ms < shortest:
        raise RejectedError(bad, f"{duration_ms} ms is below {shortest} ms on {hardware.name}")
    if metrics.memory_bytes < profile.weight_bytes:
        raise RejectedError(
            bad, f"memory {metrics.memory_bytes} below weights {profile.weight_bytes}"
        )
    if metrics.memory_bytes > hardware.memory_bytes:
        raise RejectedError(bad, f"memory {metrics.memory_bytes} above {hardware.name}'s")


def check_attestation(
    attestation: Attestation,
    anchors: TrustAnchors,
    expected: ExpectedJob,
    output: bytes,
    profile: ModelProfile,
    hardware: HardwareClass,
    params: Params,
) -> None:
    """Algorithm 2 Level 1, §3.3: attestation validation; returns None or raises `RejectedError`.

    In this order, each failure with its code:
    1. TEE chain (line 2): `verify_chain` → `attestation_bad_cert_chain` /
       `attestation_unknown_measurement`; the certified enclave is the job's assigned one, when
       known → `attestation_bad_cert_chain`;
    2. signature (line 2): the certified enclave key signed `signed_bytes()` →
       `attestation_bad_signature`;
    3. job binding: job id equals the expected job's → `attestation_wrong_job`;
    4. hash chain (line 3): h_input, h_model equal the job's → `attestation_wrong_input`,
       `attestation_wrong_model`; h_output = SHA-256(output) → `attestation_wrong_output`;
    5. freshness: t_start_ms ≥ not_before_ms and, when the deadline is known, t_start_ms +
       duration_ms ≤ not_after_ms → `attestation_stale`;
    6. metrics (line 4): `check_metrics` → `metrics_inconsistent`.
    Replays of one attestation for one job are the chain's to refuse (`attestation_digest`).
    """
    enclave_key = verify_chain(attestation.platform_cert, attestation.enclave_cert, anchors)
    if expected.enclave_key is not None and enclave_key != expected.enclave_key:
        raise RejectedError(Rejection.ATTESTATION_BAD_CERT_CHAIN, "not the assigned enclave")
    if not verify_signature(enclave_key, attestation.signed_bytes(), attestation.signature):
        raise RejectedError(Rejection.ATTESTATION_BAD_SIGNATURE, "enclave signature fails")
    if attestation.job_id != expected.job_id:
        raise RejectedError(Rejection.ATTESTATION_WRONG_JOB, attestation.job_id.hex()[:16])
    if attestation.h_input != expected.h_input:
        raise RejectedError(Rejection.ATTESTATION_WRONG_INPUT, attestation.h_input.hex()[:16])
    if attestation.h_model != expected.h_model:
        raise RejectedError(Rejection.ATTESTATION_WRONG_MODEL, attestation.h_model.hex()[:16])
    if attestation.h_output != sha256(output):
        raise RejectedError(Rejection.ATTESTATION_WRONG_OUTPUT, attestation.h_output.hex()[:16])
    if attestation.t_start_ms < expected.not_before_ms:
        raise RejectedError(
            Rejection.ATTESTATION_STALE,
            f"run started {attestation.t_start_ms} < {expected.not_before_ms}",
        )
    ended = attestation.t_start_ms + attestation.duration_ms
    if expected.not_after_ms is not None and ended > expected.not_after_ms:
        raise RejectedError(
            Rejection.ATTESTATION_STALE, f"run ended {ended} > deadline {expected.not_after_ms}"
        )
    check_metrics(attestation.metrics, attestation.duration_ms, profile, hardware, params)


# ---- Level 2 -----------------------------------------------------------------------------------


def selected_for_reexecution(params: Params, beacon: bytes, job_id: bytes) -> bool:
    """Algorithm 2 lines 6–7, §3.3: u = SHA-256(beacon ‖ job id) / 2^256 < sampling_rate.

    The beacon must be fixed only after the worker committed to its output (errata E2), so the
    worker cannot know whether it will be checked; anyone can recompute the draw.
    """
    return draw_below(beacon, job_id, params.sampling_rate)


def reexecution_check(
    params: Params,
    beacon: bytes,
    job_id: bytes,
    kind: OutputKind,
    output: bytes,
    reexecute: Callable[[bytes], bytes],
) -> MatchResult | None:
    """Algorithm 2 Level 2, §3.3: statistical sampling; None when the job is not selected.

    A selected job is re-executed — `reexecute(claimed output)` returns the verifier's reference
    output (for sampled workloads it replays the claimed tokens, §3.4 item 2) — and compared by
    `compare_outputs`. A mismatch is what line 11 sends to dispute resolution.
    """
    if not selected_for_reexecution(params, beacon, job_id):
        return None
    return compare_outputs(kind, output, reexecute(output), params)


# ---- the three levels in order -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    """Algorithm 2 line 17: one verifier's verification result for one job.

    `reason` is the Level-1 code, or `output_mismatch` for a failed re-execution, or None when
    accepted. `match` is the Level-2 comparison (None if not selected or refused at Level 1).
    `result_bps` is what Level 3 feeds into the quality score: 10000 accepted, 0 otherwise.
    """

    job_id: bytes
    accept: bool
    reason: Rejection | None
    reexecuted: bool
    match: MatchResult | None
    result_bps: int

    @property
    def level(self) -> int:
        """The level that refused the job (1 or 2), or 0 if it was accepted."""
        if self.reason is None:
            return 0
        return 1 if self.reason in LEVEL1_REJECTIONS else 2


def verify_job(
    params: Params,
    anchors: TrustAnchors,
    expected: ExpectedJob,
    attestation: Attestation,
    output: bytes,
    profile: ModelProfile,
    hardware: HardwareClass,
    kind: OutputKind,
    beacon: bytes,
    reexecute: Callable[[bytes], bytes],
) -> Verification:
    """Algorithm 2, §3.3: PoAI statistical verification of one job, Levels 1–3 in order.

    Level 1 refusals end the check (reason = the code, no re-execution). Otherwise Level 2 draws
    from `beacon`; a selected job is re-executed and a mismatch gives `output_mismatch`. The
    returned `result_bps` is Level 3's input: the chain applies `update_quality` once the job's
    verdict is known (a verifier has no business moving the score alone).
    """
    try:
        check_attestation(attestation, anchors, expected, output, profile, hardware, params)
    except RejectedError as refused:
        if refused.rejection not in LEVEL1_REJECTIONS:
            raise
        return Verification(expected.job_id, False, refused.rejection, False, None, 0)
    match = reexecution_check(params, beacon, expected.job_id, kind, output, reexecute)
    if match is not None and not match.match:
        return Verification(expected.job_id, False, Rejection.OUTPUT_MISMATCH, True, match, 0)
    return Verification(expected.job_id, True, None, match is not None, match, BPS)
