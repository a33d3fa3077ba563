"""Hashes, signatures, Merkle trees and beacon draws, each in its standard form.

- Hash: SHA-256 (FIPS 180-4), the hash Definition 2 names.
- Signatures: Ed25519 (RFC 8032) under a stated rule (spec/crypto.md SIG): byte pre-checks here,
  the cofactorless equation through PyNaCl.
- Merkle trees: RFC 6962 §2.1 exactly (leaf = H(0x00 ‖ d), node = H(0x01 ‖ l ‖ r), split at the
  largest power of two below n), with inclusion proofs verified as in RFC 9162 §2.1.3.2, so any
  implementation reproduces our roots with its standard library.
- Beacon draws: u = SHA-256(beacon ‖ id) / 2^256, an exact fraction in [0, 1).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import SigningKey, VerifyKey

from aci_ref.errors import RejectedError, Rejection

HASH_SIZE: Final = 32
DRAW_SPACE: Final = 1 << 256
"""Number of distinct beacon draws: u is an integer in [0, 2^256) over this denominator."""


def sha256(data: bytes) -> bytes:
    """SHA-256 of `data` (Definition 2's H)."""
    return hashlib.sha256(data).digest()


# ---- Ed25519 -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An Ed25519 key pair; `public` (32 bytes) is how the protocol names its holder."""

    seed: bytes
    public: bytes

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        """Derive a key pair from a 32-byte seed (deterministic, as RFC 8032 §5.1.5)."""
        if len(seed) != 32:
            raise RejectedError(Rejection.BAD_KEY, "an Ed25519 seed is 32 bytes")
        return cls(seed, bytes(SigningKey(seed).verify_key))

    @classmethod
    def from_label(cls, label: str) -> KeyPair:
        """A reproducible key for simulations and tests: the seed is SHA-256 of the label."""
        return cls.from_seed(sha256(b"aci-ref/key/" + label.encode("utf-8")))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message`."""
        return bytes(SigningKey(self.seed).sign(message).signature)


# The rule's curve constants: the field prime p and the base point's prime order L.
_FIELD_P: Final = (1 << 255) - 19
_ORDER_L: Final = (1 << 252) + 27742317777372353535851937790883648493
_Y_MASK: Final = (1 << 255) - 1

# The eight torsion points (order 1, 2, 4, 8) have five distinct y values: 1 (identity), p - 1
# (order 2), 0 (the two points of order 4), and y8, p - y8 (the four of order 8). A key or R is
# read as 255 bits of y plus a sign bit, so y and, where it still fits in 255 bits, y + p name the
# same y; y + p < 2^255 holds only for y = 0 and y = 1. Hence seven strings once the sign bit is
# cleared. `aci_ref.vectors.edwards:small_order_masked_encodings` derives the set from the curve
# ([L]Q for hash-chosen points Q, then its multiples) and a unit test keeps the two equal.
SMALL_ORDER_ENCODINGS: Final = frozenset(
    bytes.fromhex(h)
    for h in (
        "0000000000000000000000000000000000000000000000000000000000000000",  # y = 0, order 4
        "0100000000000000000000000000000000000000000000000000000000000000",  # y = 1, identity
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # y8, order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # p - y8, order 8
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p - 1, order 2
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p (= 0), alias
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p + 1 (= 1), alias
    )
)
"""ref: signature rule (errata E110). Small-order point encodings, sign bit cleared."""


def _masked(encoding: bytes) -> bytes:
    return encoding[:31] + bytes([encoding[31] & 0x7F])


def signature_precheck(public: bytes, signature: bytes) -> str | None:
    """ref: signature rule (errata E110). The first pre-check that fails, or None.

    The checks are plain byte and integer comparisons, in this order: `length` (32 and 64
    bytes), `s_not_reduced` (S >= L), `a_non_canonical` (the key's y >= p), `a_small_order`,
    `r_small_order`. What remains for the equation is the part every RFC 8032 verifier shares.
    A key or signature that is not `bytes` (a bytearray, say) is `not_bytes`: PyNaCl has always
    refused such keys, and the TEE chain cache relies on bytes-like look-alikes being refused.
    """
    if not isinstance(public, bytes) or not isinstance(signature, bytes):
        return "not_bytes"
    if len(public) != 32 or len(signature) != 64:
        return "length"
    if int.from_bytes(signature[32:], "little") >= _ORDER_L:
        return "s_not_reduced"
    if int.from_bytes(public, "little") & _Y_MASK >= _FIELD_P:
        return "a_non_canonical"
    if _masked(public) in SMALL_ORDER_ENCODINGS:
        return "a_small_order"
    if _masked(signature[:32]) in SMALL_ORDER_ENCODINGS:
        return "r_small_order"
    return None


def verify_signature(public: bytes, message: bytes, signature: bytes) -> bool:
    """ref: signature rule (errata E110).

    Accept exactly when the pre-checks of `signature_precheck` pass, the key decodes to a curve
    point, and the cofactorless equation holds with R compared as bytes: encode([S]B - [k]A) ==
    signature[:32], k = SHA-512(R || A || message) mod L. The equation is PyNaCl's (libsodium's
    `crypto_sign_verify_detached`, which applies the same pre-checks itself); ours run first so
    the verdict is this rule's and not whatever a library version does (spec/crypto.md SIG).
    """
    if signature_precheck(public, signature) is not None:
        return False
    try:
        VerifyKey(public).verify(message, signature)
    except (BadSignatureError, CryptoError, ValueError):
        return False
    return True


def require_signature(public: bytes, message: bytes, signature: bytes) -> None:
    """Refuse with `BAD_SIGNATURE` unless the signature verifies."""
    if not verify_signature(public, message, signature):
        raise RejectedError(Rejection.BAD_SIGNATURE, f"key {public.hex()[:16]}")


# ---- Merkle trees (RFC 6962) -------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: H(0x00 ‖ data)."""
    return sha256(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: H(0x01 ‖ left ‖ right)."""
    return sha256(b"\x01" + left + right)


def _split(n: int) -> int:
    """The largest power of two strictly below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash of the ordered list `leaves` (H of the empty string if empty)."""
    if not leaves:
        return sha256(b"")
    level = [leaf_hash(leaf) for leaf in leaves]
    return _subtree_root(level)


def _subtree_root(hashes: list[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(_subtree_root(hashes[:k]), _subtree_root(hashes[k:]))


def inclusion_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """RFC 6962 §2.1.1 audit path PATH(index, leaves), nearest sibling first."""
    if not 0 <= index < len(leaves):
        raise RejectedError(
            Rejection.BAD_MERKLE_PROOF, f"index {index} outside {len(leaves)} leaves"
        )
    return _path(index, [leaf_hash(leaf) for leaf in leaves])


def _path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if m < k:
        return [*_path(m, hashes[:k]), _subtree_root(hashes[k:])]
    return [*_path(m - k, hashes[k:]), _subtree_root(hashes[:k])]


def verify_inclusion(root: bytes, leaf: bytes, index: int, size: int, proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` show `leaf` at `index` of a tree of `size` with `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    result = leaf_hash(leaf)
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


# ---- beacon draws ------------------------------------------------------------------------------


def beacon_draw_int(beacon: bytes, item_id: bytes) -> int:
    """The integer numerator of a beacon draw: SHA-256(beacon ‖ id) read big-endian."""
    return int.from_bytes(sha256(beacon + item_id), "big")


def beacon_draw(beacon: bytes, item_id: bytes) -> Fraction:
    """Algorithm 2 line 6 made verifiable: u = SHA-256(beacon ‖ id) / 2^256, exactly."""
    return Fraction(beacon_draw_int(beacon, item_id), DRAW_SPACE)


def draw_below(beacon: bytes, item_id: bytes, rate: Fraction) -> bool:
    """Algorithm 2 line 7: u < rate, decided in integers (no rounding anywhere)."""
    return beacon_draw_int(beacon, item_id) * rate.denominator < rate.numerator * DRAW_SPACE
