"""ref: vector handlers — the protocol's pure functions, with inputs and outputs as CBOR maps.

Each handler takes the parameters and a decoded input map and returns an output map, or raises
`RejectedError` with the code a conforming implementation must refuse with. The generator writes
what these return; the oracle (`serve-oracle`) answers with them; so a vector and the oracle can
never disagree about what the reference computes. Each calls the one function the chain runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from functools import partial
from typing import Any, Final, TypeVar

import cbor2

from aci_ref import crypto
from aci_ref.decoding import from_plain
from aci_ref.economics import fees, slashing
from aci_ref.economics.invariants import check_ledger
from aci_ref.economics.ledger import Ledger
from aci_ref.economics.records import Evidence
from aci_ref.encoding import MAX_DEPTH, canonical_bytes, decode_canonical
from aci_ref.errors import InvariantViolation, RejectedError, Rejection
from aci_ref.market import hmm
from aci_ref.market.hmm import Market
from aci_ref.market.hmm_invariants import check_market
from aci_ref.params import Params
from aci_ref.poai import verification
from aci_ref.poai.attestation import Attestation
from aci_ref.poai.profiles import HARDWARE_CLASSES, ModelProfile
from aci_ref.poai.tee import TrustAnchors
from aci_ref.poai.verification import ExpectedJob
from aci_ref.vectors.consensus_handlers import CONSENSUS_HANDLERS

Plain = dict[str, Any]
T = TypeVar("T")
Handler = Callable[[Params, Plain], Plain]


def _field(plain: Plain, name: str, kind: type) -> Any:
    value = plain.get(name) if isinstance(plain, dict) else None
    if type(value) is not kind:
        raise RejectedError(Rejection.BAD_INPUT, f"input field {name!r} must be {kind.__name__}")
    return value


def _byte_list(plain: Plain, name: str) -> list[bytes]:
    value = plain.get(name) if isinstance(plain, dict) else None
    if not isinstance(value, list) or not all(type(item) is bytes for item in value):
        raise RejectedError(Rejection.BAD_INPUT, f"input field {name!r} must be a list of bytes")
    return value


def _reachable(value: T, check: Callable[[T], None]) -> T:
    """`value` if the chain could hold it (its invariant checker passes), else `bad_input`: the
    handlers compute only on records the protocol can reach, as `load` does for states."""
    try:
        check(value)
    except InvariantViolation as broken:
        raise RejectedError(Rejection.BAD_INPUT, f"not a reachable record: {broken}") from None
    return value


def merkle_root(params: Params, plain: Plain) -> Plain:
    """RFC 6962 §2.1 root of `leaves` (`aci_ref.crypto:merkle_root`)."""
    return {"root": crypto.merkle_root(_byte_list(plain, "leaves"))}


def merkle_proof(params: Params, plain: Plain) -> Plain:
    """RFC 6962 §2.1.1 audit path of leaf `index`; `bad_merkle_proof` outside the tree."""
    leaves = _byte_list(plain, "leaves")
    return {"proof": crypto.inclusion_proof(leaves, _field(plain, "index", int))}


def merkle_verify(params: Params, plain: Plain) -> Plain:
    """RFC 9162 §2.1.3.2 verdict on an inclusion proof."""
    valid = crypto.verify_inclusion(
        _field(plain, "root", bytes),
        _field(plain, "leaf", bytes),
        _field(plain, "index", int),
        _field(plain, "size", int),
        _byte_list(plain, "proof"),
    )
    return {"valid": valid}


def ed25519_verify(params: Params, plain: Plain) -> Plain:
    """The protocol's Ed25519 verdict (spec/crypto.md SIG)."""
    valid = crypto.verify_signature(
        _field(plain, "public", bytes),
        _field(plain, "message", bytes),
        _field(plain, "signature", bytes),
    )
    return {"valid": valid}


def sha256_digest(params: Params, plain: Plain) -> Plain:
    """SHA-256 of `data`."""
    return {"digest": crypto.sha256(_field(plain, "data", bytes))}


class _Walk:
    """One pass over a CBOR item (RFC 8949 appendix C): where it ends, and the first thing in it
    the protocol has no type for. Bytes that are not well formed raise `bad_input`."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.unsupported: str | None = None

    def note(self, why: str) -> None:
        if self.unsupported is None:
            self.unsupported = why

    def _deep(self, depth: int) -> None:
        """Past `MAX_DEPTH` enclosing arrays, maps and tags the scan stops: the item is refused
        as unsupported without reading further (so no input can exhaust the stack)."""
        if depth >= MAX_DEPTH:
            raise RejectedError(
                Rejection.ENCODING_UNSUPPORTED_TYPE, f"nested deeper than {MAX_DEPTH}"
            )

    def _malformed(self, why: str) -> RejectedError:
        return RejectedError(Rejection.BAD_INPUT, f"not one well-formed CBOR item: {why}")

    def _need(self, at: int, n: int) -> None:
        if at + n > len(self.data):
            raise self._malformed("truncated")

    def item(self, at: int, depth: int = 0) -> tuple[int, object]:
        """(end, value) of the item at `at`; the value only as far as keys need it."""
        self._need(at, 1)
        major, info = self.data[at] >> 5, self.data[at] & 0x1F
        at += 1
        argument: int | None = info
        if 24 <= info <= 27:
            width = 1 << (info - 24)
            self._need(at, width)
            argument = int.from_bytes(self.data[at : at + width], "big")
            at += width
        elif info == 31:
            argument = None
        elif info > 27:
            raise self._malformed(f"reserved additional information {info}")
        if argument is None and major in (0, 1, 6):
            raise self._malformed("an indefinite length on a type that has none")
        if major in (0, 1):
            assert argument is not None
            return at, argument if major == 0 else -1 - argument
        if major in (2, 3):
            return self._string(at, major, argument, depth)
        if major in (4, 5):
            return self._container(at, major, argument, depth)
        if major == 6:
            self.note(f"tag {argument}")
            self._deep(depth)
            return self.item(at, depth + 1)
        if argument is None:
            raise self._malformed("a break outside an indefinite item")
        if info == 24 and argument < 32:
            raise self._malformed("a two-byte simple value below 32")
        if info not in (20, 21, 22):
            self.note("a float" if info >= 25 else "undefined" if info == 23 else "a simple value")
        return at, None

    def _string(self, at: int, major: int, argument: int | None, depth: int) -> tuple[int, object]:
        chunks = []
        if argument is None:
            while True:
                self._need(at, 1)
                if self.data[at] == 0xFF:
                    at += 1
                    break
                if self.data[at] >> 5 != major or self.data[at] & 0x1F == 31:
                    raise self._malformed("an indefinite string holds a chunk of another kind")
                start = at
                at, _ = self.item(at, depth)
                header = len(_head_of(self.data, start))
                chunks.append(self.data[start + header : at])
        else:
            self._need(at, argument)
            chunks.append(self.data[at : at + argument])
            at += argument
        raw = b"".join(chunks)
        if major == 2:
            return at, raw
        try:
            return at, raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._malformed("text that is not UTF-8") from None

    def _container(
        self, at: int, major: int, argument: int | None, depth: int
    ) -> tuple[int, object]:
        self._deep(depth)
        keys: set[str] = set()
        count = 0
        while argument is None or count < argument:
            self._need(at, 1)
            if argument is None and self.data[at] == 0xFF:
                return at + 1, None
            at, key = self.item(at, depth + 1)
            count += 1
            if major == 5:
                if not isinstance(key, str):
                    self.note("a map key that is not text")
                elif key in keys:
                    self.note("a map with two equal keys")
                else:
                    keys.add(key)
                at, _ = self.item(at, depth + 1)
        return at, None


def _head_of(data: bytes, at: int) -> bytes:
    info = data[at] & 0x1F
    return data[at : at + 1 + ({24: 1, 25: 2, 26: 4, 27: 8}.get(info, 0))]


def canonical_form(params: Params, plain: Plain) -> Plain:
    """The canonical encoding of the value the one well-formed CBOR item `cbor` holds.

    In this order: `bad_input` unless the bytes are exactly one well-formed item (text must be
    UTF-8); `encoding_unsupported_type` if it holds anything outside the protocol's types
    (tags, floats, undefined, simple values, map keys other than text, two equal keys). An item
    nested deeper than `MAX_DEPTH` arrays, maps and tags is refused as unsupported as soon as
    the scan reaches that depth, whatever follows. The scan happens before any library reads the
    bytes, as cbor2 would give some tags a meaning (a bignum becomes an integer) and drop others.
    """
    data = _field(plain, "cbor", bytes)
    walk = _Walk(data)
    end, _ = walk.item(0)
    if end != len(data):
        raise RejectedError(Rejection.BAD_INPUT, "bytes after the item")
    if walk.unsupported is not None:
        raise RejectedError(Rejection.ENCODING_UNSUPPORTED_TYPE, walk.unsupported)
    try:
        value = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, RecursionError) as error:
        raise InvariantViolation(f"cbor2 refused a scanned item: {error}") from error
    return {"canonical": canonical_bytes(value)}


def strict_decode(params: Params, plain: Plain) -> Plain:
    """Whether `cbor` is accepted as protocol bytes: `encoding_not_canonical` unless it is
    exactly the canonical encoding of a supported value (`aci_ref.encoding:decode_canonical`)."""
    decode_canonical(_field(plain, "cbor", bytes))
    return {"valid": True}


def fee_split(params: Params, plain: Plain) -> Plain:
    """Table 5's split of `amount` (`aci_ref.economics.fees:fee_split`)."""
    return asdict(fees.fee_split(params, _field(plain, "amount", int)))


def slash(params: Params, plain: Plain) -> Plain:
    """Table 2 applied to `ledger` with `evidence` (`aci_ref.economics.slashing:slash`)."""
    ledger = _reachable(
        from_plain(Ledger, plain.get("ledger")), partial(check_ledger, params=params)
    )
    evidence = from_plain(Evidence, plain.get("evidence"))
    after, record = slashing.slash(ledger, params, evidence)
    return {"ledger": after, "record": record}


def hmm_quote(params: Params, plain: Plain) -> Plain:
    """HMM quote for `units` in `resource_class` (`aci_ref.market.hmm:quote`)."""
    market = _reachable(from_plain(Market, plain.get("market")), check_market)
    found = hmm.quote(
        market, params, _field(plain, "resource_class", str), _field(plain, "units", int)
    )
    return {"quote": found}


def hmm_buy(params: Params, plain: Plain) -> Plain:
    """HMM swap: fill `units` at the quote, bounded by `max_price` (`aci_ref.market.hmm:buy`)."""
    market = _reachable(from_plain(Market, plain.get("market")), check_market)
    after, filled = hmm.buy(
        market,
        params,
        _field(plain, "resource_class", str),
        _field(plain, "units", int),
        _field(plain, "max_price", int),
    )
    return {"market": after, "quote": filled}


def level1(params: Params, plain: Plain) -> Plain:
    """Algorithm 2 Level 1 on one attestation (`aci_ref.poai.verification:check_attestation`)."""
    hardware = HARDWARE_CLASSES.get(_field(plain, "hardware", str))
    if hardware is None:
        raise RejectedError(Rejection.BAD_INPUT, "unknown hardware class")
    verification.check_attestation(
        from_plain(Attestation, plain.get("attestation")),
        from_plain(TrustAnchors, plain.get("anchors")),
        from_plain(ExpectedJob, plain.get("expected")),
        _field(plain, "output", bytes),
        from_plain(ModelProfile, plain.get("profile")),
        hardware,
        params,
    )
    return {"valid": True}


def sampling(params: Params, plain: Plain) -> Plain:
    """Algorithm 2 lines 6–7: is the job drawn for re-execution by this beacon?"""
    drawn = verification.selected_for_reexecution(
        params, _field(plain, "beacon", bytes), _field(plain, "job_id", bytes)
    )
    return {"selected": drawn}


HANDLERS: Final[Mapping[tuple[str, str], Handler]] = {
    **CONSENSUS_HANDLERS,
    ("crypto", "ed25519_verify"): ed25519_verify,
    ("crypto", "sha256"): sha256_digest,
    ("economics", "fee_split"): fee_split,
    ("economics", "slash"): slash,
    ("encoding", "canonical"): canonical_form,
    ("encoding", "strict_decode"): strict_decode,
    ("hmm", "buy"): hmm_buy,
    ("hmm", "quote"): hmm_quote,
    ("merkle", "proof"): merkle_proof,
    ("merkle", "root"): merkle_root,
    ("merkle", "verify"): merkle_verify,
    ("poai", "level1"): level1,
    ("poai", "sampling"): sampling,
}
"""Every function runner, by (runner, handler)."""


def run_handler(params: Params, runner: str, handler: str, data: bytes) -> bytes:
    """Decode `data`, run the handler, return the canonical output; refusals propagate.

    Input that is not canonical CBOR of a map is refused `bad_input`, and anything a handler
    raises that is not the project's own error is a bug of the reference, not of the caller.
    """
    found = HANDLERS.get((runner, handler))
    if found is None:
        raise RejectedError(Rejection.BAD_INPUT, f"no handler {runner}/{handler}")
    plain = decode_canonical(data)
    if not isinstance(plain, dict):
        raise RejectedError(Rejection.BAD_INPUT, "a handler's input is a map")
    return canonical_bytes(found(params, plain))
