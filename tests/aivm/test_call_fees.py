"""A contract call pays for the gas it buys (errata E105): used gas on success, the whole limit
on failure, refused before it runs when the sender cannot cover the limit."""

from __future__ import annotations

from dataclasses import replace

import wasmtime

from aci_ref.aivm.bundled import bundled_contracts
from aci_ref.chain import ContractCalled, ContractReverted
from aci_ref.chain.contracts import gas_escrow_id
from aci_ref.economics.ledger import held_total
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import Rejection
from aci_ref.events import CallContract, SubmitResult, Transfer
from aci_ref.sim.world import MODEL_ID, SLA_MS, World, build_world, world_params

MARKET = bytes(wasmtime.wat2wasm(bundled_contracts()["marketplace"]))
PRICE = 3  # base units per gas


def world(price: int = PRICE) -> World:
    params = world_params(aivm_gas_price=price)
    return build_world(params, label="fees", contracts=(("marketplace", MARKET),))


def submit(w: World, gas: int, bound: int = 12_000) -> CallContract:
    data = bytes([len(MODEL_ID)]) + MODEL_ID.encode() + w.new_input()
    return CallContract("marketplace", "submitJob", (SLA_MS, 12_000, bound), data, gas)


def test_a_call_that_returns_burns_its_used_gas_and_refunds_the_rest() -> None:
    paid, free = world(), world(0)
    effects = paid.act("client-0", submit(paid, 10**6))
    free.act("client-0", submit(free, 10**6))
    (called,) = [e for e in effects if isinstance(e, ContractCalled)]
    assert called.fee == called.gas_used * PRICE > 0
    gap = free.state.ledger.balances["client-0"] - paid.state.ledger.balances["client-0"]
    assert gap == called.fee
    assert paid.state.ledger.burned - free.state.ledger.burned == called.fee
    assert not any(k.startswith("gas:") for k in paid.state.ledger.escrow)
    assert held_total(paid.state.ledger) == paid.state.ledger.supply
    assert set(paid.state.jobs) == set(free.state.jobs)


def test_a_failing_call_undoes_everything_but_burns_its_whole_limit() -> None:
    w = world()
    before = w.state
    limit = w.params.aivm_gas_call_base + 50  # far below submitJob's need
    effects = w.act("client-0", submit(w, limit))
    fee = limit * PRICE
    assert effects == (ContractReverted("marketplace", "submitJob", Rejection.OUT_OF_GAS, fee),)
    assert w.state.ledger.balances["client-0"] == before.ledger.balances["client-0"] - limit * PRICE
    assert w.state.ledger.burned == before.ledger.burned + limit * PRICE
    unchanged = replace(w.state, ledger=before.ledger, nonces=before.nonces, block_gas=0)
    assert unchanged == before  # no job, no quote, no contract storage, no market change


def test_a_refusal_inside_the_call_is_a_paid_revert_with_the_chain_reason() -> None:
    w = world()
    before = w.state.ledger.balances["client-0"]
    effects = w.act("client-0", submit(w, 10**6, bound=1))  # a fill above max_price
    assert effects == (
        ContractReverted("marketplace", "submitJob", Rejection.SLIPPAGE_EXCEEDED, 10**6 * PRICE),
    )
    assert w.state.ledger.balances["client-0"] == before - 10**6 * PRICE
    assert not w.state.jobs


def test_a_sender_who_cannot_cover_the_limit_is_refused_before_the_call_runs() -> None:
    w = world()
    balance = w.state.ledger.balances["client-0"]
    w.act("client-0", Transfer("client-1", balance - 10))  # keep 10 base units
    assert w.refuse(w.sign("client-0", submit(w, 10**6))) is Rejection.INSUFFICIENT_BALANCE
    for limit in (0, w.params.aivm_gas_call_base, w.params.aivm_gas_limit + 1):
        assert w.refuse(w.sign("client-1", submit(w, limit))) is Rejection.BAD_INPUT


def test_the_fee_is_held_while_the_call_runs_so_the_call_cannot_spend_it() -> None:
    """A client with exactly the price plus less than the fee: the lock finds the fee held."""
    probe = world()
    effects = probe.act("client-0", submit(probe, 10**6))
    (called,) = [e for e in effects if isinstance(e, ContractCalled)]
    price = called.returned[0]
    w = world()
    balance = w.state.ledger.balances["client-0"]
    keep = price + 10**6 * PRICE - 1  # one base unit short of price + the whole limit's fee
    w.act("client-0", Transfer("client-1", balance - keep))
    effects = w.act("client-0", submit(w, 10**6))
    assert [type(e) for e in effects] == [ContractReverted]
    assert effects[0].reason is Rejection.INSUFFICIENT_ESCROW  # type: ignore[union-attr]


def test_a_worker_pays_for_its_settlement_call_too() -> None:
    w = world()
    w.act("client-0", submit(w, 10**6))
    (job_hex,) = list(w.state.jobs)
    job_id = bytes.fromhex(job_hex)
    worker = w.job(job_id).worker
    output, attestation = w.attestation(job_id)
    data = canonical_bytes(SubmitResult(job_id, output, attestation))
    before = w.state.ledger.balances[worker]
    effects = w.act(worker, CallContract("marketplace", "settleJob", (), data, 10**6))
    (called,) = [e for e in effects if isinstance(e, ContractCalled)]
    assert w.state.ledger.balances[worker] == before - called.fee
    assert gas_escrow_id(worker, w.state.nonces[worker]) not in w.state.ledger.escrow


def test_a_block_holds_at_most_the_block_gas_limit_of_contract_work() -> None:
    """Successful calls count their gas used, failed ones their whole limit (E105)."""
    params = world_params(aivm_gas_price=PRICE, aivm_block_gas_limit=2 * 10**6)
    w = build_world(params, label="fees", contracts=(("marketplace", MARKET),))
    effects = w.act("client-0", submit(w, 10**6))
    (called,) = [e for e in effects if isinstance(e, ContractCalled)]
    assert w.state.block_gas == called.gas_used
    w.act("client-0", submit(w, 10**6, bound=1))  # reverted: counts all of its limit
    assert w.state.block_gas == called.gas_used + 10**6
    assert w.refuse(w.sign("client-1", submit(w, 10**6))) is Rejection.BLOCK_GAS_EXHAUSTED
    w.seal()
    assert w.state.block_gas == 0
    w.act("client-1", submit(w, 10**6))  # a new block has room again


def test_a_call_never_walks_the_storage_it_does_not_touch() -> None:
    """Host time that grows with a contract's slots would be unmetered work: the VM reads the
    storage it is given by key only, and the chain applies a call's writes, never a copy."""
    from collections.abc import Iterator, Mapping

    from aci_ref.aivm.opcodes import OPCODES
    from aci_ref.aivm.vm import call, load_contract

    class NoWalk(Mapping[bytes, bytes]):
        def __getitem__(self, key: bytes) -> bytes:
            return {b"count": (41).to_bytes(8, "little")}[key]

        def __iter__(self) -> Iterator[bytes]:
            raise AssertionError("the call walked the storage")

        def __len__(self) -> int:
            raise AssertionError("the call sized the storage")

    params = world_params()
    demo = load_contract(params, "demo", bundled_contracts()["ledger_demo"], OPCODES)
    result = call(params, demo, OPCODES, NoWalk(), "increment", [1], 100_000)
    assert result.returned == (42,)
    assert result.storage[b"count"] == (42).to_bytes(8, "little")
    assert result.writes == ((b"count", (41).to_bytes(8, "little"), (42).to_bytes(8, "little")),)


def test_a_host_fault_is_a_bug_not_a_paid_trap() -> None:
    """An exception that is not the project's own, raised inside an opcode, surfaces as an
    `InvariantViolation` (a bug of the reference) instead of being charged as a trap."""
    from dataclasses import replace as swap

    import pytest

    from aci_ref.aivm.opcodes import OPCODES
    from aci_ref.aivm.vm import call, load_contract
    from aci_ref.errors import InvariantViolation

    def broken(context: object, *args: int) -> int:
        raise ZeroDivisionError("a host bug")

    opcodes = {**OPCODES, "storage_read": swap(OPCODES["storage_read"], body=broken)}
    params = world_params()
    demo = load_contract(params, "demo", bundled_contracts()["ledger_demo"], opcodes)
    with pytest.raises(InvariantViolation):
        call(params, demo, opcodes, {}, "increment", [1], 100_000)
