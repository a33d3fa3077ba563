"""The checks of proofs/ on the shipped parameters, the paper's printed numbers, the report, and
the checkers shown failing on planted faults."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import pytest
from rich.table import Table

from aci_ref.errors import InvariantViolation, ParamsError, RejectedError, Rejection
from aci_ref.market import hmm
from aci_ref.params import Params, params_from_text
from proofs import proposition5, theorem1, theorem3
from proofs.checks import CHECKS
from proofs.model import (
    Bounds,
    decimal,
    detection_bounds,
    deviating_jobs,
    power_bounds,
    show,
)
from proofs.prices import LARGEST_MODEL_UNITS, min_quality_bps, price_range
from proofs.report import must_hold_failed, render_table, results_json, run_checks, verdict
from proofs.result import CheckResult, Lemma, lemma_failed, prove_lemmas, refute
from proofs.smt import between, const, constant_value, decide, power, real

# The shipped file itself, even when `aci-ref verify-protocol --params FILE` redirects
# shipped(): these tests pin the verdicts and numbers of the paper's parameters.
SHIPPED_PATH = Path(__file__).resolve().parents[2] / "spec" / "parameters.toml"


def shipped() -> Params:
    return params_from_text(SHIPPED_PATH.read_text(encoding="utf-8"))


PAPER_CLAIMS_VIOLATED = {"T3.stake_multiple", "P5.inequality5", "P5.sufficient_condition"}


def test_every_check_runs_once_with_a_unique_name() -> None:
    results = run_checks(shipped())
    assert len(results) == len(CHECKS)
    assert len({r.name for r in results}) == len(results)


def test_verdicts_on_the_shipped_parameters() -> None:
    results = {r.name: r for r in run_checks(shipped())}
    for name, result in results.items():
        if result.must_hold:
            assert result.holds, f"{name}: {result.detail}"
            assert result.counterexample is None
        else:
            assert name in PAPER_CLAIMS_VIOLATED
            assert not result.holds and result.counterexample, name
    assert {n for n, r in results.items() if not r.must_hold} == PAPER_CLAIMS_VIOLATED


def test_results_json_has_exactly_the_agreed_shape() -> None:
    payload = results_json(run_checks(shipped()))
    assert set(payload) == {"checks", "ok"}
    assert payload["ok"] is True
    for entry in payload["checks"]:
        assert set(entry) == {"name", "holds", "counterexample"}
        assert entry["counterexample"] is None or isinstance(entry["counterexample"], dict)
    json.dumps(payload)  # JSON-able throughout


def test_render_table_has_a_row_per_check() -> None:
    results = run_checks(shipped())
    table = render_table(results)
    assert isinstance(table, Table)
    assert table.row_count == len(results)


def test_verdicts_say_what_z3_concluded() -> None:
    """A failing check is "violated" only with a counterexample; without one it was undecided."""
    assert verdict(CheckResult("m", "s", True, True, None, "")) == "holds"
    assert verdict(CheckResult("m", "s", False, True, {"x": 1}, "")) == "VIOLATED"
    assert verdict(CheckResult("m", "s", False, True, None, "undecided")) == "UNDECIDED"
    assert verdict(CheckResult("c", "s", False, False, {"x": 1}, "")) == "paper claim fails"
    assert verdict(CheckResult("c", "s", False, False, None, "")) == "paper claim undecided"


def test_must_hold_failed_ignores_paper_claims() -> None:
    claim = CheckResult("c", "s", False, False, {"x": 1}, "")
    ok = CheckResult("m", "s", True, True, None, "")
    assert not must_hold_failed([claim, ok])
    assert must_hold_failed([claim, CheckResult("m", "s", False, True, {"x": 1}, "")])


# --- the paper's numbers --------------------------------------------------------------------


def test_detection_probability_is_exact() -> None:
    alpha = Fraction(3, 1000)
    assert theorem1.detection_probability(alpha, 0) == 0
    assert theorem1.detection_probability(alpha, 1) == alpha
    one = theorem1.detection_probability(alpha, 100)
    ten = theorem1.detection_probability(alpha, 1000)
    assert decimal(one, 4) == "0.2595"
    assert decimal(ten, 4) == "0.9504"
    assert 1 - (1 - one) ** 10 == ten  # ten independent epochs are 1000 jobs


def test_printed_numbers_against_exact_values() -> None:
    rows = {(n.where, n.expression): n for n in theorem1.paper_numbers()}
    first = rows[("Theorem 1, §3.4", "1 - 0.997^100")]
    assert first.truncates_to_printed and not first.rounds_to_printed  # 0.2595 printed 0.259
    rounded_first = rows[("Theorem 1, §3.4", "1 - (1 - 0.259)^10")]
    assert rounded_first.exact_text == "0.95009"  # rounding 0.259 first does not give 0.953
    assert not rounded_first.rounds_to_printed
    ten = rows[("Theorem 1, §3.4", "1 - (0.997^100)^10")]
    assert ten.exact_text == "0.95044" and not ten.rounds_to_printed
    proof = rows[("Theorem 2, §6.2", "1 - 0.997^1000")]
    assert round(proof.exact, 4) == Fraction(9504, 10000)
    assert not proof.rounds_to_printed and not proof.truncates_to_printed  # printed 0.9503


def test_what_the_headline_rates_need() -> None:
    alpha = Fraction(3, 1000)
    assert theorem1.jobs_for_detection(alpha, Fraction(997, 1000)) == 1934
    assert theorem1.jobs_for_detection(alpha, Fraction(953, 1000)) == 1018
    assert theorem1.jobs_for_detection(alpha, Fraction(95, 100)) == 998
    assert theorem1.jobs_for_detection(alpha, Fraction(0)) == 0


def test_where_four_point_two_comes_from() -> None:
    params = shipped()
    paper = Fraction(42, 10)
    ten = theorem1.detection_probability(Fraction(3, 1000), 1000)
    assert decimal(theorem3.implied_savings_ratio(paper, ten, Fraction(1)), 2) == "3.99"
    one = theorem1.detection_probability(Fraction(3, 1000), 100)
    assert decimal(theorem3.implied_savings_ratio(paper, one, Fraction(1)), 2) == "1.09"
    # The reference's multiple at δ = 1 % and δ = 1 (10 epochs, 90 % of a 100 % slash kept).
    at_one_percent = theorem3.stake_multiple(params, 100, Fraction(1))
    assert decimal(at_one_percent.low, 3) == "0.117"
    fully_lazy = theorem3.stake_multiple(params, params.epoch_jobs, Fraction(1))
    assert decimal(fully_lazy.high, 2) == "11.11"


def test_collusion_condition_is_equation_4() -> None:
    assert theorem3.collusion_condition(3, Fraction(10), Fraction(1, 2), Fraction(1), Fraction(4))
    assert not theorem3.collusion_condition(
        3, Fraction(10), Fraction(1, 2), Fraction(1), Fraction(5)
    )


# --- Proposition 5 ---------------------------------------------------------------------------


def test_printed_inequality_never_holds_with_real_savings() -> None:
    assert not proposition5.printed_inequality(Fraction(100), Fraction(101), Fraction(0))
    assert proposition5.printed_inequality(Fraction(101), Fraction(100), Fraction(0))


def test_printed_clause_is_not_sufficient() -> None:
    p, slash, savings = Fraction(1, 2), Fraction(3), Fraction(2)
    assert proposition5.printed_sufficient_condition(p, slash, savings)
    assert not proposition5.honest_is_best_response(p, slash, savings)
    assert proposition5.lazy_advantage(p, slash, savings, 10) > 0


def test_equation_6_holds_for_the_paper_reading() -> None:
    delta = Fraction(1, 100)
    assert proposition5.paper_parameters_inequality(Fraction(1, 10), Fraction(100), delta)
    assert not proposition5.paper_parameters_inequality(Fraction(0), Fraction(100), delta)
    # 5 P > δ (1 - P) needs P > δ / (5 + δ): a small enough P fails it.
    assert not proposition5.paper_parameters_inequality(Fraction(1, 1000), Fraction(100), delta)


def test_lazy_advantage_closed_form() -> None:
    p, slash, savings = Fraction(1, 4), Fraction(7), Fraction(3)
    for epochs in range(1, 12):
        caught = 1 - (1 - p) ** epochs
        assert proposition5.lazy_advantage(p, slash, savings, epochs) == caught / p * (
            savings - p * slash
        )


def test_printed_horizon() -> None:
    params = shipped()
    assert proposition5.printed_horizon(params, Fraction(1, 100), Fraction(1, 100)) == 1
    assert proposition5.printed_horizon(params, Fraction(0), Fraction(1, 100)) is None
    weak = dataclasses.replace(params, worker_min_stake=1, sampling_rate=Fraction(1, 10**6))
    horizon = proposition5.printed_horizon(weak, Fraction(1, 10_000), Fraction(1, 100))
    assert horizon is not None and horizon > 1

    def printed(epochs: int) -> bool:
        p = theorem1.detection_probability(weak.sampling_rate, epochs)
        return proposition5.printed_sufficient_condition(p, Fraction(9, 10), Fraction(8, 1000))

    assert printed(horizon) and not printed(horizon - 1)


# --- the model helpers ----------------------------------------------------------------------


def test_deviating_jobs_rounds_down() -> None:
    assert deviating_jobs(Fraction(1, 100), 10_000) == 100
    assert deviating_jobs(Fraction(1, 100), 150) == 1
    assert deviating_jobs(Fraction(1, 100), 99) == 0
    with pytest.raises(RejectedError) as caught:
        deviating_jobs(Fraction(2), 10)
    assert caught.value.rejection is Rejection.BAD_INPUT


def test_power_bounds_enclose_long_values() -> None:
    short = power_bounds(Fraction(997, 1000), 100)
    assert short.exact and short.low == Fraction(997, 1000) ** 100
    long = power_bounds(Fraction(997, 1000), 1000)
    exact = Fraction(997, 1000) ** 1000
    assert not long.exact and long.low <= exact <= long.high
    assert long.high - long.low < Fraction(1, 2**200)
    huge = detection_bounds(Fraction(3, 1000), 10**9)
    assert huge.low <= 1 <= huge.high + Fraction(1, 2**200)


def test_show_is_json_friendly() -> None:
    assert show(Fraction(3, 1)) == 3
    assert show(Fraction(1, 3)) == "1/3"
    assert str(show(Fraction(997, 1000) ** 100)).startswith("≈0.7404842")


# --- planted faults: the checkers can fail ----------------------------------------------------


def test_a_false_lemma_is_refuted_with_a_model() -> None:
    q, x = real("q"), real("x")
    wrong = Lemma(
        "sign",
        "q in [-1, 1] and x in [0, 1] imply q x >= 0",
        (between(q, -1, 1) & between(x, 0, 1)).implies(q * x >= 0),
    )
    right = Lemma("ok", "x >= 0 implies x + 1 > 0", (x >= 0).implies(x + 1 > 0))
    failure = prove_lemmas([right, wrong])
    assert failure is not None and failure.lemma is wrong
    assert failure.counterexample is not None
    q_value = Fraction(str(failure.counterexample["q"]))
    x_value = Fraction(str(failure.counterexample["x"]))
    assert q_value * x_value < 0
    result = lemma_failed("X", "statement", True, failure)
    assert not result.holds and result.counterexample == failure.counterexample


def test_a_check_whose_lemma_fails_reports_it(monkeypatch: pytest.MonkeyPatch) -> None:
    x = real("x")
    failure = prove_lemmas([Lemma("bad", "x > 0", x > 0)])
    assert failure is not None
    monkeypatch.setattr(theorem1, "lemma_outcome", lambda: failure)
    result = theorem1.check_theorem1(shipped())
    assert not result.holds and result.counterexample is not None and "bad" in result.detail


def test_refute_finds_confirms_and_refuses_rounding_artefacts() -> None:
    p, s = real("p"), real("s")
    proved = refute(between(p, Fraction(1, 2), Fraction(1, 2)), p >= Fraction(1, 3), [])
    assert proved.holds
    found = refute(between(p, Fraction(1, 2), Fraction(1, 2)) & (s > 0), p >= s, [s])
    assert not found.holds and found.model is not None and found.model["s"] > Fraction(1, 2)
    # The claim fails only for part of the enclosure of p: never reported as a counterexample.
    eps = Fraction(1, 2**300)
    blurred = refute(
        between(p, Fraction(1, 2), Fraction(1, 2) + eps), p >= Fraction(1, 2) + eps / 2, []
    )
    assert not blurred.holds and blurred.model is None and "undecided" in blurred.reason


def test_decide_on_closed_formulas() -> None:
    assert decide(const(Fraction(1, 3)) < const(Fraction(1, 2)))
    assert not decide(const(2) * const(Fraction(1, 2)) > 1)


def test_bounds_complement() -> None:
    bounds = Bounds(Fraction(1, 4), Fraction(1, 3))
    assert bounds.complement() == Bounds(Fraction(2, 3), Fraction(3, 4))


# --- the prices the checks range over (E68) --------------------------------------------------


def test_price_range_on_the_shipped_parameters() -> None:
    """P = 1/400 ACI = 2500 base units, r = 50 %, λ_r = 10 %, f_m = 0, quality threshold 0.5."""
    prices = price_range(shipped())
    cheapest, dearest = prices.cheapest, prices.dearest
    # A 1-unit job at quality 5000 in a large idle pool: cost ⌊2500 · 5000 / 10^4⌋ + 1, risk 1.
    assert (cheapest.units, cheapest.quality_bps) == (1, 5000)
    assert (cheapest.cost, cheapest.risk_fee, cheapest.price) == (1251, 1, 1252)
    # A 2-unit job at full quality in a large full pool: 9 × 2500 × 2 at the surge cap, risk 1.
    assert prices.surge == 9
    assert (dearest.units, dearest.quality_bps) == (LARGEST_MODEL_UNITS, 10_000)
    assert (dearest.cost, dearest.risk_fee, dearest.price) == (45_000, 1, 45_001)
    assert (prices.low, prices.high) == (Fraction(1252, 10**6), Fraction(45_001, 10**6))
    assert cheapest.attained and dearest.attained


def test_the_range_ends_are_quotes_reached_by_real_swaps() -> None:
    """Both ends are prices the market quotes in pools its own operations build."""
    params = shipped()
    prices = price_range(params)
    low, high = prices.cheapest, prices.dearest
    market = hmm.create_pool(hmm.Market(), params, "gpu")
    market = hmm.add_worker(market, params, "gpu", "w", low.capacity, 1, low.quality_bps)
    assert hmm.quote(market, params, "gpu", 1).price == low.price
    market = hmm.create_pool(hmm.Market(), params, "gpu")
    market = hmm.add_worker(market, params, "gpu", "w", high.capacity, 1, 10_000)
    market, _ = hmm.buy(market, params, "gpu", high.capacity - high.units, hmm.MAX_WORD)
    assert hmm.quote(market, params, "gpu", high.units).price == high.price


def test_largest_model_units_is_the_registrys() -> None:
    from aci_ref.sim.simulate import MODEL_UNITS  # loads torch: only here, not in proofs/

    assert max(MODEL_UNITS.values()) == LARGEST_MODEL_UNITS


@pytest.mark.parametrize("threshold", [Fraction(0), Fraction(1, 2), Fraction(7777, 10_000), 1])
def test_min_quality_is_the_lowest_a_quote_names(threshold: Fraction) -> None:
    params = dataclasses.replace(shipped(), quality_threshold=Fraction(threshold))
    lowest = min_quality_bps(params)
    for quality, eligible in ((lowest, True), (lowest - 1, False)):
        if quality < 0:
            continue
        market = hmm.create_pool(hmm.Market(), params, "gpu")
        market = hmm.add_worker(market, params, "gpu", "w", 4, 1, quality)
        if eligible:
            assert hmm.choose_worker(market.pools["gpu"], params, 1).worker == "w"
        else:
            with pytest.raises(RejectedError):
                hmm.choose_worker(market.pools["gpu"], params, 1)


def test_the_range_follows_the_parameters() -> None:
    params = shipped()
    base = price_range(params)
    dearer = price_range(dataclasses.replace(params, hmm_reference_price=Fraction(1, 100)))
    assert dearer.high > base.high and dearer.low > base.low
    flat = price_range(dataclasses.replace(params, hmm_reserve_bps=10_000))
    assert flat.surge == 4 and flat.high < base.high
    larger = price_range(params, 5)
    assert larger.high > base.high and larger.low == base.low


def test_price_range_refusals() -> None:
    with pytest.raises(RejectedError) as caught:
        price_range(shipped(), 0)
    assert caught.value.rejection is Rejection.BAD_CAPACITY
    huge = dataclasses.replace(shipped(), hmm_reference_price=Fraction(2**70))
    with pytest.raises(ParamsError) as refused:
        price_range(huge)
    assert refused.value.key == "hmm_reference_price"


def test_proofs_raise_only_the_projects_errors() -> None:
    with pytest.raises(RejectedError):
        theorem1.detection_probability(Fraction(2), 1)
    with pytest.raises(RejectedError):
        theorem1.jobs_for_detection(Fraction(0), Fraction(1, 2))
    with pytest.raises(RejectedError):
        power_bounds(Fraction(3, 2), 2)
    no_slash = dataclasses.replace(shipped(), slash_wrong_output_bps=0)
    with pytest.raises(RejectedError):
        theorem3.stake_multiple(no_slash, 100, Fraction(1))
    with pytest.raises(InvariantViolation):
        power(real("q"), -1)
    with pytest.raises(InvariantViolation):
        constant_value(real("q") + 1)
    with pytest.raises(InvariantViolation):
        const(True)
    with pytest.raises(InvariantViolation):
        const(Fraction(1, 2**9000))
