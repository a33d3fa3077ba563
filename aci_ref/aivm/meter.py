"""A fuel check after every call, put into a contract's code when it is admitted (errata E100).

wasmtime checks fuel when a function is entered and at every loop header, never when a call
returns. Once the deepest call of a recursion has run out, the rest of every frame below it
would run unchecked: the verdict is still `out_of_gas`, but the CPU is spent. An empty `loop`
right after each `call` and `call_indirect` is a loop header, so fuel is checked on every return,
and it costs no fuel (wasmtime charges nothing for `loop` and `end`), so no call's gas changes.

The rewrite decodes each function body into its instructions, exactly as submitted, and writes
the body back with the checks inserted; only the code section and the lengths of the bodies in
it change. The decoder knows every instruction the engine admits (WebAssembly 2.0 without SIMD)
and refuses anything else with `bad_module`.

While it decodes, it counts each body's branches (`BRANCHES`), because with fuel on wasmtime's
compile time grows with the square of one body's branches and in step with the module's: a
body past `aivm_max_body_branches`, or bodies past `aivm_max_module_branches` in all, would make
admission itself a CPU bomb, and are `bad_module`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aci_ref.aivm.engine import CODE_SECTION, read_u32, sections
from aci_ref.errors import RejectedError, Rejection

CHECKPOINT: Final = b"\x03\x40\x0b"
"""`loop` with no parameters or results, then its `end`: a fuel check that does nothing else."""

CALLS: Final = frozenset({0x10, 0x11})
"""`call` and `call_indirect`: the instructions a check follows."""

# How the immediates of an instruction are laid out.
_NONE, _BLOCK, _IDX, _IDX2, _BR_TABLE, _MEMARG, _S32, _S64, _F32, _F64 = range(10)
_REF_TYPE, _SELECT_TYPES, _PREFIX = range(10, 13)

_OPCODES: Final[dict[int, int]] = {
    0x00: _NONE,  # unreachable
    0x01: _NONE,  # nop
    0x02: _BLOCK,  # block
    0x03: _BLOCK,  # loop
    0x04: _BLOCK,  # if
    0x05: _NONE,  # else
    0x0B: _NONE,  # end
    0x0C: _IDX,  # br
    0x0D: _IDX,  # br_if
    0x0E: _BR_TABLE,
    0x0F: _NONE,  # return
    0x10: _IDX,  # call
    0x11: _IDX2,  # call_indirect: type, table
    0x1A: _NONE,  # drop
    0x1B: _NONE,  # select
    0x1C: _SELECT_TYPES,  # select with its result types
    **dict.fromkeys(range(0x20, 0x27), _IDX),  # local.get/set/tee, global.get/set, table.get/set
    **dict.fromkeys(range(0x28, 0x3F), _MEMARG),  # loads and stores
    0x3F: _IDX,  # memory.size
    0x40: _IDX,  # memory.grow
    0x41: _S32,  # i32.const
    0x42: _S64,  # i64.const
    0x43: _F32,  # f32.const
    0x44: _F64,  # f64.const
    **dict.fromkeys(range(0x45, 0xC5), _NONE),  # numeric, sign extension included
    0xD0: _REF_TYPE,  # ref.null
    0xD1: _NONE,  # ref.is_null
    0xD2: _IDX,  # ref.func
    0xFC: _PREFIX,
}

_PREFIXED: Final[dict[int, int]] = {
    **dict.fromkeys(range(0, 8), _NONE),  # saturating float-to-int conversions
    8: _IDX2,  # memory.init: data, memory
    9: _IDX,  # data.drop
    10: _IDX2,  # memory.copy: memory, memory
    11: _IDX,  # memory.fill
    12: _IDX2,  # table.init: element segment, table
    13: _IDX,  # elem.drop
    14: _IDX2,  # table.copy: table, table
    15: _IDX,  # table.grow
    16: _IDX,  # table.size
    17: _IDX,  # table.fill
}

_VALUE_TYPES: Final = frozenset({0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F})
"""i32, i64, f32, f64, v128, funcref, externref: each one byte (the engine refuses v128 and
externref itself; typed references, which take more bytes, are off)."""

BRANCHES: Final[dict[int, int]] = {
    0x02: 1,  # block
    0x03: 1,  # loop
    0x04: 1,  # if
    0x0C: 1,  # br
    0x0D: 1,  # br_if
    0x10: 1,  # call: the check put after it
    0x11: 3,  # call_indirect: its check, and the bounds and lazy-initialisation tests of its slot
    0x25: 2,  # table.get: the lazy-initialisation test of its slot
    0x40: 1,  # memory.grow: a call into the runtime
}
"""ref: AIVM metering (errata E100) — what an instruction adds to its body's branches.

A branch is what wasmtime's fuel-metered compile pays for: a block, loop or if, a branch, a
`br_table` target (one each, the default included), a check after a call, or a call into the
runtime. An instruction whose compiled form branches or calls out more is worth several: each
weight is its measured compile time over that of one `call` with its check, rounded up.
"""

BODY_BRANCHES: Final = 2
"""ref: AIVM metering (errata E100) — what a body weighs before its first instruction: the fuel
check on entry, and the rest of what compiling one more function costs (measured: two calls)."""

PREFIXED_BRANCHES: Final[dict[int, int]] = {
    8: 2,  # memory.init
    10: 1,  # memory.copy
    11: 1,  # memory.fill
    12: 6,  # table.init
    14: 8,  # table.copy
    15: 4,  # table.grow
    17: 3,  # table.fill
}
"""ref: AIVM metering (errata E100) — `BRANCHES` of the 0xFC instructions, by sub-opcode."""

_BR_TABLE_OP, _PREFIX_OP = 0x0E, 0xFC
_REF_TYPES: Final = frozenset({0x70, 0x6F})
_EMPTY_BLOCK: Final = 0x40
_DEPTH_OPENERS: Final = frozenset({0x02, 0x03, 0x04})
_END: Final = 0x0B


def _refuse(at: int, what: str) -> RejectedError:
    return RejectedError(Rejection.BAD_MODULE, f"code byte {at}: {what}")


def _skip_leb(data: bytes, at: int, most: int) -> int:
    """Where the LEB128 integer at `at`, of at most `most` bytes, ends."""
    for end in range(at, min(at + most, len(data))):
        if data[end] < 0x80:
            return end + 1
    raise _refuse(at, "a malformed LEB128 integer")


def _u32(data: bytes, at: int) -> tuple[int, int]:
    try:
        return read_u32(data, at)
    except RejectedError:
        raise _refuse(at, "a malformed LEB128 integer") from None


def _value_type(data: bytes, at: int) -> int:
    if at >= len(data) or data[at] not in _VALUE_TYPES:
        raise _refuse(at, "not a value type the engine admits")
    return at + 1


def _block_type(data: bytes, at: int) -> int:
    if at < len(data) and (data[at] == _EMPTY_BLOCK or data[at] in _VALUE_TYPES):
        return at + 1
    end = _skip_leb(data, at, 5)  # a type index, as a signed 33-bit integer
    if data[end - 1] & 0x40:
        raise _refuse(at, "a block type the engine does not admit")
    return end


def _instruction(data: bytes, at: int) -> int:
    """Where the instruction at `at` ends; `bad_module` for one the engine does not admit."""
    opcode = data[at]
    kind = _OPCODES.get(opcode)
    at += 1
    if kind == _PREFIX:
        start = at
        sub, at = _u32(data, at)
        kind = _PREFIXED.get(sub)
        if kind is None:
            raise _refuse(start, f"no instruction 0x{opcode:02x} {sub}")
    if kind is None:
        raise _refuse(at - 1, f"no instruction 0x{opcode:02x}")
    if kind == _NONE:
        return at
    if kind == _IDX:
        return _skip_leb(data, at, 5)
    if kind == _IDX2:
        return _skip_leb(data, _skip_leb(data, at, 5), 5)
    if kind == _BLOCK:
        return _block_type(data, at)
    if kind == _BR_TABLE:
        count, at = _u32(data, at)
        for _ in range(count + 1):  # the targets, then the default
            at = _skip_leb(data, at, 5)
        return at
    if kind == _MEMARG:
        flags, at = _u32(data, at)
        if flags & 0x40:  # a memory index follows (one memory: the engine checks it is 0)
            at = _skip_leb(data, at, 5)
        return _skip_leb(data, at, 10)
    if kind == _S32:
        return _skip_leb(data, at, 5)
    if kind == _S64:
        return _skip_leb(data, at, 10)
    if kind in (_F32, _F64):
        end = at + (4 if kind == _F32 else 8)
        if end > len(data):
            raise _refuse(at, "a constant cut short")
        return end
    if kind == _REF_TYPE:
        if at >= len(data) or data[at] not in _REF_TYPES:
            raise _refuse(at, "a reference type the engine does not admit")
        return at + 1
    count, at = _u32(data, at)  # _SELECT_TYPES
    for _ in range(count):
        at = _value_type(data, at)
    return at


@dataclass(frozen=True, slots=True)
class Body:
    """ref: AIVM metering (errata E100) — one function body, decoded.

    `size` is its length field and `locals` its local declarations, as submitted; `code` its
    instructions in order, each its exact bytes, the closing `end` last; `branches` what they
    weigh by `BRANCHES`, the checks the rewrite adds included.
    """

    size: bytes
    locals: bytes
    code: tuple[bytes, ...]
    branches: int = 0

    @property
    def calls(self) -> int:
        """How many `call` and `call_indirect` instructions the body holds."""
        return sum(1 for instruction in self.code if instruction[0] in CALLS)

    def encode(self, checks: bool) -> bytes:
        """The body, with a `CHECKPOINT` after every call when `checks`, else as submitted."""
        if not (checks and self.calls):
            # An unchanged body keeps its length field byte for byte, even a padded one.
            return self.size + self.locals + b"".join(self.code)
        parts = [self.locals]
        for instruction in self.code:
            parts.append(instruction)
            if instruction[0] in CALLS:
                parts.append(CHECKPOINT)
        content = b"".join(parts)
        return _leb(len(content)) + content


def _branches(data: bytes, at: int) -> int:
    """What the instruction at `at`, already decoded, weighs by `BRANCHES`."""
    opcode = data[at]
    if opcode == _BR_TABLE_OP:
        return _u32(data, at + 1)[0] + 1
    if opcode == _PREFIX_OP:
        return PREFIXED_BRANCHES.get(_u32(data, at + 1)[0], 0)
    return BRANCHES.get(opcode, 0)


def decode_body(size: bytes, data: bytes) -> Body:
    """ref: AIVM metering (errata E100) — split one body's bytes into locals and instructions.

    Refused with `bad_module` when an instruction is not one the engine admits or the body
    does not end with the `end` that closes it.
    """
    groups, at = _u32(data, 0)
    for _ in range(groups):
        at = _value_type(data, _skip_leb(data, at, 5))
    local_end, code, depth, branches = at, [], 1, BODY_BRANCHES
    while depth:
        if at >= len(data):
            raise _refuse(at, "a body without its closing end")
        end = _instruction(data, at)
        if end > len(data):
            raise _refuse(at, "an instruction runs past its body")
        opcode = data[at]
        depth += (opcode in _DEPTH_OPENERS) - (opcode == _END)
        branches += _branches(data, at)
        code.append(data[at:end])
        at = end
    if at != len(data):
        raise _refuse(at, "bytes after a body's closing end")
    return Body(size, data[:local_end], tuple(code), branches)


@dataclass(frozen=True, slots=True)
class Code:
    """ref: AIVM metering (errata E100) — a module split around its decoded code section.

    `before` and `after` are every byte outside the code section; `size` and `count` its
    length field and its count of bodies, as submitted.
    """

    before: bytes
    size: bytes
    count: bytes
    bodies: tuple[Body, ...]
    after: bytes

    def encode(self, checks: bool) -> bytes:
        """The module, with `CHECKPOINT`s in every body when `checks`, else as submitted."""
        payload = self.count + b"".join(body.encode(checks) for body in self.bodies)
        changed = checks and any(body.calls for body in self.bodies)
        size = _leb(len(payload)) if changed else self.size
        return self.before + bytes([CODE_SECTION]) + size + payload + self.after


def decode(
    wasm: bytes, body_branches: int | None = None, module_branches: int | None = None
) -> Code | None:
    """ref: AIVM metering (errata E100) — `wasm` split around its code section, or None if it
    has none.

    Refused with `bad_module` as `sections` and `decode_body` refuse, and when a body weighs
    more than `body_branches` or all of them more than `module_branches` (None: no bound).
    """
    found = [s for s in sections(wasm) if s.kind == CODE_SECTION]
    if not found:
        return None
    section = found[0]
    payload = wasm[section.payload : section.end]
    count, at = _u32(payload, 0)
    count_field, bodies, total = payload[:at], [], 0
    for _ in range(count):
        length, start = _u32(payload, at)
        if start + length > len(payload):
            raise _refuse(at, "a body runs past its section")
        body = decode_body(payload[at:start], payload[start : start + length])
        if body_branches is not None and body.branches > body_branches:
            raise RejectedError(
                Rejection.BAD_MODULE,
                f"a function body with {body.branches} branches, at most {body_branches}",
            )
        total += body.branches
        if module_branches is not None and total > module_branches:
            # Refused as soon as the sum passes the bound: the bodies left need not be read.
            raise RejectedError(
                Rejection.BAD_MODULE,
                f"function bodies with more than {module_branches} branches in all",
            )
        bodies.append(body)
        at = start + length
    if at != len(payload):
        raise _refuse(at, "bytes after the last body")
    return Code(
        wasm[: section.start],
        wasm[section.start + 1 : section.payload],
        count_field,
        tuple(bodies),
        wasm[section.end :],
    )


def meter(
    wasm: bytes, body_branches: int | None = None, module_branches: int | None = None
) -> bytes:
    """ref: AIVM metering (errata E100) — `wasm` with a fuel check after every call.

    Every byte outside the code section is kept; inside it, each body gains a `CHECKPOINT`
    after each `call` and `call_indirect` and a new length. Refused with `bad_module` as
    `decode` refuses, the bounds on branches included.
    """
    code = decode(wasm, body_branches, module_branches)
    return wasm if code is None else code.encode(checks=True)


def _leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
