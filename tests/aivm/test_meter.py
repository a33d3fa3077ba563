"""The metering rewrite (`aci_ref.aivm.meter`, errata E100): an empty loop after every call.

Its decoder knows every instruction the engine admits and refuses the rest with `bad_module`;
decoding then encoding without checks gives the submitted bytes back; with checks, exactly one
`loop`/`end` pair follows each `call` and `call_indirect`, the rest of the module is untouched,
the result validates, and calls return and cost what they did without the checks. While it
decodes, it weighs each body's branches as `BRANCHES` says.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aci_ref.aivm.engine import WASM_HEADER, compile_module, contract_engine
from aci_ref.aivm.meter import BODY_BRANCHES, CHECKPOINT, Code, decode, decode_body, meter
from aci_ref.aivm.opcodes import OPCODES
from aci_ref.aivm.vm import Contract, call, load_contract
from aci_ref.crypto import sha256
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params
from tests.aivm.wasm_bytes import code_section, leb128

PARAMS = default_params()
ENGINE = contract_engine(PARAMS)
GAS = 100_000
MEMORY = '(memory (export "memory") 1 2)'


def unmetered(contract: Contract) -> Contract:
    """The same contract compiled as submitted, without the checks."""
    return replace(contract, module=compile_module(contract.engine, contract.wasm))


def outcome(contract: Contract, args: list[int], gas: int) -> object:
    try:
        result = call(PARAMS, contract, OPCODES, {}, "f", args, gas)
    except RejectedError as refused:
        return refused.rejection
    return result.returned, result.gas_used


# -- the rewrite, by hand ------------------------------------------------------------------------


CALLER = bytes(
    wasmtime.wat2wasm(
        "(module (type $t (func (result i32))) (table 1 funcref) (elem (i32.const 0) $one)"
        " (func $one (result i32) (i32.const 1))"
        ' (func (export "f") (result i32) (i32.add (call $one)'
        " (call_indirect (type $t) (i32.const 0))))"
        f' {MEMORY} (data (i32.const 0) "kept") (@custom "note" "kept too"))'
    )
)


def test_the_rewrite_puts_an_empty_loop_after_each_call_and_changes_nothing_else() -> None:
    start, payload, size = code_section(CALLER)
    metered = meter(CALLER)
    assert metered.count(CHECKPOINT) == CALLER.count(CHECKPOINT) + 2
    assert metered[:start] == CALLER[:start]  # every section before the code, byte for byte
    assert metered[-(len(CALLER) - payload - size) :] == CALLER[payload + size :]  # and after
    call_one = b"\x10\x00"
    call_table = b"\x41\x00\x11\x00\x00"  # i32.const 0, call_indirect type 0 table 0
    assert call_one + CHECKPOINT in metered and call_table + CHECKPOINT in metered
    assert CHECKPOINT not in CALLER
    wasmtime.Module.validate(ENGINE, metered)
    contract = load_contract(PARAMS, "caller", CALLER, OPCODES)
    assert contract.wasm == CALLER and contract.digest == sha256(CALLER)  # identity: as submitted
    assert call(PARAMS, contract, OPCODES, {}, "f", [], GAS).returned == (2,)


def test_a_module_without_calls_is_compiled_as_submitted() -> None:
    plain = bytes(wasmtime.wat2wasm(f'(module (func (export "f") (loop)) {MEMORY})'))
    assert meter(plain) == plain
    assert meter(WASM_HEADER) == WASM_HEADER  # no code section at all


def test_padded_length_fields_survive_unless_the_body_changes() -> None:
    start, payload, size = code_section(CALLER)
    padded = bytearray(leb128(size))
    padded[-1] |= 0x80
    padded += b"\x80" * (4 - len(padded)) + b"\x00"  # the same size in five bytes
    wasm = CALLER[: start + 1] + bytes(padded) + CALLER[payload:]
    wasmtime.Module.validate(ENGINE, wasm)
    code = decode(wasm)
    assert isinstance(code, Code) and code.size == bytes(padded)
    assert code.encode(checks=False) == wasm
    metered = meter(wasm)
    assert metered[start + 1 : start + 1 + len(leb128(size + 6))] == leb128(size + 6)
    wasmtime.Module.validate(ENGINE, metered)


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\xfd\x0c" + bytes(16) + b"\x1a\x0b",  # SIMD: v128.const
        b"\x00\x06\x40\x0b\x0b",  # legacy exceptions: try
        b"\x00\x1f\x40\x00\x0b\x0b",  # exceptions: try_table
        b"\x00\x12\x00\x0b",  # tail calls: return_call
        b"\x00\xfb\x00\x00\x0b",  # GC: struct.new
        b"\x00\xfe\x03\x00\x0b",  # threads: atomic.fence
        b"\x00\xfc\x12\x00\x0b",  # memory control
        b"\x00\xfc\x13\x0b",  # wide arithmetic
        b"\x00\xd0\x00\x1a\x0b",  # ref.null of a concrete type (typed function references)
        b"\x00\x02\x7f\x0b",  # a block typed by a negative index
        b"\x00\x01\x0b\x01",  # a byte after the closing end
        b"\x00\x01",  # no closing end
        b"\x00\x41\x80",  # a constant cut short
        b"\x01\x01\x64\x0b",  # a local of a typed reference
    ],
)
def test_instructions_the_engine_does_not_admit_are_bad_modules(body: bytes) -> None:
    with pytest.raises(RejectedError) as caught:
        decode_body(leb128(len(body)), body)
    assert caught.value.rejection is Rejection.BAD_MODULE


# What the engine answers for an instruction it does not admit at all (as opposed to one it
# admits but finds misused: a type mismatch, an index out of bounds).
NOT_ADMITTED = (
    "illegal opcode",
    "not enabled",
    "unknown",
    "feature required",
    "found outside",
    "required for index reference types",
)


def _opcodes() -> Iterator[bytes]:
    for first in range(256):
        if first not in (0xFB, 0xFC, 0xFD, 0xFE):
            yield bytes([first])
    for prefix in (0xFB, 0xFC, 0xFD, 0xFE):
        for sub in range(48):
            yield bytes([prefix]) + leb128(sub)


def _body(instruction: bytes) -> bytes:
    return b"\x00" + instruction + bytes(24) + b"\x0b"  # room for any immediates


def _probe(instruction: bytes) -> bytes:
    body = _body(instruction)
    code = b"\x0a" + leb128(len(body) + 2) + b"\x01" + leb128(len(body)) + body
    rest = b"\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x04\x04\x01\x70\x00\x01\x05\x03\x01\x00\x01"
    return WASM_HEADER + rest + code


def test_the_decoder_knows_every_instruction_the_engine_admits() -> None:
    """Each opcode the decoder refuses, the engine refuses as unknown or disabled; so no module
    the engine would run is refused for the rewrite's sake."""
    refused = 0
    for instruction in _opcodes():
        try:
            decode_body(b"", _body(instruction))
            continue
        except RejectedError as error:
            if "no instruction" not in str(error) and "not admit" not in str(error):
                continue  # known, but these filler bytes are not its immediates
        refused += 1
        with pytest.raises(wasmtime.WasmtimeError) as caught:
            wasmtime.Module.validate(ENGINE, _probe(instruction))
        assert any(reason in str(caught.value) for reason in NOT_ADMITTED), (
            instruction.hex(),
            str(caught.value),
        )
    assert refused > 150


# -- what a body's branches weigh ----------------------------------------------------------------


ZEROS = "(i32.const 0) (i32.const 0) (i32.const 0)"


@pytest.mark.parametrize(
    ("code", "weight"),
    [
        ("nop (drop (i32.div_s (i32.const 7) (i32.const 1))) return", 0),
        ("(drop (table.size)) (drop (memory.size)) (elem.drop $e) (data.drop $d)", 0),
        ("(drop (ref.is_null (ref.func $g))) (table.set (i32.const 0) (ref.null func))", 0),
        ("(block)", 1),
        ("(loop)", 1),
        ("(if (i32.const 0) (then nop) (else nop))", 1),
        ("(block (br 0))", 2),
        ("(block (br_if 0 (i32.const 0)))", 2),
        ("(block (br_table 0 0 0 (i32.const 0)))", 4),  # the block, three targets
        ("(call $g)", 1),  # the check after it
        ("(call_indirect (type $t) (i32.const 0))", 3),
        ("(drop (table.get (i32.const 0)))", 2),
        ("(drop (memory.grow (i32.const 0)))", 1),
        (f"(memory.fill {ZEROS}) (memory.copy {ZEROS})", 2),
        (f"(memory.init $d {ZEROS})", 2),
        (f"(table.init $e {ZEROS})", 6),
        (f"(table.copy {ZEROS})", 8),
        ("(drop (table.grow (ref.null func) (i32.const 0)))", 4),
        ("(table.fill (i32.const 0) (ref.null func) (i32.const 0))", 3),
    ],
)
def test_each_instruction_weighs_its_branches(code: str, weight: int) -> None:
    wasm = wasmtime.wat2wasm(
        "(module (type $t (func)) (table 1 funcref) (elem $e declare func $g) (func $g)"
        f' (func $f {code}) {MEMORY} (data $d "x"))'
    )
    decoded = decode(bytes(wasm))
    assert decoded is not None
    assert [body.branches for body in decoded.bodies] == [BODY_BRANCHES, BODY_BRANCHES + weight]


def test_a_body_past_a_bound_is_refused_by_the_rewrite_itself() -> None:
    calls = " ".join(["(call $g)"] * 5)
    wasm = bytes(wasmtime.wat2wasm(f"(module (func $g) (func {calls}) (func (loop)))"))
    weights = (BODY_BRANCHES, BODY_BRANCHES + 5, BODY_BRANCHES + 1)
    assert meter(wasm, max(weights), sum(weights)) == meter(wasm)
    for bounds, reason in (
        ((max(weights) - 1, None), f"a function body with {max(weights)} branches, at most"),
        ((None, sum(weights) - 1), f"more than {sum(weights) - 1} branches in all"),
    ):
        with pytest.raises(RejectedError) as caught:
            meter(wasm, *bounds)
        assert caught.value.rejection is Rejection.BAD_MODULE and reason in str(caught.value)


# -- the rewrite, on random modules --------------------------------------------------------------


LEAVES = (
    "(local.set $x (i32.add (local.get $x) (i32.const 7)))",
    "(drop (i64.const -9000000000))",
    "(drop (f32.const 1.5)) (drop (f64.const -2.25))",
    "(i32.store offset=4 (i32.const 8) (local.get $x))",
    "(drop (i64.load16_s offset=2 (i32.const 16)))",
    "(drop (memory.size)) (drop (memory.grow (i32.const 0)))",
    "(memory.fill (i32.const 0) (i32.const 1) (i32.const 4))",
    "(memory.copy (i32.const 0) (i32.const 8) (i32.const 4))",
    "(memory.init $d (i32.const 0) (i32.const 0) (i32.const 0)) (data.drop $d)",
    "(drop (select (i32.const 1) (i32.const 2) (local.get $x)))",
    "(drop (select (result i64) (i64.const 1) (i64.const 2) (local.get $x)))",
    "(drop (ref.is_null (ref.func $f0))) (drop (ref.is_null (ref.null func)))",
    "(drop (table.size)) (drop (table.get (i32.const 0)))",
    "(drop (table.grow (ref.null func) (i32.const 0)))",
    "(table.fill (i32.const 0) (ref.null func) (i32.const 0))",
    "(table.copy (i32.const 0) (i32.const 0) (i32.const 1))",
    "(table.init $e (i32.const 0) (i32.const 0) (i32.const 0)) (elem.drop $e)",
    "(drop (i32.trunc_sat_f64_u (f64.const 1e10))) (drop (i64.extend32_s (i64.const -1)))",
    "(block (result i32 i32) (i32.const 1) (i32.const 2)) drop drop",
    "nop",
)


@st.composite
def statements(draw: st.DrawFn, callees: int, depth: int, room: int) -> str:
    """Stack-neutral code for a body whose function may call $f0 .. $f{callees - 1} (never
    itself: no recursion) inside `depth` labels, the function's own included."""
    parts = []
    for _ in range(draw(st.integers(0, 3 if room else 2))):
        kinds = ["leaf", "branch"] + (["call", "indirect"] if callees else [])
        kinds += ["block", "loop", "if"] if room else []
        kind = draw(st.sampled_from(kinds))
        if kind == "leaf":
            parts.append(draw(st.sampled_from(LEAVES)))
        elif kind == "branch":
            labels = st.integers(0, depth - 1)
            if draw(st.booleans()):
                parts.append(f"(br_if {draw(labels)} (i32.lt_u (local.get $x) (i32.const 3)))")
            else:
                targets = " ".join(str(draw(labels)) for _ in range(draw(st.integers(0, 3))))
                parts.append(f"(br_table {targets} {draw(labels)} (i32.const 99))")
        elif kind == "call":
            parts.append(f"(drop (call $f{draw(st.integers(0, callees - 1))} (local.get $x)))")
        elif kind == "indirect":
            slot = draw(st.integers(0, callees - 1))  # slot k holds $fk
            parts.append(f"(drop (call_indirect (type $t) (local.get $x) (i32.const {slot})))")
        else:
            inner = draw(statements(callees, depth + 1, room - 1))
            parts.append(
                f"(if (local.get $x) (then {inner}) (else {inner}))"
                if kind == "if"
                else f"({kind} {inner})"
            )
    return " ".join(parts)


@st.composite
def modules(draw: st.DrawFn) -> str:
    count = draw(st.integers(1, 4))
    functions = [
        f"(func $f{i} (type $t) (param $x i32) (result i32)"
        f" (block {draw(statements(i, 1, 3))}) (local.get $x))"
        for i in range(count)
    ]
    slots = " ".join(f"$f{i}" for i in range(count))
    return (
        "(module (type $t (func (param i32) (result i32)))"
        f" (table {count} funcref) (elem (i32.const 0) func {slots}) (elem $e declare func $f0)"
        f' {" ".join(functions)} (export "f" (func $f{count - 1})) {MEMORY} (data $d "abc"))'
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules(), st.integers(0, 5))
def test_the_rewrite_round_trips_and_only_adds_checks(source: str, argument: int) -> None:
    wasm = bytes(wasmtime.wat2wasm(source))
    code = decode(wasm)
    assert code is not None and code.encode(checks=False) == wasm  # decoding loses nothing
    metered = meter(wasm)
    wasmtime.Module.validate(ENGINE, metered)
    checked = decode(metered)
    assert checked is not None
    assert (checked.before, checked.count, checked.after) == (code.before, code.count, code.after)
    calls = source.count("(call ") + source.count("(call_indirect ")
    assert sum(body.calls for body in checked.bodies) == calls
    for original, body in zip(code.bodies, checked.bodies, strict=True):
        expected: list[bytes] = []
        for instruction in original.code:
            expected.append(instruction)
            if instruction[0] in (0x10, 0x11):
                expected += [CHECKPOINT[:2], CHECKPOINT[2:]]
        assert body.locals == original.locals and list(body.code) == expected
    assert len(metered) - len(wasm) >= 3 * calls
    contract = load_contract(PARAMS, "random", wasm, OPCODES)
    for gas in (40, 400, GAS):  # the checks cost no gas and change no verdict
        assert outcome(contract, [argument], gas) == outcome(unmetered(contract), [argument], gas)
