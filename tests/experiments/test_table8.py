"""`aci-ref experiment table8` at small scale: its counts are consistent and reproducible."""

from __future__ import annotations

import argparse
import math
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

from aci_ref.experiments.table8 import EXPERIMENT

SMALL = [
    "--jobs=20000",
    "--sampling-rate=1/20",
    "--faults=10",
    "--fault-workers=3",
    "--workers=50",
    "--epochs=20",
    "--burst-epochs=5",
    "--escalate-epochs=5",
    "--lookback-epochs=5",
]


def run(*options: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    EXPERIMENT.add_arguments(parser)
    result: dict[str, Any] = EXPERIMENT.run(parser.parse_args(list(options)), lambda d, t: None)
    return result


@cache
def half_careless() -> dict[str, Any]:
    return run(*SMALL, "--careless-share=1/2")


def test_counts_are_consistent() -> None:
    result = half_careless()
    uniform, escalate = result["policies"]["uniform"], result["policies"]["escalate"]
    alpha, jobs, faults = Fraction(1, 20), 20_000, 10
    sd = math.sqrt(jobs * alpha * (1 - alpha))
    assert abs(uniform["jobs_sampled"] - jobs * alpha) <= 6 * sd
    careless = result["config"]["careless_faults"]
    assert careless == 5 and result["config"]["faults"] == faults
    for policy in (uniform, escalate):
        assert policy["caught"] <= faults
        assert policy["caught"] == policy["caught_level1"] + policy["caught_level2"]
        assert policy["caught_level1"] == careless  # Level 1 refuses every careless fault
        within = policy["caught_within_k"]
        assert within == sorted(within) and within[-1] <= policy["caught"]
        assert policy["caught_within_5"] <= policy["caught_within_10"]
        assert policy["false_positives"] == 0  # honest variants and threads stay within ε_num
        assert policy["overhead"] == policy["reexecutions"] / jobs  # one model: FLOPs ∝ jobs
    assert uniform["extra_reexecutions"] == 0
    assert uniform["jobs_sampled"] == escalate["jobs_sampled"]
    assert escalate["reexecutions"] >= uniform["reexecutions"]
    assert escalate["caught"] >= uniform["caught"]
    assert escalate["caught_level2"] > 0  # re-auditing after a Level-1 catch finds careful faults
    assert result["analytic"]["expected_caught_by_sampling"] == faults * alpha
    assert result["analytic"]["expected_caught_uniform"] == careless + (faults - careless) * alpha


def test_same_seed_same_json_except_timing() -> None:
    first, again = dict(half_careless()), run(*SMALL, "--careless-share=1/2")
    first.pop("timing_s")
    again.pop("timing_s")
    assert first == again
    other = run(*SMALL, "--careless-share=1/2", "--seed=1")
    assert other["faults"] != first["faults"]


def test_all_careful_faults_need_reexecution() -> None:
    result = run(*SMALL)
    for policy in result["policies"].values():
        assert policy["caught_level1"] == 0
        assert policy["caught"] == policy["caught_level2"] <= policy["reexecutions"]
    assert {fault["mode"] for fault in result["faults"]} == {"random", "cached"}


def test_both_models_and_the_plot(tmp_path: Path) -> None:
    result = run(
        "--jobs=1500", "--sampling-rate=1/50", "--faults=4", "--fault-workers=2", "--workers=20",
        "--epochs=10", "--models=both", "--careless-share=1",
    )  # fmt: skip
    assert sorted(result["honest_max_measure"]) == ["charlm-d32-l2", "mlp-64-128-16"]
    uniform = result["policies"]["uniform"]
    assert uniform["false_positives"] == 0 and uniform["caught_level1"] == 4
    assert result["honest_mismatches"] == {}
    assert uniform["overhead"] > uniform["reexecutions"] / 1500  # charlm jobs cost more FLOPs
    assert EXPERIMENT.plot is not None
    (path,) = EXPERIMENT.plot(result, tmp_path)
    # A run with careless faults is named for its share, so it never overwrites the default figure.
    assert path == tmp_path / "table8-careless-1.png" and path.stat().st_size > 0
