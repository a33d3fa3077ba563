"""Algorithm 1 as data: the transition table is closed, reaches every state, and is enforced."""

from __future__ import annotations

import pytest

from aci_ref.crypto import sha256
from aci_ref.errors import RejectedError, Rejection
from aci_ref.market.jobs import (
    FINAL_STATES,
    TRANSITIONS,
    Job,
    JobSpec,
    JobStatus,
    advance,
    timeout_deadline,
)
from aci_ref.params import default_params


def job(status: JobStatus) -> Job:
    spec = JobSpec("mlp", b"x", sha256(b"x"), 1000, 10)
    return Job(b"\x01" * 32, "client", spec, status, "cpu-small", 1)


def test_every_state_is_reachable_from_submitted() -> None:
    seen = {JobStatus.SUBMITTED}
    frontier = [JobStatus.SUBMITTED]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(JobStatus)


def test_every_path_ends_in_a_final_state() -> None:
    assert FINAL_STATES == {JobStatus.SETTLED, JobStatus.REFUNDED, JobStatus.EXPIRED}
    for state, nexts in TRANSITIONS.items():
        assert state in FINAL_STATES or nexts


@pytest.mark.parametrize("start", list(JobStatus))
def test_only_listed_transitions_are_allowed(start: JobStatus) -> None:
    before = job(start)
    for target in JobStatus:
        if target in TRANSITIONS[start]:
            after = advance(before, target)
            assert after.status is target and after.history[-1] is start
        else:
            with pytest.raises(RejectedError) as caught:
                advance(before, target)
            assert caught.value.rejection is Rejection.ILLEGAL_TRANSITION
    assert before.status is start


def test_timeout_is_sla_multiple() -> None:
    params = default_params()
    assert timeout_deadline(params, 5_000, 1_000) == 5_000 + params.timeout_sla_multiple * 1_000
