"""CallContract: a call of an AIVM contract deployed at genesis, acting on the chain (§5.4).

The contract runs in `aci_ref.aivm.vm` with the chain's opcodes (`aci_ref.aivm.market_opcodes`)
beside the pure ones. It sees the chain through a `ChainEnv`; its market opcodes run the chain's
own processors as the sender. If the call returns, the state its opcodes left becomes the chain's
and its storage the contract's; if it fails — out of gas, a trap, an opcode's refusal — nothing
of it remains (errata E102) but its fee: the sender pays for the gas it bought (errata E105).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from fractions import Fraction
from functools import cache
from typing import Any, Final

import immutables

from aci_ref.chain.effects import ContractCalled, ContractReverted, Effects
from aci_ref.chain.state import ChainState
from aci_ref.economics import ledger
from aci_ref.errors import RejectedError, Rejection
from aci_ref.events import CallContract
from aci_ref.params import Params


@cache
def admit_contract(params: Params, name: str, wasm: bytes) -> Any:
    """§5.4 (ref: contract calls, errata E102): compile and admit a deployed contract, once.

    Compilation is pure (same bytes, same code), so the result is cached; refusals are
    `load_contract`'s (`bad_module`, `unknown_host_function`).
    """
    from aci_ref.aivm.market_opcodes import MARKET_OPCODES
    from aci_ref.aivm.opcodes import OPCODES
    from aci_ref.aivm.vm import load_contract

    return load_contract(params, name, wasm, {**OPCODES, **MARKET_OPCODES})


CALL_BASE: Final = "call_base"
"""ref: contract call fees (errata E105) — the name `aivm_gas_call_base` has in `opcode_gas`."""


class StoredView(Mapping[bytes, bytes]):
    """ref: contract calls (errata E102) — a contract's hex-keyed storage, read by bytes key.

    A view, not a copy: a call's host time must not grow with the slots it never touches.
    """

    __slots__ = ("_stored",)

    def __init__(self, stored: immutables.Map[str, bytes]) -> None:
        self._stored = stored

    def __getitem__(self, key: bytes) -> bytes:
        return self._stored[key.hex()]

    def __iter__(self) -> Iterator[bytes]:
        return (bytes.fromhex(k) for k in self._stored)

    def __len__(self) -> int:
        return len(self._stored)


def gas_escrow_id(sender: str, nonce: int) -> str:
    """ref: contract call fees (errata E105) — the escrow holding a call's gas fee while it runs."""
    return f"gas:{sender}:{nonce}"


def gas_fee(params: Params, gas: int) -> int:
    """ref: contract call fees (errata E105) — ⌈gas × `aivm_gas_price`⌉ base units."""
    cost = Fraction(gas) * Fraction(params.aivm_gas_price)
    return -(-cost.numerator // cost.denominator)


def process_call_contract(
    state: ChainState, body: CallContract, sender: str, nonce: int
) -> tuple[ChainState, Effects]:
    """§5.4 (ref: contract calls, errata E102, E105): run one contract call as `sender`.

    Refused, changing nothing: `unknown_contract`; `bad_input` (a gas limit not above
    `aivm_gas_call_base` — what instantiating, linking and entering the module costs whatever
    it then does — or above `aivm_gas_limit`); `block_gas_exhausted` (the limit does not fit
    what is left of `aivm_block_gas_limit` since the last sealed block, which counts each
    call's gas used, or its whole limit if it failed); the ledger's refusals when the sender
    cannot escrow the whole fee, `gas_fee(gas_limit)`. Then the module runs, with that fee held,
    on the limit less the base. If it returns, the state its opcodes left becomes the chain's,
    its storage the contract's (keys and values as bytes), and `gas_fee(base + gas used)` is
    burned, the rest refunded. If it fails (out of gas, a trap, any refusal of the VM or of the
    processors its opcodes run), it is still accepted: everything it did is undone but the
    whole fee is burned (`ContractReverted`), so a call that makes validators work never costs
    its sender nothing.
    """
    from aci_ref.aivm.market_opcodes import MARKET_OPCODES, ChainEnv
    from aci_ref.aivm.opcodes import OPCODES
    from aci_ref.aivm.vm import Contract, call

    opcodes = {**OPCODES, **MARKET_OPCODES}
    deployed = state.contracts.get(body.contract)
    if deployed is None:
        raise RejectedError(Rejection.UNKNOWN_CONTRACT, body.contract)
    params = state.params
    base = params.aivm_gas_call_base
    if not base < body.gas_limit <= params.aivm_gas_limit:
        raise RejectedError(Rejection.BAD_INPUT, f"gas limit {body.gas_limit} (base {base})")
    if state.block_gas + body.gas_limit > params.aivm_block_gas_limit:
        left = params.aivm_block_gas_limit - state.block_gas
        raise RejectedError(Rejection.BLOCK_GAS_EXHAUSTED, f"{left} gas left in this block")
    contract = admit_contract(params, body.contract, deployed)
    assert isinstance(contract, Contract)
    held_id = gas_escrow_id(sender, nonce)
    most = gas_fee(params, body.gas_limit)
    held = replace(state, block_gas=state.block_gas + body.gas_limit)
    if most > 0:
        held = replace(held, ledger=ledger.escrow_lock(state.ledger, held_id, sender, most))
    stored = state.contract_storage.get(body.contract, immutables.Map())
    env = ChainEnv(held, sender, nonce, body.data)
    try:
        result = call(
            params,
            contract,
            opcodes,
            StoredView(stored),
            body.function,
            body.args,
            body.gas_limit - base,
            env,
        )
    except RejectedError as failed:
        reverted = held
        if most > 0:
            reverted = replace(held, ledger=ledger.escrow_burn(held.ledger, held_id, most))
        return reverted, (ContractReverted(body.contract, body.function, failed.rejection, most),)
    used = base + result.gas_used
    fee = gas_fee(params, used)
    after = replace(env.state, block_gas=state.block_gas + used)
    if most > 0:
        after = replace(after, ledger=ledger.escrow_burn(after.ledger, held_id, fee))
    with stored.mutate() as changes:  # only the call's writes: never a pass over all slots
        for key, _, value in result.writes:
            if value is None:
                changes.pop(key.hex(), None)
            else:
                changes[key.hex()] = value
        kept = changes.finish()
    after = replace(after, contract_storage=after.contract_storage.set(body.contract, kept))
    by_opcode = tuple(sorted({**result.gas_by_opcode, CALL_BASE: base}.items()))
    called = ContractCalled(body.contract, body.function, result.returned, used, fee, by_opcode)
    return after, (*env.effects, called)
