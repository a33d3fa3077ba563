"""ref: Solidity ABI (§8.4) — the contract ABI as far as the Solidity twins use it.

Calls to the twins are encoded here rather than by a library: elementary words, `bytes`, static
arrays and tuples in the standard head/tail layout; results and custom errors are decoded for
static elementary values only, which is all the twins return.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aci_ref.errors import RejectedError, Rejection

WORD: Final = 32


def canonical_type(param: Mapping[str, Any]) -> str:
    """ref: Solidity ABI (§8.4) — a parameter's canonical type (tuples spelled out)."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _fixed_array(param: Mapping[str, Any]) -> tuple[dict[str, Any], int] | None:
    found = re.fullmatch(r"(.+)\[(\d+)\]", str(param["type"]))
    if found is None:
        return None
    return {**param, "type": found[1]}, int(found[2])


def _dynamic(param: Mapping[str, Any]) -> bool:
    kind = str(param["type"])
    if kind in ("bytes", "string") or kind.endswith("[]"):
        return True
    element = _fixed_array(param)
    if element is not None:
        return _dynamic(element[0])
    return kind == "tuple" and any(_dynamic(c) for c in param["components"])


def word(value: int) -> bytes:
    return (value % 2**256).to_bytes(WORD, "big")


def _encode_one(param: Mapping[str, Any], value: Any) -> bytes:
    kind = str(param["type"])
    element = _fixed_array(param)
    if element is not None:
        return encode_args([element[0]] * element[1], value)
    if kind == "tuple":
        return encode_args(param["components"], value)
    if kind == "bytes":
        padding = b"\x00" * (-len(value) % WORD)
        return word(len(value)) + bytes(value) + padding
    if kind == "address":
        return bytes(value).rjust(WORD, b"\x00")
    if re.fullmatch(r"bytes\d+", kind):
        return bytes(value).ljust(WORD, b"\x00")
    if kind == "bool" or re.fullmatch(r"u?int\d+", kind):
        bits = 1 if kind == "bool" else int(re.sub(r"\D", "", kind))
        low = -(2 ** (bits - 1)) if kind.startswith("int") else 0
        high = 2 ** (bits - 1) if kind.startswith("int") else 2**bits
        if not low <= int(value) < high:
            raise RejectedError(Rejection.BAD_INPUT, f"{value} does not fit {kind}")
        return word(int(value))
    raise RejectedError(Rejection.BAD_INPUT, f"ABI type {kind} is not used by the twins")


def encode_args(params: Sequence[Mapping[str, Any]], values: Sequence[Any]) -> bytes:
    """ref: Solidity ABI (§8.4) — encode `values` as `params`: heads, then dynamic tails.

    Refuses `bad_input` for a count mismatch, a value outside its type or an unused type.
    """
    if len(params) != len(values):
        raise RejectedError(Rejection.BAD_INPUT, f"{len(values)} values for {len(params)} params")
    parts = [(_dynamic(p), _encode_one(p, v)) for p, v in zip(params, values, strict=True)]
    offset = sum(WORD if dynamic else len(body) for dynamic, body in parts)
    heads, tails = b"", b""
    for dynamic, body in parts:
        if dynamic:
            heads += word(offset + len(tails))
            tails += body
        else:
            heads += body
    return heads + tails


def decode_words(params: Sequence[Mapping[str, Any]], data: bytes) -> tuple[Any, ...]:
    """ref: Solidity ABI (§8.4) — static elementary values (ints, bools, addresses, words)."""
    values: list[Any] = []
    for index, param in enumerate(params):
        word = data[index * WORD : (index + 1) * WORD]
        kind = str(param["type"])
        if kind == "address":
            values.append(word[12:])
        elif kind.startswith("bytes"):
            values.append(word)
        else:
            signed = kind.startswith("int")
            values.append(int.from_bytes(word, "big", signed=signed))
    return tuple(values)


def entry(abi: Sequence[Mapping[str, Any]], kind: str, name: str) -> Mapping[str, Any]:
    found = [e for e in abi if e.get("type") == kind and e.get("name") == name]
    if len(found) != 1:
        raise RejectedError(Rejection.UNKNOWN_FUNCTION, f"{name}: {len(found)} ABI entries")
    return found[0]


def selector(entry: Mapping[str, Any]) -> bytes:
    """ref: Solidity ABI (§8.4) — the first 4 bytes of keccak256 of an entry's signature."""
    from eth_hash.auto import keccak

    inputs = ",".join(canonical_type(p) for p in entry.get("inputs", []))
    return bytes(keccak(f"{entry['name']}({inputs})".encode("ascii"))[:4])


def revert_reason(abi: Sequence[Mapping[str, Any]], output: bytes) -> str:
    """ref: Solidity ABI (§8.4) — a revert's custom error as `Name(args)`, else its hex."""
    for entry in abi:
        if entry.get("type") == "error" and output[:4] == selector(entry):
            args = decode_words(entry["inputs"], output[4:])
            return f"{entry['name']}({', '.join(str(a) for a in args)})"
    return output.hex() or "no data"
