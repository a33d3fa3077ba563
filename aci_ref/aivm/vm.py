"""The AIVM host (§5): contracts are WebAssembly modules run by wasmtime with fuel as gas.

A call is a pure function of (contract, storage, function, arguments, gas limit): it returns the
values the function returned, the gas it used and the storage it leaves, or refuses with a
`Rejection` — and then the storage handed in is untouched, because the host writes only into a
journal that is kept when the call returns and dropped when it traps (errata E100).

Gas and fuel are one meter: plain instructions cost their fuel and an opcode (a host function of
`aci_ref.aivm.opcodes`) takes its Equation 2 cost from the same store first, so running out
anywhere is `out_of_gas`. wasmtime checks fuel only at function entries and loop headers; the
admitted module has an empty loop after every call (`aci_ref.aivm.meter`), so fuel is checked on
every return too and what runs unchecked lies within one body. The store gets the limit plus a
reserve (the code section's bytes) and a call that used more than its limit is refused
afterwards, so `out_of_gas` is exact at every limit. The engine, the store's limits and the
section reader are `aci_ref.aivm.engine`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Final

import wasmtime

from aci_ref.aivm.engine import (
    PAGE_BYTES,
    START_SECTION,
    check_initializers,
    compile_module,
    contract_engine,
    fuel_reserve,
    module_sections,
    new_store,
)
from aci_ref.aivm.meter import meter
from aci_ref.crypto import sha256
from aci_ref.errors import InvariantViolation, RejectedError, Rejection
from aci_ref.params import Params

if TYPE_CHECKING:
    from aci_ref.aivm.models import FixedModel

HOST_MODULE: Final = "aivm"
"""The import module every AIVM opcode lives in."""


@dataclass(frozen=True, slots=True)
class Contract:
    """ref: AIVM contract (errata E100) — a compiled module, its bytes and their SHA-256.

    `wasm` is the binary as submitted and `digest` its SHA-256, the contract's identity;
    `module` is compiled from the metered rewrite of it (`aivm.meter`), on `engine`, which its
    calls run on. `reserve` is the fuel a call gets on top of its limit: the code-section bytes.
    """

    name: str
    wasm: bytes
    digest: bytes
    module: wasmtime.Module = field(compare=False, repr=False)
    engine: wasmtime.Engine = field(compare=False, repr=False)
    reserve: int = 1  # the least that keeps the after-the-fact verdict exact


@dataclass(frozen=True, slots=True)
class CallResult:
    """ref: AIVM call (errata E100) — what a call returned, its gas, and the storage it left.

    `writes` lists (key, value before, value after) in the order the call first wrote each key;
    None stands for an absent slot. `gas_by_opcode` is the gas each opcode that ran charged in
    all, by name in order; the rest of `gas_used` went to plain instructions.
    """

    returned: tuple[int, ...]
    gas_used: int
    storage: Mapping[bytes, bytes]
    writes: tuple[tuple[bytes, bytes | None, bytes | None], ...]
    gas_by_opcode: Mapping[str, int] = field(default_factory=dict)


class StorageAfter(Mapping[bytes, bytes]):
    """ref: AIVM call (errata E100) — the storage a call leaves: its writes over what it found.

    A view, never a copy, so a call's host time does not grow with slots it never touched;
    iterating it (rarely needed: the chain applies `CallResult.writes`) visits every slot.
    """

    __slots__ = ("_base", "_writes")

    def __init__(self, base: Mapping[bytes, bytes], writes: Mapping[bytes, bytes | None]):
        self._base = base
        self._writes = writes

    def __getitem__(self, key: bytes) -> bytes:
        if key in self._writes:
            value = self._writes[key]
            if value is None:
                raise KeyError(key)
            return value
        return self._base[key]

    def __iter__(self) -> Iterator[bytes]:
        for key in self._base:
            if key not in self._writes:
                yield key
        for key, value in self._writes.items():
            if value is not None:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


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
        self.models: list[FixedModel] = []  # MODEL_LOAD's handles index this list
        self.running: str | None = None  # the opcode whose body is executing
        self.gas_by_opcode: dict[str, int] = {}

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


@cache
def _signature_type(params: tuple[str, ...], results: tuple[str, ...]) -> wasmtime.FuncType:
    # the linker copies a type it is given, so one object per signature serves every call
    return wasmtime.FuncType([_TYPES[t]() for t in params], [_TYPES[t]() for t in results])


def _functype(opcode: Opcode) -> wasmtime.FuncType:
    return _signature_type(opcode.params, opcode.results)


_IMPORTS: Final[dict[bytes, frozenset[str]]] = {}


def _imported(contract: Contract) -> frozenset[str]:
    """The opcode names a contract imports: only those are linked into a call."""
    names = _IMPORTS.get(contract.digest)
    if names is None:
        names = frozenset(str(i.name) for i in contract.module.imports if i.module == HOST_MODULE)
        _IMPORTS[contract.digest] = names
    return names


def _signature(kind: object) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if not isinstance(kind, wasmtime.FuncType):
        return None
    return tuple(str(t) for t in kind.params), tuple(str(t) for t in kind.results)


def load_contract(
    params: Params, name: str, source: bytes | str, opcodes: Mapping[str, Opcode]
) -> Contract:
    """ref: AIVM contract (errata E100) — compile and admit a contract, or refuse it.

    `source` is WebAssembly text or binary. Refused with `bad_module` when its binary passes
    `aivm_max_module_bytes`, does not compile (disabled features included), has a function body
    past `aivm_max_body_branches` or bodies past `aivm_max_module_branches` in all (`aivm.meter`:
    compile time grows with them), has an initializer instantiation would need fuel for (a
    passive element segment, one listing expressions, an initial value or offset that is not one
    numeric constant: `check_initializers`), has a start function, exports no memory, declares
    more than `aivm_memory_pages` pages at start or as its maximum (or no maximum), or cannot be
    instantiated within the call limits (a table past `aivm_max_table_elements`, a data or
    element segment out of bounds); with `unknown_host_function` when it imports anything but an
    opcode of `opcodes` with that opcode's exact signature. What is compiled is the submitted
    binary with a fuel check after every call (`aivm.meter`); the contract's identity stays the
    SHA-256 of the binary itself.
    """
    limit = params.aivm_max_module_bytes
    engine = contract_engine(params)
    try:
        wasm = bytes(wasmtime.wat2wasm(source)) if isinstance(source, str) else bytes(source)
        if len(wasm) > limit:  # checked before compiling: compile time grows with the size
            raise RejectedError(Rejection.BAD_MODULE, f"{len(wasm)} bytes, more than {limit}")
        # Validated first, so the rewrite only ever sees code the engine admits.
        wasmtime.Module.validate(engine, wasm)
        check_initializers(wasm)
        metered = meter(wasm, params.aivm_max_body_branches, params.aivm_max_module_branches)
        module = compile_module(engine, metered)
    except (wasmtime.WasmtimeError, ValueError) as error:
        raise RejectedError(Rejection.BAD_MODULE, str(error).splitlines()[0]) from error
    if any(kind == START_SECTION for kind, _ in module_sections(wasm)):
        # A start function would run before every call, outside the export the caller named.
        raise RejectedError(Rejection.BAD_MODULE, "a contract has no start function")
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
    # With no start function and only plain initializers instantiation runs no code, so it
    # needs no fuel and what fails here fails every call.
    linker = wasmtime.Linker(engine)
    linker.define_unknown_imports_as_traps(module)
    try:
        linker.instantiate(new_store(params, engine, 0), module)
    except wasmtime.Trap as trap:
        # Plain segments wasmtime cannot place ahead of time are those out of bounds; it
        # places them at instantiation instead, which takes fuel, so that is how they fail.
        out_of_fuel = trap.trap_code == wasmtime.TrapCode.OUT_OF_FUEL
        what = "a data or element segment out of bounds" if out_of_fuel else str(trap)
        raise RejectedError(Rejection.BAD_MODULE, what.splitlines()[0]) from trap
    except wasmtime.WasmtimeError as error:
        raise RejectedError(Rejection.BAD_MODULE, str(error).splitlines()[0]) from error
    return Contract(name, wasm, sha256(wasm), module, engine, fuel_reserve(wasm))


def _bind(context: CallContext, opcode: Opcode) -> HostFunction:
    def host(*args: int) -> Any:
        if context.running is not None:  # only reachable if an opcode's body re-enters wasm
            raise RejectedError(Rejection.CONTRACT_TRAP, f"{opcode.name} in {context.running}")
        context.running = opcode.name
        before = context.store.get_fuel()
        try:
            return opcode.body(context, *args)
        except (RejectedError, InvariantViolation):
            raise
        except Exception as bug:  # a fault of the host, never the contract's: not a paid trap
            raise InvariantViolation(f"opcode {opcode.name}: {bug!r}") from bug
        finally:
            context.running = None
            spent = before - context.store.get_fuel()
            context.gas_by_opcode[opcode.name] = context.gas_by_opcode.get(opcode.name, 0) + spent

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
    `contract_trap` (any WebAssembly trap, recursion past the stack bound included, or an
    opcode refusing its memory operands); and any refusal an opcode raises (`tensor_overflow`,
    `bad_input`...). Arguments are 32- or 64-bit integers as the export declares. `env` is what
    chain opcodes act on (a call from a `CallContract` event); without it they refuse with
    `contract_trap`.
    """
    if not 1 <= gas_limit <= params.aivm_gas_limit:
        raise RejectedError(Rejection.BAD_INPUT, f"gas limit {gas_limit}")
    reserve = contract.reserve
    store = new_store(params, contract.engine, gas_limit + reserve)
    context = CallContext(params, store, storage, reserve, env)
    linker = wasmtime.Linker(contract.engine)
    wanted = _imported(contract)
    for opcode in opcodes.values():
        if opcode.name in wanted:
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
    except (RejectedError, InvariantViolation):
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
    writes = tuple((key, storage.get(key), value) for key, value in context.journal.items())
    after = StorageAfter(storage, dict(context.journal))
    by_opcode = dict(sorted(context.gas_by_opcode.items()))
    return CallResult(tuple(int(v) for v in values), used, after, writes, by_opcode)
