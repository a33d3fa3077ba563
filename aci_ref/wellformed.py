"""ref: well-formed events — every field of an event has exactly its declared type.

Events arrive from the outside (and, once decoded from CBOR, with whatever types a peer chose);
the transition itself may then rely on its annotations. Integers must be plain `int` (a bool is
not an integer here) within the 64-bit range canonical CBOR can encode; bytes, text, enums,
optional values, tuples and nested dataclasses are checked recursively against the dataclass
annotations. Text must be Unicode scalar values (a lone surrogate has no UTF-8 form and could
never be hashed or signed), and protocol messages nest at most `MAX_NESTING` deep. Anything else
is refused with `bad_input` before the event is looked at.

The annotations are read once per dataclass and turned into one checker per field; a union of
types that each admit exactly one Python type (the usual `Event` union, `X | None`) dispatches on
the value's type instead of trying every option in turn.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from enum import Enum
from functools import cache
from typing import Any, Final

from aci_ref.errors import RejectedError, Rejection

WORD: Final = 1 << 64
MAX_NESTING: Final = 8
"""Protocol messages (dataclasses) nest at most this deep, the outermost counted.

The deepest event the protocol defines is a report of an invalid attestation: the signed report,
its body, the reported signed submission, its result, the attestation and a certificate — six.
Deeper nesting is refused before it can exhaust the stack.
"""

_Key = str | int
_Checker = Callable[[Any, str, _Key, int], None]
"""A field checker: (value, where its container is, its field name or index, nesting depth)."""

_MISSING: Final = object()


def _path(where: str, key: _Key) -> str:
    return f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]"


def _bad(where: str, key: _Key, detail: str) -> RejectedError:
    return RejectedError(Rejection.BAD_INPUT, f"{_path(where, key)}: {detail}")


def _is_text(value: str) -> bool:
    """True when the string has a UTF-8 form (no lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---- one checker per annotation ----------------------------------------------------------------


def _check_none(value: object, where: str, key: _Key, depth: int) -> None:
    if value is not None:
        raise _bad(where, key, "expected null")


def _check_int(value: Any, where: str, key: _Key, depth: int) -> None:
    if type(value) is not int or not -WORD < value < WORD:
        raise _bad(where, key, "expected a 64-bit integer")


def _check_bytes(value: object, where: str, key: _Key, depth: int) -> None:
    if type(value) is not bytes:
        raise _bad(where, key, "expected bytes")


def _check_bool(value: object, where: str, key: _Key, depth: int) -> None:
    if type(value) is not bool:
        raise _bad(where, key, "expected bool")


def _check_str(value: Any, where: str, key: _Key, depth: int) -> None:
    if type(value) is not str:
        raise _bad(where, key, "expected str")
    if not value.isascii() and not _is_text(value):
        raise _bad(where, key, "not Unicode text")


def _enum_checker(hint: type[Enum]) -> _Checker:
    def check_enum(value: object, where: str, key: _Key, depth: int) -> None:
        if not isinstance(value, hint):
            raise _bad(where, key, f"expected a {hint.__name__}")

    return check_enum


def _message_checker(hint: type) -> _Checker:
    def check_message(value: object, where: str, key: _Key, depth: int) -> None:
        if type(value) is not hint:
            raise _bad(where, key, f"expected {hint.__name__}")
        _check_fields(value, hint, _path(where, key), depth + 1)

    return check_message


def _unsupported_checker(hint: Any) -> _Checker:
    def check_unsupported(value: object, where: str, key: _Key, depth: int) -> None:
        raise _bad(where, key, f"unsupported field type {hint!r}")

    return check_unsupported


def _exact_type(hint: Any) -> type | None:
    """The one Python type a hint admits, when it admits exactly one (else None)."""
    if hint is type(None) or hint in (int, bytes, str, bool):
        exact: type = hint
        return exact
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint if len(hint) else None  # an enum with members cannot be subclassed
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint
    return None


def _union_checker(options: tuple[Any, ...]) -> _Checker:
    checkers = tuple(_compile(option) for option in options)
    exact = [_exact_type(option) for option in options]
    if all(kind is not None for kind in exact) and len(set(exact)) == len(exact):
        # Each option admits one type, a different one: at most one option can fit.
        table = {kind: checker for kind, checker in zip(exact, checkers, strict=True)}

        def check_by_type(value: object, where: str, key: _Key, depth: int) -> None:
            checker = table.get(type(value))
            if checker is not None:
                try:
                    checker(value, where, key, depth)
                except RejectedError:
                    pass
                else:
                    return
            raise _bad(where, key, f"{type(value).__name__} fits no option")

        return check_by_type

    def check_each(value: object, where: str, key: _Key, depth: int) -> None:
        for checker in checkers:
            try:
                checker(value, where, key, depth)
            except RejectedError:
                continue
            return
        raise _bad(where, key, f"{type(value).__name__} fits no option")

    return check_each


def _tuple_checker(args: tuple[Any, ...]) -> _Checker:
    if len(args) == 2 and args[1] is Ellipsis:
        item_checker = _compile(args[0])

        def check_items(value: Any, where: str, key: _Key, depth: int) -> None:
            if not isinstance(value, tuple):
                raise _bad(where, key, "expected a tuple")
            if value:
                inside = _path(where, key)
                for index, item in enumerate(value):
                    item_checker(item, inside, index, depth)

        return check_items
    checkers = tuple(_compile(arg) for arg in args)

    def check_fixed(value: Any, where: str, key: _Key, depth: int) -> None:
        if not isinstance(value, tuple):
            raise _bad(where, key, "expected a tuple")
        if len(checkers) != len(value):
            raise _bad(where, key, f"expected {len(checkers)} items")
        inside = _path(where, key)
        for index, (item, checker) in enumerate(zip(value, checkers, strict=True)):
            checker(item, inside, index, depth)

    return check_fixed


@cache
def _compile(hint: Any) -> _Checker:
    """The checker of one annotation (the rules, in the order they apply)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _union_checker(typing.get_args(hint))
    if origin is tuple:
        return _tuple_checker(typing.get_args(hint))
    if hint is type(None):
        return _check_none
    if hint is int:
        return _check_int
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _enum_checker(hint)
    if hint is bytes:
        return _check_bytes
    if hint is str:
        return _check_str
    if hint is bool:
        return _check_bool
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _message_checker(hint)
    return _unsupported_checker(hint)


# ---- messages ----------------------------------------------------------------------------------


@cache
def _fields(cls: type) -> tuple[tuple[str, _Checker], ...]:
    """Each annotated name of a dataclass with its checker (nested classes compile lazily)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception as error:  # an annotation that does not resolve
        raise RejectedError(
            Rejection.BAD_INPUT, f"{cls.__name__}: unreadable annotations ({error})"
        ) from None
    return tuple((name, _compile(hint)) for name, hint in hints.items())


def _check_fields(value: object, cls: type, where: str, depth: int) -> None:
    if depth > MAX_NESTING:
        raise RejectedError(Rejection.BAD_INPUT, f"{where}: nested deeper than {MAX_NESTING}")
    for name, checker in _fields(cls):
        field_value = getattr(value, name, _MISSING)
        if field_value is _MISSING:
            raise _bad(where, name, "missing")
        checker(field_value, where, name, depth)


def check_well_formed(value: object, where: str = "event") -> None:
    """ref: well-formed events — refuse with `bad_input` unless every field has its type."""
    cls = type(value)
    if not dataclasses.is_dataclass(cls):
        raise RejectedError(Rejection.BAD_INPUT, f"{where}: not a protocol message")
    _check_fields(value, cls, where, 1)
