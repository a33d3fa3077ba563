"""The AIVM host (§5): contracts are WebAssembly modules run by wasmtime with fuel as gas.

A call is a pure function of (contract, storage, function, arguments, gas limit): it returns the
values the function returned, the gas it used and the storage it leaves, or refuses with a
`Rejection` — and then the storage handed in is untouched, because the host writes only into a
journal that is kept when the call returns and dropped when it traps (errata E100).

Gas and fuel are one meter. wasmtime charges each plain instruction its fuel; an opcode (a host
function of `aci_ref.aivm.opcodes`) first takes its Equation 2 cost from the same store, so
running out inside an opcode and running out between instructions are the same failure,
`out_of_gas`. wasmtime checks the meter only at function entries and loop headers, so a straight
run of instructions may overdraw it; the store is therefore given the limit plus a reserve of one
unit per byte of the module (no straight run is longer), and a call whose exact use exceeds its
limit is refused after the fact, so the verdict is exact at every limit. The engine is configured
for determinism: no threads, SIMD, relaxed SIMD, 64-bit or multiple memories, and NaN results
canonicalised.
"""

from __future__ import annotations

import atexit
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

import wasmtime

from aci_ref.crypto import sha256
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params

HOST_MODULE: Final = "aivm"
"""The import module every AIVM opcode lives in."""

PAGE_BYTES: Final = 65536
"""A WebAssembly memory page."""

MAX_TABLE_ELEMENTS: Final = 1024
"""ref: AIVM engine (errata E100) — the most elements a contract's one table may hold."""


_MODULES: Final[weakref.WeakSet[wasmtime.Module]] = weakref.WeakSet()


@atexit.register
def _close_modules() -> None:
    # wasmtime frees a module through its C library; at interpreter exit that library may be
    # gone before the last module is collected, so every live module is closed first.
    for module in list(_MODULES):
        module.close()


@cache
def engine() -> wasmtime.Engine:
    """ref: AIVM engine (errata E100) — one deterministic, fuel-metered wasmtime engine."""
    config = wasmtime.Config()
    config.consume_fuel = True
    config.cranelift_nan_canonicalization = True
    config.wasm_threads = False
    config.wasm_simd = False
    config.wasm_relaxed_simd = False
    config.wasm_memory64 = False
    config.wasm_multi_memory = False
    config.parallel_compilation = False
    return wasmtime.Engine(config)


@dataclass(frozen=True, slots=True)
class Contract:
    """ref: AIVM contract (errata E100) — a compiled module, its bytes and their SHA-256."""

    name: str
    wasm: bytes
    digest: bytes
    module: wasmtime.Module = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CallResult:
    """ref: AIVM call (errata E100) — what a call returned, its gas, and the storage it left.

    `writes` lists (key, value before, value after) in the order the call first wrote each key;
    None stands for an absent slot.
    """

    returned: tuple[int, ...]
    gas_used: int
    storage: Mapping[bytes, bytes]
    writes: tuple[tuple[bytes, bytes | None, bytes | None], ...]


class CallContext:
    """The one call in progress: its store, its memory, its storage journal, its opcodes' data.

    Host functions reach the call through this object; nothing outside a call keeps it.
    """

    def __init__(
        self,
        params: Params,
        store: wasmtime.Store,
        storage: Mapping[bytes, bytes],
        reserve: int = 0,
        env: Any = None,
    ):
        self.params = params
        self.store = store
        self.reserve = reserve
        self.env = env  # the chain around a call made by a CallContract event, else None
        self.storage = storage
        self.journal: dict[bytes, bytes | None] = {}
        self.memory: wasmtime.Memory | None = None

    # -- gas -------------------------------------------------------------------------------------

    def charge(self, gas: int) -> None:
        """Take `gas` from the call's meter; running out refuses with `out_of_gas`."""
        fuel = self.store.get_fuel()
        left = fuel - self.reserve
        if gas > left:
            self.store.set_fuel(0)
            raise RejectedError(Rejection.OUT_OF_GAS, f"an opcode needs {gas}, {left} left")
        self.store.set_fuel(fuel - gas)

    # -- memory ----------------------------------------------------------------------------------

    def _memory(self) -> wasmtime.Memory:
        if self.memory is None:
            raise RejectedError(Rejection.CONTRACT_TRAP, "the contract exports no memory")
        return self.memory

    def read(self, start: int, length: int) -> bytes:
        """`length` bytes of the contract's memory from `start`, or `contract_trap`."""
        memory = self._memory()
        if start < 0 or length < 0 or start + length > memory.data_len(self.store):
            raise RejectedError(Rejection.CONTRACT_TRAP, f"read {start}+{length} out of memory")
        return bytes(memory.read(self.store, start, start + length))

    def write(self, start: int, data: bytes) -> None:
        """Write `data` into the contract's memory at `start`, or `contract_trap`."""
        memory = self._memory()
        if start < 0 or start + len(data) > memory.data_len(self.store):
            raise RejectedError(Rejection.CONTRACT_TRAP, f"write {start}+{len(data)} out of memory")
        memory.write(self.store, data, start)

    def grow(self, length: int) -> int:
        """Append `length` zeroed bytes (whole pages) to memory: their start, or -1 past a limit."""
        memory = self._memory()
        start = memory.data_len(self.store)
        pages = -(-length // PAGE_BYTES)
        if start // PAGE_BYTES + pages > self.params.aivm_memory_pages:
            return -1
        try:
            memory.grow(self.store, pages)
        except wasmtime.WasmtimeError:  # past the maximum the module itself declared
            return -1
        return start

    # -- storage ---------------------------------------------------------------------------------

    def load(self, key: bytes) -> bytes | None:
        """The slot's value as this call sees it (its own writes first)."""
        if key in self.journal:
            return self.journal[key]
        return self.storage.get(key)

    def store_value(self, key: bytes, value: bytes | None) -> None:
        """Journal a write; it reaches storage only if the call returns."""
        self.journal[key] = value


HostFunction = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Opcode:
    """ref: AIVM opcode (errata E100) — one host function: its WASM signature and its body.

    `body(context, *args)` charges its own gas (Equation 2) before it does any work.
    """

    name: str
    params: tuple[str, ...]
    results: tuple[str, ...]
    body: HostFunction


_TYPES: Final = {"i32": wasmtime.ValType.i32, "i64": wasmtime.ValType.i64}


def _functype(opcode: Opcode) -> wasmtime.FuncType:
    return wasmtime.FuncType(
        [_TYPES[t]() for t in opcode.params], [_TYPES[t]() for t in opcode.results]
    )


def _signature(kind: object) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if not isinstance(kind, wasmtime.FuncType):
        return None
    return tuple(str(t) for t in kind.params), tuple(str(t) for t in kind.results)


def load_contract(
    params: Params, name: str, source: bytes | str, opcodes: Mapping[str, Opcode]
) -> Contract:
    """ref: AIVM contract (errata E100) — compile and admit a contract, or refuse it.

    `source` is WebAssembly text or binary. Refused with `bad_module` when it does not compile
    (disabled features included), exports no memory, or declares more than `aivm_memory_pages`
    pages at start or as its maximum (or no maximum); with `unknown_host_function` when it
    imports anything but an opcode of `opcodes` with that opcode's exact signature.
    """
    try:
        wasm = bytes(wasmtime.wat2wasm(source)) if isinstance(source, str) else bytes(source)
        module = wasmtime.Module(engine(), wasm)
    except (wasmtime.WasmtimeError, ValueError) as error:
        raise RejectedError(Rejection.BAD_MODULE, str(error).splitlines()[0]) from error
    for item in module.imports:
        opcode = opcodes.get(item.name or "") if item.module == HOST_MODULE else None
        if opcode is None or _signature(item.type) != (opcode.params, opcode.results):
            raise RejectedError(Rejection.UNKNOWN_HOST_FUNCTION, f"{item.module}.{item.name}")
    memories = [(e.name, e.type) for e in module.exports if isinstance(e.type, wasmtime.MemoryType)]
    if len(memories) != 1 or memories[0][0] != "memory":
        raise RejectedError(Rejection.BAD_MODULE, "a contract exports exactly one memory")
    limits = memories[0][1].limits
    pages = params.aivm_memory_pages
    if limits.min > pages or limits.max is None or limits.max > pages:
        raise RejectedError(Rejection.BAD_MODULE, f"memory must be declared within {pages} pages")
    _MODULES.add(module)
    return Contract(name, wasm, sha256(wasm), module)


def _bind(context: CallContext, opcode: Opcode) -> HostFunction:
    def host(*args: int) -> Any:
        return opcode.body(context, *args)

    return host


_BITS: Final = {"i32": 32, "i64": 64}


def _fits(kind: wasmtime.FuncType, args: Sequence[int]) -> bool:
    """Whether `args` are integers that fit the export's parameters, signed, without wrapping."""
    types = [str(t) for t in kind.params]
    if len(types) != len(args) or any(t not in _BITS for t in (*types, *map(str, kind.results))):
        return False  # floats and references never cross the boundary, either way
    return all(
        type(a) is int and -(1 << (_BITS[t] - 1)) <= a < (1 << (_BITS[t] - 1))
        for t, a in zip(types, args, strict=True)
    )


def call(
    params: Params,
    contract: Contract,
    opcodes: Mapping[str, Opcode],
    storage: Mapping[bytes, bytes],
    function: str,
    args: Sequence[int],
    gas_limit: int,
    env: Any = None,
) -> CallResult:
    """ref: AIVM call (errata E100) — run `function(*args)` of `contract` with `gas_limit` gas.

    Refused, with `storage` untouched: `bad_input` (a gas limit outside [1, aivm_gas_limit]);
    `unknown_function` (no such export, or arguments that do not fit it); `out_of_gas`;
    `contract_trap` (any WebAssembly trap, or an opcode refusing its memory operands); and any
    refusal an opcode raises (`tensor_overflow`, `bad_input`...). Arguments are 32- or 64-bit
    integers as the export declares. `env` is what chain opcodes act on (a call from a
    `CallContract` event); without it they refuse with `contract_trap`.
    """
    if not 1 <= gas_limit <= params.aivm_gas_limit:
        raise RejectedError(Rejection.BAD_INPUT, f"gas limit {gas_limit}")
    store = wasmtime.Store(engine())
    # Tables are bounded too: one table.grow or table.fill does its work before fuel is checked.
    store.set_limits(
        memory_size=params.aivm_memory_pages * PAGE_BYTES,
        table_elements=MAX_TABLE_ELEMENTS,
        instances=1,
        tables=1,
        memories=1,
    )
    reserve = len(contract.wasm)
    store.set_fuel(gas_limit + reserve)
    context = CallContext(params, store, storage, reserve, env)
    linker = wasmtime.Linker(engine())
    for opcode in opcodes.values():
        linker.define_func(HOST_MODULE, opcode.name, _functype(opcode), _bind(context, opcode))
    try:
        instance = linker.instantiate(store, contract.module)
        exports = instance.exports(store)
        memory = exports.get("memory") if "memory" in exports else None
        context.memory = memory if isinstance(memory, wasmtime.Memory) else None
        target = exports.get(function, None)
        if not isinstance(target, wasmtime.Func) or not _fits(target.type(store), args):
            raise RejectedError(Rejection.UNKNOWN_FUNCTION, f"{function}{tuple(args)}")
        returned = target(store, *args)
    except RejectedError:
        raise
    except wasmtime.Trap as trap:
        if trap.trap_code == wasmtime.TrapCode.OUT_OF_FUEL:
            raise RejectedError(Rejection.OUT_OF_GAS, f"{function}: out of fuel") from trap
        what = trap.trap_code.name.lower() if trap.trap_code is not None else "trap"
        raise RejectedError(Rejection.CONTRACT_TRAP, f"{function}: {what}") from trap
    except (wasmtime.WasmtimeError, TypeError, OverflowError) as error:
        raise RejectedError(Rejection.CONTRACT_TRAP, str(error).splitlines()[0]) from error
    finally:
        # The host closures hold the context and the context the store: break the cycle, or
        # wasmtime's process-wide closure table keeps every store (and its memory) alive.
        context.store = None  # type: ignore[assignment]
        context.memory = None
    used = gas_limit + reserve - store.get_fuel()
    if used > gas_limit:
        raise RejectedError(Rejection.OUT_OF_GAS, f"{function}: used {used} of {gas_limit}")
    values = () if returned is None else returned if isinstance(returned, list) else [returned]
    after = dict(storage)
    writes = []
    for key, value in context.journal.items():
        writes.append((key, storage.get(key), value))
        if value is None:
            after.pop(key, None)
        else:
            after[key] = value
    return CallResult(tuple(int(v) for v in values), used, after, tuple(writes))
