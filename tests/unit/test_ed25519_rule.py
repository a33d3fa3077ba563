"""The Ed25519 rule of spec/crypto.md SIG (errata E110): our verdicts are the stated rule's.

The rule is evaluated here a second time, independently of `aci_ref.crypto`: small order is
decided by decoding and multiplying by 8 (not by the list of encodings), and the cofactorless
equation by pure-Python arithmetic (not by libsodium).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from aci_ref import crypto
from aci_ref.crypto import signature_precheck, verify_signature
from aci_ref.encoding import canonical_bytes
from aci_ref.vectors import edwards as ed
from aci_ref.vectors.ed25519_cases import SignatureCase, edge_cases

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"
PINNED_DIGEST = "0ba5a473cbf0c00d83678717a767326abef9c47d3b7004eef813209e4d5df6fa"
CASES = edge_cases()

Triple = tuple[bytes, bytes, bytes]


# ---- the rule, restated -------------------------------------------------------------------------


def _is_small_order(encoding: bytes) -> bool:
    pt = ed.decode(encoding)
    return pt is not None and ed.is_torsion(pt)


def _equation(public: bytes, message: bytes, signature: bytes) -> bool:
    """The bare cofactorless check, R compared as bytes, with no pre-check at all."""
    a = ed.decode(public)
    if a is None:
        return False
    k = ed.hash_scalar(signature[:32], public, message)
    s = int.from_bytes(signature[32:], "little") % ed.L
    computed = ed.add(ed.scalar_mult(s, ed.BASE), ed.negate(ed.scalar_mult(k, a)))
    return ed.encode(computed) == signature[:32]


def _cofactored(public: bytes, message: bytes, signature: bytes) -> bool:
    a, r = ed.decode(public), ed.decode(signature[:32])
    if a is None or r is None:
        return False
    k = ed.hash_scalar(signature[:32], public, message)
    s = int.from_bytes(signature[32:], "little")
    return ed.is_torsion(
        ed.add(ed.scalar_mult(s, ed.BASE), ed.negate(ed.add(r, ed.scalar_mult(k, a))))
    )


def _points_equation(public: bytes, message: bytes, signature: bytes) -> bool:
    a, r = ed.decode(public), ed.decode(signature[:32])
    if a is None or r is None:
        return False
    k = ed.hash_scalar(signature[:32], public, message)
    s = int.from_bytes(signature[32:], "little") % ed.L
    return ed.equal(ed.scalar_mult(s, ed.BASE), ed.add(r, ed.scalar_mult(k, a)))


def stated_rule(public: bytes, message: bytes, signature: bytes) -> tuple[bool, str | None]:
    """(verdict, the first pre-check that fails or None), from spec/crypto.md SIG."""
    if len(public) != 32 or len(signature) != 64:
        return False, "length"
    if int.from_bytes(signature[32:], "little") >= ed.L:
        return False, "s_not_reduced"
    if int.from_bytes(public, "little") % (1 << 255) >= ed.P:
        return False, "a_non_canonical"
    if _is_small_order(public):
        return False, "a_small_order"
    if _is_small_order(signature[:32]):
        return False, "r_small_order"
    return _equation(public, message, signature), None


def _check(case: SignatureCase) -> None:
    args = (case.public, case.message, case.signature)
    verdict, reason = stated_rule(*args)
    assert signature_precheck(case.public, case.signature) == reason, case.name
    assert verify_signature(*args) == verdict == case.valid, case.name


def _digest(cases: tuple[SignatureCase, ...]) -> str:
    rows = [[c.name, c.public, c.message, c.signature, c.valid, list(c.flags)] for c in cases]
    return hashlib.sha256(canonical_bytes(rows)).hexdigest()


# ---- (a) the generated edge cases ---------------------------------------------------------------


def test_small_order_list_is_the_derived_one() -> None:
    assert crypto.SMALL_ORDER_ENCODINGS == ed.small_order_masked_encodings()
    assert len(crypto.SMALL_ORDER_ENCODINGS) == 7


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_edge_case_verdict_is_the_rule(case: SignatureCase) -> None:
    _check(case)


def test_edge_cases_are_pinned() -> None:
    assert 40 <= len(CASES) <= 120
    assert len({c.name for c in CASES}) == len(CASES)
    assert _digest(CASES) == PINNED_DIGEST
    accepted = sorted(c.name for c in CASES if c.valid)
    assert len(accepted) == 11, accepted
    assert all(c.valid for c in CASES if "honest" in c.flags)


def test_edge_case_flags_tell_the_truth() -> None:
    for case in CASES:
        args = (case.public, case.message, case.signature)
        if "equation_holds" in case.flags:
            assert _equation(*args), case.name
        if "points_equation_holds" in case.flags:
            assert _points_equation(*args) and not _equation(*args), case.name
        if "cofactored_only" in case.flags:
            assert _cofactored(*args) and not _equation(*args), case.name
            assert not case.valid
    every_flag = {flag for case in CASES for flag in case.flags}
    assert {"a_small_order", "r_small_order", "a_non_canonical", "r_non_canonical"} <= every_flag
    assert {"a_mixed_order", "r_mixed_order", "s_not_reduced", "cofactored_only"} <= every_flag
    # Every torsion point is a key of some case, under every encoding libsodium would decode.
    keys = {ed.decode(c.public) for c in CASES if "a_small_order" in c.flags}
    assert {ed.encode(p) for p in ed.torsion_points()} <= {ed.encode(p) for p in keys if p}


# ---- (b) the public vector sets -----------------------------------------------------------------


def _public_sets() -> dict[str, list[tuple[Triple, bool | None]]]:
    if not VECTORS.is_dir():
        pytest.skip(f"public vectors absent: {VECTORS} (see /work/shared/vectors/README.md)")
    cctv: list[tuple[Triple, bool | None]] = []
    for row in json.loads((VECTORS / "cctv_ed25519vectors.json").read_text()):
        key, sig = bytes.fromhex(row["key"]), bytes.fromhex(row["sig"])
        cctv.append(((key, row["msg"].encode(), sig), None))
    wycheproof: list[tuple[Triple, bool | None]] = []
    doc: Any = json.loads((VECTORS / "wycheproof_ed25519_test.json").read_text())
    for group in doc["testGroups"]:
        key = bytes.fromhex(group["publicKey"]["pk"])
        for test in group["tests"]:
            triple = (key, bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"]))
            wycheproof.append((triple, test["result"] == "valid"))
    return {"cctv": cctv, "wycheproof": wycheproof}


def _libsodium_alone(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(public).verify(message, signature)
    except (BadSignatureError, ValueError):
        return False
    return True


EXPECTED = {
    "cctv": {
        "accepted": 43,
        "rejected": 871,
        "fired": {"a_non_canonical": 156, "a_small_order": 370, "r_small_order": 282},
        "decisive": {"a_non_canonical": 27, "a_small_order": 95, "r_small_order": 43},
    },
    "wycheproof": {
        "accepted": 88,
        "rejected": 63,
        "fired": {"length": 12, "r_small_order": 11, "s_not_reduced": 17},
        "decisive": {"s_not_reduced": 5},
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_public_vectors_follow_the_rule(name: str) -> None:
    fired: Counter[str] = Counter()
    decisive: Counter[str] = Counter()
    accepted = 0
    cases = _public_sets()[name]
    for (public, message, signature), published in cases:
        verdict, reason = stated_rule(public, message, signature)
        ours = verify_signature(public, message, signature)
        assert ours == verdict, (name, public.hex(), signature.hex())
        assert signature_precheck(public, signature) == reason
        if published is not None:
            assert ours == published
        accepted += ours
        if reason is None:
            continue
        fired[reason] += 1
        # A pre-check is decisive where a bare RFC 8032 equation would accept: libsodium must
        # refuse those too (it carries the same checks), which is what keeps the two in step.
        if reason != "length" and _equation(public, message, signature):
            decisive[reason] += 1
            assert not _libsodium_alone(public, message, signature)
    total = len(cases)
    expected = EXPECTED[name]
    print(f"{name}: accepted {accepted}, rejected {total - accepted}, fired {dict(fired)}")
    assert (accepted, total - accepted) == (expected["accepted"], expected["rejected"])
    assert dict(fired) == expected["fired"]
    assert dict(decisive) == expected["decisive"]


# ---- (c) planted faults -------------------------------------------------------------------------


def _failures() -> list[str]:
    failed = []
    for case in CASES:
        try:
            _check(case)
        except AssertionError:
            failed.append(case.name)
    return failed


def test_planted_fault_empty_small_order_list_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _failures() == []
    monkeypatch.setattr(crypto, "SMALL_ORDER_ENCODINGS", frozenset())
    failed = _failures()
    assert "a_small_order/t1_order8" in failed and "r_small_order/t1_order8" in failed


def test_planted_fault_s_check_off_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "_ORDER_L", 1 << 256)
    assert {"s/plus_l", "s/equals_l", "s/all_ones"} <= set(_failures())


class _BareVerifyKey:
    """A cofactorless verifier with no pre-checks of its own (what OpenSSL and Go ship)."""

    def __init__(self, public: bytes) -> None:
        self.public = public

    def verify(self, message: bytes, signature: bytes) -> None:
        if not _equation(self.public, message, signature):
            raise BadSignatureError("equation")


def test_pre_checks_carry_the_verdict_on_a_bare_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "VerifyKey", _BareVerifyKey)
    assert _digest(edge_cases()) == PINNED_DIGEST
    monkeypatch.setattr(crypto, "SMALL_ORDER_ENCODINGS", frozenset())
    assert _digest(edge_cases()) != PINNED_DIGEST


def test_bytes_like_keys_and_signatures_are_refused_as_before() -> None:
    # The annotations say bytes; callers handing in look-alikes must still get a verdict.
    honest = next(c for c in CASES if c.name == "honest/one_byte")
    assert verify_signature(honest.public, bytearray(honest.message), honest.signature)  # type: ignore[arg-type]
    assert signature_precheck(bytearray(honest.public), honest.signature) == "not_bytes"  # type: ignore[arg-type]
    assert not verify_signature(bytearray(honest.public), honest.message, honest.signature)  # type: ignore[arg-type]
    assert not verify_signature(honest.public, honest.message, bytearray(honest.signature))  # type: ignore[arg-type]
