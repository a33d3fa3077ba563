"""The AIVM host: gas is fuel, a refused call changes nothing, bad contracts are typed refusals."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aci_ref.aivm.gas import matmul_gas
from aci_ref.aivm.opcodes import OPCODES
from aci_ref.aivm.vm import CallResult, Contract, call, load_contract
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params

PARAMS = default_params()
CONTRACTS = Path(__file__).resolve().parents[2] / "aci_ref" / "aivm" / "contracts"
DEMO = load_contract(PARAMS, "ledger_demo", (CONTRACTS / "ledger_demo.wat").read_text(), OPCODES)
GAS = 100_000


def run(
    function: str, args: list[int], storage: dict[bytes, bytes] | None = None, gas: int = GAS
) -> CallResult:
    return call(PARAMS, DEMO, OPCODES, storage or {}, function, args, gas)


def refused(function: str, args: list[int], storage: dict[bytes, bytes], gas: int) -> Rejection:
    before = dict(storage)
    with pytest.raises(RejectedError) as caught:
        call(PARAMS, DEMO, OPCODES, storage, function, args, gas)
    assert storage == before  # the storage handed in is never touched
    return caught.value.rejection


def test_a_call_returns_its_value_gas_and_writes() -> None:
    first = run("increment", [5])
    assert first.returned == (5,)
    assert first.writes == ((b"count", None, (5).to_bytes(8, "little")),)
    second = run("increment", [7], dict(first.storage))
    assert second.returned == (12,) and second.storage[b"count"] == (12).to_bytes(8, "little")
    assert 0 < first.gas_used < GAS


def test_out_of_gas_at_every_point_reverts_everything() -> None:
    storage = {b"count": (40).to_bytes(8, "little")}
    needed = run("increment", [2], storage).gas_used
    for gas in range(1, needed):
        assert refused("increment", [2], storage, gas) is Rejection.OUT_OF_GAS
    assert run("increment", [2], storage, needed).returned == (42,)


def test_a_trap_after_a_write_reverts_the_write() -> None:
    assert refused("fail", [], {}, GAS) is Rejection.CONTRACT_TRAP


def test_plain_instructions_are_metered() -> None:
    short, long = run("spin", [10]).gas_used, run("spin", [1010]).gas_used
    assert long > short + 1000  # at least one unit of fuel per loop turn
    assert refused("spin", [10**9], {}, GAS) is Rejection.OUT_OF_GAS


def test_matmul_charges_equation_3_on_top_of_its_instructions() -> None:
    small, large = run("square", [4]).gas_used, run("square", [16]).gas_used
    assert large - small == matmul_gas(PARAMS, 16, 16, 16) - matmul_gas(PARAMS, 4, 4, 4)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([2**63], Rejection.UNKNOWN_FUNCTION),  # does not fit i64: never wrapped
        ([1, 2], Rejection.UNKNOWN_FUNCTION),
        ([], Rejection.UNKNOWN_FUNCTION),
    ],
)
def test_arguments_must_fit_the_export(args: list[int], code: Rejection) -> None:
    assert refused("increment", args, {}, GAS) is code


def test_unknown_functions_and_gas_limits_are_refused() -> None:
    assert refused("nosuch", [], {}, GAS) is Rejection.UNKNOWN_FUNCTION
    assert refused("memory", [], {}, GAS) is Rejection.UNKNOWN_FUNCTION
    assert refused("increment", [1], {}, 0) is Rejection.BAD_INPUT
    assert refused("increment", [1], {}, PARAMS.aivm_gas_limit + 1) is Rejection.BAD_INPUT


def _module(body: str, memory: str = '(memory (export "memory") 1 1)') -> str:
    return f"(module {body} {memory})"


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("(module", Rejection.BAD_MODULE),
        (b"\x00asm\x01\x00\x00\x00\xff", Rejection.BAD_MODULE),
        ('(module (func (export "f")))', Rejection.BAD_MODULE),  # no memory
        (_module("", '(memory (export "memory") 1)'), Rejection.BAD_MODULE),  # no maximum
        (_module("", '(memory (export "memory") 1 4096)'), Rejection.BAD_MODULE),  # a bomb
        (_module("", '(memory (export "memory") 64 64)'), Rejection.BAD_MODULE),
        (
            _module('(func (export "f") (result v128) (v128.const i32x4 0 0 0 0))'),
            Rejection.BAD_MODULE,  # SIMD is off: results must not depend on the machine
        ),
        (_module('(import "env" "time" (func))'), Rejection.UNKNOWN_HOST_FUNCTION),
        (_module('(import "aivm" "launch_missiles" (func))'), Rejection.UNKNOWN_HOST_FUNCTION),
        (
            _module('(import "aivm" "hash_compare" (func (param i64 i64) (result i32)))'),
            Rejection.UNKNOWN_HOST_FUNCTION,  # the right name with the wrong signature
        ),
    ],
)
def test_bad_contracts_are_refused_with_a_reason(source: str | bytes, code: Rejection) -> None:
    with pytest.raises(RejectedError) as caught:
        load_contract(PARAMS, "bad", source, OPCODES)
    assert caught.value.rejection is code


def _contract(body: str) -> Contract:
    imports = (
        '(import "aivm" "storage_write" (func $write (param i32 i32 i32 i32)))'
        '(import "aivm" "tensor_matmul" (func $matmul (param i32 i32 i32 i32 i32 i32)))'
    )
    return load_contract(
        PARAMS, "probe", _module(imports + body, '(memory (export "memory") 1 2)'), OPCODES
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # an opcode reading past the end of memory
        ('(func (export "f") (call $write (i32.const 65530) (i32.const 40)'
         ' (i32.const 0) (i32.const 1)))', Rejection.CONTRACT_TRAP),
        # a storage key longer than 64 bytes
        ('(func (export "f") (call $write (i32.const 0) (i32.const 65)'
         ' (i32.const 0) (i32.const 1)))', Rejection.CONTRACT_TRAP),
        # a tensor larger than aivm_tensor_max_elements
        ('(func (export "f") (call $matmul (i32.const 0) (i32.const 0) (i32.const 0)'
         ' (i32.const 1000) (i32.const 1000) (i32.const 1)))', Rejection.BAD_INPUT),
        ('(func (export "f") (drop (i32.div_u (i32.const 1) (i32.const 0))))',
         Rejection.CONTRACT_TRAP),
        ('(func $f (export "f") (call $f))', Rejection.CONTRACT_TRAP),  # unbounded recursion
    ],
)  # fmt: skip
def test_traps_and_bad_operands_are_typed(body: str, code: Rejection) -> None:
    with pytest.raises(RejectedError) as caught:
        call(PARAMS, _contract(body), OPCODES, {}, "f", [], GAS)
    assert caught.value.rejection is code


def test_memory_cannot_grow_past_the_limit() -> None:
    contract = _contract('(func (export "f") (result i32) (memory.grow (i32.const 100)))')
    assert call(PARAMS, contract, OPCODES, {}, "f", [], GAS).returned == (-1,)


@settings(max_examples=40)
@given(
    function=st.sampled_from(["increment", "square", "spin", "fail", "nosuch"]),
    args=st.lists(st.integers(min_value=-(2**70), max_value=2**70), max_size=2),
    gas=st.integers(min_value=-5, max_value=200_000),
)
def test_nothing_but_a_rejection_escapes(function: str, args: list[int], gas: int) -> None:
    storage = {b"count": b"\x01" * 8}
    with contextlib.suppress(RejectedError):
        call(PARAMS, DEMO, OPCODES, storage, function, args, gas)
    assert storage == {b"count": b"\x01" * 8}


def test_softmax_and_norm_charge_per_element() -> None:
    per = PARAMS.gas_tensor_per_element
    for function in ("softmax", "norm"):
        small, large = run(function, [1, 4]).gas_used, run(function, [4, 16]).gas_used
        assert large - small == per * (64 - 4)


def test_alloc_grows_zeroed_pages_until_the_limit() -> None:
    assert run("alloc", [64, 256], gas=PARAMS.aivm_gas_limit).returned == (65536,)  # page 2
    contract = _contract(  # memory 1 2: room for one more page, then none
        '(import "aivm" "tensor_alloc" (func $a (param i32 i32) (result i32)))'
        '(func (export "f") (result i32 i32)'
        " (call $a (i32.const 16) (i32.const 16)) (call $a (i32.const 16) (i32.const 16)))"
    )
    assert call(PARAMS, contract, OPCODES, {}, "f", [], GAS).returned == (65536, -1)


def test_model_hash_is_sha256_of_memory() -> None:
    from aci_ref.crypto import sha256

    result = run("hash", [5])  # the data segment holds "count" at offset 0
    assert result.returned == ()
    contract = _contract(
        '(import "aivm" "model_hash" (func $h (param i32 i32 i32)))'
        '(func (export "f") (result i32) (call $h (i32.const 0) (i32.const 3) (i32.const 100))'
        " (i32.load8_u (i32.const 100)))"
    )
    assert call(PARAMS, contract, OPCODES, {}, "f", [], GAS).returned == (sha256(b"\0\0\0")[0],)


def test_exports_with_float_or_reference_results_are_refused() -> None:
    contract = _contract('(func (export "f") (result f64) (f64.const nan))')
    with pytest.raises(RejectedError) as caught:
        call(PARAMS, contract, OPCODES, {}, "f", [], GAS)
    assert caught.value.rejection is Rejection.UNKNOWN_FUNCTION


def test_a_table_cannot_grow_past_its_limit() -> None:
    contract = _contract(
        '(table 1 funcref) (func (export "f") (result i32)'
        " (table.grow (ref.null func) (i32.const 400000000)))"
    )
    assert call(PARAMS, contract, OPCODES, {}, "f", [], GAS).returned == (-1,)


def test_calls_do_not_keep_their_stores_alive() -> None:
    import gc
    import weakref

    import wasmtime

    stores: list[weakref.ref[wasmtime.Store]] = []
    original = wasmtime.Store.__init__

    def tracking(self: wasmtime.Store, *args: object) -> None:
        original(self, *args)  # type: ignore[arg-type]
        stores.append(weakref.ref(self))

    wasmtime.Store.__init__ = tracking  # type: ignore[method-assign,assignment]
    try:
        for _ in range(5):
            run("increment", [1])
    finally:
        wasmtime.Store.__init__ = original  # type: ignore[method-assign]
    gc.collect()
    assert stores and all(ref() is None for ref in stores)


def test_hash_compare_tells_equal_hashes_from_different_ones() -> None:
    assert run("verify", [5]).returned == (0,)  # the hash of "count" against 32 zero bytes
    contract = _contract(
        '(import "aivm" "hash_compare" (func $c (param i32 i32) (result i32)))'
        '(func (export "f") (result i32) (call $c (i32.const 0) (i32.const 64)))'
    )
    assert call(PARAMS, contract, OPCODES, {}, "f", [], GAS).returned == (1,)  # zeros = zeros


def test_gas_by_opcode_splits_a_call_between_its_opcodes_and_its_instructions() -> None:
    storage = {b"count": (40).to_bytes(8, "little")}
    result = run("increment", [2], storage)
    moved = len(b"count") + 8  # the key and the 8-byte counter, both ways
    assert result.gas_by_opcode == {
        "storage_read": PARAMS.gas_storage_read + PARAMS.gas_storage_per_byte * moved,
        "storage_write": PARAMS.gas_storage_write + PARAMS.gas_storage_per_byte * moved,
    }
    assert list(result.gas_by_opcode) == sorted(result.gas_by_opcode)
    plain = result.gas_used - sum(result.gas_by_opcode.values())
    assert 0 < plain < 100  # a dozen instructions
    squared = run("square", [8])
    matmul = PARAMS.gas_host_call_base + matmul_gas(PARAMS, 8, 8, 8)
    assert squared.gas_by_opcode == {"tensor_matmul": matmul}
    assert run("spin", [100]).gas_by_opcode == {}  # only opcodes that ran are listed


def test_gas_by_opcode_adds_up_repeated_calls_of_one_opcode() -> None:
    once, twice = run("hash", [5]), run("verify", [5])  # verify hashes, then compares
    assert set(twice.gas_by_opcode) == {"hash_compare", "model_hash"}
    assert twice.gas_by_opcode["model_hash"] == once.gas_by_opcode["model_hash"]
    contract = _contract(
        '(import "aivm" "model_hash" (func $h (param i32 i32 i32)))'
        '(func (export "f") (call $h (i32.const 0) (i32.const 7) (i32.const 100))'
        " (call $h (i32.const 0) (i32.const 9) (i32.const 100)))"
    )
    result = call(PARAMS, contract, OPCODES, {}, "f", [], GAS)
    per_byte = PARAMS.gas_hash_per_byte
    assert result.gas_by_opcode == {"model_hash": 2 * PARAMS.gas_host_call_base + per_byte * 16}


def test_a_call_result_built_without_per_opcode_gas_still_works() -> None:
    assert CallResult((), 1, {}, ()).gas_by_opcode == {}
