"""Algorithm 1 line 12 by example: vote admission codes, tallies, committee draws."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aci_ref.crypto import KeyPair, sha256
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params
from aci_ref.poai.votes import (
    Outcome,
    Vote,
    aggregate_votes,
    arbitration_committee,
    arbitration_verdict,
    check_vote,
    committee,
    sign_vote,
    verification_committee,
    verification_verdict,
)

JOB = b"job-1"
NAMES = ("v1", "v2", "v3")
KEYS = {name: KeyPair.from_label(f"verifier/{name}") for name in NAMES}
PUBLIC = {name: key.public for name, key in KEYS.items()}
STAKES = {"v1": 50, "v2": 30, "v3": 20}


def vote(name: str, accept: bool, job: bytes = JOB) -> Vote:
    reason = None if accept else Rejection.OUTPUT_MISMATCH
    return sign_vote(KEYS[name], job, name, accept, reason)


def refusal(votes: list[Vote], quorum_bps: int = 6667) -> Rejection:
    with pytest.raises(RejectedError) as refused:
        aggregate_votes(JOB, votes, STAKES, PUBLIC, quorum_bps)
    return refused.value.rejection


def test_tally_outcomes() -> None:
    accepted = aggregate_votes(JOB, [vote("v1", True), vote("v2", True)], STAKES, PUBLIC, 6667)
    assert (accepted.outcome, accepted.accept_stake, accepted.committee_stake) == (
        Outcome.ACCEPTED,
        80,
        100,
    )
    assert accepted.voters == ("v1", "v2")
    split = aggregate_votes(JOB, [vote("v1", True), vote("v2", False)], STAKES, PUBLIC, 6667)
    assert split.outcome is Outcome.UNDECIDED
    rejected = aggregate_votes(JOB, [vote("v1", False), vote("v3", False)], STAKES, PUBLIC, 6667)
    assert rejected.outcome is Outcome.REJECTED and rejected.reject_stake == 70
    assert aggregate_votes(JOB, [], STAKES, PUBLIC, 6667).outcome is Outcome.UNDECIDED


def test_quorum_is_over_the_committee_not_the_voters() -> None:
    lone = aggregate_votes(JOB, [vote("v1", True)], STAKES, PUBLIC, 6667)
    assert lone.outcome is Outcome.UNDECIDED  # 50 of 100 is short of 2/3
    exact = aggregate_votes(JOB, [vote("v1", True), vote("v3", True)], STAKES, PUBLIC, 7000)
    assert exact.outcome is Outcome.ACCEPTED  # 70 · 10000 ≥ 7000 · 100


def test_admission_codes() -> None:
    assert refusal([vote("v1", True), vote("v1", True)]) is Rejection.DUPLICATE_VOTE
    assert refusal([vote("v1", True), vote("v1", False)]) is Rejection.DUPLICATE_VOTE
    assert refusal([vote("v1", True, job=b"job-2")]) is Rejection.VOTE_WRONG_JOB
    outsider = sign_vote(KeyPair.from_label("x"), JOB, "x", True, None)
    assert refusal([outsider]) is Rejection.NOT_A_VERIFIER
    forged = replace(vote("v1", True), verifier="v2")  # v1's signature presented as v2's
    assert refusal([forged]) is Rejection.BAD_SIGNATURE
    flipped = replace(vote("v1", True), accept=False, reason=Rejection.OUTPUT_MISMATCH)
    assert refusal([flipped]) is Rejection.BAD_SIGNATURE
    unexplained = sign_vote(KEYS["v1"], JOB, "v1", False, None)
    assert refusal([unexplained]) is Rejection.BAD_INPUT
    assert refusal([vote("v1", True)], quorum_bps=5000) is Rejection.QUORUM_NOT_MAJORITY
    with pytest.raises(RejectedError) as refused:
        aggregate_votes(JOB, [], {"v1": -1}, PUBLIC, 6667)
    assert refused.value.rejection is Rejection.BAD_INPUT


def test_check_vote_alone() -> None:
    check_vote(vote("v2", False), JOB, PUBLIC)
    with pytest.raises(RejectedError):
        check_vote(vote("v2", False), JOB, {"v1": PUBLIC["v1"]})


def test_committee_draws() -> None:
    verifiers = {f"v{i:02d}": 10 + i for i in range(20)} | {"broke": 0}
    beacon = sha256(b"beacon")
    drawn = committee(beacon, JOB, verifiers, 5, exclude={"v03"})
    assert len(drawn) == 5 and list(drawn) == sorted(drawn)
    assert "v03" not in drawn and "broke" not in drawn
    assert drawn == committee(beacon, JOB, dict(reversed(verifiers.items())), 5, exclude={"v03"})
    arbitration = committee(beacon, JOB, verifiers, 5, exclude={"v03"}, purpose="arbitration")
    others = [committee(sha256(bytes([i])), JOB, verifiers, 5) for i in range(10)]
    assert len({drawn, arbitration, *others}) > 5  # the beacon and the purpose change the draw
    assert committee(beacon, JOB, {"a": 1, "b": 1}, 5) == ("a", "b")
    assert committee(beacon, JOB, {"a": 1}, 3, exclude=["a"]) == ()


def test_committee_is_stake_weighted() -> None:
    verifiers = {"whale": 9_000, "minnow": 1_000}
    picks = [committee(sha256(b"%d" % i), JOB, verifiers, 1)[0] for i in range(400)]
    assert 300 < picks.count("whale") < 400  # 360 expected


def test_committees_from_params() -> None:
    params = default_params()
    verifiers = {f"v{i}": 100 for i in range(10)} | {"worker": 100}
    beacon = sha256(b"block")
    checkers = verification_committee(params, beacon, JOB, verifiers, "worker")
    assert len(checkers) == params.verification_committee_size and "worker" not in checkers
    arbiters = arbitration_committee(params, beacon, JOB, verifiers, "worker", checkers[:1])
    assert len(arbiters) == params.arbitration_committee_size
    assert "worker" not in arbiters and checkers[0] not in arbiters


def test_verdicts_from_params() -> None:
    params = default_params()
    votes = [vote("v1", True), vote("v3", True)]  # 70 % of the stake
    assert verification_verdict(params, JOB, votes, STAKES).outcome is Outcome.ACCEPTED
    assert arbitration_verdict(params, JOB, votes, STAKES).outcome is Outcome.ACCEPTED
    strict = replace(params, verification_quorum_bps=7_500, arbitration_quorum_bps=7_500)
    assert verification_verdict(strict, JOB, votes, STAKES).outcome is Outcome.UNDECIDED
    assert arbitration_verdict(strict, JOB, votes, STAKES).outcome is Outcome.UNDECIDED


def test_worker_never_sits_on_its_own_verification_committee() -> None:
    params = default_params()
    size = params.verification_committee_size
    verifiers = {"worker": 10**12} | {f"v{i}": 1 for i in range(size + 1)}
    for i in range(20):
        members = verification_committee(params, sha256(b"b%d" % i), JOB, verifiers, "worker")
        assert "worker" not in members and len(members) == size
