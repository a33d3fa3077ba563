;; A small AIVM contract: a counter kept in storage and a fixed-point matrix product.
;; It exercises every kind of charge: plain instructions (fuel), storage reads and writes,
;; TENSOR_MATMUL's Equation 3 cost, and the model opcodes on a 4→3→2 perceptron it carries.
(module
  (import "aivm" "storage_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "aivm" "storage_write" (func $write (param i32 i32 i32 i32)))
  (import "aivm" "tensor_matmul" (func $matmul (param i32 i32 i32 i32 i32 i32)))
  (import "aivm" "tensor_softmax" (func $softmax (param i32 i32 i32 i32)))
  (import "aivm" "tensor_norm" (func $norm (param i32 i32 i32 i32)))
  (import "aivm" "tensor_alloc" (func $alloc (param i32 i32) (result i32)))
  (import "aivm" "model_hash" (func $hash (param i32 i32 i32)))
  (import "aivm" "hash_compare" (func $same (param i32 i32) (result i32)))
  (import "aivm" "kl_diverge" (func $kl (param i32 i32 i32 i32 i32)))
  (import "aivm" "model_load" (func $load (param i32 i32 i32) (result i32)))
  (import "aivm" "model_infer" (func $infer (param i32 i32 i32 i32)))
  (memory (export "memory") 1 16)
  ;; the key "count" at offset 0; the counter's 8 bytes at offset 16
  (data (i32.const 0) "count")
  ;; at 60000 an on-chain model (aci_ref.aivm.models: 4 inputs, 3 ReLU units, 2 softmax
  ;; outputs; 104 canonical bytes), at 60160 the SHA-256 it is loaded by
  (data (i32.const 60000) "\41\51\4d\31\02\01\04\00\03\00\02\00\00\00\01\00\00\80\ff\ff\00\40\00\00\00\80\00\00\00\00\01\00\00\00\00\00\00\00\00\00\00\40\00\00\00\00\01\00\00\00\ff\ff\00\80\00\00\00\80\00\00\00\20\00\00\00\00\00\00\00\e0\ff\ff\00\00\01\00\00\00\ff\ff\00\80\00\00\00\80\00\00\00\c0\ff\ff\00\00\01\00\00\00\00\00\00\10\00\00")
  (data (i32.const 60160) "\5a\56\10\0c\6f\17\b5\28\2e\05\b6\7b\13\13\fe\ee\49\1d\83\40\ab\84\e3\f3\9a\0d\1f\34\c4\8c\1c\e9")

  ;; increment(by) -> new value: read, add, write back.
  (func (export "increment") (param $by i64) (result i64)
    (local $value i64)
    (if (i32.ge_s (call $read (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8))
                  (i32.const 0))
      (then (local.set $value (i64.load (i32.const 16)))))
    (local.set $value (i64.add (local.get $value) (local.get $by)))
    (i64.store (i32.const 16) (local.get $value))
    (call $write (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8))
    (local.get $value))

  ;; square(n): C = A · A for the n×n matrix A at 1024, result at 32768 (Q16.16 int32s).
  (func (export "square") (param $n i32)
    (call $matmul (i32.const 1024) (i32.const 1024) (i32.const 32768)
                  (local.get $n) (local.get $n) (local.get $n)))

  ;; product(n) -> C[n-1][n-1] for C = A · A, where A (n×n at 1024) is first filled with the
  ;; pattern a_i = ((7i + 3) mod 17 − 8) · 2^13 — the same as LedgerDemo.sol's, so both machines
  ;; multiply the same nonzero matrix.
  (func (export "product") (param $n i32) (result i32)
    (local $i i32) (local $total i32)
    (local.set $total (i32.mul (local.get $n) (local.get $n)))
    (if (i32.gt_u (local.get $total) (i32.const 7936)) (then unreachable))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get $total)))
        (i32.store
          (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))
          (i32.shl
            (i32.sub
              (i32.rem_u (i32.add (i32.mul (local.get $i) (i32.const 7)) (i32.const 3))
                         (i32.const 17))
              (i32.const 8))
            (i32.const 13)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (call $matmul (i32.const 1024) (i32.const 1024) (i32.const 32768)
                  (local.get $n) (local.get $n) (local.get $n))
    (i32.load (i32.add (i32.const 32768)
                       (i32.shl (i32.sub (local.get $total) (i32.const 1)) (i32.const 2)))))

  ;; softmax(rows, cols) and norm(rows, cols): row-wise over the matrix at 1024, into 32768.
  (func (export "softmax") (param $rows i32) (param $cols i32)
    (call $softmax (i32.const 1024) (i32.const 32768) (local.get $rows) (local.get $cols)))
  (func (export "norm") (param $rows i32) (param $cols i32)
    (call $norm (i32.const 1024) (i32.const 32768) (local.get $rows) (local.get $cols)))

  ;; alloc(rows, cols) -> address of a fresh zeroed region (or -1).
  (func (export "alloc") (param $rows i32) (param $cols i32) (result i32)
    (call $alloc (local.get $rows) (local.get $cols)))

  ;; hash(len): SHA-256 of the first len bytes of memory, written at 65504 (the last 32 bytes).
  (func (export "hash") (param $len i32)
    (call $hash (i32.const 0) (local.get $len) (i32.const 65504)))

  ;; verify(len) -> 1 when the hash of the first len bytes equals the 32 bytes at 65472.
  (func (export "verify") (param $len i32) (result i32)
    (call $hash (i32.const 0) (local.get $len) (i32.const 65504))
    (call $same (i32.const 65504) (i32.const 65472)))

  ;; kl(rows, cols): each row's KL(p ‖ q) with p at 1024 and q at 16384, one int32 per row at 32768.
  (func (export "kl") (param $rows i32) (param $cols i32)
    (call $kl (i32.const 1024) (i32.const 16384) (i32.const 32768)
              (local.get $rows) (local.get $cols)))

  ;; infer(rows) -> handle: load the carried model by its hash (-1: the bytes are not it), then
  ;; run it on rows × 4 Q16.16 inputs at 1024; rows × 2 outputs land at 32768.
  (func (export "infer") (param $rows i32) (result i32)
    (local $model i32)
    (local.set $model (call $load (i32.const 60000) (i32.const 104) (i32.const 60160)))
    (if (i32.lt_s (local.get $model) (i32.const 0)) (then (return (local.get $model))))
    (call $infer (local.get $model) (i32.const 1024) (local.get $rows) (i32.const 32768))
    (local.get $model))

  ;; spin(n): n empty loop turns, to measure plain-instruction fuel.
  (func (export "spin") (param $n i32)
    (local $i i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again))))

  ;; fail(): writes, then traps — the write must not survive.
  (func (export "fail")
    (call $write (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8))
    unreachable)
)
