"""Typed refusals and the project's exception classes.

Every way the protocol can refuse an input has one `Rejection` code. The codes are plain,
language-neutral strings so that test vectors can record them and another implementation can be
checked for refusing for the same reason. A transition that refuses raises `RejectedError` carrying
its code and leaves the state it was given untouched.
"""

from __future__ import annotations

from enum import StrEnum


class Rejection(StrEnum):
    """Every reason the reference refuses an event, parameter file or input."""

    # --- parameters -------------------------------------------------------------------------
    PARAMS_MISSING_KEY = "params_missing_key"
    """A parameters file leaves out a key that the protocol defines."""
    PARAMS_UNKNOWN_KEY = "params_unknown_key"
    """A parameters file holds a key that is not one of the protocol's parameters."""
    PARAMS_BAD_TYPE = "params_bad_type"
    """A parameter has the wrong type: an integer parameter is not an integer (a boolean does not
    count as one), or a fractional parameter is not a number.
    """
    PARAMS_OUT_OF_RANGE = "params_out_of_range"
    """A parameter's value lies outside the range allowed for its key, e.g. a share above
    10000 bps, a count below its minimum, or a rate outside (0, 1].
    """
    PARAMS_FEE_SHARES_NOT_WHOLE = "params_fee_shares_not_whole"
    """The five fee shares (worker, validators, verifiers, LPs, burn) do not add up to exactly
    10000 bps.
    """
    PARAMS_MALFORMED = "params_malformed"
    """A parameters file cannot be read as a flat set of keys: it is unreadable or not valid TOML,
    nests tables more than one level deep, or gives the same key twice.
    """

    # --- encoding and crypto ----------------------------------------------------------------
    ENCODING_UNSUPPORTED_TYPE = "encoding_unsupported_type"
    """A value to be encoded has no canonical form: it is a float or another type outside the
    encoding's set, a map has a key that is not text, or an integer lies outside -2^64 .. 2^64 - 1.
    """
    ENCODING_NOT_CANONICAL = "encoding_not_canonical"
    """Bytes that should hold a canonical encoding either fail to decode or differ from the
    canonical re-encoding of what they decode to (non-shortest form, unsorted map, tag, float).
    """
    BAD_SIGNATURE = "bad_signature"
    """An Ed25519 signature does not verify under the public key of its claimed signer, such as
    an event's sender, a vote's verifier, or the worker whose submission is offered as evidence.
    """
    BAD_KEY = "bad_key"
    """Key material has the wrong shape: an Ed25519 seed that is not exactly 32 bytes."""
    BAD_MERKLE_PROOF = "bad_merkle_proof"
    """An inclusion proof is requested for a leaf index outside 0 .. n - 1 of an n-leaf tree."""

    # --- economics: ledger, staking, fees, slashing -----------------------------------------
    UNKNOWN_ACCOUNT = "unknown_account"
    """An account named by the input is not an open account of the ledger."""
    ACCOUNT_EXISTS = "account_exists"
    """An account is to be opened under a name the ledger already holds."""
    NON_POSITIVE_AMOUNT = "non_positive_amount"
    """An amount, SLA or budget that must be a positive integer is zero, negative or not an
    integer (booleans excluded); where zero is allowed, as for a split amount or weight, it is
    negative or not an integer.
    """
    INSUFFICIENT_BALANCE = "insufficient_balance"
    """An account's free balance is smaller than the amount to be taken from it."""
    INSUFFICIENT_STAKE = "insufficient_stake"
    """More stake is asked of a position than it has: unbonding more than its bonded plus locked
    stake, locking more than is bonded, or unlocking more than is locked.
    """
    STAKE_BELOW_MINIMUM = "stake_below_minimum"
    """The stake backing a role (bonded plus locked) would be below that role's minimum, which
    for a worker grows with its declared capacity; unbonding all of it is still allowed.
    """
    UNKNOWN_ROLE = "unknown_role"
    """A role is not one of the protocol's roles: validator, verifier, worker or LP."""
    ROLE_NOT_STAKEABLE = "role_not_stakeable"
    """Stake of this role cannot be moved by this event: a plain bond is for validators and
    verifiers only, and LP stake leaves by withdrawing liquidity rather than by unbonding.
    """
    NO_STAKE = "no_stake"
    """The account has no stake position in the role, or the position to be slashed holds
    nothing.
    """
    STAKE_LOCKED = "stake_locked"
    """An unbond asks for more than the bonded stake but no more than bonded plus locked: the
    difference is pledged (e.g. to jobs in flight) and cannot leave yet.
    """
    UNBONDING_NOT_MATURE = "unbonding_not_mature"
    """A withdrawal is asked while stake is unbonding but no entry has reached its release time."""
    NOTHING_TO_WITHDRAW = "nothing_to_withdraw"
    """A withdrawal is asked for a stake position that has no unbonding entry at all."""
    BAD_CAPACITY = "bad_capacity"
    """A capacity, throughput or unit count is not an integer in its allowed range (for example
    below what is in use), or a role other than worker declares a non-zero capacity.
    """
    SLASH_WITHOUT_EVIDENCE = "slash_without_evidence"
    """A slash names no evidence: its evidence id is not a non-zero 32-byte digest."""
    EVIDENCE_MISMATCH = "evidence_mismatch"
    """The evidence does not prove the violation claimed: the violation is unknown or slashes
    another role, or a reported submission is not the job's worker's result failing Level 1.
    """
    DUPLICATE_EVIDENCE = "duplicate_evidence"
    """This piece of evidence (its id, or the digest of the reported submission) has already
    been used for a slash.
    """
    UNKNOWN_ESCROW = "unknown_escrow"
    """No escrow is held under the given id."""
    ESCROW_EXISTS = "escrow_exists"
    """An escrow is to be opened under an id that is already in use."""
    EMPTY_RECIPIENT_SET = "empty_recipient_set"
    """An amount is to be split by weight, but there are no recipients or every weight is zero."""
    BAD_IDENTIFIER = "bad_identifier"
    """A name or id is not a usable string: not a string at all, empty, or (for an account name)
    containing '/'.
    """

    # --- market: HMM pools ------------------------------------------------------------------
    UNKNOWN_POOL = "unknown_pool"
    """A resource class has no pool in the market (at genesis: is not a known hardware class)."""
    POOL_EXISTS = "pool_exists"
    """A pool is to be created for a resource class that already has one."""
    NO_CAPACITY = "no_capacity"
    """Workers in the pool meet the quality bar, but none has enough free capacity for the job."""
    NO_WORKER = "no_worker"
    """No worker in the pool meets the quality bar (quality above zero and at least
    quality_threshold), so nobody can be quoted.
    """
    SLIPPAGE_EXCEEDED = "slippage_exceeded"
    """The price at which the job would fill is above the buyer's stated maximum price."""
    QUOTE_EXPIRED = "quote_expired"
    """A quote is accepted after it lapsed: the job has expired, or it was quoted in an earlier
    block (a quote holds only until the next block is sealed).
    """
    INSUFFICIENT_SHARES = "insufficient_shares"
    """A liquidity provider withdraws more pool shares than it holds."""
    INSUFFICIENT_LIQUIDITY = "insufficient_liquidity"
    """A job's effective size (units times worker quality) is not strictly between zero and the
    pool's effective supply, so the price curve gives it no finite cost.
    """
    UNKNOWN_WORKER = "unknown_worker"
    """The worker named is not in the pool."""
    WORKER_EXISTS = "worker_exists"
    """The worker is already in the pool, or an active registered worker registers again."""
    WORKER_BUSY = "worker_busy"
    """A worker asks to leave a pool while some of its capacity is still in use by jobs."""
    WORKER_BANNED = "worker_banned"
    """A worker that was banned (for example as a Sybil identity) tries to register again."""
    BAD_QUALITY = "bad_quality"
    """A quality score is not an integer from 0 to 10000 bps."""
    POOL_OUT_OF_RANGE = "pool_out_of_range"
    """A pool quantity leaves its 64-bit range: a reference price outside 1 .. 2^64 - 1, or a
    price, idle supply, curve value or share total above 2^64 - 1.
    """

    # --- job lifecycle (Algorithm 1) --------------------------------------------------------
    UNKNOWN_JOB = "unknown_job"
    """No job exists with the given id."""
    ILLEGAL_TRANSITION = "illegal_transition"
    """The event would move a job between states that Algorithm 1 does not link, e.g. a result
    for a job that is not executing, or a vote on one neither in verification nor in dispute.
    """
    NOT_JOB_CLIENT = "not_job_client"
    """The sender is not the client who requested the job."""
    NOT_JOB_WORKER = "not_job_worker"
    """The sender is not the worker assigned to the job (a job not yet accepted has none)."""
    NOT_A_VERIFIER = "not_a_verifier"
    """The voter is not on the committee now deciding the job (the verifiers, or in a dispute
    the arbiters).
    """
    BUDGET_EXCEEDED = "budget_exceeded"
    """The quoted price, or the maximum price the client accepts, is above the job's budget."""
    INSUFFICIENT_ESCROW = "insufficient_escrow"
    """On accepting a quote, the client's balance cannot cover the fill price to be escrowed."""
    ALREADY_SETTLED = "already_settled"
    """A result or vote arrives for a job already in a final state (settled, refunded or
    expired).
    """
    SLA_OUT_OF_RANGE = "sla_out_of_range"
    """A job's SLA is shorter than the chain can observe (below min_sla_blocks block intervals),
    or so long that its deadlines could outlive the unbonding delay of the stake answering for it.
    """
    INPUT_UNRUNNABLE = "input_unrunnable"
    """A job's input lacks the shape the model's registry entry requires (length, encoding, finite
    values), so no worker could run it.
    """
    INPUT_TOO_LARGE = "input_too_large"
    """A job's input is longer than max_input_bytes."""
    DUPLICATE_VOTE = "duplicate_vote"
    """A verifier votes a second time on the same job, even if the vote is identical."""
    NOT_A_PROBE = "not_a_probe"
    """A probe reveal whose (worker, salt) commitment genesis does not hold (errata E90)."""
    PROBE_ALREADY_REVEALED = "probe_already_revealed"
    """A probe commitment that was already revealed once (errata E90)."""
    PROBE_TOO_LATE = "probe_too_late"
    """A probe reveal for a settled job after its committee's vote deadline: the review would
    outlast the window in which the voters' stake is still slashable (errata E90)."""
    PROBE_NOT_JUDGED = "probe_not_judged"
    """A probe reveal for a job no verifier committee has judged yet: not sampled, still being
    voted on, or decided by arbitration already (errata E90)."""
    UNKNOWN_SENDER = "unknown_sender"
    """The event's sender has no public key registered on the chain."""
    REPLAYED_EVENT = "replayed_event"
    """The event's nonce was already used: it is below the sender's next nonce."""
    STALE_EVENT = "stale_event"
    """A sealed block's time is earlier than the chain's current time."""
    NONCE_GAP = "nonce_gap"
    """The event's nonce skips ahead of the sender's next nonce (last used plus one)."""
    NOT_SEQUENCER = "not_sequencer"
    """A block is sealed by an account other than the chain's sequencer."""
    BAD_HEIGHT = "bad_height"
    """A sealed block's height is not exactly the chain's current height plus one."""
    TIME_JUMP = "time_jump"
    """A sealed block moves the clock forward by more than one epoch_duration_ms."""

    # --- PoAI (Definition 2, Algorithm 2) ---------------------------------------------------
    ATTESTATION_BAD_SIGNATURE = "attestation_bad_signature"
    """The certified enclave key did not sign the attestation's statement (or, at registration,
    the worker identity).
    """
    ATTESTATION_BAD_CERT_CHAIN = "attestation_bad_cert_chain"
    """The TEE certificates do not chain from a trusted vendor root through the platform to the
    enclave (wrong kind, wrong issuer or failing signature), or the enclave is not the job's.
    """
    ATTESTATION_UNKNOWN_MEASUREMENT = "attestation_unknown_measurement"
    """The certificate chain is sound, but the enclave's measurement is not on the allow-list."""
    ATTESTATION_WRONG_INPUT = "attestation_wrong_input"
    """The attested input hash differs from the hash of the job's input."""
    ATTESTATION_WRONG_OUTPUT = "attestation_wrong_output"
    """The attested output hash differs from the SHA-256 of the output submitted with it."""
    ATTESTATION_WRONG_MODEL = "attestation_wrong_model"
    """The attested model hash differs from that of the model the job named."""
    ATTESTATION_WRONG_JOB = "attestation_wrong_job"
    """The attestation is bound to a job id other than the job it is submitted for."""
    ATTESTATION_STALE = "attestation_stale"
    """The attested run started before the earliest time it could have (when the job was
    escrowed).
    """
    ATTESTATION_REPLAYED = "attestation_replayed"
    """The chain has already accepted an attestation of this same statement."""
    METRICS_INCONSISTENT = "metrics_inconsistent"
    """The attested metrics cannot be true of this model on the declared hardware: a value is
    negative or out of range, or FLOPs, duration or memory disagree with the model and hardware.
    """
    OUTPUT_MISMATCH = "output_mismatch"
    """Re-execution does not reproduce the worker's output within the model's rule (exact bytes,
    epsilon_num, or same tokens within epsilon_kl); a verdict and vote reason, not a raise.
    """
    UNKNOWN_MODEL = "unknown_model"
    """A model id (or model hash) matches no model in the registry."""
    BAD_INPUT = "bad_input"
    """A message or argument is malformed: a field has the wrong type or shape, or a value breaks
    a rule of its format that no more specific code covers.
    """
    VOTE_WRONG_JOB = "vote_wrong_job"
    """A vote names a job other than the one being tallied."""
    QUORUM_NOT_MAJORITY = "quorum_not_majority"
    """A vote tally's quorum is not a strict majority: it is not above 5000 bps (or is above
    10000 bps), so both sides could win.
    """

    # --- AIVM (§5) ---------------------------------------------------------------------------
    UNKNOWN_CONTRACT = "unknown_contract"
    """A contract call names no contract deployed at genesis."""
    BLOCK_GAS_EXHAUSTED = "block_gas_exhausted"
    """A contract call's gas limit does not fit what is left of `aivm_block_gas_limit` until
    the next sealed block."""
    BAD_MODULE = "bad_module"
    """A contract is not a valid WebAssembly module the AIVM admits: it does not compile, uses a
    disabled feature, declares more memory than `aivm_memory_pages`, or exports no memory."""
    UNKNOWN_HOST_FUNCTION = "unknown_host_function"
    """A contract imports something that is not an AIVM opcode of the right signature."""
    UNKNOWN_FUNCTION = "unknown_function"
    """A call names a function the contract does not export, or passes the wrong arguments."""
    OUT_OF_GAS = "out_of_gas"
    """A contract call used up its gas: every state change of the call is reverted."""
    CONTRACT_TRAP = "contract_trap"
    """A contract call trapped (unreachable, a bad memory access, a division by zero...) or an
    opcode refused its operands: every state change of the call is reverted."""
    TENSOR_OVERFLOW = "tensor_overflow"
    """An on-chain tensor operation's exact result does not fit the fixed-point format."""

    # --- Consensus (§4): why a validator drops a message ------------------------------------
    NOT_VALIDATOR = "not_validator"
    """A consensus message is signed by, or names as signer, a key outside the committee."""
    STALE_ROUND = "stale_round"
    """A message is for a round or view the validator has already left behind or collected."""
    FUTURE_ROUND = "future_round"
    """A message is for a round or view more than `max_round_lead` ahead of the validator's."""
    MISSING_PARENT = "missing_parent"
    """A vertex or block names a parent the validator does not hold, and its waiting room is
    full (`max_pending_messages`), or the parent was garbage-collected.
    """
    BAD_PARENTS = "bad_parents"
    """A vertex's parents are not certificates of the round just before it, or carry less than a
    quorum of stake, or a block does not extend the block its certificate names.
    """
    OVERSIZED_BATCH = "oversized_batch"
    """A batch holds more than `max_batch_txs` transactions or `max_batch_bytes` bytes."""
    DUPLICATE_SIGNER = "duplicate_signer"
    """A certificate lists one signer more than once."""
    UNDERSIGNED_CERTIFICATE = "undersigned_certificate"
    """A certificate's distinct signers hold no quorum (more than two thirds) of the stake."""
    EQUIVOCATION = "equivocation"
    """A second, different vertex for one (author, round) slot, or a second, different vote by
    one validator in one view and phase.
    """
    DUPLICATE_MESSAGE = "duplicate_message"
    """A message the validator has already processed arrives again; it is ignored."""
    WRONG_LEADER = "wrong_leader"
    """A proposal comes from a validator that does not lead its view."""
    UNSAFE_PROPOSAL = "unsafe_proposal"
    """A proposal neither extends the validator's locked block nor carries a newer certificate
    (HotStuff's safeNode rule).
    """
    BLOCK_TIME_OUT_OF_BOUND = "block_time_out_of_bound"
    """A settlement block's time is earlier than its parent's plus `settlement_interval_ms`,
    later than its parent's plus one epoch, or outside `max_clock_drift_ms` of the validator's
    clock.
    """
    BAD_CHECKPOINT = "bad_checkpoint"
    """A checkpoint's Merkle or state root differs from the validator's own committed output."""
    BAD_SETTLEMENT = "bad_settlement"
    """A settlement block carries a transaction of the fast path, or a submission whose PoAI
    Level 1 check fails against the validator's state.
    """
    WRONG_TRACK = "wrong_track"
    """An event reached the execution through the track that does not order it."""
    BAD_BEACON = "bad_beacon"
    """A beacon share or beacon signature does not verify under the dealt threshold keys."""


class AciError(Exception):
    """Base of every exception the project raises on purpose."""


class RejectedError(AciError):
    """An input was refused; `rejection` says why, `detail` says about what."""

    def __init__(self, rejection: Rejection, detail: str = "") -> None:
        self.rejection = rejection
        self.detail = detail
        super().__init__(f"{rejection.value}: {detail}" if detail else rejection.value)


class ParamsError(RejectedError):
    """A parameters file breaks a stated constraint; `key` names the offending entry."""

    def __init__(self, rejection: Rejection, key: str, detail: str) -> None:
        self.key = key
        super().__init__(rejection, f"{key}: {detail}")


class InvariantViolation(AciError):
    """A checked invariant of the protocol state does not hold (a bug, never an input error)."""
