"""The AIVM's engine (§5, errata E100): wasmtime configured to be deterministic, the store limits
every call runs under, and a reader of a binary module's sections.

Everything here is fixed before a contract runs: which WebAssembly features are admitted, how deep
a call's frames may go (`aivm_wasm_stack_bytes`), how large its memory and table may grow
(`aivm_memory_pages`, `aivm_max_table_elements`), and how much fuel a call gets on top of its gas
limit (`fuel_reserve`).
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
START_SECTION, CODE_SECTION = 8, 10

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
