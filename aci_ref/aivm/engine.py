"""The AIVM's engine (§5, errata E100): wasmtime configured to be deterministic, the store limits
every call runs under, and a reader of a binary module's sections.

Everything here is fixed before a contract runs: which WebAssembly features are admitted, how deep
a call's frames may go (`aivm_wasm_stack_bytes`), how large its memory and table may grow
(`aivm_memory_pages`, `aivm_max_table_elements`), how much fuel a call gets on top of its gas
limit (`fuel_reserve`), and which initializers instantiation may evaluate without fuel
(`check_initializers`).
"""

from __future__ import annotations

import atexit
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Final

import wasmtime

from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params

PAGE_BYTES: Final = 65536
"""A WebAssembly memory page."""

WASM_HEADER: Final = b"\x00asm\x01\x00\x00\x00"
GLOBAL_SECTION, START_SECTION, ELEMENT_SECTION, CODE_SECTION, DATA_SECTION = 6, 8, 9, 10, 11

_MODULES: Final[weakref.WeakSet[wasmtime.Module]] = weakref.WeakSet()


@atexit.register
def _close_modules() -> None:
    # wasmtime frees a module through its C library; at interpreter exit that library may be
    # gone before the last module is collected, so every live module is closed first.
    for module in list(_MODULES):
        module.close()


@cache
def engine(stack_bytes: int) -> wasmtime.Engine:
    """ref: AIVM engine (errata E100) — one deterministic, fuel-metered wasmtime engine.

    On: WebAssembly 2.0 without SIMD, funcref tables only, and extended constant expressions
    (wasmtime cannot turn them off). Off: what allocates beyond the bounded memory and table
    (GC, externref), what may differ between machines (SIMD, relaxed SIMD, threads), and what
    no contract needs (exceptions, tail calls, typed function references, wide arithmetic,
    stack switching, custom page sizes, memory64, multiple memories, components). A call's
    frames may take `stack_bytes` of native stack; deeper is a trap. One engine per bound,
    since a module is compiled for, and runs only in, the engine that compiled it.
    """
    config = wasmtime.Config()
    config.consume_fuel = True
    config.cranelift_nan_canonicalization = True
    # The stack depth at which recursion traps depends on the code's frame sizes: pin them.
    config.strategy = "cranelift"
    config.cranelift_opt_level = "speed"
    config.max_wasm_stack = stack_bytes
    config.wasm_threads = False
    config.shared_memory = False
    config.wasm_simd = False
    config.wasm_relaxed_simd = False
    config.wasm_memory64 = False
    config.wasm_multi_memory = False
    config.wasm_custom_page_sizes = False
    config.wasm_gc = False
    config.gc_support = False  # no GC heap at all; reference types themselves must stay on
    config.wasm_function_references = False
    config.wasm_exceptions = False
    config.wasm_tail_call = False
    config.wasm_wide_arithmetic = False
    config.wasm_stack_switching = False
    config.wasm_component_model = False
    config.parallel_compilation = False
    return wasmtime.Engine(config)


def contract_engine(params: Params) -> wasmtime.Engine:
    """ref: AIVM engine (errata E100) — the engine contracts compile on under `params`."""
    return engine(params.aivm_wasm_stack_bytes)


def compile_module(engine_: wasmtime.Engine, wasm: bytes) -> wasmtime.Module:
    """ref: AIVM contract (errata E100) — compile `wasm`, closed before the interpreter exits."""
    module = wasmtime.Module(engine_, wasm)
    _MODULES.add(module)
    return module


def new_store(params: Params, engine_: wasmtime.Engine, fuel: int) -> wasmtime.Store:
    """ref: AIVM engine (errata E100) — a store holding `fuel`, within every call limit.

    One instance, one table of at most `aivm_max_table_elements`, one memory of at most
    `aivm_memory_pages` pages.
    """
    store = wasmtime.Store(engine_)
    # Tables are bounded too: one table.grow or table.fill does its work before fuel is checked.
    store.set_limits(
        memory_size=params.aivm_memory_pages * PAGE_BYTES,
        table_elements=params.aivm_max_table_elements,
        instances=1,
        tables=1,
        memories=1,
    )
    store.set_fuel(fuel)
    return store


def read_u32(data: bytes, at: int) -> tuple[int, int]:
    """ref: AIVM contract (errata E100) — an unsigned LEB128 of at most five bytes at `at`.

    Its value and where the next item starts; `bad_module` when it is cut short or too long.
    """
    value = 0
    for shift in range(0, 35, 7):
        if at >= len(data):
            break
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
    raise RejectedError(Rejection.BAD_MODULE, "a malformed LEB128 integer")


@dataclass(frozen=True, slots=True)
class Section:
    """ref: AIVM contract (errata E100) — one section: its id, where it starts, its payload.

    `start` is the id byte's offset; the payload is `wasm[payload:end]`.
    """

    kind: int
    start: int
    payload: int
    end: int


def sections(wasm: bytes) -> tuple[Section, ...]:
    """ref: AIVM contract (errata E100) — the sections of a binary module, in order.

    Refused with `bad_module` when the bytes are not a WebAssembly 1 module split into whole
    sections (what is inside a section is the engine's to check).
    """
    if wasm[: len(WASM_HEADER)] != WASM_HEADER:
        raise RejectedError(Rejection.BAD_MODULE, "not a WebAssembly module")
    at, found = len(WASM_HEADER), []
    while at < len(wasm):
        size, payload = read_u32(wasm, at + 1)
        if payload + size > len(wasm):
            raise RejectedError(Rejection.BAD_MODULE, f"section {wasm[at]} runs past the end")
        found.append(Section(wasm[at], at, payload, payload + size))
        at = payload + size
    return tuple(found)


def module_sections(wasm: bytes) -> tuple[tuple[int, int], ...]:
    """ref: AIVM contract (errata E100) — (id, payload bytes) of each section of a binary module.

    Refused as `sections` refuses.
    """
    return tuple((s.kind, s.end - s.payload) for s in sections(wasm))


def fuel_reserve(wasm: bytes) -> int:
    """ref: AIVM call (errata E100) — a call's fuel on top of its limit: the code section's bytes.

    Fuel is checked on entering a function, at a loop header and, once `aivm.meter` has put a
    check after every call, on coming back from one; so what runs unchecked lies inside one
    body, and every fuel-costing instruction takes at least one of its bytes. Custom sections
    and data do not count. At least 1, the least that keeps the after-the-fact verdict exact.
    """
    return max([1] + [size for kind, size in module_sections(wasm) if kind == CODE_SECTION])


# i32.const and i64.const take a signed LEB128 of at most 5 and 10 bytes; f32.const and f64.const
# 4 and 8 raw bytes. The value is either, so only where it ends matters.
_LEB_CONSTANTS: Final = {0x41: 5, 0x42: 10}
_RAW_CONSTANTS: Final = {0x43: 4, 0x44: 8}
_END: Final = 0x0B
# Element segment flags: 0 and 2 are active and 3 declared, all listing function indices; 1 is
# passive, 4 to 7 list expressions.
_ACTIVE_ELEMENTS, _ACTIVE_TABLE_ELEMENTS, _DECLARED_ELEMENTS = 0, 2, 3
_ACTIVE_DATA, _PASSIVE_DATA, _ACTIVE_MEMORY_DATA = 0, 1, 2


def _refused(what: str) -> RejectedError:
    return RejectedError(Rejection.BAD_MODULE, what)


def _constant(data: bytes, at: int, what: str) -> int:
    """Where the constant expression at `at` ends, if it is one numeric constant, else refused."""
    opcode = data[at] if at < len(data) else None
    if opcode in _LEB_CONSTANTS:
        at += 1
        for end in range(at, min(at + _LEB_CONSTANTS[opcode], len(data))):
            if data[end] < 0x80:
                at = end + 1
                break
        else:
            raise _refused(f"{what}: a malformed LEB128 integer")
    elif opcode in _RAW_CONSTANTS:
        at += 1 + _RAW_CONSTANTS[opcode]
    else:
        at = len(data)
    if at >= len(data) or data[at] != _END:
        raise _refused(f"{what} is not a single constant")
    return at + 1


def _skip_indices(data: bytes, at: int) -> int:
    count, at = read_u32(data, at)
    for _ in range(count):
        at = read_u32(data, at)[1]
    return at


def _check_globals(data: bytes) -> None:
    count, at = read_u32(data, 0)
    for index in range(count):
        at = _constant(data, at + 2, f"global {index}'s initial value")  # past type, mutability


def _check_elements(data: bytes) -> None:
    count, at = read_u32(data, 0)
    for index in range(count):
        flags, at = read_u32(data, at)
        what = f"element segment {index}"
        if flags == _ACTIVE_ELEMENTS:
            at = _skip_indices(data, _constant(data, at, f"{what}'s offset"))
        elif flags == _ACTIVE_TABLE_ELEMENTS:
            at = _constant(data, read_u32(data, at)[1], f"{what}'s offset")
            at = _skip_indices(data, at + 1)  # past the element kind
        elif flags == _DECLARED_ELEMENTS:
            at = _skip_indices(data, at + 1)
        else:
            raise _refused(f"{what} is passive or lists expressions, not active or declared")


def _check_data(data: bytes) -> None:
    count, at = read_u32(data, 0)
    for index in range(count):
        flags, at = read_u32(data, at)
        if flags == _ACTIVE_MEMORY_DATA:
            at = read_u32(data, at)[1]
        if flags in (_ACTIVE_DATA, _ACTIVE_MEMORY_DATA):
            at = _constant(data, at, f"data segment {index}'s offset")
        elif flags != _PASSIVE_DATA:
            raise _refused(f"data segment {index}: flags {flags}")
        size, at = read_u32(data, at)
        at += size


_INITIALIZERS: Final = {
    GLOBAL_SECTION: _check_globals,
    ELEMENT_SECTION: _check_elements,
    DATA_SECTION: _check_data,
}


def check_initializers(wasm: bytes) -> None:
    """ref: AIVM contract (errata E100) — refuse what instantiation could only evaluate with fuel.

    wasmtime places a segment or sets a global ahead of time only when its value is one numeric
    constant and its elements are function indices; anything else (an extended constant
    expression, a reference global, a passive segment or one listing expressions) it evaluates
    in a function it runs at instantiation, which takes fuel. Admission tries instantiation with
    none, and a call would pay for it out of its gas; so each is `bad_module`, with its reason,
    on a module that has passed validation. Passive data segments need no fuel and pass.
    """
    for section in sections(wasm):
        check = _INITIALIZERS.get(section.kind)
        if check is not None:
            check(wasm[section.payload : section.end])
