"""ref: proofs — the registry: every check, in the order a reader meets the paper's statements.

`CHECKS` is the one list `proofs.report.run_checks` runs. Each entry takes a `Params` and returns
a `CheckResult`; the must-hold checks are the parameter checker, the others test the paper's
printed claims (see `docs/proofs.md`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aci_ref.params import Params
from proofs.economics import check_fee_shares, check_slash_shares, check_unbonding
from proofs.proposition5 import check_inequality5, check_proposition5, check_sufficient_condition
from proofs.result import CheckResult
from proofs.theorem1 import check_theorem1
from proofs.theorem2 import check_theorem2
from proofs.theorem3 import check_stake_multiple, check_theorem3
from proofs.theorem4 import check_theorem4
from proofs.verifier import check_verifier_incentive

Check = Callable[[Params], CheckResult]

CHECKS: Final[tuple[Check, ...]] = (
    check_theorem1,
    check_theorem2,
    check_theorem3,
    check_stake_multiple,
    check_theorem4,
    check_proposition5,
    check_inequality5,
    check_sufficient_condition,
    check_verifier_incentive,
    check_fee_shares,
    check_slash_shares,
    check_unbonding,
)
"""Every check of `proofs/`, run in this order."""
