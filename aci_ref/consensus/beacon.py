"""Algorithm 2's beacon: a threshold BLS signature (2f + 1 of 3f + 1) over the settlement height.

Construction. BLS signatures on BLS12-381 with public keys in G1 (48 bytes compressed) and
signatures in G2 (96 bytes compressed): the signature of a message m under secret x is
x · H(m), where H is the RFC 9380 hash to G2 (SHA-256 expand, SSWU, random oracle) with this
module's domain tag, and it verifies when e(g1, σ) = e(x · g1, H(m)). At genesis a dealer picks a
polynomial p of degree t − 1 over the scalar field; validator i (the i-th name in sorted order,
counting from 1) keeps the secret share p(i), and the genesis records the group key p(0) · g1 and
every share key p(i) · g1. For height h, validator i releases the share p(i) · H(h); any t valid
shares combine, by Lagrange interpolation at 0 in the exponent, to p(0) · H(h): the one BLS
signature of h under the group key. The chain's beacon is SHA-256 of its compressed encoding.

Assumption. The dealer is honest at genesis and forgets the polynomial; each secret share never
leaves its validator. (A distributed key generation would remove the dealer; it is not built.)

Unbiasable. A BLS signature is unique: for one group key and one height exactly one point
verifies, and every t-subset of valid shares interpolates to it. Whoever assembles the beacon, and
whichever shares f Byzantine validators send or withhold, the result is that point or nothing;
there is no value to choose among. Every share is checked against its own key before use, so a
wrong share is refused rather than mixed in.

Unpredictable. The signature needs t = 2f + 1 > f shares; f validators' shares are f points of a
degree-t−1 polynomial and say nothing about p(0) · H(h). Honest validators release their share
for h only after block h is decided (the validator layer's rule), so nobody, the block's proposer
included, learns the beacon of h before h's contents are fixed.

Every decoder here is total: malformed bytes make a check return False, or an operation raise
`RejectedError`, never a library exception.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, TypeAlias

from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar

from aci_ref.crypto import sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection

GROUP_ORDER: Final = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
"""r, the prime order of G1, G2 and GT; secret shares and polynomial coefficients live mod r."""
SCALAR_BYTES: Final = 32
G1_BYTES: Final = 48
G2_BYTES: Final = 96
MAX_HEIGHT: Final = (1 << 64) - 1
"""Heights are encoded as canonical CBOR integers, which this project bounds to 64 bits."""

HASH_TO_G2_DST: Final = b"ACI-REF-BEACON-V01-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"
"""The hash-to-curve domain tag: no other protocol's BLS signature can be replayed as a share."""
_MESSAGE_DOMAIN: Final = "aci-ref/beacon/height"
_DEALER_DOMAIN: Final = "aci-ref/beacon/dealer-coefficient"
_NEG_G1: Final = -G1Point()


@dataclass(frozen=True, slots=True)
class BeaconKeys:
    """§3.3 beacon, genesis part: the threshold keys every validator checks shares against.

    `names` are sorted; validator `names[i]` has share index i + 1 and share key
    `share_publics[i]`. Keys are compressed G1 points; `threshold` shares make a signature.
    """

    names: tuple[str, ...]
    threshold: int
    group_public: bytes
    share_publics: tuple[bytes, ...]

    def __post_init__(self) -> None:
        names, publics = self.names, self.share_publics
        if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
            raise RejectedError(Rejection.BAD_INPUT, "names: a tuple of strings")
        if not names or list(names) != sorted(set(names)):
            raise RejectedError(Rejection.BAD_INPUT, "names: non-empty, distinct, sorted")
        if type(self.threshold) is not int or not 1 <= self.threshold <= len(names):
            raise RejectedError(Rejection.BAD_INPUT, f"threshold {self.threshold!r}")
        if not isinstance(publics, tuple) or len(publics) != len(names):
            raise RejectedError(Rejection.BAD_INPUT, "share_publics: one key per name")
        if not all(isinstance(k, bytes) for k in (self.group_public, *publics)):
            raise RejectedError(Rejection.BAD_INPUT, "public keys: bytes")

    def index(self, name: object) -> int | None:
        """The share index (from 1) of `name`, or None if it is not a member."""
        if not isinstance(name, str):
            return None
        at = bisect_left(self.names, name)
        return at + 1 if at < len(self.names) and self.names[at] == name else None


BeaconSetup: TypeAlias = tuple[BeaconKeys, dict[str, bytes]]
"""What the genesis dealer hands out: the public keys, and each validator's secret share."""


def threshold_for(n: int) -> int:
    """§4.3: the share count of a beacon among n validators, 2f + 1 with f = (n − 1) // 3."""
    if type(n) is not int or n < 1:
        raise RejectedError(Rejection.BAD_INPUT, f"committee size {n!r}")
    return 2 * ((n - 1) // 3) + 1


def _coefficient(seed: bytes, k: int) -> int:
    """The k-th polynomial coefficient: a non-zero scalar hashed from the seed (512 bits mod r)."""
    counter = 0
    while True:
        digest = hashlib.sha512(canonical_bytes([_DEALER_DOMAIN, seed, k, counter])).digest()
        value = int.from_bytes(digest, "big") % GROUP_ORDER
        if value:
            return value
        counter += 1


def _g1_bytes(scalar: int) -> bytes:
    return (G1Point() * Scalar(scalar)).to_compressed_bytes()


def deal(names: tuple[str, ...], threshold: int, seed: bytes) -> BeaconSetup:
    """§3.3 beacon, genesis: a trusted dealer shares a random degree-(threshold − 1) polynomial.

    The dealer is trusted at genesis: whoever knows `seed` knows every share and can compute every
    beacon, so `seed` must hold enough entropy and be destroyed after dealing; a distributed key
    generation would remove the dealer. The polynomial is derived from `seed` alone (hashed to
    scalars), share i = p(i) for the i-th name in sorted order. Returns the public `BeaconKeys`
    and the secret shares by name (32 bytes big-endian each); each validator keeps only its own.
    """
    bad = Rejection.BAD_INPUT
    if not isinstance(names, tuple) or not all(isinstance(n, str) and n for n in names):
        raise RejectedError(bad, "names: a tuple of non-empty strings")
    ordered = tuple(sorted(set(names)))
    if not ordered or len(ordered) != len(names):
        raise RejectedError(bad, "names: non-empty and distinct")
    if type(threshold) is not int or not 1 <= threshold <= len(ordered):
        raise RejectedError(bad, f"threshold {threshold!r} of {len(ordered)}")
    if not isinstance(seed, bytes):
        raise RejectedError(bad, "seed: bytes")
    coefficients = [_coefficient(seed, k) for k in range(threshold)]

    def p(x: int) -> int:
        acc = 0
        for c in reversed(coefficients):
            acc = (acc * x + c) % GROUP_ORDER
        return acc

    secrets = {name: p(i) for i, name in enumerate(ordered, start=1)}
    keys = BeaconKeys(
        names=ordered,
        threshold=threshold,
        group_public=_g1_bytes(coefficients[0]),
        share_publics=tuple(_g1_bytes(secrets[name]) for name in ordered),
    )
    return keys, {name: s.to_bytes(SCALAR_BYTES, "big") for name, s in secrets.items()}


# ---- decoding: total, canonical, in the prime-order subgroup, never the identity ---------------


def _valid_height(height: object) -> bool:
    return type(height) is int and 0 <= height <= MAX_HEIGHT


@lru_cache(maxsize=1 << 12)
def _decode_g1(data: bytes) -> G1Point | None:
    # Only genesis keys come here, so caching their (subgroup-checked) decoding is bounded.
    try:
        point = G1Point.from_compressed_bytes(data)
    except ValueError:
        return None
    if point.to_compressed_bytes() != data or point == G1Point.identity():
        return None
    return point


def _decode_g2(data: object) -> G2Point | None:
    if not isinstance(data, bytes) or len(data) != G2_BYTES:
        return None
    try:
        point = G2Point.from_compressed_bytes(data)
    except ValueError:
        return None
    # The library ignores the coordinate bytes of an infinity flag: insist on the one encoding.
    if point.to_compressed_bytes() != data or point == G2Point.identity():
        return None
    return point


def _public(data: object) -> G1Point | None:
    if not isinstance(data, bytes) or len(data) != G1_BYTES:
        return None
    return _decode_g1(data)


@lru_cache(maxsize=1 << 10)
def _hash_height(height: int) -> G2Point:
    """H(h): the domain-separated canonical CBOR of the height, hashed to G2."""
    return G2Point.hash_to_curve(canonical_bytes([_MESSAGE_DOMAIN, height]), HASH_TO_G2_DST)


def _pairs(public: G1Point, height: int, signature: G2Point) -> bool:
    # e(−g1, σ) · e(pk, H(h)) = 1  ⇔  e(g1, σ) = e(pk, H(h))
    return GT.pairing_check([_NEG_G1, public], [signature, _hash_height(height)])


# ---- shares and the beacon ---------------------------------------------------------------------


def sign_share(secret_share: bytes, height: int) -> bytes:
    """§3.3 beacon: a validator's share for `height`, p(i) · H(height), 96 bytes compressed."""
    if not isinstance(secret_share, bytes) or len(secret_share) != SCALAR_BYTES:
        raise RejectedError(Rejection.BAD_INPUT, "secret share: 32 bytes")
    secret = int.from_bytes(secret_share, "big")
    if not 0 < secret < GROUP_ORDER:
        raise RejectedError(Rejection.BAD_INPUT, "secret share: a non-zero scalar below r")
    if not _valid_height(height):
        raise RejectedError(Rejection.BAD_INPUT, f"height {height!r}")
    return (_hash_height(height) * Scalar(secret)).to_compressed_bytes()


def verify_share(keys: BeaconKeys, name: str, height: int, share: bytes) -> bool:
    """§3.3 beacon: True when `share` is member `name`'s share for `height` under its share key."""
    index = keys.index(name)
    if index is None or not _valid_height(height):
        return False
    public = _public(keys.share_publics[index - 1])
    point = _decode_g2(share)
    return public is not None and point is not None and _pairs(public, height, point)


def valid_shares(keys: BeaconKeys, height: int, shares: Mapping[str, bytes]) -> dict[str, bytes]:
    """The members' shares among `shares` that verify: what an assembler keeps from what it got."""
    if not isinstance(shares, Mapping):
        return {}
    return {n: s for n, s in shares.items() if verify_share(keys, n, height, s)}


def _lagrange_at_zero(indices: list[int]) -> list[int]:
    """λ_i = Π_{j ≠ i} j / (j − i) mod r, so that Σ λ_i · p(i) = p(0) for deg p < len(indices)."""
    out = []
    for i in indices:
        num, den = 1, 1
        for j in indices:
            if j != i:
                num = num * j % GROUP_ORDER
                den = den * (j - i) % GROUP_ORDER
        out.append(num * pow(den, -1, GROUP_ORDER) % GROUP_ORDER)
    return out


def combine(keys: BeaconKeys, height: int, shares: Mapping[str, bytes]) -> bytes:
    """§3.3 beacon: interpolate `threshold` verified shares to the group signature over `height`.

    Refuses with `bad_beacon` if `shares` is not a map of names to bytes, names a non-member,
    holds a share that does not verify, or has fewer than `threshold` members. Every share is
    verified before use; the signature uses the first `threshold` members in name order (any
    `threshold` of them give the same point). Returns the 96-byte compressed signature.
    """
    bad = Rejection.BAD_BEACON
    if not isinstance(shares, Mapping) or not _valid_height(height):
        raise RejectedError(bad, "shares: a map of names to bytes, for a valid height")
    if not all(isinstance(n, str) for n in shares):
        raise RejectedError(bad, "shares: names must be strings")
    chosen: list[tuple[int, G2Point]] = []
    for name in sorted(shares):
        index = keys.index(name)
        if index is None:
            raise RejectedError(bad, f"{name!r} is not a beacon member")
        public = _public(keys.share_publics[index - 1])
        point = _decode_g2(shares[name])
        if public is None or point is None or not _pairs(public, height, point):
            raise RejectedError(bad, f"share of {name!r} for height {height} does not verify")
        chosen.append((index, point))
    if len(chosen) < keys.threshold:
        raise RejectedError(bad, f"{len(chosen)} shares, {keys.threshold} needed")
    chosen = chosen[: keys.threshold]
    weights = _lagrange_at_zero([i for i, _ in chosen])
    signature = G2Point.multiexp_unchecked([p for _, p in chosen], [Scalar(w) for w in weights])
    return signature.to_compressed_bytes()


def verify_beacon(keys: BeaconKeys, height: int, signature: bytes) -> bool:
    """§3.3 beacon: True when `signature` is the group's BLS signature over `height`."""
    if not _valid_height(height):
        return False
    public = _public(keys.group_public)
    point = _decode_g2(signature)
    return public is not None and point is not None and _pairs(public, height, point)


def beacon_bytes(signature: bytes) -> bytes:
    """Algorithm 2 line 6, §3.3: the chain's 32-byte beacon, SHA-256 of the signature's encoding.

    Check the signature with `verify_beacon` first; this only refuses (`bad_beacon`) bytes that
    are not a canonical compressed G2 point.
    """
    if _decode_g2(signature) is None:
        raise RejectedError(Rejection.BAD_BEACON, "signature: not a canonical G2 point")
    return sha256(signature)
