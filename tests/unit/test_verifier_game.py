"""The verifier's dilemma (errata E90): skipping re-execution must not pay at the shipped values."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from aci_ref.params import default_params
from proofs.prices import price_range
from proofs.verifier import check_verifier_incentive, lazy_verifier_payoff, payoffs, verifier_game


def test_a_lazy_verifier_expects_a_loss_at_the_shipped_parameters() -> None:
    params = default_params()
    prices = price_range(params)
    for price in (prices.low, prices.high):
        assert lazy_verifier_payoff(params, price) < 0
        values = payoffs(
            verifier_game(params), price, Fraction(1), verifier_game(params).probe_share
        )
        assert values["honest"] > 0 > values["always_accept"]
        assert values["honest"] > values["always_reject"]


def test_without_probes_accepting_unseen_beats_re_executing() -> None:
    params = replace(default_params(), probe_share_bps=0)
    game = verifier_game(params)
    price = price_range(params).high
    values = payoffs(game, price, Fraction(1, 2), Fraction(0))
    assert values["always_accept"] > values["honest"]  # the dilemma itself
    assert lazy_verifier_payoff(params, price) > 0
    result = check_verifier_incentive(params)
    assert not result.holds and result.counterexample is not None


def test_the_check_holds_at_the_shipped_parameters() -> None:
    result = check_verifier_incentive(default_params())
    assert result.holds and result.must_hold
