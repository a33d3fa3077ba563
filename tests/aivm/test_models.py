"""MODEL_LOAD, MODEL_INFER and KL_DIVERGE: the canonical model format, exact integer inference,
and a fixed-point KL within its stated bound (errata E101, E104)."""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from aci_ref.aivm.bundled import bundled_contracts
from aci_ref.aivm.fixed import KL_INFINITE, ONE, fixed_kl_divergence, log2_fixed
from aci_ref.aivm.models import encode_model, fixed_infer, infer_gas, parse_model
from aci_ref.aivm.opcodes import OPCODES
from aci_ref.aivm.vm import call, load_contract
from aci_ref.crypto import sha256
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params

PARAMS = default_params()
small = st.integers(min_value=-2 * ONE, max_value=2 * ONE)


Rows = list[list[int]]


def exact_layer(x: Rows, w: Rows, b: list[int], relu: bool) -> Rows:
    """One layer in Python integers, with the E101 rounding: (Σ + 2^15) >> 16, then + b."""
    out = []
    for row in x:
        values = []
        for j in range(len(w[0])):
            total = sum(row[k] * w[k][j] for k in range(len(w)))
            value = ((total + (1 << 15)) >> 16) + b[j]
            values.append(max(value, 0) if relu else value)
        out.append(values)
    return out


@st.composite
def perceptrons(draw: st.DrawFn) -> tuple[list[int], list[list[list[int]]], list[list[int]]]:
    dims = draw(st.lists(st.integers(min_value=1, max_value=5), min_size=2, max_size=4))
    weights = [
        [[draw(small) for _ in range(cols)] for _ in range(rows)] for rows, cols in pairwise(dims)
    ]
    biases = [[draw(small) for _ in range(cols)] for cols in dims[1:]]
    return dims, weights, biases


@settings(max_examples=40)
@given(perceptrons(), st.integers(min_value=1, max_value=3), st.data())
def test_inference_is_the_exact_integer_computation(
    net: tuple[list[int], list[list[list[int]]], list[list[int]]], rows: int, data: st.DataObject
) -> None:
    dims, weights, biases = net
    blob = encode_model(weights, biases, softmax=False)
    model = parse_model(PARAMS, blob)
    assert model.dims == tuple(dims) and model.digest == sha256(blob)
    x = [[data.draw(small) for _ in range(dims[0])] for _ in range(rows)]
    expected = x
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
        expected = exact_layer(expected, w, b, relu=layer < len(weights) - 1)
    got = fixed_infer(model, np.asarray(x, dtype=np.int64))
    assert got.tolist() == expected


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"AQM2\x01\x00\x01\x00\x01\x00" + b"\x00" * 8,  # wrong magic
        b"AQM1\x00\x00",  # no layers
        b"AQM1\x09\x00" + b"\x01\x00" * 10,  # more layers than aivm_model_max_layers
        b"AQM1\x01\x02\x01\x00\x01\x00" + b"\x00" * 8,  # a softmax flag of 2
        b"AQM1\x01\x00\x00\x00\x01\x00",  # a zero dimension
        b"AQM1\x01\x00\x01\x00\x01\x00" + b"\x00" * 7,  # truncated weights
        b"AQM1\x01\x00\x01\x00\x01\x00" + b"\x00" * 9,  # a trailing byte
        b"AQM1\x01\x00\xff\x00\xff\x00" + b"\x00" * 8,  # a 255 × 255 matrix, truncated
    ],
)
def test_malformed_model_bytes_are_refused(blob: bytes) -> None:
    with pytest.raises(RejectedError) as refused:
        parse_model(PARAMS, blob)
    assert refused.value.rejection is Rejection.BAD_INPUT


def test_a_matrix_past_the_tensor_cap_is_refused() -> None:
    side = math.isqrt(PARAMS.aivm_tensor_max_elements) + 1
    blob = encode_model([[[0] * side] * side], [[0] * side], softmax=False)
    with pytest.raises(RejectedError) as refused:
        parse_model(PARAMS, blob)
    assert refused.value.rejection is Rejection.BAD_INPUT


def demo() -> object:
    return load_contract(PARAMS, "ledger_demo", bundled_contracts()["ledger_demo"], OPCODES)


def test_the_demo_loads_its_model_by_hash_and_runs_it() -> None:
    result = call(PARAMS, demo(), OPCODES, {}, "infer", [2], 100_000)  # type: ignore[arg-type]
    assert result.returned == (0,)  # the handle of the first model loaded
    # zero inputs: the output is the softmax of the last layer's biases after ReLU'd biases
    weights_gas = infer_gas(PARAMS, parse_model(PARAMS, carried_model()), 2)
    load_gas = PARAMS.gas_host_call_base + PARAMS.gas_hash_per_byte * 104
    assert result.gas_used >= weights_gas + load_gas


def carried_model() -> bytes:
    source = bundled_contracts()["ledger_demo"]
    assert isinstance(source, str)
    wasm = bytes(wasmtime.wat2wasm(source))
    start = wasm.index(b"AQM1")
    return wasm[start : start + 104]


LOADER = """(module
  (import "aivm" "model_load" (func $load (param i32 i32 i32) (result i32)))
  (import "aivm" "model_infer" (func $infer (param i32 i32 i32 i32)))
  (memory (export "memory") 1 1)
  (func (export "load") (param $len i32) (result i32)
    (call $load (i32.const 1024) (local.get $len) (i32.const 0)))
  (func (export "infer") (param $handle i32)
    (call $infer (local.get $handle) (i32.const 8192) (i32.const 1) (i32.const 16384))))"""


def test_bytes_that_are_not_the_named_model_load_nothing() -> None:
    contract = load_contract(PARAMS, "loader", LOADER, OPCODES)
    # memory is zeroed: the hash named is 32 zero bytes, which no model has
    assert call(PARAMS, contract, OPCODES, {}, "load", [104], 100_000).returned == (-1,)
    with pytest.raises(RejectedError) as refused:
        call(PARAMS, contract, OPCODES, {}, "infer", [0], 100_000)
    assert refused.value.rejection is Rejection.CONTRACT_TRAP  # no model was loaded


def test_log2_is_below_the_true_value_by_less_than_its_bound() -> None:
    values = np.array([1, 2, 3, 5, 1000, ONE, ONE + 1, 2**31 - 1, 2**40 + 7], dtype=np.int64)
    for x, got in zip(values.tolist(), log2_fixed(values).tolist(), strict=True):
        true = math.log2(x) * 2**30
        assert true - 31 <= got <= true + 1e-6 * true + 1


distributions = st.lists(st.integers(min_value=1, max_value=1000), min_size=2, max_size=12)


def q16(weights: list[int]) -> list[int]:
    total = sum(weights)
    return [w * ONE // total for w in weights]


@settings(max_examples=60)
@given(distributions, st.data())
def test_kl_is_within_its_bound_of_the_true_divergence(p_w: list[int], data: st.DataObject) -> None:
    q_w = data.draw(st.lists(st.integers(1, 1000), min_size=len(p_w), max_size=len(p_w)))
    p, q = q16(p_w), q16(q_w)
    got = int(fixed_kl_divergence(np.array([p]), np.array([q]))[0])
    true = sum(Fraction(a, ONE) * math.log(a / b) for a, b in zip(p, q, strict=True) if a)
    # each log2 term is low by < 2^-25 (relative to a 2^30 scale), weighted by Σp ≤ 1
    assert abs(got / ONE - float(true)) <= 2 / ONE


def test_kl_of_a_distribution_with_itself_is_zero_and_a_missing_support_is_infinite() -> None:
    p = np.array([q16([3, 1, 4, 1, 5])], dtype=np.int64)
    assert fixed_kl_divergence(p, p).tolist() == [0]
    q = p.copy()
    q[0, 2] = 0
    assert fixed_kl_divergence(p, q).tolist() == [KL_INFINITE]
    assert fixed_kl_divergence(q, p).tolist()[0] < KL_INFINITE  # p = 0 terms count nothing
    with pytest.raises(RejectedError) as refused:
        fixed_kl_divergence(p + ONE, p)
    assert refused.value.rejection is Rejection.BAD_INPUT


def test_the_kl_opcode_writes_one_value_per_row() -> None:
    result = call(PARAMS, demo(), OPCODES, {}, "kl", [2, 8], 100_000)  # type: ignore[arg-type]
    elements = 2 * 8
    assert result.gas_used >= PARAMS.gas_host_call_base + PARAMS.gas_kl_per_element * elements
