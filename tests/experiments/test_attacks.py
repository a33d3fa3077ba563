"""The chain-level attack experiments (collusion, sybil, tee-attack, stress-attack), run small."""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from pathlib import Path

from rich.console import Console

from aci_ref.experiments import collusion, stress_attack, sybil, tee_attack
from aci_ref.experiments.base import Experiment, no_progress
from aci_ref.params import default_params


def _args(experiment: Experiment, **changes: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    experiment.add_arguments(parser)
    args = parser.parse_args([])
    for key, value in changes.items():
        setattr(args, key, value)
    return args


def _shows(experiment: Experiment, result: dict[str, object]) -> str:
    json.dumps(result)  # JSON-able
    console = Console(record=True, width=200)
    console.print(experiment.render(result))
    return console.export_text()


def test_collusion_every_sampled_colluder_is_caught_unless_verifiers_hold_a_quorum() -> None:
    experiment = collusion.EXPERIMENT
    args = _args(
        experiment,
        colluders=2,
        honest=1,
        delta=Fraction(1),
        epoch_jobs=2,
        epochs=2,
        verifiers=7,
        colluding_verifiers="0,3",
        sampling_rate=Fraction(1),
        seeds=1,
    )
    result = experiment.run(args, no_progress)
    honest, blocking = result["variants"]
    assert honest["colluders_caught"] == honest["colluder_runs"] == 2
    assert honest["caught_by_epoch"][0] == 1.0
    assert honest["stake_lost"] > honest["savings"] > 0
    assert honest["escaped_holding_committee"] == honest["committee_held"] == 0
    # Three of seven colluding verifiers hold the one-member committee or block arbitration.
    assert blocking["colluders_caught"] == 0
    assert blocking["committee_held"] + blocking["unresolved"] == blocking["sampled_wrong_jobs"]
    for variant in result["variants"]:
        assert variant["honest_workers_slashed"] == variant["honest_verifiers_slashed"] == 0
    assert result["theorem3"]["condition_holds"] is True
    assert "Theorem 3" in _shows(experiment, result)


def test_sybil_one_platform_buys_nothing_and_distinct_platforms_cost_theorem_4() -> None:
    experiment = sybil.EXPERIMENT
    result = experiment.run(_args(experiment, identities=3, honest=2, probe_blocks=1), no_progress)
    last = result["rows"][-1]
    one, distinct = last["one_platform"], last["distinct_platforms"]
    assert one["registered"] == 2 and one["refused"] == ["worker_banned"]
    assert one["slashed_identities"] == 2 and one["capacity_share"] == 0.0
    assert one["probe_jobs_won"] == 0
    assert distinct["cost"] == last["theorem4_bound"] == last["proofs_stake_distinct"]
    assert distinct["capacity_share"] == last["fraction"] == 3 / 5
    assert last["merged"]["cost"] == last["proofs_stake_merged"] < last["theorem4_bound"]
    assert all(row[c]["honest_slashed"] == 0 for row in result["rows"] for c in sybil.CASES)
    assert "probe" in _shows(experiment, result)


def test_tee_attack_forgeries_pass_level1_and_are_caught_when_sampled() -> None:
    experiment = tee_attack.EXPERIMENT
    args = _args(
        experiment,
        attackers=2,
        honest=1,
        epoch_jobs=2,
        epochs=2,
        seeds=1,
        sampling_rate=Fraction(1),
    )
    result = experiment.run(args, no_progress)
    assert result["forged_results"] == result["passed_level1"] > 0
    assert result["attackers_caught"] == result["attacker_runs"] == 2
    assert result["caught_by_epoch"] == [1.0, 1.0] and result["honest_slashed"] == 0
    shipped = experiment.run(
        _args(experiment, attackers=1, honest=1, epoch_jobs=2, epochs=1, seeds=1), no_progress
    )
    assert shipped["config"]["sampling_rate"] == "3/1000"
    assert shipped["theorem2_by_epoch"][0] < 0.01
    assert "Theorem 2" in _shows(experiment, result)


def test_stress_attack_both_readings_and_the_rate_the_paper_needs() -> None:
    experiment = stress_attack.EXPERIMENT
    args = _args(
        experiment,
        colluders=3,
        honest=2,
        jobs_per_worker=2,
        seeds=1,
        sampling_rate=Fraction(1),
        max_epochs=3,
    )
    result = experiment.run(args, no_progress)
    invalid, forged = result["cases"]["invalid"], result["cases"]["forged"]
    assert invalid["epochs_until_all"] == forged["epochs_until_all"] == [1]
    assert invalid["slashes"]["invalid_attestation"] == 3 and invalid["level1_refused"] >= 3
    assert forged["slashes"] == {"wrong_output": 3} and forged["level1_refused"] == 0
    assert invalid["honest_slashed"] == forged["honest_slashed"] == 0
    shipped = result["analytic_shipped"]
    assert shipped["all_within_target"] < 0.5 < result["analytic_run"]["all_within_target"]
    for probability, rate in result["rate_for_target"].items():
        met = stress_attack.all_caught_summary(default_params(), Fraction(rate), 2, 3, 4)[
            "all_within_target"
        ]
        assert abs(met - float(probability)) < 1e-6
    assert "analytically" in _shows(experiment, result)


def test_attack_plots_are_written(tmp_path: Path) -> None:
    small: dict[Experiment, dict[str, object]] = {
        sybil.EXPERIMENT: {"identities": 2, "honest": 1, "probe_blocks": 1},
        stress_attack.EXPERIMENT: {
            "colluders": 2,
            "honest": 1,
            "jobs_per_worker": 1,
            "seeds": 1,
            "sampling_rate": Fraction(1),
            "max_epochs": 2,
        },
    }
    for experiment, changes in small.items():
        result = experiment.run(_args(experiment, **changes), no_progress)
        assert experiment.plot is not None
        (path,) = experiment.plot(result, tmp_path)
        assert path.exists() and path.stat().st_size > 0


def test_attack_runs_are_deterministic() -> None:
    experiment = tee_attack.EXPERIMENT
    args = _args(experiment, attackers=1, honest=1, epoch_jobs=3, epochs=2, seeds=2)
    args.sampling_rate = Fraction(1, 3)
    assert experiment.run(args, no_progress) == experiment.run(args, no_progress)
