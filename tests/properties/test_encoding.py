"""Deterministic CBOR: round trips, canonical form, refusals."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aci_ref.encoding import canonical_bytes, decode_canonical
from aci_ref.errors import RejectedError, Rejection

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
