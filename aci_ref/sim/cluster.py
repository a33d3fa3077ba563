"""A committee of validators around one genesis: keys, stakes and beacon shares from a label.

Everything is derived from the label, so the same arguments give the same cluster byte for byte.
The beacon's genesis dealer is simulated here: its seed is a hash of the label, which is fine for
a simulation and exactly what a real deployment must not do (spec/consensus.md, BEACON).
"""

from __future__ import annotations

from dataclasses import dataclass

from aci_ref.chain.state import ChainState
from aci_ref.consensus.beacon import BeaconKeys, deal, threshold_for
from aci_ref.consensus.committee import Committee, Validator
from aci_ref.consensus.io import Program
from aci_ref.consensus.validator import ValidatorConfig, ValidatorState, validator_program
from aci_ref.crypto import KeyPair, sha256
from aci_ref.params import Params


def validator_names(n: int) -> tuple[str, ...]:
    """v01, v02, …: names that sort in committee order for up to 99 validators."""
    return tuple(f"v{i:02d}" for i in range(1, n + 1))


@dataclass(frozen=True)
class Cluster:
    """The committee, each validator's setup, and the beacon's public keys."""

    committee: Committee
    configs: dict[str, ValidatorConfig]
    beacon_keys: BeaconKeys

    @property
    def names(self) -> tuple[str, ...]:
        """The validators' names in committee order."""
        return self.committee.names

    def program(self, name: str) -> Program[ValidatorState]:
        """Validator `name`'s machine."""
        return validator_program(self.configs[name])

    def programs(self) -> dict[str, Program[ValidatorState]]:
        """Every validator's machine, by name."""
        return {name: self.program(name) for name in self.names}


def build_cluster(
    genesis: ChainState,
    params: Params,
    n: int,
    *,
    label: str = "cluster",
    leaders: tuple[str, ...] | None = None,
) -> Cluster:
    """`n` validators of equal stake over `genesis`, with a dealt 2f + 1 beacon."""
    names = validator_names(n)
    keys = {name: KeyPair.from_label(f"{label}/validator/{name}") for name in names}
    committee = Committee(tuple(Validator(name, keys[name].public, 1) for name in names))
    beacon_keys, secrets = deal(names, threshold_for(n), sha256(f"{label}/dealer".encode()))
    configs = {
        name: ValidatorConfig(
            committee=committee,
            name=name,
            key=keys[name],
            params=params,
            beacon_keys=beacon_keys,
            beacon_secret=secrets[name],
            genesis=genesis,
            leaders=leaders,
        )
        for name in names
    }
    return Cluster(committee, configs, beacon_keys)
