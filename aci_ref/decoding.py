"""Typed decoding: the value of a declared type that a canonical CBOR item describes.

`canonical_bytes` writes a dataclass as the map of its fields, without its type's name; reading it
back therefore needs the type the reader expects. `from_plain(cls, item)` walks the annotations of
`cls` and builds exactly the value whose encoding `item` is: integers, bytes, text and booleans
must have that CBOR type, enums take their value, a `Fraction` is [numerator, denominator], a tuple
an array, a persistent map (`immutables.Map`) or dict a map, a union is resolved by the one option
that fits (dataclasses by their field names). Anything else is refused with `bad_input`; nothing
but `RejectedError` escapes, so bytes from a peer or another implementation can be fed in as is.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from fractions import Fraction
from functools import cache
from typing import Any, TypeVar

import immutables

from aci_ref.encoding import canonical_bytes, decode_canonical
from aci_ref.errors import InvariantViolation, RejectedError, Rejection

T = TypeVar("T")


def decode_as(cls: type[T], data: bytes) -> T:
    """The `cls` value whose canonical bytes are `data`; `bad_input` for anything else."""
    value: T = build(cls, decode_canonical(data))
    if canonical_bytes(value) != data:
        raise RejectedError(Rejection.BAD_INPUT, f"{cls.__name__} does not re-encode")
    return value


def from_plain(cls: type[T], plain: Any) -> T:
    """The `cls` value a decoded CBOR map describes, field by declared type; `bad_input` else."""
    value: T = build(cls, plain)
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def build(cls: type, plain: Any, overrides: Mapping[str, Any] | None = None) -> Any:
    """The dataclass `cls` from its field map; `overrides` replaces the declared type of fields
    whose type the map alone cannot tell (a signed event's body, named by its transaction)."""
    if not isinstance(plain, dict):
        raise RejectedError(Rejection.BAD_INPUT, f"{cls.__name__} is a map")
    names = {f.name for f in dataclasses.fields(cls)}
    if set(plain) != names:
        raise RejectedError(Rejection.BAD_INPUT, f"{cls.__name__} fields")
    hints = _hints(cls)
    values = {}
    for name in names:
        hint = overrides[name] if overrides and name in overrides else hints[name]
        values[name] = _value(hint, plain[name])
    try:
        return cls(**values)
    except (TypeError, ValueError, InvariantViolation) as error:
        # a record whose own checks refuse these values (a ledger that does not balance)
        raise RejectedError(Rejection.BAD_INPUT, f"{cls.__name__}: {error}") from error


def _value(hint: Any, plain: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(hint), plain)
    if origin is tuple:
        return _tuple(typing.get_args(hint), plain)
    if origin in (immutables.Map, dict):
        return _map(origin, typing.get_args(hint), plain)
    if hint is type(None):
        if plain is not None:
            raise RejectedError(Rejection.BAD_INPUT, "expected null")
        return None
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(plain)
        except ValueError as error:
            raise RejectedError(Rejection.BAD_INPUT, f"not a {hint.__name__}") from error
    if hint is Fraction:
        if not (isinstance(plain, list) and len(plain) == 2 and all(type(p) is int for p in plain)):
            raise RejectedError(Rejection.BAD_INPUT, "a fraction is [numerator, denominator]")
        if plain[1] <= 0:
            raise RejectedError(Rejection.BAD_INPUT, "a fraction's denominator is positive")
        return Fraction(plain[0], plain[1])
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return build(hint, plain)
    if hint in (int, bytes, str, bool):
        if type(plain) is not hint:
            raise RejectedError(Rejection.BAD_INPUT, f"expected {hint.__name__}")
        return plain
    raise RejectedError(Rejection.BAD_INPUT, f"no decoding for {hint!r}")


def _tuple(args: tuple[Any, ...], plain: Any) -> tuple[Any, ...]:
    if not isinstance(plain, list):
        raise RejectedError(Rejection.BAD_INPUT, "a tuple is an array")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_value(args[0], item) for item in plain)
    if len(args) != len(plain):
        raise RejectedError(Rejection.BAD_INPUT, "tuple length")
    return tuple(_value(a, item) for a, item in zip(args, plain, strict=True))


def _map(origin: Any, args: tuple[Any, ...], plain: Any) -> Any:
    if not isinstance(plain, dict) or len(args) != 2:
        raise RejectedError(Rejection.BAD_INPUT, "a mapping is a map")
    key_type, value_type = args
    entries = {_value(key_type, key): _value(value_type, item) for key, item in plain.items()}
    return immutables.Map(entries) if origin is immutables.Map else entries


def _union(options: tuple[Any, ...], plain: Any) -> Any:
    if plain is None and type(None) in options:
        return None
    if isinstance(plain, dict):
        kinds = [
            o
            for o in options
            if isinstance(o, type)
            and dataclasses.is_dataclass(o)
            and {f.name for f in dataclasses.fields(o)} == set(plain)
        ]
        if len(kinds) != 1:
            raise RejectedError(Rejection.BAD_INPUT, "ambiguous or unknown nested message")
        return build(kinds[0], plain)
    for option in options:
        if option is type(None) or (isinstance(option, type) and dataclasses.is_dataclass(option)):
            continue
        try:
            return _value(option, plain)
        except RejectedError:
            continue
    raise RejectedError(Rejection.BAD_INPUT, "no option of the union fits")
