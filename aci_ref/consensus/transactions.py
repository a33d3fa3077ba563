"""Transactions: how a signed chain event travels in a vertex batch or a settlement block, and
which track orders it.

A transaction is the canonical CBOR of `{"kind": <event class name>, "event": <signed event>}`.
Dataclasses encode as maps of their fields without a type name, so the kind says which event the
body is (Bond and Unbond, say, have the same fields); a nested signed event (the submission inside
a report) is resolved by its field names, which no two event kinds of that position share. Decoding
is total: any bytes either decode to exactly the event that re-encodes to them, or are refused
with `bad_input` (or `encoding_not_canonical`).

Tracks (spec/consensus.md, "Two tracks, one order"): the fast path orders the market and client
escrow, `RequestQuote` and `AcceptQuote`; the settlement path orders every other signed event. No
signed event seals a block: block steps come from decided settlement blocks only.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum, StrEnum
from fractions import Fraction
from functools import cache
from typing import Any, Final, TypeVar

from aci_ref.encoding import canonical_bytes, decode_canonical
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import AcceptQuote, Event, RequestQuote, SealBlock, SignedEvent
from aci_ref.wellformed import check_well_formed

T = TypeVar("T")


class Track(StrEnum):
    """ref: track — which consensus path orders an event (Definition 3, §4.1)."""

    FAST = "fast"
    SETTLEMENT = "settlement"


FAST_PATH_EVENTS: Final[tuple[type, ...]] = (RequestQuote, AcceptQuote)
"""Definition 3's fast path: job matching and resource allocation (quotes, escrow, assignment)."""

EVENT_KINDS: Final[dict[str, type]] = {kind.__name__: kind for kind in typing.get_args(Event)}


def track_of(event: SignedEvent) -> Track | None:
    """Which track orders `event`; None for a SealBlock, which no transaction may carry."""
    if isinstance(event.body, SealBlock):
        return None
    return Track.FAST if isinstance(event.body, FAST_PATH_EVENTS) else Track.SETTLEMENT


def encode_transaction(event: SignedEvent) -> bytes:
    """The transaction bytes of a signed event."""
    return canonical_bytes({"event": event, "kind": type(event.body).__name__})


def decode_transaction(data: bytes) -> SignedEvent:
    """The signed event `data` encodes; `bad_input` for anything that is not one exactly."""
    plain = decode_canonical(data)
    if not isinstance(plain, dict) or set(plain) != {"event", "kind"}:
        raise RejectedError(Rejection.BAD_INPUT, "a transaction is {event, kind}")
    kind = EVENT_KINDS.get(plain["kind"]) if isinstance(plain["kind"], str) else None
    if kind is None:
        raise RejectedError(Rejection.BAD_INPUT, "unknown event kind")
    event: SignedEvent = _build(SignedEvent, plain["event"], body=kind)
    check_well_formed(event)
    if encode_transaction(event) != data:
        raise RejectedError(Rejection.BAD_INPUT, "the transaction does not re-encode")
    return event


def decode_as(cls: type[T], data: bytes) -> T:
    """The `cls` value whose canonical bytes are `data`; `bad_input` for anything else."""
    value: T = _build(cls, decode_canonical(data))
    if canonical_bytes(value) != data:
        raise RejectedError(Rejection.BAD_INPUT, f"{cls.__name__} does not re-encode")
    return value


def from_plain(cls: type[T], plain: Any) -> T:
    """The `cls` value a decoded CBOR map describes, field by declared type; `bad_input` else."""
    value: T = _build(cls, plain)
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, plain: Any, body: type | None = None) -> Any:
    if not isinstance(plain, dict):
        raise RejectedError(Rejection.BAD_INPUT, f"{cls.__name__} is a map")
    names = {f.name for f in dataclasses.fields(cls)}
    if set(plain) != names:
        raise RejectedError(Rejection.BAD_INPUT, f"{cls.__name__} fields")
    hints = _hints(cls)
    values = {}
    for name in names:
        hint = body if (body is not None and cls is SignedEvent and name == "body") else hints[name]
        values[name] = _value(hint, plain[name])
    return cls(**values)


def _value(hint: Any, plain: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(hint), plain)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(plain, list):
            raise RejectedError(Rejection.BAD_INPUT, "a tuple is an array")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], item) for item in plain)
        if len(args) != len(plain):
            raise RejectedError(Rejection.BAD_INPUT, "tuple length")
        return tuple(_value(a, item) for a, item in zip(args, plain, strict=True))
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
        return _build(hint, plain)
    if hint in (int, bytes, str, bool):
        if type(plain) is not hint:
            raise RejectedError(Rejection.BAD_INPUT, f"expected {hint.__name__}")
        return plain
    raise RejectedError(Rejection.BAD_INPUT, f"no decoding for {hint!r}")


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
        return _build(kinds[0], plain)
    for option in options:
        if option is type(None) or (isinstance(option, type) and dataclasses.is_dataclass(option)):
            continue
        try:
            return _value(option, plain)
        except RejectedError:
            continue
    raise RejectedError(Rejection.BAD_INPUT, "no option of the union fits")
