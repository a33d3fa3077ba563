"""AIVM contract calls per second, and the share of each call spent in host functions.

Each call is a whole `aci_ref.aivm.vm.call`: a fresh store and instance, the export, the opcodes
it imports, the journal. Host time is measured by wrapping every opcode body with a timer, so the
share is host seconds over call seconds in the same run. The contract is the bundled
`ledger_demo`: `increment` (two storage opcodes and a few instructions) and `square` at several
sizes (one TENSOR_MATMUL). Medians over rounds; prints one JSON object and, with --save, writes it
to benchmarks/results/aivm.json. The marketplace contract's submit and settle join this when it
exists (issue 10).

    python benchmarks/aivm.py [--calls N] [--rounds R] [--save]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def _timed_opcodes(spent: list[float]) -> Any:
    from aci_ref.aivm.opcodes import OPCODES

    def wrap(body: Any) -> Any:
        def timed(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return body(*args)
            finally:
                spent[0] += time.perf_counter() - started

        return timed

    return {name: replace(op, body=wrap(op.body)) for name, op in OPCODES.items()}


def measure(calls: int, rounds: int) -> dict[str, Any]:
    from aci_ref.aivm.command import bundled_contracts
    from aci_ref.aivm.vm import call, load_contract
    from aci_ref.params import default_params

    params = default_params()
    spent = [0.0]
    opcodes = _timed_opcodes(spent)
    contract = load_contract(params, "ledger_demo", bundled_contracts()["ledger_demo"], opcodes)
    cases = {
        "increment": ("increment", [1]),
        "square_8": ("square", [8]),
        "square_32": ("square", [32]),
        "spin_10000": ("spin", [10_000]),
    }
    report: dict[str, Any] = {}
    for label, (function, args) in cases.items():
        rates, shares = [], []
        gas = call(params, contract, opcodes, {}, function, args, params.aivm_gas_limit).gas_used
        for _ in range(rounds):
            spent[0] = 0.0
            started = time.perf_counter()
            for _ in range(calls):
                call(params, contract, opcodes, {}, function, args, params.aivm_gas_limit)
            elapsed = time.perf_counter() - started
            rates.append(calls / elapsed)
            shares.append(spent[0] / elapsed)
        report[label] = {
            "calls_per_s": round(statistics.median(rates), 1),
            "host_share": round(statistics.median(shares), 4),
            "gas_per_call": gas,
        }
    return {"calls": calls, "rounds": rounds, "cases": report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--save", action="store_true")
    args = parser.parse_args()
    result = measure(args.calls, args.rounds)
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.save:
        target = Path(__file__).resolve().parent / "results" / "aivm.json"
        target.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
