"""The PoAI attestation of Definition 2, signed by a (simulated) enclave.

The enclave signs the domain-tagged canonical bytes of
(job id, h_input, h_output, h_model, t_start, duration, metrics). The job id is inside the signed
statement so an attestation made for one job can never be presented for another (errata E50).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aci_ref.crypto import sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.poai.profiles import ModelProfile
from aci_ref.poai.tee import Certificate, Enclave

ATTESTATION_DOMAIN: Final = "aci-ref/poai/attestation"


@dataclass(frozen=True, slots=True)
class Metrics:
    """Definition 2, §3.2 (metrics): FLOPs, memory and utilisation of one run, as integers.

    `flops` counts 2 per multiply-accumulate (see `ModelProfile`); `memory_bytes` is the peak
    memory the run used; `gpu_util_bps` is the accelerator's utilisation in basis points.
    """

    flops: int
    memory_bytes: int
    gpu_util_bps: int


@dataclass(frozen=True, slots=True)
class Attestation:
    """Definition 2, §3.2: σ = (h_input, h_output, h_model, t, metrics, sig_TEE), bound to a job.

    `t` is split into `t_start_ms` (when the run began) and `duration_ms`. `platform_cert` and
    `enclave_cert` are the simulated TEE chain that certifies the signing enclave key;
    `signature` is that key's Ed25519 signature of `signed_bytes()`.
    """

    job_id: bytes
    h_input: bytes
    h_output: bytes
    h_model: bytes
    t_start_ms: int
    duration_ms: int
    metrics: Metrics
    platform_cert: Certificate
    enclave_cert: Certificate
    signature: bytes

    def signed_bytes(self) -> bytes:
        """The statement the enclave signs: every field but the certificates and the signature."""
        return attestation_statement(
            self.job_id,
            self.h_input,
            self.h_output,
            self.h_model,
            self.t_start_ms,
            self.duration_ms,
            self.metrics,
        )


def attestation_statement(
    job_id: bytes,
    h_input: bytes,
    h_output: bytes,
    h_model: bytes,
    t_start_ms: int,
    duration_ms: int,
    metrics: Metrics,
) -> bytes:
    """Definition 2, §3.2 (sig_TEE): the domain-tagged canonical bytes an enclave signs."""
    return canonical_bytes(
        {
            "domain": ATTESTATION_DOMAIN,
            "duration_ms": duration_ms,
            "h_input": h_input,
            "h_model": h_model,
            "h_output": h_output,
            "job_id": job_id,
            "metrics": metrics,
            "t_start_ms": t_start_ms,
        }
    )


def sign_attestation(
    enclave: Enclave,
    *,
    job_id: bytes,
    h_input: bytes,
    h_output: bytes,
    h_model: bytes,
    t_start_ms: int,
    duration_ms: int,
    metrics: Metrics,
) -> Attestation:
    """Definition 2, §3.2: the enclave attests one run (an honest enclave signs what it ran)."""
    statement = attestation_statement(
        job_id, h_input, h_output, h_model, t_start_ms, duration_ms, metrics
    )
    return Attestation(
        job_id,
        h_input,
        h_output,
        h_model,
        t_start_ms,
        duration_ms,
        metrics,
        enclave.platform_cert,
        enclave.enclave_cert,
        enclave.sign(statement),
    )


def attestation_digest(attestation: Attestation) -> bytes:
    """Definition 2, §3.2 (identity): SHA-256 of the signed statement, for replay detection.

    The digest names what was attested, not how it was signed, so the same statement re-signed or
    re-wrapped in other certificates still has the same digest (errata E50).
    """
    return sha256(attestation.signed_bytes())


def honest_metrics(profile: ModelProfile, gpu_util_bps: int = 10_000) -> Metrics:
    """ref: metrics consistency (errata E51) — what an honest run of a profiled model reports."""
    return Metrics(profile.flops_per_input, profile.weight_bytes, gpu_util_bps)
