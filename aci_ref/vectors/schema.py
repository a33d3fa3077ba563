"""ref: state schema — every record the chain state, its events and effects are made of, as CBOR.

Walks the type annotations from `ChainState`, `SignedEvent` and every effect down and lists each
dataclass once, its fields in the order their keys are encoded (bytewise order of the encoded
names), each with its CBOR shape. docs/vectors.md carries this listing, and a test keeps the two
identical, so the document cannot fall behind the code.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum
from fractions import Fraction
from typing import Any

import immutables

from aci_ref.chain.effects import Effect
from aci_ref.chain.state import ChainState
from aci_ref.encoding import canonical_bytes
from aci_ref.events import Event, SignedEvent


def _shape(hint: Any, found: list[type]) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        return " | ".join(_shape(option, found) for option in options)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"[{_shape(args[0], found)}, …]"
        return "[" + ", ".join(_shape(a, found) for a in args) + "]"
    if origin in (immutables.Map, dict):
        key, value = typing.get_args(hint)
        return f"{{{_shape(key, found)} → {_shape(value, found)}}}"
    if hint is type(None):
        return "null"
    if isinstance(hint, type) and issubclass(hint, Enum):
        values = sorted(str(member.value) for member in hint)
        return f"text ({hint.__name__}: {', '.join(values)})"
    if hint is Fraction:
        return "[int, uint] (a fraction in lowest terms)"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if hint not in found:
            found.append(hint)
        return hint.__name__
    names = {int: "int", bytes: "bytes", str: "text", bool: "bool"}
    if hint in names:
        return names[hint]
    raise TypeError(f"no CBOR shape for {hint!r}")


def state_schema() -> str:
    """ref: state schema — the listing of every record under `ChainState` and `SignedEvent`."""
    found: list[type] = [ChainState, SignedEvent]
    for kind in (*typing.get_args(Event), *typing.get_args(Effect)):
        found.append(kind)
    lines: list[str] = []
    index = 0
    while index < len(found):
        cls = found[index]
        index += 1
        hints = typing.get_type_hints(cls)
        names = sorted((f.name for f in dataclasses.fields(cls)), key=canonical_bytes)
        lines.append(f"{cls.__name__}")
        for name in names:
            hint = Event if (cls is SignedEvent and name == "body") else hints[name]
            shape = (
                "one of the event records (its kind names which)"
                if hint is Event
                else _shape(hint, found)
            )
            lines.append(f"  {name}: {shape}")
        lines.append("")
    return "\n".join(lines)
