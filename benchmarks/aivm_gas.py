"""How much host time a unit of AIVM gas buys, per opcode, against a plain instruction's.

Gas should price work: an opcode whose gas buys far more host time than the same gas in plain
WebAssembly instructions is a cheap way to make validators work. This benchmark times, in this
Python host, (1) plain instructions, as the nanoseconds per unit of fuel of a loop, and (2) every
pure opcode, as the nanoseconds of one call at several sizes, each called in a WebAssembly loop so
the trampoline into Python is counted. A least-squares line per opcode gives its fixed and its
per-unit host time; divided by the nanoseconds per fuel unit, those are the base and size costs
that would price this host's time exactly. Beside them: the schedule's own costs
(`spec/parameters.toml [aivm]`), and the ratio, which says how far the schedule underprices this
host (a native host runs opcodes far faster than Python; the ratio is an upper bound on the
underpricing there). It also prints the worst host time one call at `aivm_gas_limit` can buy.

    python benchmarks/aivm_gas.py [--repeat R] [--save]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOOP = """(module
  (import "aivm" "{name}" (func $op (param {params}) {result}))
  (memory (export "memory") 16 16)
  (func (export "run") (param $n i32) {args}
    (local $i i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $op {gets}) {drop}
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))))"""


def _module(name: str, params: tuple[str, ...], results: tuple[str, ...]) -> str:
    args = " ".join(f"(param $a{i} {t})" for i, t in enumerate(params))
    gets = " ".join(f"(local.get $a{i})" for i in range(len(params)))
    result = f"(result {' '.join(results)})" if results else ""
    return LOOP.format(
        name=name,
        params=" ".join(params),
        result=result,
        args=args,
        gets=gets,
        drop="drop" if results else "",
    )


def _seconds(run: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


# opcode: (size label, [(size, args after n)]) — args are the opcode's own arguments
CASES: dict[str, tuple[str, list[tuple[int, list[int]]]]] = {
    "hash_compare": ("call", [(1, [0, 64])]),
    "storage_write": ("byte", [(n, [0, 8, 64, n]) for n in (8, 256, 2048)]),
    "storage_read": ("call", [(1, [0, 8, 64, 8])]),
    "model_hash": ("byte", [(n, [0, n, 900_000]) for n in (64, 4096, 65536)]),
    "tensor_matmul": (
        "MAC",
        [(s**3, [0, 200_000, 400_000, s, s, s]) for s in (4, 16, 32, 64, 96)],
    ),
    "tensor_softmax": ("element", [(c * 16, [0, 200_000, 16, c]) for c in (4, 64, 512)]),
    "tensor_norm": ("element", [(c * 16, [0, 200_000, 16, c]) for c in (4, 64, 512)]),
    "kl_diverge": ("element", [(c * 16, [0, 0, 200_000, 16, c]) for c in (4, 64, 512)]),
}


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    if len(points) == 1:
        return points[0][1], 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
    return max(my - slope * mx, 0.0), max(slope, 0.0)


def measure(repeat: int) -> dict[str, Any]:
    from aci_ref.aivm.bundled import bundled_contracts
    from aci_ref.aivm.opcodes import OPCODES
    from aci_ref.aivm.vm import call, load_contract
    from aci_ref.params import default_params

    params = default_params()
    demo = load_contract(params, "ledger_demo", bundled_contracts()["ledger_demo"], OPCODES)

    def spin(n: int) -> tuple[float, int]:
        gas = call(params, demo, OPCODES, {}, "spin", [n], params.aivm_gas_limit).gas_used
        t = _seconds(lambda: call(params, demo, OPCODES, {}, "spin", [n], 10**7), repeat)
        return t, gas

    (t0, g0), (t1, g1) = spin(10_000), spin(1_000_000)
    ns_per_fuel = (t1 - t0) / (g1 - g0) * 1e9
    report: dict[str, Any] = {"ns_per_fuel": round(ns_per_fuel, 4), "opcodes": {}}
    worst = ns_per_fuel
    for name, (unit, sizes) in CASES.items():
        opcode = OPCODES[name]
        contract = load_contract(
            params, f"loop_{name}", _module(name, opcode.params, opcode.results), OPCODES
        )
        points, gas_points = [], []
        for size, args in sizes:

            def run(n: int, args: list[int] = args, contract: Any = contract) -> Any:
                return call(params, contract, OPCODES, {}, "run", [n, *args], params.aivm_gas_limit)

            once = run(1).gas_used - run(0).gas_used
            calls = max(1, min(200, params.aivm_gas_limit // (2 * once)))
            gas_one = (run(calls).gas_used - run(0).gas_used) / calls
            per_call = (
                _seconds(lambda: run(calls), repeat)  # noqa: B023 (called at once)
                - _seconds(lambda: run(0), repeat)
            ) / calls
            points.append((size, per_call * 1e9))
            gas_points.append((size, gas_one))
            worst = max(worst, per_call * 1e9 / gas_one)
        base_ns, unit_ns = _fit(points)
        base_gas, unit_gas = _fit([(s, float(g)) for s, g in gas_points])
        report["opcodes"][name] = {
            "unit": unit,
            "host_ns": {"base": round(base_ns, 1), f"per_{unit}": round(unit_ns, 3)},
            "gas_pricing_this_host": {
                "base": round(base_ns / ns_per_fuel),
                f"per_{unit}": round(unit_ns / ns_per_fuel, 3),
            },
            "schedule_gas": {"base": round(base_gas, 1), f"per_{unit}": round(unit_gas, 4)},
            "underpriced_by": round(
                max(b[1] / ns_per_fuel / g[1] for b, g in zip(points, gas_points, strict=True)), 1
            ),
        }
    report["worst_ns_per_gas"] = round(worst, 3)
    report["worst_seconds_per_call_at_gas_limit"] = round(worst * params.aivm_gas_limit / 1e9, 2)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per point (median)")
    parser.add_argument(
        "--save", action="store_true", help="write benchmarks/results/aivm_gas.json"
    )
    args = parser.parse_args()
    report = measure(args.repeat)
    text = json.dumps(report, indent=2, sort_keys=True)
    print(text)
    if args.save:
        out = Path(__file__).resolve().parent / "results" / "aivm_gas.json"
        out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
