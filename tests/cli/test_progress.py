"""Progress without a terminal, and the JSON's units; the simulator is replaced by a stub."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aci_ref.sim.simulate
from aci_ref.cli import PlainProgress, main
from aci_ref.params import DEFAULT_PARAMS_PATH
from tests.cli.support import write_with


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_is_rate_limited() -> None:
    clock, stream = Clock(), io.StringIO()
    progress = PlainProgress(stream, every=5.0, clock=clock)
    for done, at in [(25, 100.5), (50, 104.9), (75, 105.2), (100, 106.0), (125, 110.3)]:
        clock.now = at
        progress(done, 200)
    clock.now = 111.0
    progress(200, 200)  # the end is always reported
    assert stream.getvalue().splitlines() == [
        "simulate: 75/200 jobs, 5.2 s",
        "simulate: 125/200 jobs, 10.3 s",
        "simulate: 200/200 jobs, 11.0 s",
    ]


def fake_report(config: Any) -> dict[str, Any]:
    return {
        "jobs_submitted": config.jobs,
        "conservation_ok": True,
        "config": {"jobs": config.jobs},
    }


@pytest.fixture
def stub_simulator(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Replace the run by one that reports progress twice; the list collects the configs."""
    seen: list[Any] = []

    def simulate(config: Any, progress: Callable[[int, int], None] | None = None) -> Any:
        seen.append(config)
        if progress is not None:
            progress(config.jobs // 2, config.jobs)
            progress(config.jobs, config.jobs)
        return fake_report(config)

    monkeypatch.setattr(aci_ref.sim.simulate, "simulate", simulate)
    return seen


def test_without_a_terminal_progress_is_plain_lines(
    stub_simulator: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--jobs", "40", "--json"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err and err[-1].startswith("simulate: 40/40 jobs, ")
    assert stub_simulator[0].jobs == 40


def test_quiet_prints_nothing_on_stderr(
    stub_simulator: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--jobs", "40", "--json", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_json_names_its_units_and_params_file(
    stub_simulator: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--jobs", "10", "--json", "--quiet"]) == 0
    shipped = json.loads(capsys.readouterr().out)
    assert shipped["params_file"] == str(DEFAULT_PARAMS_PATH)
    assert shipped["units"]["token_base_units"] == 1_000_000
    assert {"amounts", "verification_overhead", "fractions", "counts"} <= set(shipped["units"])
    mine = write_with(tmp_path, "token_base_units", "1000")
    assert main(["simulate", "--jobs", "10", "--json", "--quiet", "--params", str(mine)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["params_file"] == str(mine.resolve())
    assert payload["units"]["token_base_units"] == 1000
