"""A real EVM beside the AIVM: Solidity twins compiled by solc-js and run on py-evm (§8.4).

Table 9 compares the AIVM's gas with "equivalent Ethereum L2 implementations" without naming
them. The reference measures instead: each AIVM contract has a Solidity twin in
`aci_ref/aivm/solidity/`, compiled by the solc-js pinned in `tools/evm/package.json` and executed
on py-evm's Cancun VM. The compiled twins are kept in `aci_ref/aivm/solidity/build/` (written by
`python -m aci_ref.aivm.evm build`), so running them needs py-evm only. Gas is the EVM's own
schedule, per transaction (intrinsic 21,000 included), nothing we wrote. Without py-evm
`runtime_available()` is False and the comparison is skipped, never faked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aci_ref.aivm.evm_abi import (
    WORD,
    decode_words,
    encode_args,
    entry,
    revert_reason,
    selector,
    word,
)
from aci_ref.errors import RejectedError, Rejection

ROOT: Final = Path(__file__).resolve().parents[2]
SOLCJS: Final = ROOT / "tools" / "evm" / "node_modules" / ".bin" / "solcjs"
SOLIDITY: Final = Path(__file__).resolve().parent / "solidity"
BUILD: Final = SOLIDITY / "build"
TWINS: Final = ("LedgerDemo", "Marketplace")
"""The Solidity twins, each in `<name>.sol`, each compiled to `build/<name>.json`."""
OPTIMIZER: Final = {"enabled": True, "runs": 200}
EVM_VERSION: Final = "cancun"
CHAIN_ID: Final = 1337
BLOCK_GAS: Final = 30_000_000
CALL_GAS: Final = 10_000_000
BLOCK_SECONDS: Final = 2
GENESIS_TIME: Final = 1_700_000_000
SENDER_KEY: Final = b"\x01" * 32
ACCOUNT_WEI: Final = 10**24
INTRINSIC_GAS: Final = 21_000
CALLDATA_ZERO_GAS: Final = 4
CALLDATA_BYTE_GAS: Final = 16
STORAGE_OPS: Final = frozenset({0x54, 0x55})  # SLOAD, SSTORE
CALL_OPS: Final = frozenset({0xF1, 0xF2, 0xF4, 0xFA})  # CALL, CALLCODE, DELEGATECALL, STATICCALL
ARITHMETIC_OPS: Final = frozenset(
    {*range(0x01, 0x0C), *range(0x10, 0x1E)}
)  # ADD..SIGNEXTEND, LT..SAR
GROUPS: Final = ("storage", "precompile calls", "arithmetic", "other", "refund")
"""How execution gas is split: SLOAD/SSTORE, calls (the twins call only precompiles), integer
arithmetic and logic, everything else, and the refund (negative) that the receipt subtracts."""


def runtime_available() -> bool:
    """ref: EVM twin (§8.4) — whether py-evm is installed, which running a compiled twin needs."""
    try:
        import eth  # noqa: F401
    except ImportError:
        return False
    return True


def compiler_available() -> bool:
    """ref: EVM twin (§8.4) — whether solc-js (in the checkout) and node are there to compile."""
    return SOLCJS.exists() and shutil.which("node") is not None


def available() -> bool:
    """ref: EVM twin (§8.4) — whether solc-js and py-evm are both present (compile and run)."""
    return compiler_available() and runtime_available()


@dataclass(frozen=True, slots=True)
class Compiled:
    """ref: EVM twin (§8.4) — one contract's creation bytecode and ABI."""

    name: str
    bytecode: bytes
    abi: list[dict[str, Any]]


def _standard_input(source: Path) -> str:
    selection = {"*": {"*": ["abi", "evm.bytecode.object"]}}
    settings = {"optimizer": OPTIMIZER, "evmVersion": EVM_VERSION, "outputSelection": selection}
    sources = {source.name: {"content": source.read_text(encoding="utf-8")}}
    return json.dumps({"language": "Solidity", "sources": sources, "settings": settings})


def compile_solidity(source: Path) -> dict[str, Compiled]:
    """ref: EVM twin (§8.4) — compile `source` with the pinned solc-js; contracts by name.

    Settings: `OPTIMIZER` and `EVM_VERSION`, through solc's standard JSON interface.
    """
    done = subprocess.run(
        ["node", str(SOLCJS), "--standard-json"],
        input=_standard_input(source),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # solc-js may print a note about SMT solvers before the JSON.
    start = done.stdout.find("{")
    report = json.loads(done.stdout[start:]) if start >= 0 else {}
    errors = [e for e in report.get("errors", []) if e.get("severity") == "error"]
    if done.returncode != 0 or errors or "contracts" not in report:
        why = errors[0]["formattedMessage"] if errors else (done.stderr.strip() or "no output")
        raise RejectedError(Rejection.BAD_MODULE, why.strip().splitlines()[0])
    compiled: dict[str, Compiled] = {}
    for name, out in sorted(report["contracts"][source.name].items()):
        bytecode = bytes.fromhex(out["evm"]["bytecode"]["object"])
        compiled[name] = Compiled(name, bytecode, out["abi"])
    return compiled


def compiler_version() -> str:
    """ref: EVM twin (§8.4) — the pinned solc-js's version string."""
    done = subprocess.run(
        ["node", str(SOLCJS), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def artifact_text(compiled: Compiled, version: str) -> str:
    """ref: EVM twin (§8.4) — one twin's artifact: bytecode, ABI and how they were made."""
    record = {
        "contract": compiled.name,
        "source": f"{compiled.name}.sol",
        "compiler": f"solc-js {version}",
        "optimizer": OPTIMIZER,
        "evm_version": EVM_VERSION,
        "bytecode": compiled.bytecode.hex(),
        "abi": compiled.abi,
    }
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def build_artifacts(out: Path = BUILD) -> list[Path]:
    """ref: EVM twin (§8.4) — compile every twin of `TWINS` into `out/<name>.json`."""
    version = compiler_version()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TWINS:
        compiled = compile_solidity(SOLIDITY / f"{name}.sol")[name]
        path = out / f"{name}.json"
        path.write_text(artifact_text(compiled, version), encoding="utf-8")
        written.append(path)
    return written


def load_compiled(name: str) -> Compiled:
    """ref: EVM twin (§8.4) — the committed artifact of twin `name`, no compiler needed.

    Refuses `unknown_contract` for a name outside `TWINS` or without its artifact.
    """
    path = BUILD / f"{name}.json"
    if name not in TWINS or not path.exists():
        raise RejectedError(Rejection.UNKNOWN_CONTRACT, name)
    record = json.loads(path.read_text(encoding="utf-8"))
    return Compiled(record["contract"], bytes.fromhex(record["bytecode"]), record["abi"])


# ---- the chain ------------------------------------------------------------------------------


@dataclass
class _Sink:
    gas: dict[str, int] | None = None


def _group(code: int) -> str:
    if code in STORAGE_OPS:
        return "storage"
    if code in CALL_OPS:
        return "precompile calls"
    return "arithmetic" if code in ARITHMETIC_OPS else "other"


def _traced_vm(sink: _Sink) -> Any:
    """Cancun with every top-level opcode's gas (a call's includes its callee) added to `sink`."""
    from eth.vm.forks.cancun import CancunVM
    from eth.vm.forks.cancun.computation import CancunComputation
    from eth.vm.forks.cancun.state import CancunState

    def traced(code: int, opcode: Any) -> Any:
        group = _group(code)

        def run(computation: Any) -> None:
            if sink.gas is None or computation.msg.depth != 0:
                opcode(computation=computation)
                return
            before = computation.get_gas_remaining()
            try:
                opcode(computation=computation)
            finally:
                sink.gas[group] += before - computation.get_gas_remaining()

        run.__wrapped__ = opcode  # type: ignore[attr-defined]  # where py-evm's debug log looks
        return run

    opcodes = {code: traced(code, op) for code, op in CancunComputation.opcodes.items()}
    computation = type("TracedComputation", (CancunComputation,), {"opcodes": opcodes})
    state = CancunState.configure(computation_class=computation)
    return CancunVM.configure(__name__="TracedCancunVM", _state_class=state)


def calldata_gas(data: bytes) -> int:
    """ref: EVM gas (§8.4) — a call's data charge: 4 gas per zero byte, 16 per other byte."""
    zeros = data.count(0)
    return CALLDATA_ZERO_GAS * zeros + CALLDATA_BYTE_GAS * (len(data) - zeros)


@dataclass(frozen=True, slots=True)
class Receipt:
    """ref: EVM gas (§8.4) — one mined transaction: gas (intrinsic included), output, groups."""

    gas_used: int
    output: bytes
    ok: bool
    intrinsic: int
    groups: Mapping[str, int] = field(default_factory=dict)
    logs: tuple[tuple[tuple[int, ...], bytes], ...] = ()

    @property
    def execution_gas(self) -> int:
        """Gas beyond the 21,000 intrinsic and the calldata charge (net of refunds)."""
        return self.gas_used - self.intrinsic


class EvmChain:
    """ref: EVM twin (§8.4) — a py-evm chain (Cancun) with funded accounts, for the twins.

    Every transaction is mined in its own block, `BLOCK_SECONDS` after the last, so each
    receipt's gas is that transaction's alone and every run is the same run.
    """

    def __init__(self, keys: Sequence[bytes] = (), *, trace: bool = False) -> None:
        from eth import constants
        from eth.chains.base import MiningChain
        from eth.db.atomic import AtomicDB
        from eth.vm.forks.cancun import CancunVM
        from eth_keys.datatypes import PrivateKey

        self.key = PrivateKey(SENDER_KEY)
        self.address: Any = self.key.public_key.to_canonical_address()
        self._keys = {secret: PrivateKey(secret) for secret in (SENDER_KEY, *keys)}
        self._sink = _Sink()
        self.clock = GENESIS_TIME
        genesis: dict[str, Any] = {
            "difficulty": 0,
            "gas_limit": BLOCK_GAS,
            "timestamp": GENESIS_TIME,
            "coinbase": constants.ZERO_ADDRESS,
            "nonce": b"\x00" * 8,
            "mix_hash": constants.ZERO_HASH32,
            "extra_data": b"",
            "base_fee_per_gas": 1,
        }
        funds: dict[Any, Any] = {
            key.public_key.to_canonical_address(): {
                "balance": ACCOUNT_WEI,
                "nonce": 0,
                "code": b"",
                "storage": {},
            }
            for key in self._keys.values()
        }
        vm = _traced_vm(self._sink) if trace else CancunVM
        klass = MiningChain.configure(
            __name__="AciRefEvm", vm_configuration=((0, vm),), chain_id=CHAIN_ID
        )
        self.chain: Any = klass.from_genesis(AtomicDB(), genesis, funds)

    def address_of(self, secret: bytes) -> bytes:
        """The account of a funded key."""
        return bytes(self._keys[secret].public_key.to_canonical_address())

    def advance(self, seconds: int) -> None:
        """Let `seconds` pass before the next block."""
        self.clock += seconds

    def fund(self, secret: bytes) -> None:
        """Add an account after genesis, with ether from the default sender for its gas."""
        from eth_keys.datatypes import PrivateKey

        self._keys[secret] = PrivateKey(secret)
        address = self._keys[secret].public_key.to_canonical_address()
        self.send(address, b"", gas=INTRINSIC_GAS, value=ACCOUNT_WEI // 2**20)

    def _signed(
        self, to: bytes, data: bytes, gas: int, secret: bytes | None, value: int = 0
    ) -> Any:
        from eth_typing import Address

        key = self._keys[SENDER_KEY if secret is None else secret]
        sender = key.public_key.to_canonical_address()
        vm = self.chain.get_vm()
        unsigned = vm.create_unsigned_transaction(
            nonce=vm.state.get_nonce(sender),
            gas_price=2,
            gas=gas,
            to=Address(to),
            value=value,
            data=data,
        )
        return unsigned.as_signed_transaction(key)

    def send(
        self,
        to: bytes,
        data: bytes,
        *,
        key: bytes | None = None,
        gas: int = CALL_GAS,
        value: int = 0,
    ) -> Receipt:
        """Mine one transaction from `key`'s account (the default sender's when None)."""
        self.clock += BLOCK_SECONDS
        # py-evm walks the gas limit down from block to block; a long run would starve.
        self.chain.header = self.chain.header.copy(timestamp=self.clock, gas_limit=BLOCK_GAS)
        transaction = self._signed(to, data, gas, key, value)
        self._sink.gas = dict.fromkeys(GROUPS[:-1], 0)
        try:
            _, receipt, computation = self.chain.apply_transaction(transaction)
            traced, self._sink.gas = self._sink.gas, None
        finally:
            self._sink.gas = None
        self.chain.mine_block()
        intrinsic = INTRINSIC_GAS + calldata_gas(data)
        groups: dict[str, int] = {}
        if any(traced.values()):
            groups = {**traced, "refund": receipt.gas_used - intrinsic - sum(traced.values())}
        output, ok = bytes(computation.output), bool(computation.is_success)
        logs = tuple((tuple(log.topics), bytes(log.data)) for log in receipt.logs)
        return Receipt(receipt.gas_used, output, ok, intrinsic, groups, logs)

    def view(self, to: bytes, data: bytes, *, key: bytes | None = None) -> tuple[bytes, bool]:
        """Run a call on the current state without mining it: (output, success)."""
        transaction = self._signed(to, data, CALL_GAS, key)
        # The costless state is built on top of the header it is given: the last mined one.
        head = self.chain.get_canonical_head()
        with self.chain.get_vm(head).in_costless_state() as state:
            computation = state.apply_transaction(transaction)
        return bytes(computation.output), bool(computation.is_success)

    def deploy(self, compiled: Compiled, *args: Any, key: bytes | None = None) -> tuple[bytes, int]:
        """Deploy `compiled` with constructor `args`; its address and the deployment's gas."""
        from eth._utils.address import generate_contract_address
        from eth_typing import Address

        sender = self._keys[SENDER_KEY if key is None else key].public_key.to_canonical_address()
        nonce = self.chain.get_vm().state.get_nonce(sender)
        constructor = [e for e in compiled.abi if e.get("type") == "constructor"]
        encoded = encode_args(constructor[0]["inputs"], args) if constructor else b""
        receipt = self.send(b"", compiled.bytecode + encoded, key=key, gas=CALL_GAS)
        if not receipt.ok:
            raise RejectedError(Rejection.CONTRACT_TRAP, f"deploying {compiled.name} reverted")
        return bytes(generate_contract_address(Address(sender), nonce)), receipt.gas_used

    def call(
        self, address: bytes, signature: str, *args: int, gas: int = CALL_GAS
    ) -> tuple[int, int]:
        """Send `signature(args)` (unsigned 256-bit words) to `address`; (gas used, first word)."""
        from eth_hash.auto import keccak

        data = keccak(signature.encode("ascii"))[:4] + b"".join(word(a) for a in args)
        receipt = self.send(address, data, gas=gas)
        if not receipt.ok:
            raise RejectedError(Rejection.CONTRACT_TRAP, f"{signature} reverted")
        output = receipt.output
        first = int.from_bytes(output[:WORD], "big", signed=True) if output else 0
        return receipt.gas_used, first


@dataclass(frozen=True, slots=True)
class Contract:
    """ref: EVM twin (§8.4) — a deployed twin, called by function name, reverts decoded."""

    chain: EvmChain
    address: bytes
    compiled: Compiled

    def data(self, function: str, *args: Any) -> bytes:
        """The calldata of `function(args)`."""
        found = entry(self.compiled.abi, "function", function)
        return selector(found) + encode_args(found["inputs"], args)

    def transact(self, function: str, *args: Any, key: bytes | None = None) -> Receipt:
        """Mine `function(args)` from `key`; refused with `contract_trap` naming the error."""
        receipt = self.chain.send(self.address, self.data(function, *args), key=key)
        if not receipt.ok:
            why = revert_reason(self.compiled.abi, receipt.output)
            raise RejectedError(Rejection.CONTRACT_TRAP, f"{function} reverted: {why}")
        return receipt

    def read(self, function: str, *args: Any, key: bytes | None = None) -> tuple[Any, ...]:
        """Run `function(args)` without mining; its static outputs, or the decoded refusal."""
        output, ok = self.chain.view(self.address, self.data(function, *args), key=key)
        if not ok:
            why = revert_reason(self.compiled.abi, output)
            raise RejectedError(Rejection.CONTRACT_TRAP, f"{function} reverted: {why}")
        return decode_words(entry(self.compiled.abi, "function", function)["outputs"], output)


def deploy(chain: EvmChain, name: str, *args: Any, key: bytes | None = None) -> Contract:
    """ref: EVM twin (§8.4) — deploy the committed twin `name` with constructor `args`."""
    compiled = load_compiled(name)
    address, _ = chain.deploy(compiled, *args, key=key)
    return Contract(chain, address, compiled)


if __name__ == "__main__":
    if sys.argv[1:] != ["build"]:
        sys.exit("usage: python -m aci_ref.aivm.evm build")
    for written in build_artifacts():
        print(written.relative_to(ROOT))
