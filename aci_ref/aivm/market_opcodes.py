"""Table 4's market opcodes and the call's environment: a contract acting on the chain (§5.4).

A `CallContract` event runs its contract with a `ChainEnv`: the chain state as the call found it,
the sender, the event's nonce and its data. HMM_QUOTE and ESCROW_LOCK are thin sections over the
chain's own processors (`process_request_quote`, `process_accept_quote`), run as the sender, on
the environment's state; the call keeps the new state only if it returns, so a contract that
quotes and then traps leaves no quote behind. No second copy of the market or the ledger exists
here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from aci_ref.aivm.vm import CallContext, Opcode
from aci_ref.chain.effects import Effect
from aci_ref.chain.jobs import process_accept_quote, process_request_quote
from aci_ref.chain.stake import process_bond, process_unbond
from aci_ref.chain.state import ChainState
from aci_ref.economics.ledger import Role
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import AcceptQuote, Bond, CastVote, RequestQuote, Unbond, job_id_of

I32: Final = "i32"
I64: Final = "i64"
JOB_ID_BYTES: Final = 32
MAX_MODEL_ID_BYTES: Final = 64


@dataclass
class ChainEnv:
    """ref: contract call environment (errata E102) — the chain a contract call acts on.

    `state` is replaced by each market opcode; `effects` collects what their processors said;
    `quoted` records that the call's one job id (`job_id_of(sender, nonce)`) is taken.
    """

    state: ChainState
    sender: str
    nonce: int
    data: bytes
    effects: list[Effect] = field(default_factory=list)
    quoted: bool = False


def _env(context: CallContext) -> ChainEnv:
    env = context.env
    if not isinstance(env, ChainEnv):
        raise RejectedError(Rejection.CONTRACT_TRAP, "a chain opcode outside a CallContract")
    return env


def keep_effects(context: CallContext, env: ChainEnv, effects: Sequence[Effect]) -> None:
    """ref: market opcode writes (errata E106) — what a chain processor changed, paid for.

    Each effect a processor emits stands for a record every node now keeps (a job, an escrow, a
    stake position, a slash), so it costs `gas_storage_write` after the processor has run: a vote
    that settles a job, slashes and refunds pays for each. Running out here reverts the call.
    """
    context.charge(context.params.gas_storage_write * len(effects))
    env.effects += effects


def call_data_size(context: CallContext) -> int:
    """ref: contract call environment (errata E102) — the length of the call's data."""
    context.charge(context.params.gas_host_call_base)
    return len(_env(context).data)


def call_data_copy(context: CallContext, dst: int, offset: int, length: int) -> None:
    """ref: contract call environment (errata E102) — copy data[offset : offset + length] to dst.

    Gas: `gas_host_call_base` + `gas_storage_per_byte` per byte. Bytes past the end are a trap.
    """
    if length < 0 or offset < 0:
        raise RejectedError(Rejection.CONTRACT_TRAP, "negative offset or length")
    context.charge(context.params.gas_host_call_base + context.params.gas_storage_per_byte * length)
    data = _env(context).data
    if offset + length > len(data):
        raise RejectedError(Rejection.CONTRACT_TRAP, f"call data has {len(data)} bytes")
    context.write(dst, data[offset : offset + length])


def hmm_quote(
    context: CallContext,
    model_ptr: int,
    model_len: int,
    input_ptr: int,
    input_len: int,
    sla_ms: int,
    budget: int,
    job_out: int,
) -> int:
    """Table 4 HMM_QUOTE, Listing 1 line 12: quote a job as the caller; its price.

    Arguments: the model id and the input (pointer, length), the SLA and the budget; the job's id
    (`job_id_of(sender, nonce)`, 32 bytes) is written at `job_out`. Gas: `gas_hmm_quote` +
    `gas_storage_per_byte` per byte of model id and input. Operation: `process_request_quote`
    on the call's state, as the sender; its refusals (`budget_exceeded`, `unknown_model`,
    `sla_out_of_range`...) refuse the call. One quote per call: a second is a trap.
    """
    if not 0 < model_len <= MAX_MODEL_ID_BYTES or input_len < 0:
        raise RejectedError(Rejection.CONTRACT_TRAP, "a bad model id or input length")
    moved = model_len + input_len
    context.charge(context.params.gas_hmm_quote + context.params.gas_storage_per_byte * moved)
    env = _env(context)
    if env.quoted:
        raise RejectedError(Rejection.CONTRACT_TRAP, "one quote per call: its id is the nonce's")
    model_id = context.read(model_ptr, model_len).decode("utf-8", "replace")
    body = RequestQuote(model_id, context.read(input_ptr, input_len), sla_ms, budget)
    env.state, effects = process_request_quote(env.state, body, env.sender, env.nonce)
    keep_effects(context, env, effects)
    env.quoted = True
    job_id = job_id_of(env.sender, env.nonce)
    context.write(job_out, job_id)
    return env.state.jobs[job_id.hex()].price


def escrow_lock(context: CallContext, job_ptr: int, max_price: int) -> None:
    """Table 4 ESCROW_LOCK and HMM_SWAP, Listing 1 line 18: buy the quoted units, lock escrow.

    Arguments: the job id (32 bytes at `job_ptr`) and the highest price accepted. Gas:
    `gas_escrow_lock`. Operation: `process_accept_quote` on the call's state, as the sender —
    the swap along the curve (`hmm.buy`) and the escrow lock are one step, never two: a swap
    without escrow would hold capacity unpaid, an escrow without the swap would pay for none
    (errata E104).
    """
    context.charge(context.params.gas_escrow_lock)
    env = _env(context)
    body = AcceptQuote(context.read(job_ptr, JOB_ID_BYTES), max_price)
    env.state, effects = process_accept_quote(env.state, body, env.sender)
    keep_effects(context, env, effects)


def submit_result(context: CallContext, data_ptr: int, data_len: int, job_out: int) -> None:
    """Listing 1 settleJob (lines 34–48), Algorithm 2 Level 1: the worker's result, submitted.

    Arguments: the canonical CBOR of a `SubmitResult` body (the job id, the output, the
    attestation) in memory; the job's id is written at `job_out`. Gas: `gas_submit_result` +
    `gas_storage_per_byte` per byte. Operation: `process_submit_result` as the sender — which is
    Listing 1's require(msg.sender == job.worker), TEE_VERIFY and HASH_COMPARE in one, with the
    chain's own refusals. The escrow is released by the block that draws the job (E102), not here.
    """
    from aci_ref.chain.jobs import process_submit_result
    from aci_ref.decoding import decode_as
    from aci_ref.events import SubmitResult

    if data_len < 0:
        raise RejectedError(Rejection.CONTRACT_TRAP, "negative length")
    context.charge(
        context.params.gas_submit_result + context.params.gas_storage_per_byte * data_len
    )
    env = _env(context)
    body = decode_as(SubmitResult, context.read(data_ptr, data_len))
    env.state, effects = process_submit_result(env.state, body, env.sender)
    keep_effects(context, env, effects)
    context.write(job_out, body.job_id)


def tee_verify(context: CallContext, data_ptr: int, data_len: int) -> int:
    """Table 4 TEE_VERIFY: 1 when a result's attestation passes Level 1 for its job, else 0.

    Arguments: the canonical CBOR of a `SubmitResult` body (job id, output, attestation) in
    memory. Gas: `gas_tee_verify` + `gas_storage_per_byte` per byte, charged first. Operation:
    the chain's own `check_level1` against what the chain knows of the job (certificate chain,
    signature, hash chain, freshness, metrics); nothing changes. An unknown job or a job with
    no worker yet refuses the call (`unknown_job`, `not_job_worker`).
    """
    from aci_ref.chain.jobs import check_level1
    from aci_ref.chain.steps import job_of
    from aci_ref.decoding import decode_as
    from aci_ref.events import SubmitResult
    from aci_ref.market.jobs import JobStatus

    if data_len < 0:
        raise RejectedError(Rejection.CONTRACT_TRAP, "negative length")
    context.charge(context.params.gas_tee_verify + context.params.gas_storage_per_byte * data_len)
    env = _env(context)
    body = decode_as(SubmitResult, context.read(data_ptr, data_len))
    job = job_of(env.state, body.job_id)
    if job.status is JobStatus.QUOTED:
        raise RejectedError(Rejection.NOT_JOB_WORKER, "a quoted job has no worker yet")
    try:
        check_level1(env.state, job, body)
    except RejectedError:
        return 0
    return 1


ROLES: Final = (Role.VALIDATOR, Role.VERIFIER, Role.WORKER, Role.LP)
"""ref: contract staking (errata E103) — the role a contract names by its index 0–3."""


def _role(code: int) -> Role:
    if not 0 <= code < len(ROLES):
        raise RejectedError(Rejection.CONTRACT_TRAP, f"no role {code}")
    return ROLES[code]


def stake(context: CallContext, role: int, amount: int) -> None:
    """ref: contract staking (errata E103) — bond `amount` in a role (`ROLES`) as the caller.

    Gas: `gas_stake`. Operation: the chain's Bond processor as the sender, with its refusals.
    """
    context.charge(context.params.gas_stake)
    env = _env(context)
    env.state, effects = process_bond(env.state, Bond(_role(role), amount), env.sender)
    keep_effects(context, env, effects)


def unstake(context: CallContext, role: int, amount: int) -> None:
    """ref: contract staking (errata E103) — start unbonding `amount` of a role as the caller.

    Gas: `gas_stake` + `gas_storage_write`, for the unbonding entry it adds and every node keeps
    (E106). Operation: the chain's Unbond processor as the sender, with its refusals.
    """
    context.charge(context.params.gas_stake + context.params.gas_storage_write)
    env = _env(context)
    env.state, effects = process_unbond(env.state, Unbond(_role(role), amount), env.sender)
    keep_effects(context, env, effects)


def cast_vote(context: CallContext, data_ptr: int, data_len: int) -> None:
    """Algorithm 1 lines 12 and 15 (from a contract, errata E103): a committee or arbiter vote.

    Arguments: the canonical CBOR of a CastVote body in memory. Gas: `gas_cast_vote` +
    `gas_storage_per_byte` per byte. Operation: the chain's CastVote processor as the sender —
    verification, dispute and arbitration exactly as a direct vote.
    """
    from aci_ref.chain.votes import process_cast_vote
    from aci_ref.decoding import decode_as

    if data_len < 0:
        raise RejectedError(Rejection.CONTRACT_TRAP, "negative length")
    context.charge(context.params.gas_cast_vote + context.params.gas_storage_per_byte * data_len)
    env = _env(context)
    body = decode_as(CastVote, context.read(data_ptr, data_len))
    env.state, effects = process_cast_vote(env.state, body, env.sender)
    keep_effects(context, env, effects)


MARKET_OPCODES: Final[Mapping[str, Opcode]] = MappingProxyType(
    {
        opcode.name: opcode
        for opcode in (
            Opcode("call_data_size", (), (I32,), call_data_size),
            Opcode("call_data_copy", (I32, I32, I32), (), call_data_copy),
            Opcode("hmm_quote", (I32, I32, I32, I32, I64, I64, I32), (I64,), hmm_quote),
            Opcode("escrow_lock", (I32, I64), (), escrow_lock),
            Opcode("submit_result", (I32, I32, I32), (), submit_result),
            Opcode("stake", (I32, I64), (), stake),
            Opcode("unstake", (I32, I64), (), unstake),
            Opcode("cast_vote", (I32, I32), (), cast_vote),
            Opcode("tee_verify", (I32, I32), (I32,), tee_verify),
        )
    }
)
"""Table 4, §5.2: the opcodes that act on the chain, importable from module "aivm"."""
