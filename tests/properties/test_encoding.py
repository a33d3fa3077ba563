"""Deterministic CBOR: round trips, canonical form, refusals, and the fast encoder held to a
plain transcription of RFC 8949 §4.2.1."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum, StrEnum
from fractions import Fraction
from typing import Any

import cbor2
import immutables
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aci_ref.encoding import canonical_bytes, decode_canonical
from aci_ref.errors import RejectedError, Rejection

# ---- the reference: RFC 8949 §4.2.1 written out plainly --------------------------------------


def _reference_head(major: int, argument: int) -> bytes:
    """§4.2.1: the argument in the shortest of 0, 1, 2, 4 or 8 following bytes."""
    if argument < 24:
        return bytes([major << 5 | argument])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * width):
            return bytes([major << 5 | info]) + argument.to_bytes(width, "big")
    raise ValueError("integer wider than 64 bits")


def reference_bytes(value: Any) -> bytes:
    """The spec's encoding, one type at a time, map entries sorted bytewise on encoded keys."""
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, Enum):
        return reference_bytes(value.value)
    if isinstance(value, int):
        return _reference_head(0, value) if value >= 0 else _reference_head(1, -1 - value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _reference_head(2, len(bytes(value))) + bytes(value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _reference_head(3, len(data)) + data
    if isinstance(value, Fraction):
        return reference_bytes([value.numerator, value.denominator])
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return reference_bytes({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, Mapping):
        entries = sorted(
            (reference_bytes(key), reference_bytes(item)) for key, item in value.items()
        )
        return _reference_head(5, len(entries)) + b"".join(k + v for k, v in entries)
    if isinstance(value, Sequence):
        return _reference_head(4, len(value)) + b"".join(reference_bytes(v) for v in value)
    raise TypeError(type(value).__name__)


class Colour(StrEnum):
    RED = "red"
    A_LONGER_MEMBER_NAME = "a colour whose value is longer than 23 bytes"


class Level(IntEnum):
    LOW = 0
    HIGH = 1000


@dataclass(frozen=True, slots=True)
class Empty:
    pass


@dataclass(frozen=True, slots=True)
class Single:
    only: int


@dataclass(frozen=True, slots=True)
class Many:
    """Field names chosen so that declaration order, length order and byte order all differ."""

    zeta: bytes
    a_field_name_longer_than_twenty_three: str
    b: Colour
    ü: Level
    aa: Fraction
    nested: Any
    é: bool | None


text = st.text(max_size=30)  # any Unicode scalar values (Hypothesis leaves surrogates out)
keys = st.text(max_size=30) | st.sampled_from(["b", "aa", "é", "ü" * 12, "x" * 24, "y" * 300])
ints = st.integers(-(2**64), 2**64 - 1) | st.integers(-30, 30)
leaves = (
    st.none()
    | st.booleans()
    | ints
    | st.binary(max_size=300)
    | text
    | st.sampled_from(list(Colour) + list(Level))
    | st.fractions(max_denominator=2**40)
    | st.builds(Empty)
    | st.builds(Single, ints)
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(keys, inner, max_size=5)
        | st.dictionaries(keys, inner, max_size=5).map(immutables.Map)
        | st.builds(
            Many,
            st.binary(max_size=30),
            text,
            st.sampled_from(Colour),
            st.sampled_from(Level),
            st.fractions(),
            inner,
            st.none() | st.booleans(),
        )
    )


every_type = st.recursive(leaves, _containers, max_leaves=30)


@given(every_type)
def test_encoder_is_the_reference(value: Any) -> None:
    """The fast encoder writes exactly the bytes of the plain §4.2.1 transcription, and refuses
    exactly what does not fit it (here: integers beyond 64 bits)."""
    try:
        expected = reference_bytes(value)
    except ValueError:
        with pytest.raises(RejectedError) as caught:
            canonical_bytes(value)
        assert caught.value.rejection is Rejection.ENCODING_UNSUPPORTED_TYPE
        return
    assert canonical_bytes(value) == expected


@given(st.dictionaries(keys, ints, max_size=12))
def test_cbor2_canonical_agrees_on_text_keys(mapping: dict[str, int]) -> None:
    """For text keys, RFC 7049's length-first order is §4.2.1's bytewise order: a text key's
    head grows with its byte length. (For keys of mixed types the two orders differ.)"""
    assert cbor2.dumps(mapping, canonical=True) == canonical_bytes(mapping)


def test_length_first_and_bytewise_differ_for_mixed_key_types() -> None:
    """Why the reference does not hand maps to cbor2 in general: keys 24 and -1."""
    assert cbor2.dumps({24: 0, -1: 0}, canonical=True).hex() == "a22000181800"
    assert reference_bytes({24: 0, -1: 0}).hex() == "a21818002000"
    with pytest.raises(RejectedError):
        canonical_bytes({24: 0, -1: 0})  # the protocol's maps have text keys only


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


@given(values)
def test_round_trip(value: Any) -> None:
    data = canonical_bytes(value)
    assert decode_canonical(data) == value
    assert canonical_bytes(decode_canonical(data)) == data


@given(st.dictionaries(st.text(max_size=8), st.integers(-(2**63), 2**63), max_size=8))
def test_map_order_does_not_matter(mapping: dict[str, int]) -> None:
    reordered = dict(reversed(list(mapping.items())))
    assert canonical_bytes(mapping) == canonical_bytes(reordered)


@given(values)
def test_standard_decoder_agrees(value: Any) -> None:
    """Any CBOR library reads our bytes back to the same value."""
    assert cbor2.loads(canonical_bytes(value)) == value


def test_rfc8949_examples() -> None:
    """Examples from RFC 8949 Appendix A, in their deterministic form."""
    assert canonical_bytes(0).hex() == "00"
    assert canonical_bytes(23).hex() == "17"
    assert canonical_bytes(24).hex() == "1818"
    assert canonical_bytes(1_000_000).hex() == "1a000f4240"
    assert canonical_bytes(-1000).hex() == "3903e7"
    assert canonical_bytes("IETF").hex() == "6449455446"
    assert canonical_bytes([1, [2, 3], [4, 5]]).hex() == "8301820203820405"
    assert canonical_bytes({"a": 1, "b": [2, 3]}).hex() == "a26161016162820203"


def test_keys_sort_bytewise_on_their_encoding() -> None:
    assert list(decode_canonical(canonical_bytes({"bb": 1, "a": 2, "c": 3}))) == ["a", "c", "bb"]


def test_dataclasses_fractions_and_enums() -> None:
    @dataclass(frozen=True)
    class Point:
        x: int
        ratio: Fraction

    data = canonical_bytes(Point(3, Fraction(6, 4)))
    assert decode_canonical(data) == {"ratio": [3, 2], "x": 3}
    assert canonical_bytes(Rejection.BAD_SIGNATURE) == canonical_bytes("bad_signature")


@pytest.mark.parametrize("value", [1.5, {1: "int key"}, object(), 2**64, -(2**64) - 1])
def test_unsupported_values_are_refused(value: object) -> None:
    with pytest.raises(RejectedError) as caught:
        canonical_bytes(value)
    assert caught.value.rejection is Rejection.ENCODING_UNSUPPORTED_TYPE


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("1817"),  # 23 in a two-byte form: not shortest
        bytes.fromhex("a2616201616101"),  # {"b":1,"a":1}: keys out of order
        bytes.fromhex("9f01ff"),  # indefinite-length array
        bytes.fromhex("f93c00"),  # a float
        bytes.fromhex("c11a514b67b0"),  # a tag
        bytes.fromhex("0001"),  # trailing bytes
        bytes.fromhex("62"),  # truncated
    ],
)
def test_non_canonical_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(RejectedError) as caught:
        decode_canonical(data)
    assert caught.value.rejection is Rejection.ENCODING_NOT_CANONICAL
