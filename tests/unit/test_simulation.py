"""The simulator: deterministic, conserving, catching what the theorems say it catches."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from aci_ref.params import default_params
from aci_ref.sim.simulate import SimConfig, simulate


def test_same_seed_same_report() -> None:
    config = SimConfig(jobs=80, seed=11)
    assert simulate(config) == simulate(config)


def test_conservation_and_accounting() -> None:
    report = simulate(SimConfig(jobs=120, seed=2, sybil_workers=2))
    assert report["conservation_ok"]
    assert report["jobs_settled"] + report["jobs_refunded"] <= report["jobs_submitted"]
    assert report["detected"]["sybil"] == 2
    assert report["slashed"]["sybil"]["count"] == 2
    assert report["false_positives"] == 0
    fees = report["fees"]
    assert report["supply"]["burned"] >= fees["burned"]


def test_lazy_workers_are_always_caught_at_full_sampling() -> None:
    """A lazy worker with δ = 1 and sampling rate 1 is caught; honest workers never are."""
    params = dataclasses.replace(default_params(), sampling_rate=Fraction(1))
    config = SimConfig(
        jobs=60,
        workers=4,
        lazy_workers=2,
        careless_workers=0,
        lazy_fraction=Fraction(1),
        params=params,
        seed=5,
    )
    report = simulate(config)
    detected = report["detected"]
    assert detected["misbehaving_workers_caught"] == detected["misbehaving_workers"] == 2
    assert report["slashed"]["wrong_output"]["count"] >= 2
    assert report["false_positives"] == 0
    assert report["honest_jobs_disputed"] == 0
    assert report["conservation_ok"]


def test_careless_workers_are_caught_at_level1() -> None:
    config = SimConfig(
        jobs=60, workers=3, lazy_workers=0, careless_workers=1, lazy_fraction=Fraction(1), seed=1
    )
    report = simulate(config)
    assert report["detected"]["level1"] >= 1
    assert report["slashed"]["invalid_attestation"]["count"] >= 1
    assert report["false_positives"] == 0
