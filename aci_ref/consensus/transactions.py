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

import typing
from enum import StrEnum
from typing import Final, TypeVar

from aci_ref.decoding import build
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
    """ref: transactions — the bytes of a signed event: canonical {"event", "kind"}."""
    return canonical_bytes({"event": event, "kind": type(event.body).__name__})


def decode_transaction(data: bytes) -> SignedEvent:
    """The signed event `data` encodes; `bad_input` for anything that is not one exactly."""
    plain = decode_canonical(data)
    if not isinstance(plain, dict) or set(plain) != {"event", "kind"}:
        raise RejectedError(Rejection.BAD_INPUT, "a transaction is {event, kind}")
    kind = EVENT_KINDS.get(plain["kind"]) if isinstance(plain["kind"], str) else None
    if kind is None:
        raise RejectedError(Rejection.BAD_INPUT, "unknown event kind")
    event: SignedEvent = build(SignedEvent, plain["event"], {"body": kind})
    check_well_formed(event)
    if encode_transaction(event) != data:
        raise RejectedError(Rejection.BAD_INPUT, "the transaction does not re-encode")
    return event
