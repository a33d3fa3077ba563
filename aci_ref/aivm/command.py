"""`aci-ref aivm run CONTRACT FUNCTION [ARGS...]`: one contract call, its result, gas and writes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from aci_ref.aivm.bundled import bundled_contracts
from aci_ref.params import default_params


def add_aivm_parser(sub: Any) -> None:
    """Add `aivm` and its sub-commands to the top-level parser's `sub`."""
    a = sub.add_parser("aivm", help="run AIVM contracts (WebAssembly with the AI opcodes)")
    commands = a.add_subparsers(dest="aivm_command", required=True, metavar="COMMAND")
    r = commands.add_parser(
        "run",
        help="call one function of a contract on empty storage",
        description="Call one function of a contract on empty storage and show what it did.",
    )
    r.add_argument(
        "contract",
        metavar="CONTRACT",
        help=f"a bundled contract ({', '.join(sorted(bundled_contracts()))}) or a .wat/.wasm file",
    )
    r.add_argument("function", metavar="FUNCTION", help="an exported function")
    r.add_argument("args", metavar="ARGS", nargs="*", type=int, help="integer arguments")
    r.add_argument("--gas", type=int, default=None, metavar="N", help="gas limit (aivm_gas_limit)")
    r.add_argument("--json", action="store_true", help="print one JSON object (default: off)")
    r.set_defaults(handler=cmd_aivm_run)
    c = commands.add_parser(
        "compare",
        help="the demo contract's operations on the AIVM and, as its Solidity twin, on a real EVM",
        description="Each operation on the AIVM (gas from the reference's schedule) and on py-evm"
        " (gas from the EVM's own Cancun schedule), with both results.",
    )
    c.add_argument("--json", action="store_true", help="print one JSON object (default: off)")
    c.set_defaults(handler=cmd_aivm_compare)
    g = commands.add_parser(
        "gas-table",
        help="Table 9 three ways: the AIVM (our schedule), the Solidity twin on py-evm, the paper",
        description="Run Table 9's operations through the marketplace contract on the AIVM and"
        " through Marketplace.sol on py-evm, and print both beside the paper's figures, with each"
        " AIVM opcode's share of the gas.",
    )
    g.add_argument("--json", action="store_true", help="print one JSON object (default: off)")
    g.add_argument(
        "--params",
        metavar="FILE",
        default=None,
        help="parameters file (default: the shipped spec/parameters.toml)",
    )
    g.set_defaults(handler=cmd_aivm_gas_table)


def _source(name: str) -> tuple[str, str | bytes]:
    from aci_ref.usage import UsageError

    bundled = bundled_contracts()
    if name in bundled:
        return name, bundled[name]
    path = Path(name)
    if not path.is_file():
        raise UsageError(f"no contract {name!r}: not bundled and not a file")
    data = path.read_bytes()
    return path.stem, data if path.suffix == ".wasm" else data.decode("utf-8", "replace")


def cmd_aivm_run(args: argparse.Namespace, console: Console) -> int:
    """Load the contract, call the function, print the result, gas and writes (or refuse)."""
    from aci_ref.aivm.opcodes import OPCODES
    from aci_ref.aivm.vm import call, load_contract
    from aci_ref.errors import RejectedError
    from aci_ref.usage import UsageError

    params = default_params()
    name, source = _source(args.contract)
    gas = params.aivm_gas_limit if args.gas is None else args.gas
    try:
        contract = load_contract(params, name, source, OPCODES)
        result = call(params, contract, OPCODES, {}, args.function, args.args, gas)
    except RejectedError as refused:
        raise UsageError(f"aivm run: {refused}") from refused
    writes = [
        {
            "key": k.hex(),
            "before": None if b is None else b.hex(),
            "after": None if a is None else a.hex(),
        }
        for k, b, a in result.writes
    ]
    report = {
        "contract": name,
        "contract_sha256": contract.digest.hex(),
        "function": args.function,
        "args": args.args,
        "returned": list(result.returned),
        "gas_limit": gas,
        "gas_used": result.gas_used,
        "writes": writes,
    }
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0
    table = Table(title=f"{name}.{args.function}{tuple(args.args)}")
    table.add_column("quantity")
    table.add_column("value")
    for key in ("returned", "gas_used", "gas_limit", "contract_sha256"):
        table.add_row(key, str(report[key]))
    for write in writes:
        table.add_row(f"write {write['key']}", f"{write['before']} → {write['after']}")
    console.print(table)
    return 0


def cmd_aivm_compare(args: argparse.Namespace, console: Console) -> int:
    """Print the AIVM-vs-EVM rows, or refuse in one line when solc-js or py-evm is missing."""
    from aci_ref.aivm.compare import compare_demo
    from aci_ref.aivm.evm import runtime_available
    from aci_ref.usage import UsageError

    if not runtime_available():
        raise UsageError("aivm compare needs py-evm (pip install -e '.[dev]')")
    rows = compare_demo(default_params())
    if args.json:
        payload = {
            "aivm_gas_source": "the reference's schedule (spec/aivm.md, parameters.toml [aivm])",
            "evm_gas_source": "py-evm, Cancun rules, per transaction including 21,000 intrinsic",
            "rows": [
                {
                    "operation": r.operation,
                    "aivm_gas": r.aivm_gas,
                    "evm_gas": r.evm_gas,
                    "evm_over_aivm": r.ratio,
                    "aivm_result": r.aivm_result,
                    "evm_result": r.evm_result,
                }
                for r in rows
            ],
        }
        print(json.dumps(payload, indent=2, sort_keys=True))
        return 0
    table = Table(
        title="ledger_demo on the AIVM and LedgerDemo.sol on a real EVM",
        caption="AIVM gas: our schedule, no per-call intrinsic charge; EVM gas: py-evm's Cancun"
        " schedule per transaction, 21,000 intrinsic included",
    )
    for column in ("operation", "AIVM gas", "EVM gas", "EVM / AIVM", "results agree"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for r in rows:
        agree = "yes" if r.aivm_result == r.evm_result else "NO"
        table.add_row(r.operation, f"{r.aivm_gas:,}", f"{r.evm_gas:,}", f"{r.ratio:,.1f}", agree)
    console.print(table)
    return 0


def _gas_table_json(rows: list[Any]) -> dict[str, Any]:
    return {
        "aivm_gas_source": "the reference's schedule (spec/aivm.md, parameters.toml [aivm])",
        "evm_gas_source": "py-evm, Cancun rules, Marketplace.sol, per transaction incl. 21,000",
        "paper_source": "Table 9 as printed",
        "rows": [
            {
                "operation": r.operation,
                "aivm_entry": r.aivm.entry,
                "aivm_gas": r.aivm.gas,
                "aivm_opcode_gas": dict(r.aivm.opcode_gas),
                "aivm_instruction_gas": r.aivm.instruction_gas,
                "aivm_detail": r.aivm.detail,
                "evm_gas": r.evm_gas,
                "evm_execution_gas": r.evm_execution_gas,
                "evm_gas_by_group": dict(r.evm_groups),
                "evm_detail": r.evm_detail,
                "measured_savings_pct": r.savings_pct,
                "measured_execution_savings_pct": r.execution_savings_pct,
                "paper_aci_gas": r.paper.aci_gas,
                "paper_l2_gas": r.paper.l2_gas,
                "paper_savings_pct": r.paper.savings_pct,
            }
            for r in rows
        ],
    }


def _shares(gas: int, parts: dict[str, int]) -> str:
    ranked = sorted(parts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} {100 * value / gas:.0f}%" for name, value in ranked)


def cmd_aivm_gas_table(args: argparse.Namespace, console: Console) -> int:
    """Print Table 9 three ways (the EVM column empty, and said so, without py-evm)."""
    from aci_ref.aivm.gas_table import gas_table
    from aci_ref.params import load_params

    params = default_params() if args.params is None else load_params(Path(args.params))
    rows = gas_table(params)
    if args.json:
        print(json.dumps(_gas_table_json(rows), indent=2, sort_keys=True))
        return 0
    table = Table(
        title="Table 9, measured: the AIVM, a real EVM, and the paper",
        caption="AIVM gas: a schedule the reference wrote (spec/aivm.md), aivm_gas_call_base"
        " included. EVM gas: py-evm's Cancun schedule running Marketplace.sol, per transaction,"
        " 21,000 intrinsic and calldata included; execution: without them, and the AIVM without"
        " its call base. Paper: Table 9 as printed (its L2 unnamed).",
    )
    columns = (
        "operation",
        "AIVM gas",
        "EVM gas",
        "saving",
        "EVM execution",
        "saving, execution",
        "paper ACI",
        "paper L2",
        "paper saving",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "operation" else "right")
    for r in rows:
        evm = "—" if r.evm_gas is None else f"{r.evm_gas:,}"
        saving = "—" if r.savings_pct is None else f"{r.savings_pct:.0f}%"
        executed = "—" if r.evm_execution_gas is None else f"{r.evm_execution_gas:,}"
        saved = "—" if r.execution_savings_pct is None else f"{r.execution_savings_pct:.0f}%"
        table.add_row(
            r.operation,
            f"{r.aivm.gas:,}",
            evm,
            saving,
            executed,
            saved,
            f"{r.paper.aci_gas:,}",
            f"{r.paper.l2_gas:,}",
            f"{r.paper.savings_pct}%",
        )
    console.print(table)
    shares = Table(title="Where the AIVM gas goes (share of each call's gas)")
    shares.add_column("operation")
    shares.add_column("entry")
    shares.add_column("opcodes, then plain instructions")
    for r in rows:
        parts = {**r.aivm.opcode_gas, "instructions": r.aivm.instruction_gas}
        shares.add_row(r.operation, r.aivm.entry, _shares(r.aivm.gas, parts))
    console.print(shares)
    if any(r.evm_gas is None for r in rows):
        console.print("EVM column empty: py-evm is not installed (pip install -e '.[dev]').")
    return 0
