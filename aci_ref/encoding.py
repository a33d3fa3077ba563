"""Canonical bytes for everything the protocol hashes or signs.

The encoding is deterministic CBOR, RFC 8949 §4.2.1 ("core deterministic encoding"): integers
and lengths in their shortest form, definite lengths only, map entries sorted by the bytewise
order of their encoded keys. Any language's CBOR library can decode it and, encoding
deterministically, reproduce the same bytes, so other implementations can recompute our hashes.

Only the types a protocol message needs are accepted: integers, byte strings, text, booleans,
null, sequences, string-keyed mappings, str-enums and dataclasses (a dataclass is the map of its
fields). Floats are refused: nothing hashed or signed may depend on binary rounding, and a
`Fraction` is written as the two-element array [numerator, denominator] in lowest terms. Text
must be Unicode scalar values (a lone surrogate has no UTF-8 form), integers must fit 64 bits,
and arrays and maps may nest at most `MAX_DEPTH` deep; anything else is refused with
`encoding_unsupported_type`.

How it is fast without being clever about the output: the encoder dispatches on the exact type
of each value, and for each dataclass it computes once the encoded field names in their sorted
order, so encoding a message is one walk that appends byte strings. The tests hold it to a
plain transcription of §4.2.1 on generated values of every supported type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from fractions import Fraction
from operator import attrgetter, itemgetter
from typing import Any, Final

import cbor2
import immutables

from aci_ref.errors import RejectedError, Rejection

MAX_DEPTH: Final = 64
"""Arrays and maps (dataclasses and fractions included) nest at most this deep.

Protocol messages nest fewer than ten; the bound keeps the encoder's recursion far from the
interpreter's limit whatever value it is given (errata: bounded nesting).
"""

_UNSUPPORTED: Final = Rejection.ENCODING_UNSUPPORTED_TYPE
_WORD: Final = 1 << 64
_BYTE: Final = tuple(bytes([i]) for i in range(256))
_KEY_CACHE_SIZE: Final = 4096

_Encoder = Callable[[Any, list[bytes], int], None]


def _head(top: int, argument: int) -> bytes:
    """The initial byte(s) of a data item: `top` is the major type shifted into the high three
    bits; the argument is written in its shortest form (RFC 8949 §4.2.1)."""
    if argument < 24:
        return _BYTE[top | argument]
    if argument < 0x100:
        return bytes((top | 24, argument))
    if argument < 0x10000:
        return _BYTE[top | 25] + argument.to_bytes(2, "big")
    if argument < 0x100000000:
        return _BYTE[top | 26] + argument.to_bytes(4, "big")
    if argument < _WORD:
        return _BYTE[top | 27] + argument.to_bytes(8, "big")
    raise RejectedError(_UNSUPPORTED, "integer wider than 64 bits")


def _int_bytes(value: int) -> bytes:
    if value >= 0:
        return _head(0x00, value)
    return _head(0x20, -1 - value)


def _text_bytes(value: str) -> bytes:
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise RejectedError(_UNSUPPORTED, "text that is not Unicode scalar values") from None
    return _head(0x60, len(data)) + data


def _too_deep() -> RejectedError:
    return RejectedError(_UNSUPPORTED, f"arrays and maps nested deeper than {MAX_DEPTH}")


_KEYS: dict[str, bytes] = {}


def _key_bytes(key: object) -> bytes:
    """A map key's encoding; keys must be text. The protocol's keys repeat: each is encoded once."""
    if type(key) is str:
        found = _KEYS.get(key)
        if found is None:
            found = _text_bytes(key)
            if len(_KEYS) < _KEY_CACHE_SIZE:
                _KEYS[key] = found
        return found
    if isinstance(key, str):
        return canonical_bytes(key)
    raise RejectedError(_UNSUPPORTED, f"map key {key!r}")


def _encode(value: Any, out: list[bytes], depth: int) -> None:
    """Append the encoding of `value` to `out`; `depth` arrays and maps enclose it."""
    kind = type(value)
    if kind is str:
        out.append(_text_bytes(value))
    elif kind is bytes:
        out.append(_head(0x40, len(value)))
        out.append(value)
    elif kind is int:
        out.append(_BYTE[value] if 0 <= value < 24 else _int_bytes(value))
    else:
        encoder = _ENCODERS.get(kind)
        if encoder is None:
            encoder = _encoder_for(kind)
        encoder(value, out, depth)


def _encode_none(value: None, out: list[bytes], depth: int) -> None:
    out.append(b"\xf6")


def _encode_bool(value: bool, out: list[bytes], depth: int) -> None:
    out.append(b"\xf5" if value else b"\xf4")


def _encode_int(value: int, out: list[bytes], depth: int) -> None:
    out.append(_int_bytes(value))


def _encode_bytes_like(value: bytes | bytearray | memoryview, out: list[bytes], depth: int) -> None:
    data = bytes(value)
    out.append(_head(0x40, len(data)))
    out.append(data)


def _encode_str(value: str, out: list[bytes], depth: int) -> None:
    out.append(_text_bytes(value))


def _encode_fraction(value: Fraction, out: list[bytes], depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise _too_deep()
    out.append(b"\x82")
    out.append(_int_bytes(value.numerator))
    out.append(_int_bytes(value.denominator))


def _encode_enum(value: Enum, out: list[bytes], depth: int) -> None:
    _encode(value.value, out, depth)


def _encode_sequence(value: Sequence[Any], out: list[bytes], depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise _too_deep()
    out.append(_head(0x80, len(value)))
    inner = depth + 1
    for item in value:
        _encode(item, out, inner)


def _encode_mapping(value: Mapping[Any, Any], out: list[bytes], depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise _too_deep()
    entries = [(_key_bytes(key), item) for key, item in value.items()]
    entries.sort(key=_first)
    out.append(_head(0xA0, len(entries)))
    inner = depth + 1
    previous = None
    for key, item in entries:
        if key == previous:
            raise RejectedError(_UNSUPPORTED, "two map keys with one encoding")
        previous = key
        out.append(key)
        _encode(item, out, inner)


_first = itemgetter(0)


def _dataclass_encoder(cls: type) -> _Encoder:
    """The encoder of one dataclass: its fields as a map, keys encoded and sorted once."""
    names = sorted((f.name for f in dataclasses.fields(cls)), key=_key_bytes)
    keys = tuple(_key_bytes(name) for name in names)
    header = _head(0xA0, len(names))
    if not names:

        def encode_empty(value: Any, out: list[bytes], depth: int) -> None:
            if depth >= MAX_DEPTH:
                raise _too_deep()
            out.append(header)

        return encode_empty
    if len(names) == 1:
        only_key, only_name = keys[0], names[0]

        def encode_one(value: Any, out: list[bytes], depth: int) -> None:
            if depth >= MAX_DEPTH:
                raise _too_deep()
            out.append(header)
            out.append(only_key)
            _encode(getattr(value, only_name), out, depth + 1)

        return encode_one
    fields_of = attrgetter(*names)

    def encode_fields(value: Any, out: list[bytes], depth: int) -> None:
        if depth >= MAX_DEPTH:
            raise _too_deep()
        out.append(header)
        inner = depth + 1
        for key, item in zip(keys, fields_of(value), strict=True):
            out.append(key)
            _encode(item, out, inner)

    return encode_fields


def _enum_encoder(cls: type[Enum]) -> _Encoder:
    """The encoder of one enum type: a member is its value; scalar values are encoded once."""
    table: dict[Enum, bytes] = {}

    def encode_member(value: Enum, out: list[bytes], depth: int) -> None:
        found = table.get(value)
        if found is None:
            member_value = value.value
            if type(member_value) not in (str, int, bytes, bool, type(None)):
                _encode(member_value, out, depth)
                return
            found = canonical_bytes(member_value)
            table[value] = found
        out.append(found)

    return encode_member


def _resolve(kind: type) -> tuple[_Encoder, bool] | None:
    """How values of type `kind` encode, and whether that answer may be kept for the type.

    The order is the specification's: null, booleans, enums, integers, byte strings, text,
    fractions, dataclasses, mappings, sequences. Answers that rest on an abstract base class
    (Mapping, Sequence) are kept only for the concrete types known to be such.
    """
    if kind is type(None):
        return _encode_none, True
    if kind is bool:
        return _encode_bool, True
    if issubclass(kind, Enum):
        return _enum_encoder(kind), True
    if issubclass(kind, int):
        return _encode_int, True
    if issubclass(kind, bytes | bytearray | memoryview):
        return _encode_bytes_like, True
    if issubclass(kind, str):
        return _encode_str, True
    if issubclass(kind, Fraction):
        return _encode_fraction, True
    if dataclasses.is_dataclass(kind) and not issubclass(kind, type):
        return _dataclass_encoder(kind), True
    if issubclass(kind, Mapping):
        return _encode_mapping, kind in (dict, immutables.Map)
    if issubclass(kind, Sequence):
        return _encode_sequence, kind in (list, tuple)
    return None


def _encoder_for(kind: type) -> _Encoder:
    resolved = _resolve(kind)
    if resolved is None:
        raise RejectedError(_UNSUPPORTED, kind.__name__)
    encoder, keep = resolved
    if keep:
        _ENCODERS[kind] = encoder
    return encoder


_ENCODERS: dict[type, _Encoder] = {
    type(None): _encode_none,
    bool: _encode_bool,
    Fraction: _encode_fraction,
    tuple: _encode_sequence,
    list: _encode_sequence,
    dict: _encode_mapping,
    immutables.Map: _encode_mapping,
}


def canonical_bytes(value: Any) -> bytes:
    """RFC 8949 §4.2.1 deterministic CBOR of `value` (the only bytes we hash or sign)."""
    out: list[bytes] = []
    _encode(value, out, 0)
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
