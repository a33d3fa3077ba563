"""`aci-ref experiment lazy-verifier`: blind votes lose against planted probes; honest ones pay."""

from __future__ import annotations

import argparse
from fractions import Fraction

from aci_ref.experiments.base import no_progress
from aci_ref.experiments.lazy_verifier import EXPERIMENT


def _args(**changes: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    EXPERIMENT.add_arguments(parser)
    args = parser.parse_args([])
    for key, value in changes.items():
        setattr(args, key, value)
    return args


def test_blind_voters_lose_and_re_executing_pays() -> None:
    result = EXPERIMENT.run(
        _args(jobs=400, sampling_rate=Fraction(1, 5), auditors=6, honest_workers=6),
        no_progress,
    )
    rows = result["by_policy"]
    assert result["probes_revealed"] > 0
    assert rows["accept"]["slashed_aci"] > 0 and rows["reject"]["slashed_aci"] > 0
    assert rows["honest"]["slashed_aci"] == 0
    assert rows["honest"]["payoff_per_task_aci"] > rows["accept"]["payoff_per_task_aci"]
    assert rows["honest"]["payoff_per_task_aci"] > rows["reject"]["payoff_per_task_aci"]
    assert (
        result["expected_at_shipped"]["always_accept"] < 0 < result["expected_at_shipped"]["honest"]
    )


def test_the_run_is_deterministic() -> None:
    args = _args(jobs=120, sampling_rate=Fraction(1, 5), auditors=3, honest_workers=3)
    assert EXPERIMENT.run(args, no_progress) == EXPERIMENT.run(args, no_progress)
