"""CallContract: a call of an AIVM contract deployed at genesis, acting on the chain (§5.4).

The contract runs in `aci_ref.aivm.vm` with the chain's opcodes (`aci_ref.aivm.market_opcodes`)
beside the pure ones. It sees the chain through a `ChainEnv`; its market opcodes run the chain's
own processors as the sender. If the call returns, the state its opcodes left becomes the chain's
and its storage the contract's; if it is refused — out of gas, a trap, an opcode's refusal —
nothing of it remains (errata E102).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

import immutables

from aci_ref.chain.effects import ContractCalled, Effects
from aci_ref.chain.state import ChainState
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


def process_call_contract(
    state: ChainState, body: CallContract, sender: str, nonce: int
) -> tuple[ChainState, Effects]:
    """§5.4 (ref: contract calls, errata E102): run one contract call as `sender`.

    Refused: `unknown_contract` (no such contract at genesis), then every refusal of
    `aci_ref.aivm.vm:call` and of the processors its opcodes run. The call's storage is the
    contract's storage (keys and values as bytes).
    """
    from aci_ref.aivm.market_opcodes import MARKET_OPCODES, ChainEnv
    from aci_ref.aivm.opcodes import OPCODES
    from aci_ref.aivm.vm import Contract, call

    opcodes = {**OPCODES, **MARKET_OPCODES}
    deployed = state.contracts.get(body.contract)
    if deployed is None:
        raise RejectedError(Rejection.UNKNOWN_CONTRACT, body.contract)
    contract = admit_contract(state.params, body.contract, deployed)
    assert isinstance(contract, Contract)
    storage = state.contract_storage.get(body.contract, immutables.Map())
    env = ChainEnv(state, sender, nonce, body.data)
    result = call(
        state.params,
        contract,
        opcodes,
        {bytes.fromhex(k): v for k, v in storage.items()},
        body.function,
        body.args,
        body.gas_limit,
        env,
    )
    kept = immutables.Map({k.hex(): v for k, v in sorted(result.storage.items())})
    after = replace(env.state, contract_storage=env.state.contract_storage.set(body.contract, kept))
    called = ContractCalled(body.contract, body.function, result.returned, result.gas_used)
    return after, (*env.effects, called)
