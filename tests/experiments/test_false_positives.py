"""`aci-ref experiment false-positives`, run on a handful of inputs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from aci_ref.cli import USAGE_EXIT, build_parser, main
from aci_ref.experiments.base import Result
from aci_ref.experiments.false_positives import DEFAULT_INPUTS, EXPERIMENT, MATCHERS, VARIATIONS

INPUTS = 2


@pytest.fixture(scope="module")
def outcome() -> tuple[Result, list[tuple[int, int]]]:
    reports: list[tuple[int, int]] = []
    args = argparse.Namespace(inputs=INPUTS, seed=7)
    return EXPERIMENT.run(args, lambda done, total: reports.append((done, total))), reports


def rows(result: Result, key: str, **match: str) -> list[dict[str, Any]]:
    return [row for row in result[key] if all(row[k] == v for k, v in match.items())]


def test_progress_counts_every_input(outcome: tuple[Result, list[tuple[int, int]]]) -> None:
    _, reports = outcome
    assert reports == [(done, 2 * INPUTS) for done in range(1, 2 * INPUTS + 1)]


def test_honest_runs_pass_the_tolerant_matchers_with_headroom(
    outcome: tuple[Result, list[tuple[int, int]]],
) -> None:
    result, _ = outcome
    assert len(result["honest"]) == len(MATCHERS) * len(VARIATIONS)
    for row in result["honest"]:
        assert row["trials"] == INPUTS
        low, high = row["wilson95"]
        assert 0 <= low <= row["rate"] + 1e-12 and row["rate"] <= high <= 1  # float rounding
        if row["matcher"] == "exact":
            assert row["max_ratio"] is None
            continue
        assert row["refused"] == 0 and row["rate"] == 0.0
        assert len(row["ratio_sample"]) == INPUTS and row["max_ratio"] < 1
        assert row["headroom"] is None or row["headroom"] > 1
    for _, model_id in MATCHERS:
        identical = rows(
            result, "honest", matcher="exact", workload=model_id, variation="identical"
        )
        assert identical[0]["refused"] == 0  # the very same run hashes the same
    # the exact hash is what tolerances are for: some honest variation breaks it
    assert any(row["refused"] for row in rows(result, "honest", matcher="exact"))


def test_every_subtle_tampering_is_judged_as_expected(
    outcome: tuple[Result, list[tuple[int, int]]],
) -> None:
    result, _ = outcome
    found = {(row["workload"], row["tampering"], row["side"]) for row in result["tampering"]}
    assert found == {
        ("mlp-64-128-16", "nudge", "above"),
        ("mlp-64-128-16", "nudge", "within"),
        ("mlp-64-128-16", "cached", "outside"),
        ("charlm-d32-l2", "nudge", "above"),
        ("charlm-d32-l2", "nudge", "within"),
        ("charlm-d32-l2", "swap", "outside"),
        ("charlm-d32-l2", "cached", "outside"),
    }
    for row in result["tampering"]:
        assert row["trials"] == INPUTS * len(VARIATIONS)
        assert row["rate"] == (0.0 if row["expected"] == "accept" else 1.0), row
        if row["tampering"] == "nudge":
            side = 1 if row["side"] == "above" else -1
            assert side * (row["min_ratio"] - 1) > 0 and side * (row["max_ratio"] - 1) > 0
    assert rows(result, "tampering", tampering="swap")[0]["rules"] == {
        "tokens": INPUTS * len(VARIATIONS)
    }


def test_result_is_json_and_renders(outcome: tuple[Result, list[tuple[int, int]]]) -> None:
    result, _ = outcome
    assert json.loads(json.dumps(result)) == result
    console = Console(record=True, width=160)
    console.print(EXPERIMENT.render(result))
    text = console.export_text()
    assert "Honest re-execution refused" in text and "swap" in text


def test_plot_writes_the_figure(
    outcome: tuple[Result, list[tuple[int, int]]], tmp_path: Path
) -> None:
    assert EXPERIMENT.plot is not None
    paths = EXPERIMENT.plot(outcome[0], tmp_path)
    assert [path.name for path in paths] == ["false_positives.png"]
    assert paths[0].stat().st_size > 0


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    parsed = build_parser().parse_args(["experiment", "false-positives", "--seed", "3"])
    assert (parsed.inputs, parsed.seed, parsed.experiment_object) == (DEFAULT_INPUTS, 3, EXPERIMENT)
    assert main(["experiment", "false-positives", "--inputs", "0"]) == USAGE_EXIT
    assert "0 is below 1" in capsys.readouterr().err
