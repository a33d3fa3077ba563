"""Properties of hashes, signatures, RFC 6962 Merkle trees and beacon draws."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from aci_ref.crypto import (
    DRAW_SPACE,
    KeyPair,
    beacon_draw,
    draw_below,
    inclusion_proof,
    merkle_root,
    sha256,
    verify_inclusion,
    verify_signature,
)

leaves_st = st.lists(st.binary(max_size=40), min_size=1, max_size=40)


def test_rfc6962_reference_roots() -> None:
    """The inputs and roots of the Certificate Transparency reference tests."""
    leaves = [
        bytes.fromhex(h)
        for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                  "606162636465666768696a6b6c6d6e6f"]
    ]  # fmt: skip
    assert merkle_root([]).hex() == sha256(b"").hex()
    assert merkle_root(leaves[:1]).hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert merkle_root(leaves).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )


@given(leaves_st, st.data())
def test_every_leaf_has_a_valid_proof(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    root = merkle_root(leaves)
    proof = inclusion_proof(leaves, index)
    assert verify_inclusion(root, leaves[index], index, len(leaves), proof)


@given(leaves_st, st.data())
def test_tampered_proofs_fail(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    root = merkle_root(leaves)
    proof = inclusion_proof(leaves, index)
    assert not verify_inclusion(root, leaves[index] + b"!", index, len(leaves), proof)
    assert not verify_inclusion(sha256(root), leaves[index], index, len(leaves), proof)
    if proof:
        bent = [sha256(proof[0]), *proof[1:]]
        assert not verify_inclusion(root, leaves[index], index, len(leaves), bent)
        assert not verify_inclusion(root, leaves[index], index, len(leaves), proof[:-1])
    other = data.draw(st.integers(0, len(leaves) - 1))
    if leaves[other] != leaves[index]:
        assert not verify_inclusion(root, leaves[other], index, len(leaves), proof)


@given(leaves_st, st.binary(max_size=8))
def test_root_depends_on_every_leaf_and_order(leaves: list[bytes], extra: bytes) -> None:
    assert merkle_root(leaves) != merkle_root([*leaves, extra])
    if len(set(leaves)) > 1:
        assert merkle_root(leaves) != merkle_root(list(reversed(leaves))) or leaves == list(
            reversed(leaves)
        )


@given(st.text(max_size=12), st.binary(max_size=64), st.binary(max_size=64))
def test_signatures_verify_only_their_message(label: str, msg: bytes, other: bytes) -> None:
    key = KeyPair.from_label(label)
    signature = key.sign(msg)
    assert verify_signature(key.public, msg, signature)
    if other != msg:
        assert not verify_signature(key.public, other, signature)
    assert not verify_signature(KeyPair.from_label(label + "x").public, msg, signature)
    assert not verify_signature(key.public, msg, signature[:-1])
    assert KeyPair.from_label(label) == key


@given(st.binary(max_size=32), st.binary(max_size=32), st.fractions(0, 1))
def test_beacon_draw_is_exact_and_matches_draw_below(
    beacon: bytes, item: bytes, rate: Fraction
) -> None:
    u = beacon_draw(beacon, item)
    assert 0 <= u < 1
    assert u.denominator <= DRAW_SPACE
    assert draw_below(beacon, item, rate) == (u < rate)


def test_beacon_draws_are_roughly_uniform() -> None:
    """Of 4000 draws, the fraction below 1/4 lies within 5 standard deviations of 1/4."""
    hits = sum(draw_below(b"beacon", i.to_bytes(4, "big"), Fraction(1, 4)) for i in range(4000))
    assert abs(hits - 1000) < 5 * (4000 * 0.25 * 0.75) ** 0.5
