"""Escrow through a contract is guarded as it is directly: a job never escrowed cannot be
settled, one call quotes once and locks once, a call that fails leaves no quote and no escrow,
an opcode cannot be entered while another runs, and running out of gas anywhere in submitJob
leaves the chain as it was (errata E100, E102).

Every call goes through `aci_ref.chain.apply` as a `CallContract` event of a world whose gas is
free (`aivm_gas_price` = 0), so a failed call may leave nothing but its sender's nonce and the
block's gas count: refused outright, or accepted as `ContractReverted` with the chain's reason
(errata E105).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import wasmtime

from aci_ref.aivm.market_opcodes import MARKET_OPCODES, ChainEnv
from aci_ref.aivm.opcodes import OPCODES
from aci_ref.aivm.vm import CallContext, Opcode, call, load_contract
from aci_ref.chain import ContractCalled, ContractReverted, apply
from aci_ref.chain.state import ChainState
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import AcceptQuote, CallContract, SubmitResult, job_id_of
from aci_ref.sim.world import MODEL_ID, SLA_MS, World, build_world
from tests.aivm.test_marketplace import FREE, MARKET, submit_via

GAS = 1_000_000
BUDGET = 12_000

PROBE = """(module
  (import "aivm" "call_data_size" (func $size (result i32)))
  (import "aivm" "call_data_copy" (func $copy (param i32 i32 i32)))
  (import "aivm" "hmm_quote" (func $quote (param i32 i32 i32 i32 i64 i64 i32) (result i64)))
  (import "aivm" "escrow_lock" (func $lock (param i32 i64)))
  (memory (export "memory") 4 16)
  ;; the marketplace's call data: [model id length] [model id] [input], copied to 1024
  (func $quote_job (param $sla i64) (param $budget i64) (result i64)
    (local $n i32) (local $model i32)
    (local.set $n (call $size))
    (call $copy (i32.const 1024) (i32.const 0) (local.get $n))
    (local.set $model (i32.load8_u (i32.const 1024)))
    (call $quote (i32.const 1025) (local.get $model)
      (i32.add (i32.const 1025) (local.get $model))
      (i32.sub (local.get $n) (i32.add (local.get $model) (i32.const 1)))
      (local.get $sla) (local.get $budget) (i32.const 0)))
  (func (export "quoteTwice") (param $sla i64) (param $budget i64) (param $max i64) (result i64)
    (drop (call $quote_job (local.get $sla) (local.get $budget)))
    (call $quote_job (local.get $sla) (local.get $budget)))
  (func (export "lockTwice") (param $sla i64) (param $budget i64) (param $max i64) (result i64)
    (local $price i64)
    (local.set $price (call $quote_job (local.get $sla) (local.get $budget)))
    (call $lock (i32.const 0) (local.get $max))
    (call $lock (i32.const 0) (local.get $max))
    (local.get $price))
  (func (export "lockThenTrap") (param $sla i64) (param $budget i64) (param $max i64)
    (drop (call $quote_job (local.get $sla) (local.get $budget)))
    (call $lock (i32.const 0) (local.get $max))
    unreachable)
  (func (export "lockOnce") (param $sla i64) (param $budget i64) (param $max i64) (result i64)
    (local $price i64)
    (local.set $price (call $quote_job (local.get $sla) (local.get $budget)))
    (call $lock (i32.const 0) (local.get $max))
    (local.get $price)))"""


def world() -> World:
    probe = bytes(wasmtime.wat2wasm(PROBE))
    contracts = (("marketplace", MARKET), ("probe", probe))
    return build_world(FREE, label="guards", contracts=contracts)


FRESH = world().state


def job_data(w: World) -> bytes:
    return bytes([len(MODEL_ID)]) + MODEL_ID.encode() + w.new_input()


def through_chain(w: World, sender: str, body: CallContract) -> tuple[Rejection | None, ChainState]:
    """Apply `body` to the world's state without keeping the result: (the reason it failed, or
    None; the state after). A failure must have left nothing but the sender's nonce."""
    before = w.state
    try:
        after, effects = apply(before, w.sign(sender, body))
    except RejectedError as refused:
        return refused.rejection, before
    reverted = [e.reason for e in effects if isinstance(e, ContractReverted)]
    if not reverted:
        assert any(isinstance(e, ContractCalled) for e in effects)
        return None, after
    # What a failed call keeps: the sender's nonce and the block's count of gas bought.
    assert replace(after, nonces=before.nonces, block_gas=before.block_gas) == before
    assert after.block_gas == before.block_gas + body.gas_limit
    return reverted[0], after


def direct_refusal(w: World, sender: str, body: object) -> Rejection:
    with pytest.raises(RejectedError) as caught:
        apply(w.state, w.sign(sender, body))  # type: ignore[arg-type]
    return caught.value.rejection


# -- settling a job that was never escrowed --------------------------------------------------------


def settle(data: bytes) -> CallContract:
    return CallContract("marketplace", "settleJob", (), data, GAS)


def test_settling_a_job_the_chain_never_saw_is_refused_with_its_reason() -> None:
    elsewhere, here = world(), world()
    price = submit_via(elsewhere, "client-0", elsewhere.new_input(), BUDGET, BUDGET)
    assert isinstance(price, int)
    (job_hex,) = elsewhere.state.jobs
    job_id = bytes.fromhex(job_hex)
    output, attestation = elsewhere.attestation(job_id)
    body = SubmitResult(job_id, output, attestation)
    worker = elsewhere.job(job_id).worker
    reason, _ = through_chain(here, worker, settle(canonical_bytes(body)))
    assert reason is Rejection.UNKNOWN_JOB
    assert direct_refusal(here, worker, body) is reason


def test_settling_a_job_that_was_quoted_but_never_escrowed_is_refused() -> None:
    w = world()
    job_id = w.request("client-0", budget=BUDGET)  # a quote only: no escrow, no worker
    worker = w.workers[0]
    output, attestation = w.attestation(job_id, enclave=w.enclaves[worker], t_start_ms=0)
    body = SubmitResult(job_id, output, attestation)
    reason, _ = through_chain(w, worker, settle(canonical_bytes(body)))
    assert reason is Rejection.NOT_JOB_WORKER
    assert direct_refusal(w, worker, body) is reason
    assert job_id.hex() not in w.state.ledger.escrow


# -- one quote and one lock per call; a failure leaves neither -------------------------------------


def probe(w: World, function: str, bound: int = BUDGET) -> CallContract:
    return CallContract("probe", function, (SLA_MS, BUDGET, bound), job_data(w), GAS)


def test_a_second_quote_in_one_call_is_refused_and_the_first_undone() -> None:
    w = world()
    reason, _ = through_chain(w, "client-0", probe(w, "quoteTwice"))
    assert reason is Rejection.CONTRACT_TRAP  # the call's one job id is the nonce's
    assert not w.state.jobs and not w.state.open_quotes


def test_locking_escrow_twice_is_the_chains_refusal_and_undoes_the_first_lock() -> None:
    w = world()
    reason, _ = through_chain(w, "client-0", probe(w, "lockTwice"))
    direct = w.fork()  # the same two acceptances, made directly
    job_id = direct.request("client-0", budget=BUDGET)
    direct.accept(job_id, max_price=BUDGET)
    assert reason is not None
    assert reason is direct_refusal(direct, "client-0", AcceptQuote(job_id, BUDGET))
    assert not w.state.jobs and w.state.ledger.escrow == FRESH.ledger.escrow


def test_a_call_that_quotes_locks_and_then_traps_leaves_no_quote_and_no_escrow() -> None:
    w = world()
    client = "client-0"
    locked, after = through_chain(w, client, probe(w, "lockOnce"))
    assert locked is None  # the same steps without the trap do quote and lock
    job_hex = job_id_of(client, w.next_nonce(client)).hex()
    assert job_hex in after.jobs and job_hex in after.ledger.escrow
    reason, _ = through_chain(w, client, probe(w, "lockThenTrap"))
    assert reason is Rejection.CONTRACT_TRAP
    assert not w.state.jobs and not w.state.open_quotes and not w.state.executing
    assert w.state.ledger.escrow == FRESH.ledger.escrow
    assert w.state.ledger.balances[client] == FRESH.ledger.balances[client]


# -- no opcode runs inside another -----------------------------------------------------------------


REENTER = """(module
  (import "aivm" "reenter" (func $reenter))
  (import "aivm" "stake" (func $stake (param i32 i64)))
  (memory (export "memory") 1 1)
  (func (export "f") (call $reenter))
  (func (export "inner") (call $stake (i32.const 1) (i64.const 1000))))"""


def test_an_opcode_cannot_be_entered_while_another_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A contract has no way to call back into a contract: WebAssembly cannot name another
    module, and no opcode hands it a function of one. Only an opcode's own body could re-enter
    the instance; the host refuses that, so here a (deliberately wrong) opcode that calls back
    into the contract's "inner" export makes the call a trap, and the stake inner would have
    made never happens."""
    instances: list[tuple[wasmtime.Store, wasmtime.Instance]] = []
    instantiate = wasmtime.Linker.instantiate

    def keeping(self: wasmtime.Linker, store: wasmtime.Store, module: wasmtime.Module) -> object:
        instance = instantiate(self, store, module)
        instances.append((store, instance))
        return instance

    def reenter(context: CallContext) -> None:
        context.charge(1)
        store, instance = instances[-1]
        inner = instance.exports(store)["inner"]
        assert isinstance(inner, wasmtime.Func)
        inner(store)

    opcodes = {**OPCODES, **MARKET_OPCODES, "reenter": Opcode("reenter", (), (), reenter)}
    contract = load_contract(FREE, "reenter", REENTER, opcodes)
    monkeypatch.setattr(wasmtime.Linker, "instantiate", keeping)
    w = world()
    member = w.verifiers[0]
    env = ChainEnv(w.state, member, w.next_nonce(member), b"")
    done = call(FREE, contract, opcodes, {}, "inner", [], GAS, env)  # alone, inner stakes
    assert done.gas_by_opcode == {"stake": FREE.gas_stake} and env.state is not w.state
    env = ChainEnv(w.state, member, w.next_nonce(member), b"")
    with pytest.raises(RejectedError) as caught:
        call(FREE, contract, opcodes, {}, "f", [], GAS, env)
    assert caught.value.rejection is Rejection.CONTRACT_TRAP
    assert env.state is w.state and not env.effects


# -- out of gas anywhere in submitJob --------------------------------------------------------------


SUBMIT_ORDER = ("call_data_size", "call_data_copy", "hmm_quote", "escrow_lock", "storage_write")
"""The opcodes marketplace.submitJob runs, in the order it runs them."""


def test_submit_job_out_of_gas_at_any_limit_leaves_the_chain_as_it_was() -> None:
    w = world()
    client = "client-0"
    data = job_data(w)
    body = CallContract("marketplace", "submitJob", (SLA_MS, BUDGET, BUDGET), data, GAS)
    # The same call run by the host directly, for its per-opcode gas.
    from aci_ref.chain.contracts import admit_contract

    env = ChainEnv(w.state, client, w.next_nonce(client), data)
    opcodes = {**OPCODES, **MARKET_OPCODES}
    contract = admit_contract(FREE, "marketplace", MARKET)
    measured = call(FREE, contract, opcodes, {}, "submitJob", list(body.args), GAS, env)
    assert set(measured.gas_by_opcode) == set(SUBMIT_ORDER)
    needed = measured.gas_used
    plain = needed - sum(measured.gas_by_opcode.values())
    assert 0 < plain < 200
    base = FREE.aivm_gas_call_base  # paid before the module runs (E105)
    reason, after = through_chain(w, client, replace(body, gas_limit=base + needed))
    assert reason is None and after.jobs
    (called,) = [
        e for e in apply(w.state, w.sign(client, body))[1] if isinstance(e, ContractCalled)
    ]
    assert called.gas_used == base + needed
    # Each opcode starts after the ones before it and at most `plain` gas of instructions:
    # every limit within reach of a boundary, and a stride through the rest.
    limits = set(range(0, needed, 31))
    edge = 0
    for name in (*SUBMIT_ORDER, None):
        limits.update(range(max(0, edge - 2), min(needed, edge + plain + 3)))
        edge += measured.gas_by_opcode[name] if name else 0
    for limit in sorted(limits):
        reason, _ = through_chain(w, client, replace(body, gas_limit=base + limit))
        assert reason is (Rejection.BAD_INPUT if limit == 0 else Rejection.OUT_OF_GAS), limit
