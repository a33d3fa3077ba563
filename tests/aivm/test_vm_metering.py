"""Fuel checks and the reserve: how far a call can run past its gas limit (errata E100).

wasmtime checks fuel on entering a function and at loop headers; admission puts an empty loop
after every call (`aci_ref.aivm.meter`, tested on its own in `test_meter.py`), so a return is
checked too. Here: the section reader and the reserve it sizes, the checks change no bundled
contract's gas, and a recursion that has run out stops at once instead of finishing every frame.
Admission is bounded too: bodies past the bounds on branches, whose compile would take too long,
and initializers instantiation would need fuel for are refused.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import wasmtime

from aci_ref.aivm.bundled import bundled_contracts
from aci_ref.aivm.engine import (
    WASM_HEADER,
    compile_module,
    contract_engine,
    fuel_reserve,
    module_sections,
)
from aci_ref.aivm.meter import BODY_BRANCHES
from aci_ref.aivm.opcodes import OPCODES
from aci_ref.aivm.vm import CallContext, Contract, Opcode, call, load_contract
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params
from tests.aivm.wasm_bytes import code_section, custom_section

PARAMS = default_params()
ENGINE = contract_engine(PARAMS)
GAS = 100_000
DEMO_WASM = bytes(wasmtime.wat2wasm(bundled_contracts()["ledger_demo"]))
MEMORY = '(memory (export "memory") 1 2)'


def load(source: str | bytes, opcodes: dict[str, Opcode] | None = None) -> Contract:
    return load_contract(PARAMS, "probe", source, OPCODES if opcodes is None else opcodes)


def unmetered(contract: Contract) -> Contract:
    """The same contract compiled as submitted, without the checks: the engine's own metering."""
    return replace(contract, module=compile_module(contract.engine, contract.wasm))


def outcome(contract: Contract, function: str, args: list[int], gas: int) -> object:
    try:
        result = call(PARAMS, contract, OPCODES, {}, function, args, gas)
    except RejectedError as refused:
        return refused.rejection
    return result.returned, result.gas_used, result.gas_by_opcode


# -- the section reader and the reserve ----------------------------------------------------------


def test_the_section_reader_refuses_what_it_cannot_split() -> None:
    for broken in (
        b"nope",
        WASM_HEADER + b"\x0a\x85\x80\x80\x80\x80\x00",
        WASM_HEADER + b"\x0a\x05",
    ):
        with pytest.raises(RejectedError) as caught:
            module_sections(broken)
        assert caught.value.rejection is Rejection.BAD_MODULE
    kinds = [kind for kind, _ in module_sections(DEMO_WASM)]
    assert 10 in kinds and 8 not in kinds


PADDED = load(DEMO_WASM + custom_section(200_000))
PLAIN = load(DEMO_WASM)


def test_padding_a_module_does_not_grow_its_reserve() -> None:
    assert len(PADDED.wasm) > 200_000
    assert PADDED.reserve == PLAIN.reserve == code_section(DEMO_WASM)[2]
    assert fuel_reserve(PADDED.wasm) == PLAIN.reserve < len(DEMO_WASM)
    assert fuel_reserve(WASM_HEADER) == 1  # no code at all still leaves the verdict exact


@pytest.mark.parametrize(("function", "args"), [("square", [4]), ("spin", [40]), ("hash", [9])])
def test_a_padded_module_is_out_of_gas_at_every_limit_below_its_need(
    function: str, args: list[int]
) -> None:
    needed = call(PARAMS, PLAIN, OPCODES, {}, function, args, GAS).gas_used
    assert call(PARAMS, PADDED, OPCODES, {}, function, args, needed).gas_used == needed
    for gas in range(1, needed):
        with pytest.raises(RejectedError) as caught:
            call(PARAMS, PADDED, OPCODES, {}, function, args, gas)
        assert caught.value.rejection is Rejection.OUT_OF_GAS


# -- gas, and how far a call runs past its limit -------------------------------------------------


DEMO_CALLS = [
    ("increment", [5]),
    ("square", [4]),
    ("spin", [40]),
    ("hash", [9]),
    ("verify", [5]),
    ("softmax", [2, 8]),
    ("norm", [2, 8]),
    ("alloc", [4, 4]),
    ("infer", [1]),
    ("kl", [1, 4]),
    ("fail", []),
]


def test_the_checks_change_no_gas_of_the_demo_contract() -> None:
    bare = unmetered(PLAIN)
    for function, args in DEMO_CALLS:
        metered = outcome(PLAIN, function, args, GAS)
        assert metered == outcome(bare, function, args, GAS), function
        if isinstance(metered, tuple):
            assert outcome(PLAIN, function, args, metered[1] - 1) is Rejection.OUT_OF_GAS


def test_the_checks_change_no_gas_of_the_marketplace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Table 9's operations through the marketplace, with and without the checks."""
    from aci_ref.aivm import vm
    from aci_ref.aivm.gas_table import measure_aivm
    from aci_ref.chain.contracts import admit_contract

    params = replace(PARAMS, aivm_block_gas_limit=10**12)  # every row in one block
    metered = measure_aivm(params)
    admit_contract.cache_clear()  # admission is cached: recompile without the checks
    monkeypatch.setattr(vm, "meter", lambda wasm, *bounds: wasm)
    try:
        bare = measure_aivm(params)
    finally:
        admit_contract.cache_clear()
    assert [(r.operation, r.gas, r.opcode_gas) for r in metered] == [
        (r.operation, r.gas, r.opcode_gas) for r in bare
    ]
    assert len(metered) >= 6


def _ticking(ticks: list[int]) -> dict[str, Opcode]:
    def tick(context: CallContext) -> None:
        ticks.append(context.store.get_fuel())

    return {**OPCODES, "tick": Opcode("tick", (), (), tick)}


def test_a_recursion_out_of_gas_stops_instead_of_finishing_every_frame() -> None:
    """After the deepest call every frame's tail runs on the way back; wasmtime alone checks
    none of them, so all would run once the gas is gone. With a check after each return the
    call stops within about one tail of its fuel running out."""
    tail = "(local.set 1 (i32.xor (i32.mul (local.get 1) (local.get 1)) (i32.const 5)))" * 50
    source = (
        '(module (import "aivm" "tick" (func $tick))'
        " (func $r (param i32) (local i32) (local.set 1 (i32.load (i32.const 0)))"
        " (if (local.get 0) (then (call $r (i32.sub (local.get 0) (i32.const 1)))))"
        f" {tail} (call $tick) (i32.store (i32.const 8) (local.get 1)))"
        f' (func (export "f") (param i32) (call $r (local.get 0))) {MEMORY})'
    )
    ticks: list[int] = []
    opcodes = _ticking(ticks)
    contract = load(source, opcodes)
    depth = 100

    def run(which: Contract, gas: int) -> object:
        ticks.clear()
        try:
            return call(PARAMS, which, opcodes, {}, "f", [depth], gas).gas_used
        except RejectedError as refused:
            return refused.rejection

    needed = run(contract, GAS)
    assert isinstance(needed, int) and len(ticks) == depth + 1
    per_frame = needed // (depth + 1)
    assert per_frame * depth > contract.reserve  # the tails alone outrun the reserve
    gas = needed // 2
    assert run(unmetered(contract), gas) is Rejection.OUT_OF_GAS
    assert len(ticks) == depth + 1  # the engine alone: every tail ran with no gas left
    assert ticks[-1] == 0
    assert run(contract, gas) is Rejection.OUT_OF_GAS
    assert len(ticks) <= (gas + contract.reserve) // per_frame + 2  # stopped within a tail
    assert ticks.count(0) <= 1
    for limit in range(needed - 300, needed):  # and exact at every limit
        assert run(contract, limit) is Rejection.OUT_OF_GAS
    assert run(contract, needed) == needed


# -- bounded compile time ------------------------------------------------------------------------


SMALL = replace(PARAMS, aivm_max_body_branches=40, aivm_max_module_branches=100)


def weighing(*weights: int, calls: bool = False) -> str:
    """A contract whose bodies weigh `weights` (the first, $g, just its entry): each of the rest
    is `loop`s, or calls of $g when `calls`, its checks counted. "f" is the last and returns 7."""
    unit = "(call $g)" if calls else "(loop)"
    bodies = ["(func $g)"] + [
        f"(func $f{i} (result i32) {' '.join([unit] * (w - BODY_BRANCHES))} (i32.const 7))"
        for i, w in enumerate(weights[1:])
    ]
    last = len(weights) - 2
    return f'(module {" ".join(bodies)} (export "f" (func $f{last})) {MEMORY})'


def refusal(params: object, source: str) -> str:
    with pytest.raises(RejectedError) as caught:
        load_contract(params, "probe", source, OPCODES)  # type: ignore[arg-type]
    assert caught.value.rejection is Rejection.BAD_MODULE
    return str(caught.value)


@pytest.mark.parametrize("calls", [False, True])
def test_a_body_at_the_branch_bound_is_admitted_and_one_over_refused(calls: bool) -> None:
    cap = SMALL.aivm_max_body_branches
    worst = load_contract(SMALL, "worst", weighing(BODY_BRANCHES, cap, calls=calls), OPCODES)
    assert call(SMALL, worst, OPCODES, {}, "f", [], GAS).returned == (7,)
    reason = refusal(SMALL, weighing(BODY_BRANCHES, cap + 1, calls=calls))
    assert f"a function body with {cap + 1} branches, at most {cap}" in reason


def test_bodies_at_the_module_bound_are_admitted_and_one_more_branch_refused() -> None:
    body, cap = SMALL.aivm_max_body_branches, SMALL.aivm_max_module_branches
    weights = [BODY_BRANCHES, body, body, cap - BODY_BRANCHES - 2 * body]  # every body at most
    worst = load_contract(SMALL, "worst", weighing(*weights, calls=True), OPCODES)
    assert call(SMALL, worst, OPCODES, {}, "f", [], GAS).returned == (7,)
    weights[-1] += 1
    assert f"more than {cap} branches in all" in refusal(SMALL, weighing(*weights, calls=True))


def test_the_shipped_bounds_admit_a_body_at_the_cap_and_refuse_past_them() -> None:
    body, cap = PARAMS.aivm_max_body_branches, PARAMS.aivm_max_module_branches
    assert load(weighing(BODY_BRANCHES, body, calls=True)).digest
    assert "at most" in refusal(PARAMS, weighing(BODY_BRANCHES, body + 1, calls=True))
    # Refused while the rewrite reads the bodies, before anything is compiled.
    many = [BODY_BRANCHES] + [body] * (cap // body + 1)
    assert "in all" in refusal(PARAMS, weighing(*many))


# -- initializers instantiation runs without fuel ------------------------------------------------


FUNC = '(table 2 funcref) (func $g) (func (export "f") (result i32) (i32.const 7))'


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("(elem $e func $g)", "element segment 0 is passive"),
        ("(elem $e func)", "element segment 0 is passive"),
        ("(elem $e funcref (ref.func $g))", "element segment 0 is passive"),
        ("(elem (i32.const 0) func $g) (elem (i32.const 1) funcref (ref.null func))", "segment 1"),
        ("(elem declare funcref (ref.func $g))", "lists expressions"),
        ("(global funcref (ref.func $g))", "global 0's initial value is not a single constant"),
        ("(global funcref (ref.null func))", "global 0's initial value"),
        ("(global i32 (i32.add (i32.const 1) (i32.const 2)))", "not a single constant"),
        ('(data (i32.add (i32.const 1) (i32.const 2)) "x")', "data segment 0's offset"),
        ("(elem (i32.const 2) $g)", "a data or element segment out of bounds"),
        ('(data (i32.const 131071) "xy")', "a data or element segment out of bounds"),
    ],
)
def test_an_initializer_that_would_need_fuel_is_refused_with_its_reason(
    source: str, reason: str
) -> None:
    assert reason in refusal(PARAMS, f"(module {FUNC} {source} {MEMORY})")


@pytest.mark.parametrize(
    ("source", "body"),
    [
        ("(elem (i32.const 0) $g $g) (elem (table 0) (i32.const 1) func $g)", "(i32.const 7)"),
        (
            "(elem declare func $g)",
            "(i32.add (i32.const 7) (ref.is_null (ref.func $g)))",
        ),
        (
            "(global i32 (i32.const 3)) (global (mut i64) (i64.const -1))"
            " (global f32 (f32.const 1.5)) (global f64 (f64.const -2))",
            "(i32.add (global.get 0) (i32.const 4))",
        ),
        (
            '(data $d "abc\\07") (data (memory 0) (i32.const 9) "x")',
            "(memory.init $d (i32.const 0) (i32.const 3) (i32.const 1))"
            " (i32.load8_u (i32.const 0))",
        ),
    ],
)
def test_plain_initializers_are_admitted_and_instantiate_without_fuel(
    source: str, body: str
) -> None:
    contract = load(
        f'(module (table 2 funcref) (func $g) (func (export "f") (result i32) {body})'
        f" {source} {MEMORY})"
    )
    assert call(PARAMS, contract, OPCODES, {}, "f", [], GAS).returned == (7,)
