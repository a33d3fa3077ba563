"""Canonical bytes for everything the protocol hashes or signs.

The encoding is deterministic CBOR, RFC 8949 §4.2.1 ("core deterministic encoding"): integers
and lengths in their shortest form, definite lengths only, map entries sorted by the bytewise
order of their encoded keys. Any language's CBOR library can decode it and, encoding
deterministically, reproduce the same bytes, so other implementations can recompute our hashes.

Only the types a protocol message needs are accepted: integers, byte strings, text, booleans,
null, sequences, string-keyed mappings, str-enums and dataclasses (a dataclass is the map of its
fields). Floats are refused: nothing hashed or signed may depend on binary rounding, and a
`Fraction` is written as the two-element array [numerator, denominator] in lowest terms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from enum import Enum
from fractions import Fraction
from functools import cache, lru_cache
from typing import Any

import cbor2

from aci_ref.errors import RejectedError, Rejection


def _head(major: int, argument: int) -> bytes:
    """The initial byte(s) of a data item: major type and its shortest-form argument."""
    top = major << 5
    if argument < 24:
        return bytes([top | argument])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * width):
            return bytes([top | info]) + argument.to_bytes(width, "big")
    raise RejectedError(Rejection.ENCODING_UNSUPPORTED_TYPE, "integer wider than 64 bits")


def _encode(value: Any, out: list[bytes]) -> None:
    if value is None:
        out.append(b"\xf6")
    elif value is True:
        out.append(b"\xf5")
    elif value is False:
        out.append(b"\xf4")
    elif isinstance(value, Enum):
        _encode(value.value, out)
    elif isinstance(value, int):
        out.append(_head(0, value) if value >= 0 else _head(1, -1 - value))
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        out.append(_head(2, len(data)) + data)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out.append(_head(3, len(data)) + data)
    elif isinstance(value, Fraction):
        _encode([value.numerator, value.denominator], out)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        _encode({name: getattr(value, name) for name in _field_names(type(value))}, out)
    elif isinstance(value, Mapping):
        entries = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise RejectedError(Rejection.ENCODING_UNSUPPORTED_TYPE, f"map key {key!r}")
            entries.append((_key_bytes(key), canonical_bytes(item)))
        entries.sort(key=lambda entry: entry[0])
        out.append(_head(5, len(entries)))
        for key_bytes, item_bytes in entries:
            out.append(key_bytes)
            out.append(item_bytes)
    elif isinstance(value, Sequence):
        out.append(_head(4, len(value)))
        for item in value:
            _encode(item, out)
    else:
        raise RejectedError(Rejection.ENCODING_UNSUPPORTED_TYPE, type(value).__name__)


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@lru_cache(maxsize=4096)
def _key_bytes(key: str) -> bytes:
    # Map keys are few and repeat in every message: encode each once.
    return canonical_bytes(key)


def canonical_bytes(value: Any) -> bytes:
    """RFC 8949 §4.2.1 deterministic CBOR of `value` (the only bytes we hash or sign)."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def decode_canonical(data: bytes) -> Any:
    """Decode bytes, refusing any that are not the canonical encoding of what they hold.

    Tags, floats and indefinite lengths are refused because they never come out of
    `canonical_bytes`; comparing the re-encoding catches non-shortest forms and unsorted maps.
    """
    try:
        value = cbor2.loads(data)
        again = canonical_bytes(value)
    except (cbor2.CBORDecodeError, RejectedError, ValueError, RecursionError) as error:
        raise RejectedError(Rejection.ENCODING_NOT_CANONICAL, str(error)) from error
    if again != data:
        raise RejectedError(Rejection.ENCODING_NOT_CANONICAL, "bytes are not in canonical form")
    return value
