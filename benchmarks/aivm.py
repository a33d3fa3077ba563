"""AIVM contract calls per second, and the share of each call spent in host functions.

Each call is a whole `aci_ref.aivm.vm.call`: a fresh store and instance, the export, the opcodes
it imports, the journal. Host time is measured by wrapping every opcode body with a timer, so the
share is host seconds over call seconds in the same run. The contract is the bundled
`ledger_demo`: `increment` (two storage opcodes and a few instructions) and `square` at several
sizes (one TENSOR_MATMUL). The marketplace case drives `marketplace.submitJob` and `settleJob` as
CallContract events through `chain.apply` (a world, one block per job), timing only the two
events; its host share counts the opcodes, which run the chain's processors. Medians over rounds;
prints one JSON object and, with --save, writes it to benchmarks/results/aivm.json.

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
    from aci_ref.aivm.bundled import bundled_contracts
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
    report["marketplace_submit_settle"] = measure_marketplace(max(20, calls // 10), rounds)
    return {"calls": calls, "rounds": rounds, "cases": report}


def measure_marketplace(jobs: int, rounds: int) -> dict[str, Any]:
    """submitJob + settleJob as CallContract events through `chain.apply`: calls/s over `rounds`
    plain rounds, and the host share from one more round under cProfile (the time inside the
    opcode modules' public functions, which run the chain's processors)."""
    import cProfile
    import pstats

    import wasmtime

    from aci_ref.aivm.bundled import bundled_contracts
    from aci_ref.aivm.market_opcodes import MARKET_OPCODES
    from aci_ref.aivm.opcodes import OPCODES
    from aci_ref.chain import ContractCalled, apply
    from aci_ref.encoding import canonical_bytes
    from aci_ref.events import CallContract, SubmitResult
    from aci_ref.sim.world import MODEL_ID, SLA_MS, build_world, world_params

    wasm = bytes(wasmtime.wat2wasm(bundled_contracts()["marketplace"]))
    rates, shares, gas = [], [], {"submitJob": 0, "settleJob": 0}

    def timed_apply(world: Any, sender: str, body: Any, profile: Any) -> tuple[float, Any]:
        event = world.sign(sender, body)
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        world.state, effects = apply(world.state, event)
        if profile is not None:
            profile.disable()
        called = next(e for e in effects if isinstance(e, ContractCalled))
        gas[body.function] = called.gas_used
        return time.perf_counter() - started, effects

    for round_number in range(rounds + 1):
        world = build_world(world_params(), contracts=(("marketplace", wasm),))
        profiled = round_number == rounds  # the last round measures the share, the others speed
        profile = cProfile.Profile() if profiled else None
        elapsed = 0.0
        for _ in range(jobs):
            data = bytes([len(MODEL_ID)]) + MODEL_ID.encode() + world.new_input()
            body = CallContract("marketplace", "submitJob", (SLA_MS, 10**6, 10**6), data, 10**6)
            took, _ = timed_apply(world, "client-0", body, profile)
            elapsed += took
            (job_id,) = [
                bytes.fromhex(k)
                for k, j in world.state.jobs.items()
                if j.status.value == "executing"
            ]
            output, attestation = world.attestation(job_id)
            result = canonical_bytes(SubmitResult(job_id, output, attestation))
            settle = CallContract("marketplace", "settleJob", (), result, 10**6)
            took, _ = timed_apply(world, world.job(job_id).worker, settle, profile)
            elapsed += took
            world.seal()
        if profile is None:
            rates.append(2 * jobs / elapsed)
            continue
        stats = pstats.Stats(profile)
        host = 0.0
        bodies = {op.body.__name__ for op in (*OPCODES.values(), *MARKET_OPCODES.values())}
        for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
            # only opcode bodies (never helpers they call, whose time is already inside)
            if filename.endswith(("aivm/opcodes.py", "aivm/market_opcodes.py")) and name in bodies:
                host += row[3]  # cumulative time of an opcode body
        shares.append(host / elapsed)
    return {
        "calls_per_s": round(statistics.median(rates), 1),
        "host_share": round(statistics.median(shares), 4),
        "gas_submit_job": gas["submitJob"],
        "gas_settle_job": gas["settleJob"],
        "jobs_per_round": jobs,
        "note": "speed from unprofiled rounds; host share from one round under cProfile",
    }


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
