"""The CLI's copy of the simulator's funding and clock (checked before torch loads) is exact."""

from __future__ import annotations

import dataclasses

import pytest

from aci_ref.cli import block_interval_ms, genesis_supply
from aci_ref.params import default_params
from aci_ref.sim.simulate import SimConfig, Simulation


@pytest.mark.parametrize(
    ("clients", "verifiers", "workers", "sybils", "jobs", "epochs"),
    [(8, 5, 8, 2, 2000, 10), (1, 2, 1, 0, 1, 1), (3, 7, 4, 3, 26, 1000)],
)
def test_cli_limits_match_the_simulation(
    clients: int, verifiers: int, workers: int, sybils: int, jobs: int, epochs: int
) -> None:
    params = dataclasses.replace(default_params(), worker_stake_per_capacity_unit=700)
    config = SimConfig(
        jobs=jobs,
        workers=workers,
        lazy_workers=0,
        careless_workers=0,
        sybil_workers=sybils,
        clients=clients,
        verifiers=verifiers,
        epochs=epochs,
        params=params,
    )
    simulation = Simulation(config)
    total = workers + sybils
    supply = genesis_supply(params, clients=clients, verifiers=verifiers, workers=total)
    assert supply == simulation.initial_supply
    assert block_interval_ms(params, jobs=jobs, epochs=epochs)[1] == simulation.block_ms
