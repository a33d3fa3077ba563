"""What the oracle costs: generating the vector tree, replaying it, fuzzing, and the Node checker.

Prints one JSON object: cases per runner, the tree's size, the generation time (median of
`--repeat` runs, in this process: imports and the cached worlds are warm after the first), the
time `aci-ref diff` takes to replay every vector against `aci-ref serve-oracle` (a subprocess),
the fuzzer's programs per second against it, and the Node checker's time (when Node is present).

    python benchmarks/vectors.py [--repeat R] [--save]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ORACLE = f"{sys.executable} -m aci_ref.cli serve-oracle"


def measure(repeat: int) -> dict[str, Any]:
    from aci_ref.vectors.diff import Implementation, replay_tree
    from aci_ref.vectors.fuzz import fuzz
    from aci_ref.vectors.generate import generate

    with tempfile.TemporaryDirectory() as scratch:
        times = []
        first = time.perf_counter()
        manifest = generate(Path(scratch) / "tree-0")
        cold = time.perf_counter() - first
        for i in range(repeat):
            started = time.perf_counter()
            generate(Path(scratch) / f"tree-{i + 1}")
            times.append(time.perf_counter() - started)
        tree = Path(scratch) / "tree-0"
        files = [p for p in tree.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        with Implementation(ORACLE) as impl:
            impl.request({"op": "hello"})
            started = time.perf_counter()
            ran, found = replay_tree(impl, tree, stop_at_first=False)
            replay = time.perf_counter() - started
            started = time.perf_counter()
            result = fuzz(impl, 200)
            fuzzing = time.perf_counter() - started
        node = shutil.which("node")
        checker = None
        if node is not None and (ROOT / "tools/checker/node_modules/cborg").is_dir():
            started = time.perf_counter()
            done = subprocess.run(
                [node, str(ROOT / "tools/checker/check.mjs"), str(tree), "--strict-known"],
                capture_output=True,
                check=False,
            )
            took = round(time.perf_counter() - started, 2)
            checker = {"ok": done.returncode == 0, "seconds": took}
    return {
        "cases": len(manifest["cases"]),
        "cases_per_runner": manifest["counts"],
        "tree_files": len(files),
        "tree_bytes": size,
        "generate_seconds_cold": round(cold, 2),
        "generate_seconds_median": round(statistics.median(times), 2),
        "replay_seconds": round(replay, 2),
        "replayed": ran,
        "diverged": len(found),
        "fuzz_programs": result.examples,
        "fuzz_programs_per_second": round(result.examples / fuzzing, 1),
        "node_checker": checker,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/vectors.json")
    args = parser.parse_args()
    figures = measure(args.repeat)
    text = json.dumps(figures, indent=2, sort_keys=True)
    print(text)
    if args.save:
        (ROOT / "benchmarks" / "results" / "vectors.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
