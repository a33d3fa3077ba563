"""The AIVM host against hostile contracts: every attack is a typed refusal, storage untouched.

Malformed and oversized binaries; memory, table and recursion bombs; start functions; GC,
exception and other disabled instructions; and random bytes and mutations of a real contract
fed to `load_contract` and `call` (errata E100). Running past the gas limit, and the reserve
and fuel checks that bound it, are `test_vm_metering.py`'s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aci_ref.aivm.bundled import bundled_contracts
from aci_ref.aivm.engine import WASM_HEADER
from aci_ref.aivm.opcodes import OPCODES
from aci_ref.aivm.vm import Contract, call, load_contract
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params
from tests.aivm.wasm_bytes import code_section, custom_section

PARAMS = default_params()
GAS = 100_000
DEMO_WASM = bytes(wasmtime.wat2wasm(bundled_contracts()["ledger_demo"]))
WRITE = '(import "aivm" "storage_write" (func $write (param i32 i32 i32 i32)))'
KEY = '(data (i32.const 0) "kv")'
# The call's first act: storage["k"] = "v", so a refusal must visibly drop a write.
PRELUDE = "(call $write (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 1))"
STORAGE: dict[bytes, bytes] = {b"old": b"value"}


def module(body: str, memory: str = '(memory (export "memory") 1 2)') -> str:
    return f"(module {WRITE} {body} {memory} {KEY})"


def load(source: str | bytes, params: object = PARAMS) -> Contract:
    return load_contract(params, "probe", source, OPCODES)  # type: ignore[arg-type]


def load_refusal(source: str | bytes) -> Rejection:
    with pytest.raises(RejectedError) as caught:
        load(source)
    return caught.value.rejection


def call_refusal(contract: Contract, args: tuple[int, ...] = (), gas: int = GAS) -> Rejection:
    storage = dict(STORAGE)
    with pytest.raises(RejectedError) as caught:
        call(PARAMS, contract, OPCODES, storage, "f", list(args), gas)
    assert storage == STORAGE
    return caught.value.rejection


def padded_to(wasm: bytes, total: int) -> bytes:
    """`wasm` with a custom section appended so that it is exactly `total` bytes long."""
    payload = max(0, total - len(wasm) - 12)
    while len(wasm) + len(custom_section(payload)) < total:
        payload += 1
    padded = wasm + custom_section(payload)
    assert len(padded) == total
    return padded


# -- malformed and oversized binaries ------------------------------------------------------------


@pytest.mark.parametrize(
    "wasm",
    [
        b"",
        b"\x00asm",
        b"\x00asm\x02\x00\x00\x00",  # an unknown version
        b"\x00asm\x0d\x00\x01\x00",  # a component, not a module
        WASM_HEADER + b"\x01\xff\xff\xff\xff\xff\xff",  # a length that never ends
        WASM_HEADER + b"\x01\x10\x00",  # a section longer than the module
        WASM_HEADER + b"\x63\x00",  # no such section
        DEMO_WASM[:-3],  # truncated
        b"\x7fELF" + bytes(60),
    ],
)
def test_malformed_bytes_are_bad_modules(wasm: bytes) -> None:
    assert load_refusal(wasm) is Rejection.BAD_MODULE


def test_a_module_over_the_size_cap_is_refused_and_one_at_the_cap_admitted() -> None:
    cap = PARAMS.aivm_max_module_bytes
    assert load(padded_to(DEMO_WASM, cap)).digest
    assert load_refusal(padded_to(DEMO_WASM, cap + 1)) is Rejection.BAD_MODULE
    small = replace(PARAMS, aivm_max_module_bytes=len(DEMO_WASM) - 1)
    with pytest.raises(RejectedError) as caught:
        load(DEMO_WASM, small)
    assert caught.value.rejection is Rejection.BAD_MODULE


# -- memory bombs --------------------------------------------------------------------------------


GROW_ALL = (
    "(block $full (loop $more"
    " (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))"
    " (local.set $n (i32.add (local.get $n) (i32.const 1))) (br $more)))"
)


@pytest.mark.parametrize(("declared", "grown"), [("1 2", 1), ("1 16", 15), ("16 16", 0)])
def test_growing_memory_in_a_loop_stops_at_the_declared_maximum(declared: str, grown: int) -> None:
    memory = f'(memory (export "memory") {declared})'
    counting = load(
        module(f'(func (export "f") (result i32) (local $n i32) {GROW_ALL} (local.get $n))', memory)
    )
    assert call(PARAMS, counting, OPCODES, {}, "f", [], GAS).returned == (grown,)
    trapping = load(
        module(f'(func (export "f") (local $n i32) {PRELUDE} {GROW_ALL} unreachable)', memory)
    )
    assert call_refusal(trapping) is Rejection.CONTRACT_TRAP


def test_growing_memory_forever_runs_out_of_gas() -> None:
    bomb = load(
        module(
            f'(func (export "f") {PRELUDE} (loop $l (drop (memory.grow (i32.const 1))) (br $l)))'
        )
    )
    assert call_refusal(bomb) is Rejection.OUT_OF_GAS


@pytest.mark.parametrize("pages", [65536, 0x7FFFFFFF, -1, 17])
def test_one_huge_memory_grow_fails_without_growing(pages: int) -> None:
    grow = load(
        module(
            f'(func (export "f") (result i32 i32) (memory.grow (i32.const {pages})) (memory.size))',
            '(memory (export "memory") 1 16)',
        )
    )
    assert call(PARAMS, grow, OPCODES, {}, "f", [], GAS).returned == (-1, 1)


@pytest.mark.parametrize(
    "source",
    [
        module("", '(memory (export "memory") 1 17)'),  # a maximum past aivm_memory_pages
        module("", '(memory (export "memory") 17 17)'),
        module("", '(memory (export "memory") 1)'),  # no maximum
        module("", '(memory (export "memory") 1 65536)'),
        module("", '(memory (export "memory") i64 1 2)'),  # memory64
        module("", '(memory (export "memory") 1 2 shared)'),  # threads
        module("(memory 1 1)", '(memory (export "memory") 1 1)'),  # multiple memories
        module("", '(memory (export "memory") 1 2) (data (i32.const 131072) "x")'),
        module("", '(memory (export "memory") 1 2) (data (i32.const 65535) "xy")'),
        module("", '(memory (export "memory") 1 2) (data (i32.const -1) "x")'),
        module("", '(memory (export "mem") 1 2)'),
        f"(module {WRITE})",  # no memory at all
    ],
)
def test_memory_declarations_past_the_limits_are_bad_modules(source: str) -> None:
    assert load_refusal(source) is Rejection.BAD_MODULE


def test_an_imported_memory_is_an_unknown_host_function() -> None:
    source = module("", '(import "aivm" "memory" (memory 1 2)) (export "memory" (memory 0))')
    assert load_refusal(source) is Rejection.UNKNOWN_HOST_FUNCTION


# -- table bombs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table",
    [
        "(table 1025 funcref)",
        "(table 100000000 funcref)",
        "(table 1 funcref) (table 1 funcref)",
        "(table 1 externref)",  # no GC heap, so no externref
        "(table 1 funcref) (func $g) (elem (i32.const 1) $g)",  # a segment past the table
    ],
)
def test_tables_past_the_limits_are_bad_modules(table: str) -> None:
    assert load_refusal(module(table)) is Rejection.BAD_MODULE


def test_a_table_grown_in_a_loop_stops_at_its_limit_and_fill_past_it_traps() -> None:
    grow = load(
        module(
            '(table 1000 funcref) (func (export "f") (result i32) (local $n i32)'
            " (block $full (loop $more"
            " (br_if $full (i32.eq (table.grow (ref.null func) (i32.const 5)) (i32.const -1)))"
            " (local.set $n (i32.add (local.get $n) (i32.const 1))) (br $more)))"
            " (local.get $n))"
        )
    )
    assert call(PARAMS, grow, OPCODES, {}, "f", [], GAS).returned == (4,)  # 1000 + 4 × 5 < 1025
    fill = load(
        module(
            f'(table 1024 funcref) (func (export "f") {PRELUDE}'
            " (table.fill (i32.const 0) (ref.null func) (i32.const 1025)))"
        )
    )
    assert call_refusal(fill) is Rejection.CONTRACT_TRAP


# -- recursion bombs -----------------------------------------------------------------------------


LOCALS = " ".join(["i64"] * 300)
ENTER = f'(func (export "f") {PRELUDE} (call $f))'  # the write first, then the bomb
RECURSIONS = {
    "direct": "(func $f (call $f))",
    "mutual": "(func $f (call $g)) (func $g (call $f))",
    "indirect": (
        "(type $t (func)) (table 1 funcref) (elem (i32.const 0) $f)"
        " (func $f (call_indirect (type $t) (i32.const 0)))"
    ),
    "heavy frames": (
        f"(func $h (param i64 i64 i64 i64) (local {LOCALS})"
        " (call $h (local.get 0) (local.get 1) (local.get 2) (local.get 3)))"
        " (func $f (call $h (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4)))"
    ),
}


@pytest.mark.parametrize("name", sorted(RECURSIONS))
def test_unbounded_recursion_is_a_trap(name: str) -> None:
    bomb = load(module(RECURSIONS[name] + ENTER))
    assert call_refusal(bomb, gas=PARAMS.aivm_gas_limit) is Rejection.CONTRACT_TRAP


def test_recursion_on_a_small_host_thread_is_a_trap_not_a_crash() -> None:
    """The stack bound must sit inside the host thread's own stack, or the process dies."""
    contract = load(module(RECURSIONS["direct"] + ENTER))
    seen: list[Rejection] = []

    def bomb() -> None:
        try:
            call(PARAMS, contract, OPCODES, {}, "f", [], PARAMS.aivm_gas_limit)
        except RejectedError as refused:
            seen.append(refused.rejection)

    previous = threading.stack_size(2 * 1024 * 1024)
    try:
        worker = threading.Thread(target=bomb)
        worker.start()
        worker.join()
    finally:
        threading.stack_size(previous)
    assert seen == [Rejection.CONTRACT_TRAP]


DEPTH = load(
    module(
        "(func $r (param i32) (result i32) (if (result i32) (i32.eqz (local.get 0))"
        " (then (i32.const 0)) (else (i32.add (i32.const 1) (call $r (i32.sub (local.get 0)"
        ' (i32.const 1))))))) (func (export "f") (param i32) (result i32) (call $r (local.get 0)))'
    )
)


def deepest() -> int:
    low, high = 0, 1 << 20
    while low < high:
        middle = (low + high + 1) // 2
        try:
            call(PARAMS, DEPTH, OPCODES, {}, "f", [middle], PARAMS.aivm_gas_limit)
            low = middle
        except RejectedError as refused:
            assert refused.rejection is Rejection.CONTRACT_TRAP
            high = middle - 1
    return low


def nested(levels: int, then: Callable[[], int]) -> int:
    return then() if levels == 0 else nested(levels - 1, then)


def test_the_depth_at_which_recursion_traps_does_not_depend_on_the_host_stack() -> None:
    depth = deepest()
    assert 1000 < depth < 1 << 20
    assert nested(300, deepest) == depth
    found: list[int] = []
    worker = threading.Thread(target=lambda: found.append(deepest()))
    worker.start()
    worker.join()
    assert found == [depth]


# -- start functions and disabled features -------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        "(func $s unreachable) (start $s)",
        "(func $s (loop $l (br $l))) (start $s)",  # would hang the load if it ran
        "(func $s) (start $s)",
        f"(func $s {PRELUDE}) (start $s)",
    ],
)
def test_a_module_with_a_start_function_is_a_bad_module(start: str) -> None:
    assert load_refusal(module(start)) is Rejection.BAD_MODULE


DISABLED = {
    "GC struct": '(type $s (struct (field i32))) (func (export "f") (result i32)'
    " (struct.get $s 0 (struct.new $s (i32.const 1))))",
    "GC array bomb": '(type $a (array (mut i8))) (func (export "f") (result i32)'
    " (array.len (array.new $a (i32.const 0) (i32.const 1000000000))))",
    "i31": '(func (export "f") (result i32) (i31.get_s (ref.i31 (i32.const 1))))',
    "throw": '(tag $e) (func (export "f") (throw $e))',
    "try_table": '(tag $e) (func (export "f") (block $h (try_table (catch_all $h) (throw $e))))',
    "call_ref": "(type $t (func)) (func $g) (elem declare func $g)"
    ' (func (export "f") (call_ref $t (ref.func $g)))',
    "tail call": '(func $g) (func (export "f") (return_call $g))',
    "wide arithmetic": '(func (export "f") (drop (drop (i64.add128 (i64.const 1) (i64.const 2)'
    " (i64.const 3) (i64.const 4)))))",
    "SIMD": '(func (export "f") (drop (v128.const i32x4 0 0 0 0)))',
    "atomics": '(func (export "f") (atomic.fence))',
    "externref": '(func (export "f") (param externref))',
}


@pytest.mark.parametrize("name", sorted(DISABLED))
def test_disabled_instructions_are_refused_at_load(name: str) -> None:
    source = module(DISABLED[name])
    wasmtime.Module(
        wasmtime.Engine(), bytes(wasmtime.wat2wasm(source))
    )  # a default engine takes it
    assert load_refusal(source) is Rejection.BAD_MODULE


# -- nothing but a rejection escapes -------------------------------------------------------------


def _exercise(wasm: bytes, gas: int, args: list[int]) -> None:
    try:
        contract = load(wasm)
    except RejectedError as refused:
        assert isinstance(refused.rejection, Rejection)
        return
    for function in ("increment", "square", "spin", "hash", "verify", "alloc", "infer", "kl", "f"):
        for count in (1, 2):
            storage = dict(STORAGE)
            try:
                call(PARAMS, contract, OPCODES, storage, function, args[:count], gas)
            except RejectedError as refused:
                assert isinstance(refused.rejection, Rejection)
                assert storage == STORAGE


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GAS_LIMITS = st.integers(min_value=1, max_value=60_000)
ARGS = st.lists(
    st.one_of(st.integers(min_value=-(2**31), max_value=2**31 - 1), st.integers(0, 40)),
    min_size=2,
    max_size=2,
)


@FUZZ
@given(
    st.one_of(st.binary(max_size=400), st.binary(max_size=400).map(WASM_HEADER.__add__)),
    GAS_LIMITS,
    ARGS,
)
def test_random_bytes_are_only_ever_rejections(wasm: bytes, gas: int, args: list[int]) -> None:
    _exercise(wasm, gas, args)


_, CODE_START, CODE_BYTES = code_section(DEMO_WASM)
MUTATION = st.tuples(
    st.sampled_from(["set", "flip", "insert", "delete"]),
    st.one_of(  # anywhere, or inside the code, where more mutants still compile
        st.integers(min_value=0, max_value=len(DEMO_WASM) - 1),
        st.integers(min_value=CODE_START, max_value=CODE_START + CODE_BYTES - 1),
    ),
    st.integers(min_value=0, max_value=255),
)


@FUZZ
@given(st.lists(MUTATION, min_size=1, max_size=6), GAS_LIMITS, ARGS)
def test_mutations_of_a_real_contract_are_only_ever_rejections(
    mutations: list[tuple[str, int, int]], gas: int, args: list[int]
) -> None:
    wasm = bytearray(DEMO_WASM)
    for kind, where, value in mutations:
        where %= max(1, len(wasm))
        if kind == "set":
            wasm[where] = value
        elif kind == "flip":
            wasm[where] ^= 1 << (value % 8)
        elif kind == "insert":
            wasm.insert(where, value)
        else:
            del wasm[where]
    _exercise(bytes(wasm), gas, args)
