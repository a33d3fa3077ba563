"""A SIMULATED trusted execution environment: certificate chains made of Ed25519 keys.

No SGX, SEV or TDX hardware is involved. The simulation keeps the shape of a real attestation
chain so that Level 1 of Algorithm 2 has something real to check:

    vendor root key  --certifies-->  platform key  --certifies-->  enclave key + measurement
                                                                    |
                                                                    +--signs--> attestations

- A vendor root stands in for the manufacturer's root CA; verifiers trust a set of them.
- A platform key stands in for one machine's hardware key; the vendor certifies it.
- An enclave key is created when the worker program starts in an enclave; the platform certifies
  it together with the measurement, the SHA-256 of the program's identity. Verifiers trust a set
  of measurements (the approved worker programs).

What the simulation cannot give is secrecy: whoever holds an enclave's key pair can sign anything.
That is exactly the TEE attacker of §6.1 (`extract_enclave_key`): its forged attestations pass
Level 1 and only the re-execution of Level 2 can catch them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import _CacheInfo, lru_cache
from typing import Final

from aci_ref.crypto import KeyPair, sha256, verify_signature
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection

PLATFORM_DOMAIN: Final = "aci-ref/tee/platform"
ENCLAVE_DOMAIN: Final = "aci-ref/tee/enclave"
MEASUREMENT_DOMAIN: Final = "aci-ref/tee/measurement"
REGISTRATION_DOMAIN: Final = "aci-ref/tee/registration"
WORKER_PROGRAM: Final = "aci-ref/worker/v1"
"""§3.2, DESIGN §4: the reference worker program; verifiers trust its measurement."""


class CertKind(StrEnum):
    """§3.2, DESIGN §4: the two links of a simulated TEE chain."""

    PLATFORM = "platform"  # a vendor root certifies a machine's platform key
    ENCLAVE = "enclave"  # a platform key certifies an enclave key and its measurement


@dataclass(frozen=True, slots=True)
class Certificate:
    """§3.2, DESIGN §4: one simulated TEE certificate — `issuer` vouches for `subject`.

    A platform certificate has the vendor root as issuer, the platform key as subject and an empty
    measurement. An enclave certificate has the platform key as issuer, the enclave key as subject
    and the program's measurement. `signature` is the issuer's Ed25519 signature of
    `signed_bytes()`, whose domain tag names the kind, so one kind can never pass for the other.
    """

    kind: CertKind
    issuer: bytes
    subject: bytes
    measurement: bytes
    signature: bytes

    def signed_bytes(self) -> bytes:
        """The canonical bytes the issuer signs (every field but the signature, plus a domain)."""
        return certificate_bytes(self.kind, self.issuer, self.subject, self.measurement)


def certificate_bytes(kind: CertKind, issuer: bytes, subject: bytes, measurement: bytes) -> bytes:
    """§3.2, DESIGN §4: domain-separated canonical bytes of a certificate's statement."""
    domain = PLATFORM_DOMAIN if kind is CertKind.PLATFORM else ENCLAVE_DOMAIN
    return canonical_bytes(
        {"domain": domain, "issuer": issuer, "measurement": measurement, "subject": subject}
    )


@dataclass(frozen=True, slots=True)
class TrustAnchors:
    """§3.2, DESIGN §4: what a verifier trusts — vendor root keys and worker-program measurements.

    Both are kept as sorted tuples so the anchors encode canonically; build them with `of`.
    """

    vendor_roots: tuple[bytes, ...]
    measurements: tuple[bytes, ...]

    @classmethod
    def of(cls, vendor_roots: Iterable[bytes], measurements: Iterable[bytes]) -> TrustAnchors:
        """Anchors from any iterables (duplicates dropped, sorted)."""
        return cls(tuple(sorted(set(vendor_roots))), tuple(sorted(set(measurements))))


def measurement_of(program: str) -> bytes:
    """§3.2, DESIGN §4: a worker program's measurement, SHA-256 of its domain-tagged identity."""
    return sha256(canonical_bytes({"domain": MEASUREMENT_DOMAIN, "program": program}))


def certify_platform(vendor: KeyPair, platform_key: bytes) -> Certificate:
    """§3.2, DESIGN §4: the vendor root certifies a machine's platform key."""
    statement = certificate_bytes(CertKind.PLATFORM, vendor.public, platform_key, b"")
    return Certificate(CertKind.PLATFORM, vendor.public, platform_key, b"", vendor.sign(statement))


def certify_enclave(platform: KeyPair, enclave_key: bytes, measurement: bytes) -> Certificate:
    """§3.2, DESIGN §4: a platform key certifies an enclave key bound to a measurement."""
    statement = certificate_bytes(CertKind.ENCLAVE, platform.public, enclave_key, measurement)
    return Certificate(
        CertKind.ENCLAVE, platform.public, enclave_key, measurement, platform.sign(statement)
    )


@dataclass(frozen=True, slots=True)
class Enclave:
    """§3.2, DESIGN §4: a running simulated enclave — its certificates and its signing key.

    The key pair never leaves the enclave in the honest story; `extract_enclave_key` is the
    attacker's story.
    """

    platform_cert: Certificate
    enclave_cert: Certificate
    key: KeyPair

    def sign(self, message: bytes) -> bytes:
        """Sign with the enclave key (attestations and registrations)."""
        return self.key.sign(message)


def launch_enclave(
    platform_cert: Certificate, platform: KeyPair, enclave_key: KeyPair, program: str
) -> Enclave:
    """§3.2, DESIGN §4: start `program` in an enclave on a certified platform.

    The caller supplies the enclave's key pair (randomness comes in as an argument); the platform
    certifies it with the program's measurement.
    """
    cert = certify_enclave(platform, enclave_key.public, measurement_of(program))
    return Enclave(platform_cert, cert, enclave_key)


def provision_enclave(
    vendor: KeyPair, platform: KeyPair, enclave_key: KeyPair, program: str = WORKER_PROGRAM
) -> Enclave:
    """§3.2, DESIGN §4: a vendor-certified platform starting `program` in a fresh enclave.

    The whole honest setup in one call: the vendor certifies the platform key, the platform
    certifies the enclave key with the program's measurement.
    """
    return launch_enclave(certify_platform(vendor, platform.public), platform, enclave_key, program)


CHAIN_CACHE_SIZE: Final = 1024
"""How many verified chains `verify_chain` remembers (least recently used dropped first)."""


def verify_chain(
    platform_cert: Certificate, enclave_cert: Certificate, anchors: TrustAnchors
) -> bytes:
    """§3.2, DESIGN §4: TEE_VERIFY of the simulated chain; returns the certified enclave key.

    Refuses with `attestation_bad_cert_chain` when a certificate has the wrong kind, the platform
    certificate's issuer is not a trusted vendor root, the enclave certificate is not issued by the
    certified platform key, or either signature fails; and with `attestation_unknown_measurement`
    when the chain is sound but the enclave runs a program that is not on the allow-list.

    A worker presents the same chain with every result, so a chain that verified is remembered
    (a bounded cache of this pure function: the answer is always the one recomputing gives).
    Only chains whose every field has exactly its declared type are remembered: equal inputs of
    exact types make the same statement, whereas a str equal to a `CertKind` member, or a
    bytearray equal to some bytes, must be judged afresh. Refusals are never remembered.
    """
    if _exact(platform_cert) and _exact(enclave_cert) and _exact_anchors(anchors):
        return _verified_chain(platform_cert, enclave_cert, anchors)
    return verify_chain_uncached(platform_cert, enclave_cert, anchors)


def _exact(cert: Certificate) -> bool:
    return (
        type(cert) is Certificate
        and type(cert.kind) is CertKind
        and type(cert.issuer) is bytes
        and type(cert.subject) is bytes
        and type(cert.measurement) is bytes
        and type(cert.signature) is bytes
    )


def _exact_anchors(anchors: TrustAnchors) -> bool:
    return (
        type(anchors) is TrustAnchors
        and type(anchors.vendor_roots) is tuple
        and type(anchors.measurements) is tuple
        and all(type(root) is bytes for root in anchors.vendor_roots)
        and all(type(measurement) is bytes for measurement in anchors.measurements)
    )


@lru_cache(maxsize=CHAIN_CACHE_SIZE)
def _verified_chain(
    platform_cert: Certificate, enclave_cert: Certificate, anchors: TrustAnchors
) -> bytes:
    return verify_chain_uncached(platform_cert, enclave_cert, anchors)


def chain_cache_info() -> _CacheInfo:
    """§3.2, DESIGN §4: hits, misses and size of `verify_chain`'s cache (tests, benchmarks)."""
    return _verified_chain.cache_info()


def verify_chain_uncached(
    platform_cert: Certificate, enclave_cert: Certificate, anchors: TrustAnchors
) -> bytes:
    """§3.2, DESIGN §4: TEE_VERIFY of the simulated chain, computed afresh (see `verify_chain`).

    Refuses with `attestation_bad_cert_chain` when a certificate has the wrong kind, the platform
    certificate's issuer is not a trusted vendor root, the enclave certificate is not issued by the
    certified platform key, or either signature fails; and with `attestation_unknown_measurement`
    when the chain is sound but the enclave runs a program that is not on the allow-list.
    """
    bad = Rejection.ATTESTATION_BAD_CERT_CHAIN
    if platform_cert.kind is not CertKind.PLATFORM or enclave_cert.kind is not CertKind.ENCLAVE:
        raise RejectedError(bad, "certificate kinds out of order")
    if platform_cert.issuer not in anchors.vendor_roots:
        raise RejectedError(bad, "platform certificate not issued by a trusted vendor root")
    if not verify_signature(
        platform_cert.issuer, platform_cert.signed_bytes(), platform_cert.signature
    ):
        raise RejectedError(bad, "vendor signature on the platform certificate fails")
    if enclave_cert.issuer != platform_cert.subject:
        raise RejectedError(bad, "enclave certificate not issued by the certified platform")
    if not verify_signature(
        enclave_cert.issuer, enclave_cert.signed_bytes(), enclave_cert.signature
    ):
        raise RejectedError(bad, "platform signature on the enclave certificate fails")
    if enclave_cert.measurement not in anchors.measurements:
        raise RejectedError(
            Rejection.ATTESTATION_UNKNOWN_MEASUREMENT, enclave_cert.measurement.hex()[:16]
        )
    return enclave_cert.subject


def extract_enclave_key(enclave: Enclave) -> KeyPair:
    """§6.1 item 4: the TEE attacker's capability — the enclave key, pulled out of the hardware.

    With it the attacker signs attestations for outputs it never computed; the certificate chain is
    still genuine, so Level 1 accepts them.
    """
    return enclave.key


def registration_bytes(worker: str) -> bytes:
    """Table 2 row Sybil: what an enclave signs to bind its platform to a worker identity."""
    return canonical_bytes({"domain": REGISTRATION_DOMAIN, "worker": worker})


@dataclass(frozen=True, slots=True)
class Registration:
    """Table 2 row Sybil: a worker identity presenting a TEE platform, with proof of possession.

    `signature` is the enclave key's signature of `registration_bytes(worker)`. Without it anyone
    could present a victim's (public) certificates under a fresh identity and have the victim
    slashed as a Sybil.
    """

    worker: str
    platform_cert: Certificate
    enclave_cert: Certificate
    signature: bytes


def register_worker(enclave: Enclave, worker: str) -> Registration:
    """Table 2 row Sybil: present `enclave`'s platform under the identity `worker`."""
    return Registration(
        worker,
        enclave.platform_cert,
        enclave.enclave_cert,
        enclave.sign(registration_bytes(worker)),
    )


def verify_registration(registration: Registration, anchors: TrustAnchors) -> bytes:
    """Table 2 row Sybil: check a registration's chain and proof; returns its platform key.

    Refuses like `verify_chain`, and with `attestation_bad_signature` when the enclave did not sign
    this worker identity.
    """
    enclave_key = verify_chain(registration.platform_cert, registration.enclave_cert, anchors)
    if not verify_signature(
        enclave_key, registration_bytes(registration.worker), registration.signature
    ):
        raise RejectedError(
            Rejection.ATTESTATION_BAD_SIGNATURE, f"registration of {registration.worker}"
        )
    return registration.platform_cert.subject
