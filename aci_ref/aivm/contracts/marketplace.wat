;; The marketplace contract of Listing 1 (§5.4), first entry point: submitJob.
;;
;; submitJob(sla_ms, budget, max_price) -> price. The call data is [model id length: 1 byte]
;; [model id] [job input]. The contract asks the HMM for a quote (HMM_QUOTE: the chain's own
;; RequestQuote, as the caller), locks the client's escrow (ESCROW_LOCK: the chain's AcceptQuote,
;; which refuses a fill above max_price with `slippage_exceeded` — Listing 1's require(price <=
;; maxPrice), with the chain's own reason; the refusal reverts the quote too) and records
;; jobs[job id] = (price, status 0) in its storage.
;;
;; settleJob() -> 1. The call data is the canonical CBOR of the worker's SubmitResult. The chain
;; checks it exactly as a direct SubmitResult (Listing 1's require(msg.sender == job.worker),
;; TEE_VERIFY and HASH_COMPARE are Algorithm 2's Level 1), and the job waits for its block's draw
;; like any other: escrow is released by Algorithm 2, not by the contract. The record's status
;; becomes 1.
;;
;; quoteJob(sla_ms, budget) -> price and swapJob(max_price): submitJob in two calls, so that
;; Table 9's "HMM swap" can be measured alone. quoteJob records (price, status 2: quoted);
;; swapJob's call data is the 32-byte job id of such a record, and it runs HMM_SWAP (the chain's
;; AcceptQuote: the buy along the curve and the escrow lock, one step) and sets status 0.
;;
;; checkResult() -> 1 or 0: TEE_VERIFY of the SubmitResult in the call data against its job,
;; changing nothing — a client's view of whether a worker's result would pass Level 1.
;;
;; castVote(): the call data is the canonical CBOR of a CastVote; the chain tallies it exactly as
;; a direct vote, so disputes and arbitration (Table 9's "dispute resolution") run through here.
;; stake(role, amount) and unstake(role, amount): the chain's Bond and Unbond as the caller,
;; role 0 validator, 1 verifier, 2 worker (refused: workers bond by registering), 3 LP.
(module
  (import "aivm" "call_data_size" (func $data_size (result i32)))
  (import "aivm" "call_data_copy" (func $data_copy (param i32 i32 i32)))
  (import "aivm" "hmm_quote" (func $quote (param i32 i32 i32 i32 i64 i64 i32) (result i64)))
  (import "aivm" "escrow_lock" (func $lock (param i32 i64)))
  (import "aivm" "submit_result" (func $submit (param i32 i32 i32)))
  (import "aivm" "storage_write" (func $write (param i32 i32 i32 i32)))
  (import "aivm" "storage_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "aivm" "cast_vote" (func $vote (param i32 i32)))
  (import "aivm" "stake" (func $stake (param i32 i64)))
  (import "aivm" "unstake" (func $unstake (param i32 i64)))
  (import "aivm" "tee_verify" (func $verify (param i32 i32) (result i32)))
  ;; memory: [0, 32) the job id; [64, 72) the price record; [1024, ...) the call data
  (memory (export "memory") 4 16)

  (func (export "submitJob") (param $sla i64) (param $budget i64) (param $max i64) (result i64)
    (local $size i32) (local $model i32) (local $price i64)
    (local.set $size (call $data_size))
    ;; the data must hold a length byte, a model id and fit the three free pages
    (if (i32.lt_u (local.get $size) (i32.const 2)) (then unreachable))
    (if (i32.gt_u (local.get $size) (i32.const 195584)) (then unreachable))
    (call $data_copy (i32.const 1024) (i32.const 0) (local.get $size))
    (local.set $model (i32.load8_u (i32.const 1024)))
    (if (i32.ge_u (i32.add (local.get $model) (i32.const 1)) (local.get $size))
      (then unreachable))
    ;; (price, worker) = HMM_QUOTE(model, input): the job id lands at 0
    (local.set $price
      (call $quote
        (i32.const 1025) (local.get $model)
        (i32.add (i32.const 1025) (local.get $model))
        (i32.sub (local.get $size) (i32.add (local.get $model) (i32.const 1)))
        (local.get $sla) (local.get $budget) (i32.const 0)))
    ;; require(price <= maxPrice) and ESCROW_LOCK(msg.sender, price): the chain fills at the
    ;; quoted price and refuses a fill above max_price
    (call $lock (i32.const 0) (local.get $max))
    ;; jobs[nextId] = Job(...): the contract's record, keyed by the chain's job id
    (i64.store (i32.const 64) (local.get $price))
    (i32.store8 (i32.const 72) (i32.const 0))
    (call $write (i32.const 0) (i32.const 32) (i32.const 64) (i32.const 9))
    (local.get $price))

  ;; the call data into memory at 1024, refused when empty or larger than the three free pages
  (func $load_data (result i32)
    (local $size i32)
    (local.set $size (call $data_size))
    (if (i32.gt_u (local.get $size) (i32.const 195584)) (then unreachable))
    (call $data_copy (i32.const 1024) (i32.const 0) (local.get $size))
    (local.get $size))

  (func (export "quoteJob") (param $sla i64) (param $budget i64) (result i64)
    (local $size i32) (local $model i32) (local $price i64)
    (local.set $size (call $load_data))
    (if (i32.lt_u (local.get $size) (i32.const 2)) (then unreachable))
    (local.set $model (i32.load8_u (i32.const 1024)))
    (if (i32.ge_u (i32.add (local.get $model) (i32.const 1)) (local.get $size))
      (then unreachable))
    (local.set $price
      (call $quote
        (i32.const 1025) (local.get $model)
        (i32.add (i32.const 1025) (local.get $model))
        (i32.sub (local.get $size) (i32.add (local.get $model) (i32.const 1)))
        (local.get $sla) (local.get $budget) (i32.const 0)))
    (i64.store (i32.const 64) (local.get $price))
    (i32.store8 (i32.const 72) (i32.const 2))
    (call $write (i32.const 0) (i32.const 32) (i32.const 64) (i32.const 9))
    (local.get $price))

  (func (export "swapJob") (param $max i64)
    (if (i32.ne (call $load_data) (i32.const 32)) (then unreachable))
    ;; the job id from the call data to 0; its record must be this contract's, still quoted
    (memory.copy (i32.const 0) (i32.const 1024) (i32.const 32))
    (if (i32.ne (call $read (i32.const 0) (i32.const 32) (i32.const 64) (i32.const 9))
                (i32.const 9))
      (then unreachable))
    (if (i32.ne (i32.load8_u (i32.const 72)) (i32.const 2)) (then unreachable))
    (call $lock (i32.const 0) (local.get $max))
    (i32.store8 (i32.const 72) (i32.const 0))
    (call $write (i32.const 0) (i32.const 32) (i32.const 64) (i32.const 9)))

  (func (export "checkResult") (result i32)
    (call $verify (i32.const 1024) (call $load_data)))

  (func (export "settleJob") (result i32)
    (local $size i32)
    (local.set $size (call $data_size))
    (if (i32.gt_u (local.get $size) (i32.const 195584)) (then unreachable))
    (call $data_copy (i32.const 1024) (i32.const 0) (local.get $size))
    (call $submit (i32.const 1024) (local.get $size) (i32.const 0))
    ;; the job must be one this contract recorded: its (price, status) record, status -> 1
    (if (i32.ne (call $read (i32.const 0) (i32.const 32) (i32.const 64) (i32.const 9))
                (i32.const 9))
      (then unreachable))
    (i32.store8 (i32.const 72) (i32.const 1))
    (call $write (i32.const 0) (i32.const 32) (i32.const 64) (i32.const 9))
    (i32.const 1))

  (func (export "castVote")
    (local $size i32)
    (local.set $size (call $data_size))
    (if (i32.gt_u (local.get $size) (i32.const 195584)) (then unreachable))
    (call $data_copy (i32.const 1024) (i32.const 0) (local.get $size))
    (call $vote (i32.const 1024) (local.get $size)))

  (func (export "stake") (param $role i32) (param $amount i64)
    (call $stake (local.get $role) (local.get $amount)))

  (func (export "unstake") (param $role i32) (param $amount i64)
    (call $unstake (local.get $role) (local.get $amount)))
)
