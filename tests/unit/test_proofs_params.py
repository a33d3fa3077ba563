"""Every must-hold check of proofs/ fails, with a counterexample, on a parameters file crafted to
break it (tests/data/params/), and only the checks that file names fail."""

from __future__ import annotations

import dataclasses
import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

from aci_ref.cli import main
from aci_ref.params import Params, load_params, params_from_text
from proofs.prices import price_range
from proofs.report import must_hold_failed, results_json, run_checks, verdict

CRAFTED = Path(__file__).resolve().parents[1] / "data" / "params"
# Crafted files change the shipped file, even when `aci-ref verify-protocol --params FILE`
# redirects default_params(): they test the checker, not the file under study.
SHIPPED_PATH = Path(__file__).resolve().parents[2] / "spec" / "parameters.toml"
OVERRIDE = re.compile(r"^(\w+)\s*=\s*(.+?)\s*$")
BREAKS = re.compile(r"break: (.+)$")


def crafted_file(name: str, target: Path) -> tuple[Path, set[str]]:
    """The shipped parameters with the crafted file's keys replaced, and the checks it breaks."""
    text = SHIPPED_PATH.read_text(encoding="utf-8")
    lines = (CRAFTED / name).read_text(encoding="utf-8").splitlines()
    header = BREAKS.search(lines[0])
    assert header, f"{name}: first line must name the checks it breaks"
    for line in lines:
        if line.startswith("#") or not (match := OVERRIDE.match(line)):
            continue
        key, value = match[1], match[2]
        text, count = re.subn(rf"^{key}\s*=\s*[^#\n]*", f"{key} = {value} ", text, flags=re.M)
        assert count == 1, f"{name}: {key} is not a key of the shipped file"
    target.write_text(text, encoding="utf-8")
    return target, {part.strip() for part in header[1].split(",")}


FILES = sorted(path.name for path in CRAFTED.glob("*.toml"))


def test_there_is_a_crafted_file_for_every_parameter_driven_check() -> None:
    broken: set[str] = set()
    for name in FILES:
        header = BREAKS.search((CRAFTED / name).read_text(encoding="utf-8").splitlines()[0])
        assert header
        broken |= {part.strip() for part in header[1].split(",")}
    assert broken == {"T1", "T2", "T3", "T4", "P5", "V1", "unbonding.delay"}


@pytest.mark.parametrize("name", FILES)
def test_crafted_file_breaks_exactly_its_checks(name: str, tmp_path: Path) -> None:
    path, expected = crafted_file(name, tmp_path / name)
    results = run_checks(load_params(path))
    failed = {r.name for r in results if r.must_hold and not r.holds}
    assert failed == expected
    for result in results:
        if not result.holds:
            assert result.counterexample, f"{result.name} fails without a counterexample"
    assert must_hold_failed(results)
    assert results_json(results)["ok"] is False


def shipped() -> Params:
    return params_from_text(SHIPPED_PATH.read_text(encoding="utf-8"))


def test_defaults_pass_every_must_hold_check() -> None:
    results = run_checks(shipped())
    assert not must_hold_failed(results)
    assert all(r.holds for r in results if r.must_hold)


@pytest.mark.parametrize(
    ("change", "check", "offending"),
    [
        ({"fee_burn_bps": 400}, "fees.whole", "sum"),
        ({"fee_worker_bps": 10_100, "fee_validators_bps": -300}, "fees.whole", "fee_worker_bps"),
        ({"slash_timeout_bps": 12_000}, "slashing.range", "slash_timeout_bps"),
        ({"slash_reporter_reward_bps": -1}, "slashing.range", "slash_reporter_reward_bps"),
    ],
)
def test_shares_the_loader_refuses_are_caught_in_code_built_params(
    change: dict[str, int], check: str, offending: str
) -> None:
    params: Params = dataclasses.replace(shipped(), **change)  # type: ignore[arg-type]
    result = next(r for r in run_checks(params) if r.name == check)
    assert not result.holds and result.must_hold
    assert result.counterexample is not None and offending in result.counterexample


def test_slash_rate_zero_counterexample_is_at_the_readable_corner(tmp_path: Path) -> None:
    path, _ = crafted_file("slash_wrong_output_zero.toml", tmp_path / "x.toml")
    params = load_params(path)
    result = next(r for r in run_checks(params) if r.name == "P5")
    assert result.counterexample is not None
    # The corner is the dearest quote: 45001 base units a job, 10,000 jobs, 80 % to the worker.
    assert price_range(params).high == Fraction(45_001, 10**6)
    assert result.counterexample == {
        "deviation": 1,
        "price": "45001/1000000",
        "cost_ratio": 1,
        "p_detect": result.counterexample["p_detect"],
        "slash": 0,
        "savings_per_epoch": "45001/125",
    }


def test_sybil_counterexample_is_one_large_identity(tmp_path: Path) -> None:
    path, _ = crafted_file("capacity_stake_zero.toml", tmp_path / "x.toml")
    result = next(r for r in run_checks(load_params(path)) if r.name == "T4")
    assert result.counterexample is not None
    assert result.counterexample["identities"] == 1
    assert result.counterexample["attack_stake_tokens"] == 10_000
    assert result.counterexample["paper_bound_tokens"] == "2500000"


# --- check-params at the prices the market quotes (E68, E69) ---------------------------------


def with_overrides(target: Path, overrides: dict[str, str]) -> Path:
    """The shipped parameters with some values replaced, written to `target`."""
    text = SHIPPED_PATH.read_text(encoding="utf-8")
    for key, value in overrides.items():
        text, count = re.subn(rf"^{key}\s*=\s*[^#\n]*", f"{key} = {value} ", text, flags=re.M)
        assert count == 1, key
    target.write_text(text, encoding="utf-8")
    return target


def table_rows(out: str) -> dict[str, str]:
    """The first printed line of each check's row, by check name."""
    rows: dict[str, str] = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if cells and cells[0] and cells[0] not in rows and len(cells) > 2:
            rows[cells[0]] = line
    return rows


def test_check_params_on_the_shipped_file_is_truthful(capsys: pytest.CaptureFixture[str]) -> None:
    results = run_checks(shipped())
    assert main(["check-params", str(SHIPPED_PATH)]) == 0
    rows = table_rows(capsys.readouterr().out)
    for result in results:
        assert verdict(result) in rows[result.name], result.name
    assert main(["check-params", str(SHIPPED_PATH), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True
    assert {c["name"]: c["holds"] for c in payload["checks"]} == {r.name: r.holds for r in results}


def test_check_params_fails_naming_the_statement_at_the_old_reference_price(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At 1 ACI per unit (the reference price shipped before E69) the HMM quotes up to 18 ACI a
    job: a fully lazy worker saves 1,440,000 ACI over 10 epochs against a 9,000 ACI slash."""
    path = with_overrides(tmp_path / "p.toml", {"hmm_reference_price": "1"})
    results = {r.name: r for r in run_checks(load_params(path))}
    failed = {name for name, r in results.items() if r.must_hold and not r.holds}
    assert failed == {"T3", "P5"}
    assert results["T3"].counterexample is not None
    assert results["T3"].counterexample["price"] == "18000001/1000000"
    assert main(["check-params", str(path)]) == 1
    rows = table_rows(capsys.readouterr().out)
    for name in failed:
        assert "VIOLATED" in rows[name], name
    for name in set(results) - failed:
        assert "VIOLATED" not in rows[name], name
    assert main(["check-params", str(path), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    assert {c["name"] for c in payload["checks"] if not c["holds"]} >= failed


def test_the_largest_reference_price_the_checks_admit(tmp_path: Path) -> None:
    """E69: Theorem 3 holds at P = 6249 base units (dearest quote 112,483) and fails at 6250
    (112,501 > 112,500 = 9000 ACI of slash over 10 epochs × 10,000 jobs × 80 %)."""
    for base_units, holds in ((6249, True), (6250, False)):
        price = f"0.{base_units:06d}"  # tokens, read back as an exact fraction
        path = with_overrides(tmp_path / f"{base_units}.toml", {"hmm_reference_price": price})
        params = load_params(path)
        assert params.hmm_reference_price == Fraction(base_units, 10**6)
        result = next(r for r in run_checks(params) if r.name == "T3")
        assert result.holds is holds, result.detail
