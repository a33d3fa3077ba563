"""ref: signature rule (errata E110) — Ed25519 edge cases, each with the reference's verdict.

Every case is built from hashes of labels (no file, no randomness), so the tuple is the same on
every run. Points are placed with `aci_ref.vectors.edwards`; the verdict `valid` is always
`aci_ref.crypto:verify_signature`'s. Where a case is meant to satisfy the cofactorless equation
despite a bad point (a forgery that only a pre-check stops), the construction searches message
suffixes until the torsion parts cancel, and the flag `equation_holds` says so;
`points_equation_holds` marks a non-canonical R for which the equation holds only when R is
compared as a point rather than as bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from aci_ref.crypto import KeyPair, verify_signature
from aci_ref.vectors import edwards as ed
from aci_ref.vectors.edwards import IDENTITY, L, P, Point

_MAX_SEARCH: Final = 256
"""Message suffixes tried before giving up on cancelling torsion (a 1/8 chance per try)."""


@dataclass(frozen=True, slots=True)
class SignatureCase:
    """ref: signature rule (errata E110). One verification input and the reference's verdict."""

    name: str
    public: bytes
    message: bytes
    signature: bytes
    valid: bool
    flags: tuple[str, ...]


def _scalar(label: str) -> int:
    return (
        int.from_bytes(hashlib.sha512(b"aci-ref/ed25519-case/" + label.encode()).digest(), "little")
        % L
    )


def _mul_base(k: int) -> Point:
    return ed.scalar_mult(k, ed.BASE)


def _order(pt: Point) -> int:
    for n in (1, 2, 4, 8):
        if ed.equal(ed.scalar_mult(n, pt), IDENTITY):
            return n
    raise ValueError("not a torsion point")


def _sig(r_enc: bytes, s: int) -> bytes:
    return r_enc + s.to_bytes(32, "little")


def _forge(
    label: str,
    a: int,
    t_a: Point,
    r: int,
    t_r: Point,
    *,
    a_enc: bytes | None = None,
    r_enc: bytes | None = None,
    want_equation: bool = True,
) -> tuple[bytes, bytes, bytes]:
    """(public, message, signature) for A = [a]B + t_a and R = [r]B + t_r with S = r + k·a.

    [S]B = R + [k]A then reduces to t_r + [k]t_a = 0, so messages are searched until that holds
    (or, with `want_equation` false, until it does not: only the cofactored equation then holds).
    `a_enc` / `r_enc` override the canonical encodings with other strings for the same point.
    """
    public = a_enc if a_enc is not None else ed.encode(ed.add(_mul_base(a), t_a))
    r_bytes = r_enc if r_enc is not None else ed.encode(ed.add(_mul_base(r), t_r))
    for i in range(_MAX_SEARCH):
        message = f"{label} #{i}".encode()
        k = ed.hash_scalar(r_bytes, public, message)
        cancels = ed.equal(ed.add(t_r, ed.scalar_mult(k, t_a)), IDENTITY)
        if cancels == want_equation:
            return public, message, _sig(r_bytes, (r + k * a) % L)
    raise ValueError(f"{label}: no message found")  # pragma: no cover - 8^-256 odds


def _aliases(pt: Point) -> list[tuple[str, bytes]]:
    """Every encoding other than the canonical one that decodes to `pt` (libsodium's decoding):
    y + p where it fits in 255 bits, and a set sign bit when x = 0."""
    x, y = ed.to_affine(pt)
    out: list[tuple[str, bytes]] = []
    ys = [(y, "")] + ([(y + P, "y_plus_p")] if y + P < 1 << 255 else [])
    for value, tag in ys:
        signs = [x & 1] + ([1] if x == 0 else [])
        for sign in signs:
            names = [tag] if tag else []
            if x == 0 and sign == 1:
                names.append("sign_bit_x0")
            if names:
                out.append(("_".join(names), ed.encode_raw(value, sign)))
    return out


def _alias_flags(which: str, tag: str) -> list[str]:
    flags = [f"{which}_non_canonical"] if "y_plus_p" in tag else []
    return flags + ([f"{which}_sign_bit_x0"] if "sign_bit_x0" in tag else [])


def _non_canonical_curve_ys() -> list[int]:
    """The small y (2 <= y < 19) that lie on the curve and are not torsion y values: their
    aliases y + p are non-canonical encodings of points of large order."""
    return [y for y in range(2, 19) if ed.recover_x(y, 0) is not None]


def _off_curve_y(label: str) -> int:
    for i in range(_MAX_SEARCH):
        y = int.from_bytes(hashlib.sha256(f"{label}{i}".encode()).digest(), "little") % P
        if ed.recover_x(y, 0) is None:
            return y
    raise ValueError(label)  # pragma: no cover


class _Builder:
    def __init__(self) -> None:
        self.cases: list[SignatureCase] = []

    def add(self, name: str, public: bytes, message: bytes, signature: bytes, *flags: str) -> None:
        valid = verify_signature(public, message, signature)
        self.cases.append(SignatureCase(name, public, message, signature, valid, tuple(flags)))


def _honest(b: _Builder) -> tuple[KeyPair, bytes, bytes]:
    messages = [b"", b"\x72", b"\xaf\x82", bytes(range(256)) * 4]
    names = ["empty", "one_byte", "two_bytes", "1024_bytes"]
    for i, (name, msg) in enumerate(zip(names, messages, strict=True)):
        key = KeyPair.from_label(f"ed25519-case/honest/{i}")
        b.add(f"honest/{name}", key.public, msg, key.sign(msg), "honest")
    key = KeyPair.from_label("ed25519-case/honest/tamper")
    msg = b"aci-ref tamper target"
    return key, msg, key.sign(msg)


def _tampered(b: _Builder, key: KeyPair, msg: bytes, sig: bytes) -> None:
    def flip(data: bytes, byte: int, bit: int) -> bytes:
        out = bytearray(data)
        out[byte] ^= 1 << bit
        return bytes(out)

    other = KeyPair.from_label("ed25519-case/honest/other")
    b.add("tamper/untouched", key.public, msg, sig, "honest")
    b.add("tamper/wrong_message", key.public, msg + b"!", sig, "wrong_message")
    b.add("tamper/message_bit", key.public, flip(msg, 0, 0), sig, "flipped_bit", "message")
    b.add("tamper/wrong_key", other.public, msg, sig, "wrong_key")
    b.add("tamper/r_bit0", key.public, msg, flip(sig, 0, 0), "flipped_bit", "r")
    b.add("tamper/r_sign_bit", key.public, msg, flip(sig, 31, 7), "flipped_bit", "r")
    b.add("tamper/s_bit0", key.public, msg, flip(sig, 32, 0), "flipped_bit", "s")
    b.add("tamper/a_bit0", flip(key.public, 0, 0), msg, sig, "flipped_bit", "a")
    b.add("tamper/a_sign_bit", flip(key.public, 31, 7), msg, sig, "flipped_bit", "a")
    b.add("length/public_31", key.public[:31], msg, sig, "wrong_length")
    b.add("length/public_33", key.public + b"\x00", msg, sig, "wrong_length")
    b.add("length/public_empty", b"", msg, sig, "wrong_length")
    b.add("length/signature_63", key.public, msg, sig[:63], "wrong_length")
    b.add("length/signature_65", key.public, msg, sig + b"\x00", "wrong_length")
    b.add("length/signature_empty", key.public, msg, b"", "wrong_length")


def _scalars(b: _Builder, key: KeyPair, msg: bytes, sig: bytes) -> None:
    r_enc, s = sig[:32], int.from_bytes(sig[32:], "little")
    pk = key.public

    def with_s(value: int) -> bytes:
        return _sig(r_enc, value)

    b.add("s/plus_l", pk, msg, with_s(s + L), "s_not_reduced", "equation_holds")
    b.add(
        "s/plus_15l", pk, msg, with_s(s + 15 * L), "s_not_reduced", "s_high_bits", "equation_holds"
    )
    b.add("s/equals_l", pk, msg, with_s(L), "s_not_reduced")
    b.add("s/l_minus_1", pk, msg, with_s(L - 1), "s_boundary")
    b.add("s/top_bit", pk, msg, with_s(s | 1 << 255), "s_not_reduced", "s_high_bits")
    b.add("s/all_ones", pk, msg, with_s((1 << 256) - 1), "s_not_reduced", "s_high_bits")
    b.add("s/zero", pk, msg, with_s(0), "s_zero")
    # S = 0 with R = -[k]A would need R before k; the identity key makes [k]A vanish instead.
    ident = ed.encode(IDENTITY)
    b.add(
        "s/zero_identity_all",
        ident,
        msg,
        _sig(ident, 0),
        "s_zero",
        "a_small_order",
        "r_small_order",
        "equation_holds",
    )


def _small_order_a(b: _Builder, torsion: tuple[Point, ...]) -> None:
    for i, t in enumerate(torsion):
        order = _order(t)
        label = f"a_small_order/t{i}"
        pk, m, sig = _forge(label, 0, t, _scalar(label), IDENTITY)
        b.add(f"{label}_order{order}", pk, m, sig, "a_small_order", "equation_holds")
        for tag, enc in _aliases(t):
            alias_label = f"{label}_{tag}"
            pk, m, sig = _forge(alias_label, 0, t, _scalar(alias_label), IDENTITY, a_enc=enc)
            flags = ["a_small_order", *_alias_flags("a", tag)]
            b.add(f"{alias_label}_order{order}", pk, m, sig, *flags, "equation_holds")


def _small_order_r(b: _Builder, torsion: tuple[Point, ...]) -> None:
    t8 = next(t for t in torsion if _order(t) == 8)
    for i, t in enumerate(torsion):
        order = _order(t)
        label = f"r_small_order/t{i}"
        # A carries an order-8 component so that [k]t8 can cancel any torsion R.
        pk, m, sig = _forge(label, _scalar(label + "/a"), t8, 0, t)
        b.add(
            f"{label}_order{order}", pk, m, sig, "r_small_order", "a_mixed_order", "equation_holds"
        )
        for tag, enc in _aliases(t):
            alias_label = f"{label}_{tag}"
            pk, m, sig = _forge(alias_label, _scalar(alias_label + "/a"), t8, 0, t, r_enc=enc)
            flags = ["r_small_order", *_alias_flags("r", tag)]
            # As bytes the equation cannot hold (we compute canonical R); as points it does.
            flags += ["a_mixed_order", "points_equation_holds"]
            b.add(f"{alias_label}_order{order}", pk, m, sig, *flags)
    label = "r_small_order/identity_honest_a"
    pk, m, sig = _forge(label, _scalar(label + "/a"), IDENTITY, 0, IDENTITY)
    b.add(label, pk, m, sig, "r_small_order", "equation_holds")


def _mixed_order(b: _Builder, torsion: tuple[Point, ...]) -> None:
    for i in (4, 2, 1):  # orders 2, 4 and 8 in the [i]T8 listing
        t = torsion[i]
        order = _order(t)
        label = f"mixed/a_plus_order{order}"
        pk, m, sig = _forge(label, _scalar(label + "/a"), t, _scalar(label + "/r"), IDENTITY)
        b.add(label, pk, m, sig, "a_mixed_order", "equation_holds")
        label = f"mixed/a_and_r_plus_order{order}"
        pk, m, sig = _forge(label, _scalar(label + "/a"), t, _scalar(label + "/r"), ed.negate(t))
        b.add(label, pk, m, sig, "a_mixed_order", "r_mixed_order", "equation_holds")
        label = f"cofactored_only/r_plus_order{order}"
        pk, m, sig = _forge(
            label, _scalar(label + "/a"), IDENTITY, _scalar(label + "/r"), t, want_equation=False
        )
        b.add(label, pk, m, sig, "r_mixed_order", "cofactored_only")
        label = f"cofactored_only/a_plus_order{order}"
        pk, m, sig = _forge(
            label, _scalar(label + "/a"), t, _scalar(label + "/r"), IDENTITY, want_equation=False
        )
        b.add(label, pk, m, sig, "a_mixed_order", "cofactored_only")


def _non_canonical_large(b: _Builder, key: KeyPair, msg: bytes, sig: bytes) -> None:
    ys = _non_canonical_curve_ys()
    for y in ys[:2]:
        alias = ed.encode_raw(y + P, 0)
        b.add(f"non_canonical/a_y{y}_plus_p", alias, msg, sig, "a_non_canonical")
        b.add(f"non_canonical/r_y{y}_plus_p", key.public, msg, alias + sig[32:], "r_non_canonical")
    # An honest R has y >= 19 (overwhelmingly), so it has no y + p alias; these R are other
    # points of large order written non-canonically, refused by the byte comparison alone.
    off = ed.encode_raw(_off_curve_y("ed25519-case/off-curve"), 0)
    b.add("off_curve/a", off, msg, sig, "a_not_on_curve")
    b.add("off_curve/r", key.public, msg, off + sig[32:], "r_not_on_curve")
    b.add("non_canonical/a_all_ones", b"\xff" * 32, msg, sig, "a_non_canonical")


def edge_cases() -> tuple[SignatureCase, ...]:
    """ref: signature rule (errata E110). The edge cases, in a fixed order, names unique."""
    b = _Builder()
    torsion = ed.torsion_points()
    key, msg, sig = _honest(b)
    _tampered(b, key, msg, sig)
    _scalars(b, key, msg, sig)
    _small_order_a(b, torsion)
    _small_order_r(b, torsion)
    _mixed_order(b, torsion)
    _non_canonical_large(b, key, msg, sig)
    return tuple(b.cases)
