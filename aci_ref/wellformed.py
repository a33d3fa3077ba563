"""ref: well-formed events — every field of an event has exactly its declared type.

Events arrive from the outside (and, once decoded from CBOR, with whatever types a peer chose);
the transition itself may then rely on its annotations. Integers must be plain `int` (a bool is
not an integer here) within the 64-bit range canonical CBOR can encode; bytes, text, enums,
optional values, tuples and nested dataclasses are checked recursively against the dataclass
annotations. Anything else is refused with `bad_input` before the event is looked at.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum
from functools import cache
from typing import Any, Final

from aci_ref.errors import RejectedError, Rejection

WORD: Final = 1 << 64


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _matches(value: object, hint: Any, where: str) -> None:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                _matches(value, option, where)
            except RejectedError:
                continue
            return
        raise RejectedError(Rejection.BAD_INPUT, f"{where}: {type(value).__name__} fits no option")
    if origin is tuple:
        if not isinstance(value, tuple):
            raise RejectedError(Rejection.BAD_INPUT, f"{where}: expected a tuple")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            for index, item in enumerate(value):
                _matches(item, args[0], f"{where}[{index}]")
            return
        if len(args) != len(value):
            raise RejectedError(Rejection.BAD_INPUT, f"{where}: expected {len(args)} items")
        for index, (item, arg) in enumerate(zip(value, args, strict=True)):
            _matches(item, arg, f"{where}[{index}]")
        return
    if hint is type(None):
        if value is not None:
            raise RejectedError(Rejection.BAD_INPUT, f"{where}: expected null")
        return
    if hint is int:
        if type(value) is not int or not -WORD < value < WORD:
            raise RejectedError(Rejection.BAD_INPUT, f"{where}: expected a 64-bit integer")
        return
    if isinstance(hint, type) and issubclass(hint, Enum):
        if not isinstance(value, hint):
            raise RejectedError(Rejection.BAD_INPUT, f"{where}: expected a {hint.__name__}")
        return
    if hint in (bytes, str, bool):
        if type(value) is not hint:
            raise RejectedError(Rejection.BAD_INPUT, f"{where}: expected {hint.__name__}")
        return
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if type(value) is not hint:
            raise RejectedError(Rejection.BAD_INPUT, f"{where}: expected {hint.__name__}")
        check_well_formed(value, where)
        return
    raise RejectedError(Rejection.BAD_INPUT, f"{where}: unsupported field type {hint!r}")


def check_well_formed(value: object, where: str = "event") -> None:
    """ref: well-formed events — refuse with `bad_input` unless every field has its type."""
    cls = type(value)
    if not dataclasses.is_dataclass(cls):
        raise RejectedError(Rejection.BAD_INPUT, f"{where}: not a protocol message")
    for name, hint in _hints(cls).items():
        _matches(getattr(value, name), hint, f"{where}.{name}")
