"""Table 4, §5.2: the AIVM opcodes as host functions — arguments, gas, operation.

Each opcode reads its operands from the contract's memory, charges its Equation 2 gas before any
work (so a call out of gas does none), and then calls the pure function of the core that already
means it: `aci_ref.aivm.fixed` for tensors, `aci_ref.aivm.gas` for Equation 3. Storage opcodes
write only into the call's journal (`aci_ref.aivm.vm.CallContext`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import numpy as np

from aci_ref.aivm.fixed import (
    check_operand,
    fixed_kl_divergence,
    fixed_layer_norm,
    fixed_matmul,
    fixed_softmax,
)
from aci_ref.aivm.gas import matmul_gas
from aci_ref.aivm.models import fixed_infer, infer_gas, parse_model
from aci_ref.aivm.vm import CallContext, Opcode
from aci_ref.crypto import sha256
from aci_ref.errors import RejectedError, Rejection

I32: Final = "i32"
HASH_BYTES: Final = 32
MAX_KEY_BYTES: Final = 64
"""ref: storage keys are at most 64 bytes (errata E100)."""


def storage_gas(context: CallContext, base: int, moved: int) -> int:
    """Equation 2, §5.3 (storage): base cost plus `gas_storage_per_byte` per byte moved."""
    return base + context.params.gas_storage_per_byte * moved


def _key(context: CallContext, pointer: int, length: int) -> bytes:
    if not 0 < length <= MAX_KEY_BYTES:
        raise RejectedError(Rejection.CONTRACT_TRAP, f"a storage key of {length} bytes")
    return context.read(pointer, length)


def storage_read(
    context: CallContext, key_ptr: int, key_len: int, out_ptr: int, out_cap: int
) -> int:
    """ref: AIVM storage (errata E100) — copy a slot's value out; its length, or -1 if absent.

    Arguments: the key (pointer, length ≤ 64) and an output buffer (pointer, capacity). Gas:
    `gas_storage_read` + per byte of key and value. Operation: at most `out_cap` bytes of the
    value are written to the buffer; the full length is returned.
    """
    context.charge(storage_gas(context, context.params.gas_storage_read, max(key_len, 0)))
    value = context.load(_key(context, key_ptr, key_len))
    if value is None:
        return -1
    context.charge(context.params.gas_storage_per_byte * len(value))
    if out_cap < 0:
        raise RejectedError(Rejection.CONTRACT_TRAP, "negative buffer capacity")
    context.write(out_ptr, value[:out_cap])
    return len(value)


def storage_write(
    context: CallContext, key_ptr: int, key_len: int, val_ptr: int, val_len: int
) -> None:
    """ref: AIVM storage (errata E100) — set a slot (an empty value deletes it).

    Gas: `gas_storage_write` + per byte of key and value. The write is journaled: it reaches
    storage only if the call returns.
    """
    moved = max(key_len, 0) + max(val_len, 0)
    context.charge(storage_gas(context, context.params.gas_storage_write, moved))
    key = _key(context, key_ptr, key_len)
    if val_len < 0:
        raise RejectedError(Rejection.CONTRACT_TRAP, "negative value length")
    value = context.read(val_ptr, val_len)
    context.store_value(key, value or None)


def _matrix(context: CallContext, pointer: int, rows: int, cols: int) -> np.ndarray:
    data = context.read(pointer, 4 * rows * cols)
    return np.frombuffer(data, dtype="<i4").astype(np.int64).reshape(rows, cols)


def tensor_matmul(
    context: CallContext, a_ptr: int, b_ptr: int, out_ptr: int, m: int, k: int, n: int
) -> None:
    """Table 4 TENSOR_MATMUL, Equation 3: C (m×n) = A (m×k) · B (k×n) in Q16.16.

    Arguments: pointers to A, B and C, each a row-major array of little-endian int32, and the
    dimensions. Gas: `gas_host_call_base` + Equation 3 (`matmul_gas`), charged before the
    operands are read. Operation: `fixed_matmul`, exact then rounded once; each of A, B and C
    may hold at most `aivm_tensor_max_elements` elements (`bad_input`), and a result outside 32
    bits is `tensor_overflow`.
    """
    limit = context.params.aivm_tensor_max_elements
    for rows, cols in ((m, k), (k, n), (m, n)):
        if rows < 1 or cols < 1 or rows * cols > limit:
            raise RejectedError(Rejection.BAD_INPUT, f"a {rows}×{cols} tensor (limit {limit})")
    context.charge(context.params.gas_host_call_base + matmul_gas(context.params, m, n, k))
    left, right = _matrix(context, a_ptr, m, k), _matrix(context, b_ptr, k, n)
    check_operand(left, m, k, limit)
    check_operand(right, k, n, limit)
    product = fixed_matmul(left, right)
    context.write(out_ptr, product.astype("<i4").tobytes())


def _rows_cols(context: CallContext, rows: int, cols: int) -> None:
    limit = context.params.aivm_tensor_max_elements
    if rows < 1 or cols < 1 or rows * cols > limit:
        raise RejectedError(Rejection.BAD_INPUT, f"a {rows}×{cols} tensor (limit {limit})")


def element_gas(context: CallContext, elements: int) -> int:
    """Equation 2, §5.3 (tensors): `gas_host_call_base` + `gas_tensor_per_element` per element."""
    return context.params.gas_host_call_base + context.params.gas_tensor_per_element * elements


def tensor_alloc(context: CallContext, rows: int, cols: int) -> int:
    """Table 4 TENSOR_ALLOC: grow memory by a zeroed rows×cols int32 region; its address or -1.

    Gas: Equation 2 per element, charged first. The region starts at the old end of memory
    (page aligned); -1 when the memory would pass `aivm_memory_pages`.
    """
    _rows_cols(context, rows, cols)
    context.charge(element_gas(context, rows * cols))
    return context.grow(4 * rows * cols)


def _unary(context: CallContext, in_ptr: int, out_ptr: int, rows: int, cols: int) -> np.ndarray:
    _rows_cols(context, rows, cols)
    context.charge(element_gas(context, rows * cols))
    return _matrix(context, in_ptr, rows, cols)


def tensor_softmax(context: CallContext, in_ptr: int, out_ptr: int, rows: int, cols: int) -> None:
    """Table 4 TENSOR_SOFTMAX: each row's softmax of a Q16.16 matrix (`fixed_softmax`).

    Gas: Equation 2 per element, charged before the operand is read.
    """
    result = fixed_softmax(_unary(context, in_ptr, out_ptr, rows, cols))
    context.write(out_ptr, result.astype("<i4").tobytes())


def tensor_norm(context: CallContext, in_ptr: int, out_ptr: int, rows: int, cols: int) -> None:
    """Table 4 TENSOR_NORM: each row layer-normalised with ε = `aivm_norm_epsilon`.

    Gas: Equation 2 per element, charged before the operand is read (`fixed_layer_norm`).
    """
    epsilon = context.params.aivm_norm_epsilon
    values = _unary(context, in_ptr, out_ptr, rows, cols)
    result = fixed_layer_norm(values, (epsilon.numerator, epsilon.denominator))
    context.write(out_ptr, result.astype("<i4").tobytes())


def model_hash(context: CallContext, ptr: int, length: int, out_ptr: int) -> None:
    """Table 4 MODEL_HASH: SHA-256 of `length` bytes of memory (canonical weight bytes) to out.

    Gas: `gas_host_call_base` + `gas_hash_per_byte` per byte, charged first.
    """
    if length < 0:
        raise RejectedError(Rejection.CONTRACT_TRAP, "negative length")
    context.charge(context.params.gas_host_call_base + context.params.gas_hash_per_byte * length)
    context.write(out_ptr, sha256(context.read(ptr, length)))


def hash_compare(context: CallContext, a_ptr: int, b_ptr: int) -> int:
    """Table 4 HASH_COMPARE: 1 when two 32-byte hashes in memory are equal, else 0.

    Gas: `gas_host_call_base` + per byte of the 64 bytes read.
    """
    context.charge(context.params.gas_host_call_base + context.params.gas_storage_per_byte * 64)
    return int(context.read(a_ptr, HASH_BYTES) == context.read(b_ptr, HASH_BYTES))


def kl_diverge(
    context: CallContext, p_ptr: int, q_ptr: int, out_ptr: int, rows: int, cols: int
) -> None:
    """Table 4 KL_DIVERGE: each row's KL(p ‖ q) of two Q16.16 matrices, one int32 per row.

    Gas: `gas_host_call_base` + `gas_kl_per_element` per element of p, charged before the
    operands are read. Operation: `fixed_kl_divergence` (`KL_INFINITE` where q is 0 and p is
    not).
    """
    _rows_cols(context, rows, cols)
    context.charge(
        context.params.gas_host_call_base + context.params.gas_kl_per_element * rows * cols
    )
    p, q = _matrix(context, p_ptr, rows, cols), _matrix(context, q_ptr, rows, cols)
    context.write(out_ptr, fixed_kl_divergence(p, q).astype("<i4").tobytes())


def model_load(context: CallContext, ptr: int, length: int, hash_ptr: int) -> int:
    """Table 4 MODEL_LOAD: load a model by its hash; its handle, or -1 if the bytes are not it.

    Arguments: the model's canonical bytes (pointer, length) and the SHA-256 it must have (32
    bytes at `hash_ptr`). Gas: `gas_host_call_base` + `gas_hash_per_byte` per byte, charged
    first. Operation: hash, compare, then `parse_model` (`bad_input` for malformed bytes); the
    handle indexes the models this call has loaded, 0 first.
    """
    if length < 0:
        raise RejectedError(Rejection.CONTRACT_TRAP, "negative length")
    context.charge(context.params.gas_host_call_base + context.params.gas_hash_per_byte * length)
    data = context.read(ptr, length)
    if sha256(data) != context.read(hash_ptr, HASH_BYTES):
        return -1
    context.models.append(parse_model(context.params, data))
    return len(context.models) - 1


def model_infer(context: CallContext, handle: int, in_ptr: int, rows: int, out_ptr: int) -> None:
    """Table 4 MODEL_INFER: run a loaded model on `rows` rows of Q16.16 inputs (`fixed_infer`).

    Arguments: a handle from MODEL_LOAD, the input (rows × d_0 int32) and where the output (rows
    × d_L int32) goes. Gas: `infer_gas`, charged before the input is read. Every layer's input
    and output must hold at most `aivm_tensor_max_elements` elements (`bad_input`).
    """
    if not 0 <= handle < len(context.models):
        raise RejectedError(Rejection.CONTRACT_TRAP, f"no loaded model {handle}")
    model = context.models[handle]
    for width in model.dims:
        _rows_cols(context, rows, width)
    context.charge(infer_gas(context.params, model, rows))
    outputs = fixed_infer(model, _matrix(context, in_ptr, rows, model.dims[0]))
    context.write(out_ptr, outputs.astype("<i4").tobytes())


OPCODES: Final[Mapping[str, Opcode]] = MappingProxyType(
    {
        opcode.name: opcode
        for opcode in (
            Opcode("storage_read", (I32, I32, I32, I32), (I32,), storage_read),
            Opcode("storage_write", (I32, I32, I32, I32), (), storage_write),
            Opcode("tensor_matmul", (I32,) * 6, (), tensor_matmul),
            Opcode("hash_compare", (I32, I32), (I32,), hash_compare),
            Opcode("tensor_alloc", (I32, I32), (I32,), tensor_alloc),
            Opcode("tensor_softmax", (I32,) * 4, (), tensor_softmax),
            Opcode("tensor_norm", (I32,) * 4, (), tensor_norm),
            Opcode("model_hash", (I32, I32, I32), (), model_hash),
            Opcode("kl_diverge", (I32,) * 5, (), kl_diverge),
            Opcode("model_load", (I32, I32, I32), (I32,), model_load),
            Opcode("model_infer", (I32,) * 4, (), model_infer),
        )
    }
)
"""Table 4, §5.2: the opcodes a contract may import from module "aivm", by name."""
