"""The one switch for icontract checks.

Contracts are on unless the environment sets `ACI_CONTRACTS=off` before the package is imported
(benchmarks do, to measure the core without them). Tests always run with them on. This module is
read once at import; no transition reads the environment.
"""

from __future__ import annotations

import os
from typing import Final

CONTRACTS_ON: Final = os.environ.get("ACI_CONTRACTS", "on").lower() not in {"off", "0", "false"}
