"""Errata E90 — the verifier's dilemma: when re-executing is a verifier's best response.

The game. A verifier on a committee sees one task: a sampled job's input and claimed output. It
may re-execute (cost κ · P for a job of price P, κ ≤ 1: a verifier runs the same computation the
worker is paid for) and vote the truth, or skip the work and vote blind: always accept, always
reject, or any mixture. A task is wrong with chance w. Planted probes (the audit programme,
`aci_ref.chain.probes`) make w ≥ φ = `probe_share_bps` whatever the real workers do; the check
covers every w in [φ, 1/2] (a world where more than half of the sampled jobs are wrong is not
one verifiers need to be kept honest in).

Payoffs (`aci_ref.chain.verifier_pay`). A vote that the decision agrees with earns r = ρ · P,
where the verification pool pays at least ρ = f_v / (α · (k + A)) per unit of credit: it receives
the verifiers' fee share f_v of every settled job, and a job earns credits with chance α for at
most k committee and A arbitration votes (an expectation; refunded jobs, which pay no fee, are
left out). A vote a decision proves wrong earns nothing and costs stake S ≥ `verifier_min_stake`:
m · S for accepting a wrong output (missed fault), a · S for rejecting a right one (false
accusation).

    honest        r − κP
    always accept r − w m S          (its credit may be paid before a review proves it wrong)
    always reject w r − (1 − w) a S

Claim. For every price the HMM quotes (`proofs.prices`), every κ ∈ (0, 1] and every w ∈ [φ, 1/2]:
r − κP > 0 (voting pays), and the honest payoff beats both blind strategies. Z3 proves the lemma
that then every mixture is beaten too (payoffs are linear in the mixing weight), so re-executing is
the best response. With φ = 0 — no probes — always-accept earns r at no cost and the check fails
(the dilemma itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from aci_ref.params import BPS, Params
from proofs.model import COST_RATIO_MAX, decimal, show
from proofs.prices import PriceRange, price_range, price_text
from proofs.result import CheckResult, Lemma, cached_lemmas, lemma_failed, refute
from proofs.smt import Expr, Formula, all_of, between, const, real

NAME: Final = "V1"
STATEMENT: Final = (
    "E90: re-executing is a verifier's best response — honest voting pays, and beats always "
    "accepting, always rejecting and every mixture, for every price, cost ratio κ ≤ 1 and "
    "share w ∈ [φ, 1/2] of wrong tasks"
)

WRONG_SHARE_MAX: Final = Fraction(1, 2)
"""The largest share of wrong tasks the check covers (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class VerifierGame:
    """ref: verifier game (errata E90) — the constants of the game at a set of parameters (ACI)."""

    reward_per_price: Fraction  # ρ: pool payout per unit of credited price, lower bound
    probe_share: Fraction  # φ
    missed_fault_loss: Fraction  # m · S
    false_accusation_loss: Fraction  # a · S


def verifier_game(params: Params) -> VerifierGame:
    """ref: verifier game (errata E90) — ρ, φ, m·S and a·S from `params` (stakes in ACI)."""
    votes_per_job = params.verification_committee_size + params.arbitration_committee_size
    rho = Fraction(params.fee_verifiers_bps, BPS) / (params.sampling_rate * votes_per_job)
    stake = Fraction(params.verifier_min_stake)
    return VerifierGame(
        reward_per_price=rho,
        probe_share=Fraction(params.probe_share_bps, BPS),
        missed_fault_loss=Fraction(params.slash_missed_fault_bps, BPS) * stake,
        false_accusation_loss=Fraction(params.slash_false_accusation_bps, BPS) * stake,
    )


def payoffs(
    game: VerifierGame, price: Fraction, cost_ratio: Fraction, wrong: Fraction
) -> dict[str, Fraction]:
    """ref: verifier game (errata E90) — each strategy's expected payoff for one task, in ACI."""
    reward = game.reward_per_price * price
    return {
        "honest": reward - cost_ratio * price,
        "always_accept": reward - wrong * game.missed_fault_loss,
        "always_reject": wrong * reward - (1 - wrong) * game.false_accusation_loss,
    }


def lazy_verifier_payoff(params: Params, price: Fraction) -> Fraction:
    """ref: verifier game (errata E90) — a verifier that always accepts unseen, when only the
    probes are wrong (w = φ, its best case): r − φ m S, in ACI per task."""
    game = verifier_game(params)
    return payoffs(game, price, COST_RATIO_MAX, game.probe_share)["always_accept"]


def _lemmas() -> list[Lemma]:
    x, a, b, lam = real("x"), real("a"), real("b"), real("lambda")
    return [
        Lemma(
            "mixtures are beaten",
            "x > a, x > b, 0 <= λ <= 1 imply x > λ a + (1 − λ) b",
            all_of([x > a, x > b, lam >= 0, lam <= 1]).implies(x > lam * a + (1 - lam) * b),
        ),
    ]


lemma_outcome = cached_lemmas(_lemmas)
"""Prove the verifier game's lemma once per process (None when it holds)."""


def _instance(game: VerifierGame, prices: PriceRange) -> tuple[Formula, Formula, list[Expr]]:
    price, kappa, wrong = real("price"), real("cost_ratio"), real("wrong_share")
    reward = const(game.reward_per_price) * price
    honest = reward - kappa * price
    accept = reward - wrong * const(game.missed_fault_loss)
    reject = wrong * reward - (1 - wrong) * const(game.false_accusation_loss)
    domain = all_of(
        [
            between(price, prices.low, prices.high),
            kappa > 0,
            kappa <= COST_RATIO_MAX,
            wrong >= game.probe_share,
            wrong <= WRONG_SHARE_MAX,
        ]
    )
    claim = all_of([honest > 0, honest > accept, honest > reject])
    return domain, claim, [price, kappa, wrong]


def check_verifier_incentive(params: Params) -> CheckResult:
    """ref: verifier game (errata E90) — Z3 looks for a price, κ and w where skipping pays."""
    failure = lemma_outcome()
    if failure is not None:
        return lemma_failed(NAME, STATEMENT, True, failure)
    game = verifier_game(params)
    prices = price_range(params)
    if game.probe_share > WRONG_SHARE_MAX:
        game_share = f"φ = {game.probe_share} above {WRONG_SHARE_MAX}: nothing to check"
        return CheckResult(
            NAME, STATEMENT, False, True, {"probe_share": show(game.probe_share)}, game_share
        )
    domain, claim, witnesses = _instance(game, prices)
    price, kappa, wrong = witnesses
    prefer = kappa.eq(COST_RATIO_MAX) & wrong.eq(game.probe_share) & price.eq(prices.high)
    found = refute(domain, claim, witnesses, prefer)
    counterexample = None
    if found.model is not None:
        model = found.model
        values = payoffs(game, model["price"], model["cost_ratio"], model["wrong_share"])
        counterexample = {
            "price": show(model["price"]),
            "cost_ratio": show(model["cost_ratio"]),
            "wrong_share": show(model["wrong_share"]),
            **{f"payoff_{name}": "≈" + decimal(value, 9) for name, value in values.items()},
        }
    lazy = lazy_verifier_payoff(params, prices.high)
    detail = (
        f"{price_text(prices)}; ρ = {decimal(game.reward_per_price, 4)} of the price per vote, "
        f"φ = {decimal(game.probe_share, 4)}, missed fault costs "
        f"{decimal(game.missed_fault_loss, 2)} ACI, false accusation "
        f"{decimal(game.false_accusation_loss, 2)} ACI; a blind acceptor "
        f"expects {decimal(lazy, 4)} ACI per task at the highest price; lemma proved; "
        f"{found.reason}"
    )
    return CheckResult(NAME, STATEMENT, found.holds, True, counterexample, detail)
