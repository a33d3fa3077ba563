"""Shared test setup: Hypothesis profiles (`ci` by default, `deep` via ACI_HYPOTHESIS_PROFILE)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

# Idle OpenMP threads spin at every barrier; on a loaded 2-core machine that makes two-thread
# model runs ten times slower. Set before any test imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("ACI_HYPOTHESIS_PROFILE", "ci"))

assert os.environ.get("ACI_CONTRACTS", "on") != "off", "tests always run with contracts on"

if parameters_file := os.environ.get("ACI_PARAMS"):
    # `aci-ref verify-protocol --params FILE`: every default_params() in the suites reads FILE.
    import aci_ref.params

    aci_ref.params.DEFAULT_PARAMS_PATH = Path(parameters_file).resolve()  # type: ignore[misc]
    aci_ref.params.default_params.cache_clear()
