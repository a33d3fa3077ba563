"""TEE chains are verified once per (platform cert, enclave cert, anchors): the cache of a pure
function, giving exactly the answer a fresh verification gives."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aci_ref import crypto
from aci_ref.crypto import KeyPair
from aci_ref.errors import RejectedError, Rejection
from aci_ref.poai import tee
from aci_ref.poai.tee import (
    WORKER_PROGRAM,
    Certificate,
    CertKind,
    Enclave,
    TrustAnchors,
    measurement_of,
    provision_enclave,
    verify_chain,
)

VENDOR = KeyPair.from_label("cache/vendor")
OTHER_VENDOR = KeyPair.from_label("cache/other-vendor")
ANCHORS = TrustAnchors.of([VENDOR.public], [measurement_of(WORKER_PROGRAM)])


def _enclave(label: str, vendor: KeyPair = VENDOR, program: str = WORKER_PROGRAM) -> Enclave:
    return provision_enclave(
        vendor,
        KeyPair.from_label(f"cache/{label}/platform"),
        KeyPair.from_label(f"cache/{label}/enclave"),
        program,
    )


def _refusal(platform: Certificate, enclave: Certificate, anchors: TrustAnchors) -> Rejection:
    with pytest.raises(RejectedError) as caught:
        verify_chain(platform, enclave, anchors)
    return caught.value.rejection


@pytest.fixture
def count_verifies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many signatures `verify_chain` checks from here on (calls[0])."""
    calls = [0]
    original = crypto.verify_signature

    def counting(public: bytes, message: bytes, signature: bytes) -> bool:
        calls[0] += 1
        return original(public, message, signature)

    monkeypatch.setattr(tee, "verify_signature", counting)
    return calls


def test_a_chain_is_verified_once(count_verifies: list[int]) -> None:
    enclave = _enclave("once")
    for _ in range(5):
        assert verify_chain(enclave.platform_cert, enclave.enclave_cert, ANCHORS) == (
            enclave.key.public
        )
    assert count_verifies[0] == 2  # the vendor's signature and the platform's, once each
    copy = replace(enclave.platform_cert), replace(enclave.enclave_cert)
    assert verify_chain(*copy, TrustAnchors.of(ANCHORS.vendor_roots, ANCHORS.measurements)) == (
        enclave.key.public
    )
    assert count_verifies[0] == 2  # equal inputs, not only the same objects


def test_a_forged_certificate_fails_after_the_genuine_one_was_cached() -> None:
    enclave = _enclave("forged")
    platform, enclave_cert = enclave.platform_cert, enclave.enclave_cert
    verify_chain(platform, enclave_cert, ANCHORS)
    bad = Rejection.ATTESTATION_BAD_CERT_CHAIN
    flipped = bytes([platform.signature[0] ^ 1]) + platform.signature[1:]
    assert _refusal(replace(platform, signature=flipped), enclave_cert, ANCHORS) is bad
    stolen_subject = replace(enclave_cert, subject=KeyPair.from_label("cache/thief").public)
    assert _refusal(platform, stolen_subject, ANCHORS) is bad
    other_program = replace(enclave_cert, measurement=measurement_of("aci-ref/worker/evil"))
    assert _refusal(platform, other_program, ANCHORS) is bad  # the signature no longer covers it
    # and the genuine chain still passes, every time
    for _ in range(2):
        assert verify_chain(platform, enclave_cert, ANCHORS) == enclave.key.public


def test_a_result_is_not_reused_across_anchors() -> None:
    enclave = _enclave("anchors")
    platform, enclave_cert = enclave.platform_cert, enclave.enclave_cert
    assert verify_chain(platform, enclave_cert, ANCHORS) == enclave.key.public
    distrusting_vendor = TrustAnchors.of([OTHER_VENDOR.public], ANCHORS.measurements)
    assert _refusal(platform, enclave_cert, distrusting_vendor) is (
        Rejection.ATTESTATION_BAD_CERT_CHAIN
    )
    distrusting_program = TrustAnchors.of(ANCHORS.vendor_roots, [measurement_of("other")])
    assert _refusal(platform, enclave_cert, distrusting_program) is (
        Rejection.ATTESTATION_UNKNOWN_MEASUREMENT
    )
    assert verify_chain(platform, enclave_cert, ANCHORS) == enclave.key.public


def test_values_equal_to_a_cached_chain_but_of_other_types_are_judged_afresh() -> None:
    """A str equal to a CertKind, or bytes-like fields, must not borrow a cached success."""
    enclave = _enclave("types")
    platform, enclave_cert = enclave.platform_cert, enclave.enclave_cert
    verify_chain(platform, enclave_cert, ANCHORS)
    as_text = replace(platform, kind="platform")  # type: ignore[arg-type]
    assert as_text == platform  # a StrEnum member equals its text...
    assert _refusal(as_text, enclave_cert, ANCHORS) is Rejection.ATTESTATION_BAD_CERT_CHAIN
    loose = replace(platform, issuer=bytearray(platform.issuer))  # type: ignore[arg-type]
    loose_anchors = TrustAnchors((bytearray(VENDOR.public),), ANCHORS.measurements)  # type: ignore[arg-type]
    for args in ((loose, enclave_cert, ANCHORS), (platform, enclave_cert, loose_anchors)):
        try:
            fresh: bytes | Rejection = tee.verify_chain_uncached(*args)
        except RejectedError as error:
            fresh = error.rejection
        try:
            cached: bytes | Rejection = verify_chain(*args)
        except RejectedError as error:
            cached = error.rejection
        assert cached == fresh


def test_the_cache_is_bounded() -> None:
    enclaves = [_enclave(f"bound-{i}") for i in range(tee.CHAIN_CACHE_SIZE + 10)]
    for enclave in enclaves:
        verify_chain(enclave.platform_cert, enclave.enclave_cert, ANCHORS)
    assert tee.chain_cache_info().currsize <= tee.CHAIN_CACHE_SIZE


_PLATFORMS = [_enclave(f"prop-{i}") for i in range(2)]
_VENDORS = [VENDOR, OTHER_VENDOR]


@given(
    platform_of=st.integers(0, 1),
    enclave_of=st.integers(0, 1),
    roots=st.sets(st.integers(0, 1)),
    programs=st.sets(st.sampled_from([WORKER_PROGRAM, "other"])),
    kinds=st.tuples(st.sampled_from(CertKind), st.sampled_from(CertKind)),
    flip=st.booleans(),
)
def test_cached_answers_are_fresh_answers(
    platform_of: int,
    enclave_of: int,
    roots: set[int],
    programs: set[str],
    kinds: tuple[CertKind, CertKind],
    flip: bool,
) -> None:
    platform = replace(_PLATFORMS[platform_of].platform_cert, kind=kinds[0])
    enclave_cert = replace(_PLATFORMS[enclave_of].enclave_cert, kind=kinds[1])
    if flip:
        enclave_cert = replace(enclave_cert, signature=bytes(64))
    anchors = TrustAnchors.of(
        [_VENDORS[i].public for i in roots], [measurement_of(p) for p in programs]
    )
    answers: list[bytes | Rejection] = []
    for check in (tee.verify_chain_uncached, verify_chain, verify_chain):
        try:
            answers.append(check(platform, enclave_cert, anchors))
        except RejectedError as error:
            answers.append(error.rejection)
    assert answers[0] == answers[1] == answers[2]
