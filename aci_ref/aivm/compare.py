"""The AIVM and a real EVM on the same operations: each contract beside its Solidity twin.

Every row runs one operation on both machines and reports both results (which must agree) and
both gas figures. The AIVM's gas comes from a schedule the reference wrote (`spec/aivm.md`); the
EVM's is py-evm's Cancun schedule per transaction, intrinsic 21,000 included. Table 9's
operations are `aci_ref.aivm.gas_table`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aci_ref.aivm.bundled import bundled_contracts
from aci_ref.aivm.opcodes import OPCODES
from aci_ref.aivm.vm import call, load_contract
from aci_ref.params import Params

DEMO_ROWS: Final = (
    ("counter, first write", "increment", (5,), "increment(uint64)"),
    ("counter, update", "increment", (7,), "increment(uint64)"),
    ("Q16.16 matmul 4×4", "product", (4,), "product(uint256)"),
    ("Q16.16 matmul 8×8", "product", (8,), "product(uint256)"),
    ("Q16.16 matmul 16×16", "product", (16,), "product(uint256)"),
)
"""(operation, function, arguments, the twin's Solidity signature), run in this order."""


@dataclass(frozen=True, slots=True)
class GasRow:
    """One operation on both machines: results and gas (AIVM: our schedule; EVM: py-evm's)."""

    operation: str
    aivm_gas: int
    evm_gas: int
    aivm_result: int
    evm_result: int

    @property
    def ratio(self) -> float:
        """EVM gas over AIVM gas."""
        return self.evm_gas / self.aivm_gas


def compare_demo(params: Params) -> list[GasRow]:
    """Run `DEMO_ROWS` on `ledger_demo` and on its twin `LedgerDemo.sol` (needs `evm.available`)."""
    from aci_ref.aivm.evm import EvmChain, load_compiled

    contract = load_contract(params, "ledger_demo", bundled_contracts()["ledger_demo"], OPCODES)
    twin = load_compiled("LedgerDemo")
    chain = EvmChain()
    address, _ = chain.deploy(twin)
    storage: dict[bytes, bytes] = {}
    rows: list[GasRow] = []
    for operation, function, args, signature in DEMO_ROWS:
        result = call(
            params, contract, OPCODES, storage, function, list(args), params.aivm_gas_limit
        )
        storage = dict(result.storage)
        evm_gas, evm_result = chain.call(address, signature, *args)
        aivm_result = result.returned[0] if result.returned else 0
        rows.append(GasRow(operation, result.gas_used, evm_gas, aivm_result, evm_result))
    return rows
