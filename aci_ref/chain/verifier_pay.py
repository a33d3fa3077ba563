"""Verifiers are paid for votes, not for stake, and answer for the votes they cast (errata E90).

The verifiers' Table 5 share of every settled job goes to one pool account. A vote that agrees
with a job's decision earns its verifier credits equal to the job's price, so a vote is worth the
same share of the work it checked whatever the job; when an epoch closes, the pool is divided
among that epoch's credits. A vote that a decision proves wrong costs stake: an accepting vote on
a wrong output is a missed fault, a rejecting vote on a right one a false accusation. Together
with the planted probes of `aci_ref.chain.probes` this makes re-executing a verifier's best
response (`proofs.verifier`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from aci_ref.chain.effects import Effect, Effects, VerifiersPaid
from aci_ref.chain.state import VERIFICATION_POOL, ChainState
from aci_ref.chain.steps import offence_id, slash
from aci_ref.economics import ledger
from aci_ref.economics.fees import pro_rata
from aci_ref.economics.slashing import Violation
from aci_ref.market.jobs import Job
from aci_ref.poai.votes import Vote


def credit_votes(state: ChainState, voters: Iterable[str], price: int) -> ChainState:
    """ref: verifier pay (errata E90) — `price` credits for each vote agreeing with a decision."""
    credits = state.vote_credits
    for voter in sorted(voters):
        credits = credits.set(voter, credits.get(voter, 0) + price)
    return replace(state, vote_credits=credits)


def judge_votes(
    state: ChainState, job: Job, votes: Sequence[Vote], output_right: bool
) -> tuple[ChainState, Effects]:
    """ref: verifier pay (errata E90) — credit votes a proven verdict agrees with, slash the rest.

    `output_right` is what arbitration or a probe proved. Agreeing votes earn the job's price in
    credits each.
    An accepting vote on a wrong output loses `slash_missed_fault_bps` (the first rejecting
    voter, if any, takes the reporter's share); a rejecting vote on a right output loses
    `slash_false_accusation_bps`. Verifiers are taken in sorted order, so the result does not
    depend on the order the votes arrived in.
    """
    agreeing = sorted({v.verifier for v in votes if v.accept == output_right})
    state = credit_votes(state, agreeing, job.price)
    reporter = None if output_right or not agreeing else agreeing[0]
    return slash_wrong_votes(state, job, votes, output_right, reporter)


def slash_wrong_votes(
    state: ChainState, job: Job, votes: Sequence[Vote], output_right: bool, reporter: str | None
) -> tuple[ChainState, Effects]:
    """ref: verifier pay (errata E90) — slash every vote a proven verdict contradicts.

    Accepting a wrong output is a missed fault, rejecting a right one a false accusation; each
    is one offence per (job, verifier), taken in sorted order.
    """
    violation = Violation.FALSE_ACCUSATION if output_right else Violation.MISSED_FAULT
    effects: list[Effect] = []
    for verifier in sorted({v.verifier for v in votes if v.accept != output_right}):
        offence = offence_id(violation.value, job_id=job.job_id, verifier=verifier)
        state, slashed = slash(state, violation, verifier, offence, reporter, job.job_id)
        effects += slashed
    return state, tuple(effects)


def withdraw_credits(state: ChainState, voters: Iterable[str], price: int) -> ChainState:
    """ref: verifier pay (errata E90) — take back credits earned by a vote later proven wrong.

    Only what the current epoch still holds can be taken back (at most `price` per voter); pay
    already made at an earlier epoch's close stays paid, and the slash answers for it.
    """
    credits = state.vote_credits
    for voter in sorted(set(voters)):
        held = credits.get(voter, 0)
        if held > price:
            credits = credits.set(voter, held - price)
        elif voter in credits:
            credits = credits.delete(voter)
    return replace(state, vote_credits=credits)


def pay_verifiers(state: ChainState, epoch: int) -> tuple[ChainState, Effects]:
    """ref: verifier pay (errata E90) — the pool pays the closing epoch's credits, pro rata.

    Each verifier gets floor(pool × credits / all credits), the remainder going to the one with
    the most credits (ties: the smallest name), as `pro_rata` rounds. With no credit or an empty
    pool nothing moves and the pool carries over; the credits start again from zero.
    """
    credits = {name: count for name, count in state.vote_credits.items() if count > 0}
    pool = state.ledger.balances.get(VERIFICATION_POOL, 0)
    state = replace(state, vote_credits=state.vote_credits.__class__())
    if not credits or pool == 0:
        return state, ()
    shares = pro_rata(pool, credits)
    book = state.ledger
    paid: list[tuple[str, int]] = []
    for name, amount in sorted(shares.items()):
        if amount > 0:
            book = ledger.transfer(book, VERIFICATION_POOL, name, amount)
            paid.append((name, amount))
    return replace(state, ledger=book), (VerifiersPaid(epoch, tuple(paid)),)
