"""Every must-hold check of proofs/ fails, with a counterexample, on a parameters file crafted to
break it (tests/data/params/), and only the checks that file names fail."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from aci_ref.params import Params, load_params, params_from_text
from proofs.report import must_hold_failed, results_json, run_checks

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
    assert broken == {"T1", "T2", "T3", "T4", "P5", "unbonding.delay"}


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
    result = next(r for r in run_checks(load_params(path)) if r.name == "P5")
    assert result.counterexample is not None
    assert result.counterexample == {
        "deviation": 1,
        "price": "1/100",
        "cost_ratio": 1,
        "p_detect": result.counterexample["p_detect"],
        "slash": 0,
        "savings_per_epoch": 80,
    }


def test_sybil_counterexample_is_one_large_identity(tmp_path: Path) -> None:
    path, _ = crafted_file("capacity_stake_zero.toml", tmp_path / "x.toml")
    result = next(r for r in run_checks(load_params(path)) if r.name == "T4")
    assert result.counterexample is not None
    assert result.counterexample["identities"] == 1
    assert result.counterexample["attack_stake_tokens"] == 10_000
    assert result.counterexample["paper_bound_tokens"] == "2500000"
