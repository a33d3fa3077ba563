"""The `aci-ref` commands, called in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aci_ref.cli import main
from aci_ref.params import DEFAULT_PARAMS_PATH

TEXT = DEFAULT_PARAMS_PATH.read_text(encoding="utf-8")


def write_with(tmp_path: Path, key: str, value: str) -> Path:
    lines = [
        f"{key} = {value}" if line.split("=")[0].strip() == key else line
        for line in TEXT.splitlines()
    ]
    path = tmp_path / "params.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_params_table_names_every_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    assert "sampling_rate" in out and "Table 1" in out


def test_params_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["params"]["sampling_rate"] == {
        "value": "3/1000",
        "source": "Table 1, Algorithm 2 line 7 (α): chance a job is re-executed",
    }


def test_params_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params", "--check", str(DEFAULT_PARAMS_PATH)]) == 0
    capsys.readouterr()
    bad = write_with(tmp_path, "fee_burn_bps", "999")
    assert main(["params", "--check", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("aci-ref: error: parameters file ")
    assert "fee_worker_bps" in captured.err and captured.err.count("\n") == 1


def test_check_params_passes_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-params", str(DEFAULT_PARAMS_PATH), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True
    assert {"name", "holds", "counterexample"} == set(payload["checks"][0])
    broken = write_with(tmp_path, "slash_wrong_output_bps", "0")
    assert main(["check-params", str(broken), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    failed = [c for c in payload["checks"] if not c["holds"]]
    assert any(c["counterexample"] for c in failed)


def test_simulate_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--jobs", "60", "--json", "--quiet", "--seed", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in [
        "jobs_submitted", "jobs_settled", "jobs_disputed", "jobs_timed_out", "jobs_refunded",
        "sampled", "detected", "slashed", "false_positives", "fees", "supply",
        "conservation_ok", "verification_overhead",
    ]:  # fmt: skip
        assert key in report
    assert report["jobs_submitted"] == 60
    assert report["conservation_ok"] is True
    assert set(report["detected"]) >= {"level1", "level2", "level3"}
    assert set(report["fees"]) == {"worker", "validators", "verifiers", "lps", "burned"}
    assert report["params_file"] == str(DEFAULT_PARAMS_PATH)
    assert report["units"]["token_base_units"] == 1_000_000
    assert "base units" in report["units"]["amounts"]


def test_simulate_with_validators_reports_both_tracks(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--validators", "4", "--byzantine", "1", "--jobs", "4", "--json"]
    assert main([*argv, "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["validators"], report["byzantine"]) == (4, 1)
    assert report["jobs_submitted"] == 4 and report["conservation_ok"] is True
    assert report["safety_violations"] == 0
    assert report["state_roots_agree"] is True and report["checkpoint_roots_agree"] is True
    assert report["settlement_blocks"] >= 1 and report["fast_path_rounds"] >= 1
    for key in ("match_latency_ms", "settlement_finality_ms"):
        assert set(report[key]) == {"p50", "p99"} and report[key]["p50"] > 0


def test_simulate_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--jobs", "30", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "conservation" in out and "1 ACI = 1,000,000 base units" in out


def test_simulate_refuses_a_bad_params_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_with(tmp_path, "sampling_rate", "2")
    assert main(["simulate", "--jobs", "5", "--quiet", "--params", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sampling_rate: 2 is outside (0, 1]" in err
