"""A real EVM beside the AIVM: Solidity twins compiled by solc-js and run on py-evm (§8.4).

Table 9 compares the AIVM's gas with "equivalent Ethereum L2 implementations" without naming
them. The reference measures instead: each AIVM contract has a Solidity twin in
`aci_ref/aivm/solidity/`, compiled offline by the solc-js pinned in `tools/evm/package.json`
(installed by `make`) and executed on py-evm's Cancun VM. Gas here is the EVM's own schedule,
per transaction (intrinsic 21,000 included), nothing we wrote. Both tools are optional: without
them `available()` is False and the comparison is skipped, never faked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from aci_ref.errors import RejectedError, Rejection

ROOT: Final = Path(__file__).resolve().parents[2]
SOLCJS: Final = ROOT / "tools" / "evm" / "node_modules" / ".bin" / "solcjs"
SOLIDITY: Final = Path(__file__).resolve().parent / "solidity"
CHAIN_ID: Final = 1337
BLOCK_GAS: Final = 30_000_000
SENDER_KEY: Final = b"\x01" * 32


def available() -> bool:
    """Whether solc-js (in the checkout) and py-evm (in the environment) are both present."""
    if not SOLCJS.exists() or shutil.which("node") is None:
        return False
    try:
        import eth  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Compiled:
    """One contract's creation bytecode and ABI."""

    name: str
    bytecode: bytes
    abi: list[dict[str, Any]]


def compile_solidity(source: Path) -> dict[str, Compiled]:
    """Compile `source` with the pinned solc-js (optimiser on, 200 runs); contracts by name."""
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            ["node", str(SOLCJS), "--bin", "--abi", "--optimize", "-o", out, source.name],
            cwd=source.parent,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RejectedError(Rejection.BAD_MODULE, done.stderr.strip().splitlines()[-1])
        compiled: dict[str, Compiled] = {}
        for binary in sorted(Path(out).glob("*.bin")):
            name = binary.stem.rsplit("_", 1)[-1]
            abi = json.loads(binary.with_suffix(".abi").read_text(encoding="utf-8"))
            compiled[name] = Compiled(name, bytes.fromhex(binary.read_text().strip()), abi)
    return compiled


class EvmChain:
    """A one-account py-evm chain (Cancun rules) that deploys contracts and calls them.

    Every transaction is mined in its own block, so each receipt's gas is that transaction's
    alone.
    """

    def __init__(self) -> None:
        from eth import constants
        from eth.chains.base import MiningChain
        from eth.db.atomic import AtomicDB
        from eth.vm.forks.cancun import CancunVM
        from eth_keys.datatypes import PrivateKey

        self.key = PrivateKey(SENDER_KEY)
        self.address: Any = self.key.public_key.to_canonical_address()
        genesis: dict[str, Any] = {
            "difficulty": 0,
            "gas_limit": BLOCK_GAS,
            "timestamp": 1_700_000_000,
            "coinbase": constants.ZERO_ADDRESS,
            "nonce": b"\x00" * 8,
            "mix_hash": constants.ZERO_HASH32,
            "extra_data": b"",
            "base_fee_per_gas": 1,
        }
        funds: dict[Any, Any] = {
            self.address: {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}}
        }
        klass = MiningChain.configure(
            __name__="AciRefEvm", vm_configuration=((0, CancunVM),), chain_id=CHAIN_ID
        )
        self.chain: Any = klass.from_genesis(AtomicDB(), genesis, funds)

    def _send(self, to: bytes, data: bytes, gas: int) -> tuple[int, bytes, bool]:
        from eth_typing import Address

        vm = self.chain.get_vm()
        nonce = vm.state.get_nonce(self.address)
        unsigned = vm.create_unsigned_transaction(
            nonce=nonce, gas_price=2, gas=gas, to=Address(to), value=0, data=data
        )
        _, receipt, computation = self.chain.apply_transaction(
            unsigned.as_signed_transaction(self.key)
        )
        self.chain.mine_block()
        return receipt.gas_used, bytes(computation.output), bool(computation.is_success)

    def deploy(self, compiled: Compiled) -> tuple[bytes, int]:
        """Deploy `compiled`; its address and the deployment's gas."""
        from eth._utils.address import generate_contract_address
        from eth_typing import Address

        nonce = self.chain.get_vm().state.get_nonce(self.address)
        gas, _, ok = self._send(b"", compiled.bytecode, 5_000_000)
        if not ok:
            raise RejectedError(Rejection.CONTRACT_TRAP, f"deploying {compiled.name} reverted")
        return bytes(generate_contract_address(Address(self.address), nonce)), gas

    def call(
        self, address: bytes, signature: str, *args: int, gas: int = 10_000_000
    ) -> tuple[int, int]:
        """Send `signature(args)` (unsigned 256-bit words) to `address`; (gas used, first word)."""
        from eth_hash.auto import keccak

        data = keccak(signature.encode("ascii"))[:4] + b"".join(a.to_bytes(32, "big") for a in args)
        used, output, ok = self._send(address, data, gas)
        if not ok:
            raise RejectedError(Rejection.CONTRACT_TRAP, f"{signature} reverted")
        word = int.from_bytes(output[:32], "big", signed=True) if output else 0
        return used, word
