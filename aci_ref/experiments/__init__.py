"""`aci-ref experiment NAME`: the paper's PoAI claims measured (§3, §6, §8.3, §8.5).

Each experiment lives in its own module and registers one `Experiment`; `EXPERIMENTS` lists them
in the order `aci-ref experiment --help` shows. Modules import their heavy dependencies (torch,
numpy, matplotlib) inside `run`, so building the command line stays fast.
"""

from __future__ import annotations

import importlib
from typing import Final

from aci_ref.experiments.base import Experiment

MODULES: Final = (
    "detection",
    "table8",
    "collusion",
    "sybil",
    "tee_attack",
    "lazy_verifier",
    "stress_attack",
    "false_positives",
)
"""The experiment modules of this package, in the order they are listed."""


def experiments() -> dict[str, Experiment]:
    """Every experiment, by command name, in the order of `MODULES`."""
    found: dict[str, Experiment] = {}
    for module_name in MODULES:
        module = importlib.import_module(f"aci_ref.experiments.{module_name}")
        experiment: Experiment = module.EXPERIMENT
        found[experiment.name] = experiment
    return found
