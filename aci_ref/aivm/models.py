"""On-chain models: small fixed-point networks a contract loads by hash and runs (Table 4, E104).

A model the AIVM can run on chain is a multilayer perceptron in Q16.16 (`aci_ref.aivm.fixed`),
written in one canonical byte format so that its SHA-256 names it:

    b"AQM1" | u8 L (layers, 1..aivm_model_max_layers) | u8 softmax flag (0 or 1)
    | (L + 1) × u16 dimensions d_0 .. d_L, little endian, each ≥ 1
    | for each layer l: W_l (d_l rows × d_{l+1} columns) then b_l (d_{l+1}), int32 little endian

Inference: x_{l+1} = ReLU(x_l · W_l + b_l) for every layer but the last, which has no ReLU; then,
if the flag is 1, a row softmax. Each product is `fixed_matmul` (exact, rounded once), each bias
addition exact, and a value outside 32 bits is `tensor_overflow`. Nothing else is accepted: a
trailing byte, a zero dimension or a matrix past `aivm_tensor_max_elements` is `bad_input`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

import numpy as np

from aci_ref.aivm.fixed import INT32_MAX, INT32_MIN, Ints, fixed_matmul, fixed_softmax
from aci_ref.aivm.gas import matmul_gas
from aci_ref.crypto import sha256
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import Params

MAGIC: Final = b"AQM1"
"""The first four bytes of every on-chain model."""


@dataclass(frozen=True, slots=True)
class FixedModel:
    """ref: on-chain model (errata E104) — a parsed Q16.16 perceptron and its SHA-256."""

    digest: bytes
    dims: tuple[int, ...]
    weights: tuple[Ints, ...]
    biases: tuple[Ints, ...]
    softmax: bool


def encode_model(
    weights: Sequence[Sequence[Sequence[int]]], biases: Sequence[Sequence[int]], softmax: bool
) -> bytes:
    """ref: on-chain model (errata E104) — the canonical bytes of a perceptron (Q16.16 ints)."""
    dims = [len(weights[0])] + [len(layer[0]) for layer in weights]
    out = bytearray(MAGIC + bytes([len(weights), int(softmax)]))
    out += struct.pack(f"<{len(dims)}H", *dims)
    for layer, bias in zip(weights, biases, strict=True):
        out += np.asarray(layer, dtype="<i4").tobytes() + np.asarray(bias, dtype="<i4").tobytes()
    return bytes(out)


def parse_model(params: Params, data: bytes) -> FixedModel:
    """ref: on-chain model (errata E104) — parse canonical model bytes, or refuse `bad_input`."""

    def bad(why: str) -> RejectedError:
        return RejectedError(Rejection.BAD_INPUT, f"model bytes: {why}")

    if len(data) < 6 or data[:4] != MAGIC:
        raise bad("no AQM1 header")
    layers, flag = data[4], data[5]
    if not 1 <= layers <= params.aivm_model_max_layers or flag > 1:
        raise bad(f"{layers} layers, softmax flag {flag}")
    offset = 6 + 2 * (layers + 1)
    if len(data) < offset:
        raise bad("truncated dimensions")
    dims = struct.unpack(f"<{layers + 1}H", data[6:offset])
    limit = params.aivm_tensor_max_elements
    if min(dims) < 1 or any(a * b > limit for a, b in pairwise(dims)):
        raise bad(f"dimensions {dims} (each matrix at most {limit} elements)")
    weights: list[Ints] = []
    biases: list[Ints] = []
    for rows, cols in pairwise(dims):
        size = 4 * (rows * cols + cols)
        chunk = data[offset : offset + size]
        if len(chunk) != size:
            raise bad("truncated weights")
        values = np.frombuffer(chunk, dtype="<i4").astype(np.int64)
        weights.append(values[: rows * cols].reshape(rows, cols))
        biases.append(values[rows * cols :])
        offset += size
    if offset != len(data):
        raise bad(f"{len(data) - offset} trailing bytes")
    return FixedModel(sha256(data), tuple(dims), tuple(weights), tuple(biases), bool(flag))


def infer_gas(params: Params, model: FixedModel, rows: int) -> int:
    """Equation 2 for MODEL_INFER: one host call, Equation 3 per layer, per element after.

    `gas_host_call_base` + Σ_l (`gas_host_call_base` + `matmul_gas`(rows, d_{l+1}, d_l) +
    `gas_tensor_per_element` · rows · d_{l+1}) — each layer is a product as costly to start as a
    TENSOR_MATMUL call, and the bias and the activation touch every output element once — plus,
    with the softmax flag, `gas_tensor_per_element` · rows · d_L.
    """
    total = params.gas_host_call_base
    for d_in, d_out in pairwise(model.dims):
        total += params.gas_host_call_base + matmul_gas(params, rows, d_out, d_in)
        total += params.gas_tensor_per_element * rows * d_out
    if model.softmax:
        total += params.gas_tensor_per_element * rows * model.dims[-1]
    return total


def fixed_infer(model: FixedModel, inputs: Ints) -> Ints:
    """Table 4 MODEL_INFER (arithmetic, errata E104): the perceptron on rows of Q16.16 inputs."""
    if inputs.ndim != 2 or inputs.shape[1] != model.dims[0]:
        raise RejectedError(
            Rejection.BAD_INPUT, f"inputs {inputs.shape}, model takes {model.dims[0]}"
        )
    x = inputs
    last = len(model.weights) - 1
    for layer, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        x = fixed_matmul(x, w) + b
        if x.size and (int(x.min()) < INT32_MIN or int(x.max()) > INT32_MAX):
            raise RejectedError(Rejection.TENSOR_OVERFLOW, f"layer {layer} leaves 32 bits")
        if layer < last:
            x = np.maximum(x, 0)
    return fixed_softmax(x) if model.softmax else x
