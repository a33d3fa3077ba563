"""The proof material behind Table 2's PoAI slashes, which anyone can re-check.

Three kinds of evidence, each a frozen dataclass with:
- `digest()`: SHA-256 of the domain-tagged canonical bytes of the whole proof material;
- `offence_id(...)`: SHA-256 naming the offence itself (not the proof), one per slash, so two
  accusers with differently-worded proofs of one offence cannot have it slashed twice.

`check_evidence` re-runs the checks the evidence claims; a slash is only ever applied on evidence
that passes it. Attribution of an attestation to a worker (that the worker submitted it) is the
chain's: it holds the worker's signed submission.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from aci_ref.crypto import sha256, verify_signature
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params
from aci_ref.poai.attestation import Attestation, attestation_digest
from aci_ref.poai.matching import MatchResult, OutputKind, compare_outputs, seed_from_job
from aci_ref.poai.profiles import HardwareClass, ModelProfile
from aci_ref.poai.tee import Registration, TrustAnchors, verify_chain, verify_registration
from aci_ref.poai.verification import LEVEL1_REJECTIONS, ExpectedJob, check_attestation

EVIDENCE_DOMAIN: Final = "aci-ref/poai/evidence"
OFFENCE_DOMAIN: Final = "aci-ref/poai/offence"

Reexecute = Callable[[bytes, int, bytes], bytes]
"""A re-execution of a job: (job input, pinned seed, claimed output) → reference output."""


def _digest(kind: str, evidence: object) -> bytes:
    return sha256(canonical_bytes({"domain": EVIDENCE_DOMAIN, "evidence": evidence, "kind": kind}))


def _offence(kind: str, subject: Mapping[str, object]) -> bytes:
    return sha256(canonical_bytes({"domain": OFFENCE_DOMAIN, "kind": kind, **subject}))


@dataclass(frozen=True, slots=True)
class WrongOutputEvidence:
    """Table 2 row Wrong output, §3.5: a re-execution that contradicts an attested output.

    Holds the worker's attestation, the job input and claimed output it attests, the verifier's
    reference output, the comparison kind and the (failed) comparison result.
    """

    attestation: Attestation
    job_input: bytes
    output: bytes
    reference_output: bytes
    kind: OutputKind
    result: MatchResult

    @property
    def h_reference(self) -> bytes:
        """SHA-256 of the reference output."""
        return sha256(self.reference_output)

    def digest(self) -> bytes:
        """SHA-256 of the domain-tagged canonical bytes of the whole evidence."""
        return _digest("wrong_output", self)

    def offence_id(self) -> bytes:
        """The offence: this attested statement was wrong (one slash per statement)."""
        return _offence("wrong_output", {"attestation": attestation_digest(self.attestation)})


@dataclass(frozen=True, slots=True)
class InvalidAttestationEvidence:
    """Table 2 row Invalid attestation, §3.5: an attestation that fails Level 1, and how.

    Holds the attestation, the job it was submitted for, the output submitted with it and the
    Level-1 code it fails with.
    """

    attestation: Attestation
    expected: ExpectedJob
    output: bytes
    rejection: Rejection

    def digest(self) -> bytes:
        """SHA-256 of the domain-tagged canonical bytes of the whole evidence."""
        return _digest("invalid_attestation", self)

    def offence_id(self) -> bytes:
        """The offence: this statement was submitted for this job (one slash per submission)."""
        return _offence(
            "invalid_attestation",
            {"attestation": attestation_digest(self.attestation), "job_id": self.expected.job_id},
        )


@dataclass(frozen=True, slots=True)
class SybilEvidence:
    """Table 2 row Sybil, §3.5: two or more worker identities presenting one platform key.

    `registrations` (sorted by worker, at least two) each prove possession of an enclave on the
    platform `platform_key` (`aci_ref.poai.tee:Registration`).
    """

    platform_key: bytes
    registrations: tuple[Registration, ...]

    @property
    def workers(self) -> tuple[str, ...]:
        """The identities found sharing the platform, sorted."""
        return tuple(r.worker for r in self.registrations)

    def digest(self) -> bytes:
        """SHA-256 of the domain-tagged canonical bytes of the whole evidence."""
        return _digest("sybil", self)

    def offence_id(self, worker: str) -> bytes:
        """The offence of one identity: `worker` posed as a separate machine on this platform."""
        return sybil_offence_id(self.platform_key, worker)


def sybil_offence_id(platform_key: bytes, worker: str) -> bytes:
    """Table 2 row Sybil (offence): `worker` posed as a separate machine on `platform_key`."""
    return _offence("sybil", {"platform_key": platform_key, "worker": worker})


Evidence = WrongOutputEvidence | InvalidAttestationEvidence | SybilEvidence


def detect_sybil(registrations: Mapping[str, bytes]) -> list[tuple[str, ...]]:
    """Table 2 row Sybil, §3.5: "network analysis" — identities that share a TEE platform key.

    `registrations` maps each worker identity to the platform key it registered with. Returns
    every group of two or more identities with one platform key, each group sorted, the list
    sorted; one machine pretending to be many (errata E58).
    """
    by_platform: dict[bytes, list[str]] = {}
    for worker in sorted(registrations):
        by_platform.setdefault(registrations[worker], []).append(worker)
    return sorted(tuple(group) for group in by_platform.values() if len(group) > 1)


def sybil_evidence(
    registrations: Mapping[str, Registration], anchors: TrustAnchors
) -> list[SybilEvidence]:
    """Table 2 row Sybil (evidence): `detect_sybil` over checked registrations, with their proofs.

    Registrations that do not verify are ignored (they prove nothing about the platform). Sorted
    by platform key.
    """
    platforms: dict[str, bytes] = {}
    for worker in sorted(registrations):
        registration = registrations[worker]
        if registration.worker != worker:
            continue
        try:
            platforms[worker] = verify_registration(registration, anchors)
        except RejectedError:
            continue
    found = [
        SybilEvidence(platforms[group[0]], tuple(registrations[w] for w in group))
        for group in detect_sybil(platforms)
    ]
    return sorted(found, key=lambda evidence: evidence.platform_key)


def _check_wrong_output(
    evidence: WrongOutputEvidence,
    anchors: TrustAnchors,
    params: Params,
    expected: ExpectedJob | None,
    kind: OutputKind | None,
    reexecute: Reexecute | None,
) -> bool:
    attestation = evidence.attestation
    enclave_key = verify_chain(attestation.platform_cert, attestation.enclave_cert, anchors)
    if not verify_signature(enclave_key, attestation.signed_bytes(), attestation.signature):
        return False
    if sha256(evidence.job_input) != attestation.h_input:
        return False
    if sha256(evidence.output) != attestation.h_output:
        return False
    if expected is not None and (
        (attestation.job_id, attestation.h_input, attestation.h_model)
        != (expected.job_id, expected.h_input, expected.h_model)
    ):
        return False
    if kind is not None and kind is not evidence.kind:
        return False
    recomputed = compare_outputs(evidence.kind, evidence.output, evidence.reference_output, params)
    if recomputed != evidence.result or recomputed.match:
        return False
    if reexecute is None:
        return True
    mine = reexecute(evidence.job_input, seed_from_job(attestation.job_id), evidence.output)
    return not compare_outputs(evidence.kind, evidence.output, mine, params).match


def _check_invalid_attestation(
    evidence: InvalidAttestationEvidence,
    anchors: TrustAnchors,
    params: Params,
    expected: ExpectedJob | None,
    profile: ModelProfile | None,
    hardware: HardwareClass | None,
) -> bool:
    if profile is None or hardware is None or evidence.rejection not in LEVEL1_REJECTIONS:
        return False
    if expected is not None and expected != evidence.expected:
        return False
    try:
        check_attestation(
            evidence.attestation,
            anchors,
            evidence.expected,
            evidence.output,
            profile,
            hardware,
            params,
        )
    except RejectedError as refused:
        return refused.rejection is evidence.rejection
    return False


def _check_sybil(evidence: SybilEvidence, anchors: TrustAnchors) -> bool:
    workers = evidence.workers
    if len(workers) < 2 or list(workers) != sorted(set(workers)):
        return False
    return all(
        verify_registration(r, anchors) == evidence.platform_key for r in evidence.registrations
    )


def check_evidence(
    evidence: Evidence,
    *,
    anchors: TrustAnchors,
    params: Params,
    expected: ExpectedJob | None = None,
    profile: ModelProfile | None = None,
    hardware: HardwareClass | None = None,
    kind: OutputKind | None = None,
    reexecute: Reexecute | None = None,
) -> bool:
    """Table 2, §3.5 (evidence check): True exactly when `evidence` proves its offence.

    The optional arguments are what the checker knows itself and must not take from the accuser:
    the job as recorded (`expected`), the model's profile and the worker's declared hardware
    (needed for invalid-attestation evidence), the workload's output kind, and a re-execution.
    - Wrong output: the attestation's TEE chain and signature hold; the job input and output hash
      to its h_input and h_output; it is about `expected` and `kind` when given; comparing the
      output with the reference output by the evidence's rule reproduces the recorded result, a
      mismatch; and, when `reexecute` is given, the checker's own reference mismatches too.
    - Invalid attestation: Level 1 (`check_attestation`) refuses the attestation, against the
      recorded job, with exactly the recorded code.
    - Sybil: at least two distinct identities, each registration verifying on `platform_key`.
    Never raises for bad evidence: anything that does not check out is False.
    """
    try:
        if isinstance(evidence, WrongOutputEvidence):
            return _check_wrong_output(evidence, anchors, params, expected, kind, reexecute)
        if isinstance(evidence, InvalidAttestationEvidence):
            return _check_invalid_attestation(
                evidence, anchors, params, expected, profile, hardware
            )
        return _check_sybil(evidence, anchors)
    except RejectedError:
        return False
