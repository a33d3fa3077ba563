"""ref: signature rule (errata E110) — edwards25519 arithmetic for building signature cases.

A small, slow, variable-time implementation in extended coordinates (X : Y : Z : T), x = X/Z,
y = Y/Z, xy = T/Z. It exists so the edge-case generator can place points where no honest signer
would (torsion points, mixed-order points, non-canonical encodings) and so tests can evaluate the
signature rule without libsodium. It never touches secret keys of the protocol: do not use it to
sign anything real.
"""

from __future__ import annotations

import hashlib
from typing import Final

P: Final = (1 << 255) - 19
"""The field prime of curve25519."""
L: Final = (1 << 252) + 27742317777372353535851937790883648493
"""The prime order of the base point."""
D: Final = (-121665 * pow(121666, P - 2, P)) % P
"""The twisted Edwards constant d = -121665/121666 (a = -1)."""
SQRT_M1: Final = pow(2, (P - 1) // 4, P)
"""A square root of -1 in the field (2 is a non-residue, so 2^((p-1)/4) squares to -1)."""

Point = tuple[int, int, int, int]

IDENTITY: Final[Point] = (0, 1, 1, 0)


def _inv(v: int) -> int:
    return pow(v, P - 2, P)


def recover_x(y: int, sign: int) -> int | None:
    """The x with x^2 = (y^2 - 1) / (d y^2 + 1) and parity `sign`, or None if there is none.

    For x = 0 the parity cannot be honoured; that case is returned as 0 so callers decide whether
    a set sign bit on x = 0 is acceptable (the rule of E110 never needs to: every such point is
    of small order).
    """
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    # Candidate root u v^3 (u v^7)^((p-5)/8): one exponentiation instead of a division and a root.
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if (v * x * x - u) % P != 0:
        x = x * SQRT_M1 % P
        if (v * x * x - u) % P != 0:
            return None
    if x != 0 and x & 1 != sign:
        x = P - x
    return x


def from_affine(x: int, y: int) -> Point:
    """The extended-coordinate form of the affine point (x, y)."""
    return (x % P, y % P, 1, x * y % P)


def to_affine(pt: Point) -> tuple[int, int]:
    """The affine (x, y) of `pt`."""
    zi = _inv(pt[2])
    return pt[0] * zi % P, pt[1] * zi % P


def add(p1: Point, p2: Point) -> Point:
    """The group sum (unified formulas for a = -1, valid for doubling too)."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * D * t1 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def double(pt: Point) -> Point:
    """2·pt (dedicated doubling; the T input is not needed)."""
    x1, y1, z1, _ = pt
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1)
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def negate(pt: Point) -> Point:
    """-pt: (x, y) -> (-x, y)."""
    return ((-pt[0]) % P, pt[1], pt[2], (-pt[3]) % P)


def scalar_mult(k: int, pt: Point) -> Point:
    """[k]pt for k >= 0, left-to-right double and add."""
    result = IDENTITY
    for bit in bin(k)[2:] if k else "":
        result = double(result)
        if bit == "1":
            result = add(result, pt)
    return result


def equal(p1: Point, p2: Point) -> bool:
    """Projective equality (x1 z2 = x2 z1 and y1 z2 = y2 z1)."""
    return (p1[0] * p2[2] - p2[0] * p1[2]) % P == 0 and (p1[1] * p2[2] - p2[1] * p1[2]) % P == 0


def encode(pt: Point) -> bytes:
    """The canonical 32-byte encoding: y little-endian, the parity of x in the top bit."""
    x, y = to_affine(pt)
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def encode_raw(y: int, sign: int) -> bytes:
    """An encoding built from an arbitrary y < 2^255 and sign bit (canonical or not)."""
    return (y | (sign << 255)).to_bytes(32, "little")


def decode(data: bytes) -> Point | None:
    """Decode 32 bytes as libsodium does: y taken mod p (y >= p is NOT refused here), None
    when no point has that y. Canonicity is a separate check of the rule."""
    if len(data) != 32:
        return None
    raw = int.from_bytes(data, "little")
    y = (raw & ((1 << 255) - 1)) % P
    x = recover_x(y, raw >> 255)
    return None if x is None else from_affine(x, y)


BASE: Final[Point] = from_affine(recover_x(4 * _inv(5) % P, 0) or 0, 4 * _inv(5) % P)
"""The base point B: y = 4/5, x even."""


def is_torsion(pt: Point) -> bool:
    """True when [8]pt is the identity (pt has order 1, 2, 4 or 8)."""
    return equal(scalar_mult(8, pt), IDENTITY)


def order_eight_point() -> Point:
    """A generator of the torsion subgroup, derived rather than written down.

    [L]Q for any curve point Q lies in the 8-element torsion subgroup; hash-derived y values are
    tried in order until [L]Q has order exactly 8 (i.e. [4]·it is not the identity).
    """
    counter = 0
    while True:
        digest = hashlib.sha256(b"aci-ref/edwards/torsion/" + str(counter).encode()).digest()
        counter += 1
        q = decode(digest[:31] + bytes([digest[31] & 0x7F]))
        if q is None:
            continue
        t = scalar_mult(L, q)
        if not equal(scalar_mult(4, t), IDENTITY):
            return t


def torsion_points() -> tuple[Point, ...]:
    """The eight points of order dividing 8, as [i]T8 for i = 0..7."""
    t8 = order_eight_point()
    points = [IDENTITY]
    for _ in range(7):
        points.append(add(points[-1], t8))
    return tuple(points)


def small_order_masked_encodings() -> frozenset[bytes]:
    """Every 32-byte string whose y field (top bit cleared) is the y of a torsion point.

    y is read from 255 bits, so besides the canonical y < p an alias y + p is also a string
    whenever y + p < 2^255, i.e. y < 19: of the torsion y values that holds for 0 and 1 only.
    """
    out: set[bytes] = set()
    for pt in torsion_points():
        _, y = to_affine(pt)
        for alias in (y, y + P):
            if alias < 1 << 255:
                out.add(alias.to_bytes(32, "little"))
    return frozenset(out)


def hash_scalar(*parts: bytes) -> int:
    """SHA-512 of the concatenation, little-endian, reduced mod L (RFC 8032's k)."""
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little") % L
