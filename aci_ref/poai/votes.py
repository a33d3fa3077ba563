"""Verification votes (Algorithm 1 line 12) and the beacon-drawn committees that cast them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from aci_ref.crypto import KeyPair, beacon_draw_int, verify_signature
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import BPS, Params

VOTE_DOMAIN: Final = "aci-ref/poai/vote"
COMMITTEE_DOMAIN: Final = "aci-ref/poai/committee"


@dataclass(frozen=True, slots=True)
class Vote:
    """Algorithm 1 line 12 (one vote): a committee verifier's signed verdict on one job.

    `reason` is None for an accepting vote and the refusal code for a rejecting one; `signature`
    is the verifier's Ed25519 signature of `signed_bytes()`.
    """

    job_id: bytes
    verifier: str
    accept: bool
    reason: Rejection | None
    signature: bytes

    def signed_bytes(self) -> bytes:
        """The domain-tagged canonical bytes the verifier signs."""
        return vote_bytes(self.job_id, self.verifier, self.accept, self.reason)


def vote_bytes(job_id: bytes, verifier: str, accept: bool, reason: Rejection | None) -> bytes:
    """Algorithm 1 line 12 (statement): canonical {accept, domain, job_id, reason, verifier}."""
    return canonical_bytes(
        {
            "accept": accept,
            "domain": VOTE_DOMAIN,
            "job_id": job_id,
            "reason": reason,
            "verifier": verifier,
        }
    )


def sign_vote(
    key: KeyPair, job_id: bytes, verifier: str, accept: bool, reason: Rejection | None
) -> Vote:
    """Algorithm 1 line 12 (casting): `verifier` signs its verdict with `key`."""
    return Vote(
        job_id, verifier, accept, reason, key.sign(vote_bytes(job_id, verifier, accept, reason))
    )


def check_vote(vote: Vote, job_id: bytes, keys: Mapping[str, bytes]) -> None:
    """Algorithm 1 line 12 (admission): refuse a vote the tally must not count.

    `keys` maps each committee member to its public key. Refuses with `vote_wrong_job` (another
    job), `not_a_verifier` (not on the committee), `bad_input` (an accepting vote with a reason, or
    a rejecting vote without one) and `bad_signature`.
    """
    if vote.job_id != job_id:
        raise RejectedError(Rejection.VOTE_WRONG_JOB, vote.job_id.hex()[:16])
    if vote.verifier not in keys:
        raise RejectedError(Rejection.NOT_A_VERIFIER, vote.verifier)
    if vote.accept != (vote.reason is None):
        raise RejectedError(Rejection.BAD_INPUT, "accept votes carry no reason, rejections one")
    if not verify_signature(keys[vote.verifier], vote.signed_bytes(), vote.signature):
        raise RejectedError(Rejection.BAD_SIGNATURE, f"vote of {vote.verifier}")


class Outcome(StrEnum):
    """Algorithm 1 line 12 (outcome): where the stake-weighted tally stands."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNDECIDED = "undecided"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Algorithm 1 line 12 (result): the tally of a job's committee votes.

    Stakes are summed over the committee (`committee_stake`), the verifiers who voted to accept
    (`accept_stake`) and to reject (`reject_stake`); `voters` is sorted.
    """

    job_id: bytes
    outcome: Outcome
    accept_stake: int
    reject_stake: int
    committee_stake: int
    voters: tuple[str, ...]


def tally_votes(
    job_id: bytes, votes: Sequence[Vote], stakes: Mapping[str, int], quorum_bps: int
) -> Verdict:
    """Algorithm 1 line 12: aggregate admitted verification votes, stake-weighted, one per voter.

    The committee is the key set of `stakes` (each member's stake, as drawn); every vote must
    already have passed `check_vote` (a chain admits each vote once, when it arrives). A vote
    from outside the committee is refused with `not_a_verifier`, a second vote by the same
    verifier with `duplicate_vote`. With S the committee's total stake, the job is ACCEPTED when
    accept_stake · 10000 ≥ quorum_bps · S, REJECTED when reject_stake · 10000 ≥ quorum_bps · S,
    UNDECIDED otherwise (wait for more votes or the deadline). Refuses a quorum of at most
    5000 bps with `quorum_not_majority` (both sides could win) and a negative stake with
    `bad_input`. The tally is over the committee's stake, not the voters', so a lone voter
    cannot decide for a silent committee.
    """
    if quorum_bps <= BPS // 2 or quorum_bps > BPS:
        raise RejectedError(Rejection.QUORUM_NOT_MAJORITY, f"{quorum_bps} bps")
    if any(stake < 0 for stake in stakes.values()):
        raise RejectedError(Rejection.BAD_INPUT, "negative stake")
    seen: set[str] = set()
    accept_stake = reject_stake = 0
    for vote in votes:
        if vote.job_id != job_id:
            raise RejectedError(Rejection.VOTE_WRONG_JOB, vote.job_id.hex()[:16])
        if vote.verifier not in stakes:
            raise RejectedError(Rejection.NOT_A_VERIFIER, vote.verifier)
        if vote.verifier in seen:
            raise RejectedError(Rejection.DUPLICATE_VOTE, vote.verifier)
        seen.add(vote.verifier)
        if vote.accept:
            accept_stake += stakes[vote.verifier]
        else:
            reject_stake += stakes[vote.verifier]
    total = sum(stakes.values())
    if total > 0 and accept_stake * BPS >= quorum_bps * total:
        outcome = Outcome.ACCEPTED
    elif total > 0 and reject_stake * BPS >= quorum_bps * total:
        outcome = Outcome.REJECTED
    else:
        outcome = Outcome.UNDECIDED
    return Verdict(job_id, outcome, accept_stake, reject_stake, total, tuple(sorted(seen)))


def aggregate_votes(
    job_id: bytes,
    votes: Sequence[Vote],
    stakes: Mapping[str, int],
    keys: Mapping[str, bytes],
    quorum_bps: int,
) -> Verdict:
    """Algorithm 1 line 12 (off-chain): `check_vote` every vote, then `tally_votes`.

    `keys` holds the committee members' public keys. For a tally that already admitted its votes
    one by one, call `tally_votes` (each signature is verified once).
    """
    members = {name: keys[name] for name in stakes if name in keys}
    for vote in votes:
        check_vote(vote, job_id, members)
    return tally_votes(job_id, votes, stakes, quorum_bps)


def committee(
    beacon: bytes,
    job_id: bytes,
    verifiers: Mapping[str, int],
    size: int,
    exclude: Iterable[str] = (),
    purpose: str = "verification",
) -> tuple[str, ...]:
    """ref: committee draw (errata E55) — `size` verifiers drawn by stake from the beacon.

    Candidates are the verifiers with positive stake not in `exclude` (the worker; for arbitration
    also the accuser), in sorted name order. Round i (from 0) draws
    d = beacon_draw_int(beacon, canonical {"domain", "job_id", "purpose", "round": i}) and picks the
    candidate whose cumulative-stake interval contains d mod (remaining stake); the pick leaves
    the pool. Stops after `size` picks or when no candidate is left. `purpose` separates the
    verification and arbitration draws of one job. Returns the members sorted by name.
    """
    if size < 0:
        raise RejectedError(Rejection.BAD_INPUT, "negative committee size")
    excluded = set(exclude)
    pool = sorted(
        (name, stake) for name, stake in verifiers.items() if stake > 0 and name not in excluded
    )
    chosen: list[str] = []
    for round_number in range(size):
        if not pool:
            break
        total = sum(stake for _, stake in pool)
        item = canonical_bytes(
            {
                "domain": COMMITTEE_DOMAIN,
                "job_id": job_id,
                "purpose": purpose,
                "round": round_number,
            }
        )
        point = beacon_draw_int(beacon, item) % total
        for index, (name, stake) in enumerate(pool):
            if point < stake:
                chosen.append(name)
                del pool[index]
                break
            point -= stake
    return tuple(sorted(chosen))


def verification_committee(
    params: Params, beacon: bytes, job_id: bytes, verifiers: Mapping[str, int], worker: str
) -> tuple[str, ...]:
    """ref: committee draw (errata E55) — a job's verification committee.

    `verification_committee_size` verifiers, drawn for purpose "verification", the worker excluded.
    """
    return committee(
        beacon, job_id, verifiers, params.verification_committee_size, {worker}, "verification"
    )


def arbitration_committee(
    params: Params,
    beacon: bytes,
    job_id: bytes,
    verifiers: Mapping[str, int],
    worker: str,
    accusers: Iterable[str],
) -> tuple[str, ...]:
    """ref: committee draw (errata E11, E55) — a disputed job's arbitration committee.

    `arbitration_committee_size` verifiers, drawn for purpose "arbitration", the worker and every
    accusing verifier excluded.
    """
    excluded = {worker, *accusers}
    return committee(
        beacon, job_id, verifiers, params.arbitration_committee_size, excluded, "arbitration"
    )


def verification_verdict(
    params: Params, job_id: bytes, votes: Sequence[Vote], stakes: Mapping[str, int]
) -> Verdict:
    """ref: vote tally (errata E10, E56) — `tally_votes` at `verification_quorum_bps`."""
    return tally_votes(job_id, votes, stakes, params.verification_quorum_bps)


def arbitration_verdict(
    params: Params, job_id: bytes, votes: Sequence[Vote], stakes: Mapping[str, int]
) -> Verdict:
    """ref: vote tally (errata E11, E56) — `tally_votes` at `arbitration_quorum_bps`.

    An arbiter votes accept when the worker's output matches its own re-execution.
    """
    return tally_votes(job_id, votes, stakes, params.arbitration_quorum_bps)
