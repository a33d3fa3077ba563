"""Every way `chain.apply` refuses an event: the rows of `aci_ref.vectors.refusals`, each on the
same prepared world, refused with exactly its code and leaving the state untouched."""

from __future__ import annotations

import pytest

from aci_ref.market.jobs import JobStatus
from aci_ref.vectors.refusal_world import prepared
from aci_ref.vectors.refusals import CASES, Case


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_event_is_refused_and_state_unchanged(case: Case) -> None:
    p = prepared()
    assert p.world.refuse(case.build(p)) is case.expected


def test_cases_have_unique_names() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))


def test_prepared_world_holds_each_state() -> None:
    p = prepared()
    statuses = {
        "settled": JobStatus.SETTLED,
        "expired": JobStatus.EXPIRED,
        "verifying": JobStatus.VERIFYING,
        "disputed": JobStatus.DISPUTED,
        "careless": JobStatus.EXECUTING,
        "executing": JobStatus.EXECUTING,
        "quoted": JobStatus.QUOTED,
        "poor_quoted": JobStatus.QUOTED,
    }
    for name, status in statuses.items():
        assert p.world.job(getattr(p, name)).status is status, name
