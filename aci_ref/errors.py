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
    PARAMS_UNKNOWN_KEY = "params_unknown_key"
    PARAMS_BAD_TYPE = "params_bad_type"
    PARAMS_OUT_OF_RANGE = "params_out_of_range"
    PARAMS_FEE_SHARES_NOT_WHOLE = "params_fee_shares_not_whole"
    PARAMS_MALFORMED = "params_malformed"

    # --- encoding and crypto ----------------------------------------------------------------
    ENCODING_UNSUPPORTED_TYPE = "encoding_unsupported_type"
    ENCODING_NOT_CANONICAL = "encoding_not_canonical"
    BAD_SIGNATURE = "bad_signature"
    BAD_KEY = "bad_key"
    BAD_MERKLE_PROOF = "bad_merkle_proof"
    EMPTY_MERKLE_TREE = "empty_merkle_tree"

    # --- economics: ledger, staking, fees, slashing -----------------------------------------
    UNKNOWN_ACCOUNT = "unknown_account"
    ACCOUNT_EXISTS = "account_exists"
    NON_POSITIVE_AMOUNT = "non_positive_amount"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    INSUFFICIENT_STAKE = "insufficient_stake"
    STAKE_BELOW_MINIMUM = "stake_below_minimum"
    UNKNOWN_ROLE = "unknown_role"
    ROLE_NOT_STAKEABLE = "role_not_stakeable"
    NO_STAKE = "no_stake"
    STAKE_LOCKED = "stake_locked"
    STAKE_SLASHED = "stake_slashed"
    UNBONDING_NOT_MATURE = "unbonding_not_mature"
    NOTHING_TO_WITHDRAW = "nothing_to_withdraw"
    BAD_CAPACITY = "bad_capacity"
    SLASH_WITHOUT_EVIDENCE = "slash_without_evidence"
    EVIDENCE_MISMATCH = "evidence_mismatch"
    DUPLICATE_EVIDENCE = "duplicate_evidence"
    UNKNOWN_ESCROW = "unknown_escrow"
    ESCROW_EXISTS = "escrow_exists"
    EMPTY_RECIPIENT_SET = "empty_recipient_set"
    BAD_IDENTIFIER = "bad_identifier"

    # --- market: HMM pools ------------------------------------------------------------------
    UNKNOWN_POOL = "unknown_pool"
    POOL_EXISTS = "pool_exists"
    NO_CAPACITY = "no_capacity"
    NO_WORKER = "no_worker"
    SLIPPAGE_EXCEEDED = "slippage_exceeded"
    QUOTE_EXPIRED = "quote_expired"
    INSUFFICIENT_SHARES = "insufficient_shares"
    INSUFFICIENT_LIQUIDITY = "insufficient_liquidity"
    UNKNOWN_WORKER = "unknown_worker"
    WORKER_EXISTS = "worker_exists"
    WORKER_BUSY = "worker_busy"
    WORKER_BANNED = "worker_banned"
    BAD_QUALITY = "bad_quality"
    POOL_OUT_OF_RANGE = "pool_out_of_range"

    # --- job lifecycle (Algorithm 1) --------------------------------------------------------
    UNKNOWN_JOB = "unknown_job"
    JOB_EXISTS = "job_exists"
    ILLEGAL_TRANSITION = "illegal_transition"
    NOT_JOB_CLIENT = "not_job_client"
    NOT_JOB_WORKER = "not_job_worker"
    NOT_A_VERIFIER = "not_a_verifier"
    BUDGET_EXCEEDED = "budget_exceeded"
    INSUFFICIENT_ESCROW = "insufficient_escrow"
    ALREADY_SETTLED = "already_settled"
    DEADLINE_NOT_PASSED = "deadline_not_passed"
    DEADLINE_PASSED = "deadline_passed"
    DUPLICATE_VOTE = "duplicate_vote"
    UNKNOWN_SENDER = "unknown_sender"
    REPLAYED_EVENT = "replayed_event"
    STALE_EVENT = "stale_event"
    NONCE_GAP = "nonce_gap"
    NOT_SEQUENCER = "not_sequencer"
    BAD_HEIGHT = "bad_height"
    TIME_JUMP = "time_jump"

    # --- PoAI (Definition 2, Algorithm 2) ---------------------------------------------------
    ATTESTATION_BAD_SIGNATURE = "attestation_bad_signature"
    ATTESTATION_BAD_CERT_CHAIN = "attestation_bad_cert_chain"
    ATTESTATION_UNKNOWN_MEASUREMENT = "attestation_unknown_measurement"
    ATTESTATION_WRONG_INPUT = "attestation_wrong_input"
    ATTESTATION_WRONG_OUTPUT = "attestation_wrong_output"
    ATTESTATION_WRONG_MODEL = "attestation_wrong_model"
    ATTESTATION_WRONG_JOB = "attestation_wrong_job"
    ATTESTATION_STALE = "attestation_stale"
    ATTESTATION_REPLAYED = "attestation_replayed"
    METRICS_INCONSISTENT = "metrics_inconsistent"
    OUTPUT_MISMATCH = "output_mismatch"
    UNKNOWN_MODEL = "unknown_model"
    BAD_INPUT = "bad_input"
    VOTE_WRONG_JOB = "vote_wrong_job"
    QUORUM_NOT_MAJORITY = "quorum_not_majority"


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


def reject(rejection: Rejection, detail: str = "") -> RejectedError:
    """Build the exception for a refusal, so call sites read `raise reject(...)`."""
    return RejectedError(rejection, detail)
