"""Canonical encoding at its edges: text that is not UTF-8, nesting without bound.

Whatever value reaches `canonical_bytes`, it answers with bytes or a `RejectedError`; it never lets
a `UnicodeEncodeError` or a `RecursionError` out.
"""

from __future__ import annotations

import pytest

from aci_ref.encoding import MAX_DEPTH, canonical_bytes, decode_canonical
from aci_ref.errors import RejectedError, Rejection


def _refusal(value: object) -> Rejection:
    with pytest.raises(RejectedError) as caught:
        canonical_bytes(value)
    return caught.value.rejection


@pytest.mark.parametrize(
    "value",
    ["\ud800", "ok\udfffok", ["\ud800"], {"k": "\ud800"}, {"\ud800": 1}, ("a", ("\udc00",))],
)
def test_lone_surrogates_are_refused(value: object) -> None:
    assert _refusal(value) is Rejection.ENCODING_UNSUPPORTED_TYPE


def _nested_lists(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


def _nested_maps(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize("build", [_nested_lists, _nested_maps])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000, 200_000])
def test_deep_values_are_refused(build: object, depth: int) -> None:
    assert callable(build)
    assert _refusal(build(depth)) is Rejection.ENCODING_UNSUPPORTED_TYPE


@pytest.mark.parametrize("build", [_nested_lists, _nested_maps])
def test_the_depth_bound_is_exact(build: object) -> None:
    assert callable(build)
    data = canonical_bytes(build(MAX_DEPTH))
    assert decode_canonical(data) == build(MAX_DEPTH)


def test_deep_cbor_is_not_canonical() -> None:
    with pytest.raises(RejectedError) as caught:
        decode_canonical(b"\x81" * 100_000 + b"\x00")
    assert caught.value.rejection is Rejection.ENCODING_NOT_CANONICAL
