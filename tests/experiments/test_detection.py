"""`aci-ref experiment detection`: the sampled detection rate agrees with Theorems 1–2."""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path
from statistics import NormalDist
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aci_ref.experiments.base import wilson_interval
from aci_ref.experiments.detection import EXPERIMENT, paper_check, rate_argument

# 99.99 % over a whole deep run (2000 examples × up to 5 epochs), Bonferroni: no profile flakes.
Z_WIDE = NormalDist().inv_cdf(1 - 1e-4 / 2 / 10_000)


def run(*options: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    EXPERIMENT.add_arguments(parser)
    result: dict[str, Any] = EXPERIMENT.run(parser.parse_args(list(options)), lambda d, t: None)
    return result


def small(alpha: Fraction, jobs: int, wrong: int, epochs: int, seed: int) -> list[str]:
    return [
        f"--sampling-rate={alpha}",
        f"--lazy-fraction={Fraction(wrong, jobs)}",
        f"--epoch-jobs={jobs}",
        f"--epochs={epochs}",
        "--trials=300",
        f"--seed={seed}",
        "--deltas=",
    ]


@given(
    alpha=st.sampled_from([Fraction(1, 100), Fraction(1, 50), Fraction(1, 20), Fraction(1, 5)]),
    jobs=st.integers(10, 200),
    wrong=st.integers(1, 10),
    epochs=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_theorem_within_a_wide_interval_of_the_sampled_rate(
    alpha: Fraction, jobs: int, wrong: int, epochs: int, seed: int
) -> None:
    result = run(*small(alpha, jobs, wrong, epochs, seed))
    assert result["config"]["deviating_jobs_per_epoch"] == wrong
    rows = result["by_epoch"]
    assert [row["epoch"] for row in rows] == list(range(1, epochs + 1))
    for row in rows:
        low, high = wilson_interval(row["detected"], result["trials"], z=Z_WIDE)
        assert low <= row["theorem"] <= high, row
    detected = [row["detected"] for row in rows]
    assert detected == sorted(detected)
    assert [row["theorem"] for row in rows] == sorted(row["theorem"] for row in rows)
    assert result["empirical"] == rows[-1]["empirical"] == detected[-1] / 300


def test_same_seed_same_result_other_seed_other_draws() -> None:
    options = small(Fraction(1, 5), 50, 3, 5, 7)
    first, again = run(*options), run(*options)
    assert first == again
    other = run(*small(Fraction(1, 5), 50, 3, 5, 8))
    assert [r["detected"] for r in other["by_epoch"]] != [r["detected"] for r in first["by_epoch"]]


def test_plot_curves_share_draws_and_are_monotone_in_delta(tmp_path: Path) -> None:
    result = run(
        "--sampling-rate=1/20", "--epoch-jobs=100", "--epochs=4", "--trials=200",
        "--lazy-fraction=1/50", "--deltas=1/100,1/50,1/10",
    )  # fmt: skip
    curves = result["curves"]
    assert list(curves) == ["1/100", "1/50", "1/10"]
    assert curves["1/50"] == result["by_epoch"]
    for t in range(4):  # common draws: a larger δ is detected whenever a smaller one is
        counts = [curves[d][t]["detected"] for d in ("1/100", "1/50", "1/10")]
        assert counts == sorted(counts)
    assert EXPERIMENT.plot is not None
    (path,) = EXPERIMENT.plot(result, tmp_path)
    assert path == tmp_path / "detection.png" and path.stat().st_size > 0


def test_paper_number_and_rate_parsing() -> None:
    check = paper_check()
    assert check["theorem_4_places"] == "0.9504" and check["paper_printed"] == 0.953
    assert "0.9504" in check["statement"]
    assert rate_argument("0.003") == rate_argument("3/1000") == Fraction(3, 1000)
