"""The summary tables say their units and what each row counts."""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.console import Console

from aci_ref.params import default_params
from aci_ref.sim.report import VIOLATIONS, render_summary


def report() -> dict[str, Any]:
    """A report shaped like `Simulation.report()`'s, with round numbers."""
    return {
        "jobs_submitted": 2000,
        "jobs_settled": 1998,
        "jobs_disputed": 0,
        "jobs_timed_out": 2,
        "jobs_refunded": 2,
        "sampled": 4,
        "detected": {
            "level1": 2,
            "level2": 0,
            "level3": 0,
            "sybil": 2,
            "lazy_jobs": 68,
            "lazy_jobs_caught": 2,
            "misbehaving_workers": 5,
            "misbehaving_workers_caught": 3,
        },
        "slashed": {v: {"count": 1, "amount": 24_000_000_000} for v in VIOLATIONS},
        "false_positives": 0,
        "honest_jobs_disputed": 0,
        "fees": {"worker": 8_000_000, "validators": 800_000, "verifiers": 500_000, "lps": 400_000,
                 "burned": 300_000},
        "supply": {"initial": 10**13, "final": 10**13, "burned": 300_000, "circulating": 0},
        "conservation_ok": True,
        "verification_overhead": 0.004936,
    }  # fmt: skip


def text(rendered: object) -> str:
    console = Console(width=200, record=True)
    console.print(rendered)
    return " ".join(console.export_text().split())


def test_rows_say_what_they_count() -> None:
    out = text(render_summary(report(), default_params()))
    assert "68 faked, 2 caught" in out
    assert "expected ≈ α × lazy jobs = 0.2" in out
    assert "expected ≈ α × submitted = 6.0" in out
    assert "5 in all, 3 caught" in out
    assert "honest workers slashed" in out and "(should be 0)" in out
    assert "α = 0.3 %" in out


def test_amounts_are_labelled_and_scaled_by_the_base_unit() -> None:
    out = text(render_summary(report(), default_params()))
    assert "amounts in ACI; 1 ACI = 1,000,000 base units" in out
    assert "24,000.00" in out and "8.00" in out
    assert "80 % of each settled job's price" in out
    assert "50 % of stake" in out and "5 % of stake per epoch" in out
    finer = dataclasses.replace(default_params(), token_base_units=10**9)
    out = text(render_summary(report(), finer))
    assert "1 ACI = 1,000,000,000 base units" in out and "24.00" in out
