"""`aci-ref aivm gas-table`: Table 9 three ways, each figure saying where it comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aci_ref.aivm import evm
from aci_ref.aivm.gas_table import TABLE9
from aci_ref.cli import main
from aci_ref.params import DEFAULT_PARAMS_PATH

OPERATIONS = ["job submission", "settlement", "dispute resolution", "HMM swap", "stake", "unstake"]


def table(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    assert main(["aivm", "gas-table", "--json", *extra]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert isinstance(payload, dict)
    return payload


def test_every_table9_row_is_measured_on_the_aivm(capsys: pytest.CaptureFixture[str]) -> None:
    payload = table(capsys)
    rows = payload["rows"]
    assert isinstance(rows, list)
    assert [r["operation"] for r in rows] == OPERATIONS
    printed = {row.operation: row for row in TABLE9}
    for r in rows:
        assert r["aivm_gas"] > 0
        # every unit of gas is either an opcode's or a plain instruction's
        assert sum(r["aivm_opcode_gas"].values()) + r["aivm_instruction_gas"] == r["aivm_gas"]
        paper = printed[
            "stake / unstake" if r["operation"] in ("stake", "unstake") else r["operation"]
        ]
        assert (r["paper_aci_gas"], r["paper_l2_gas"]) == (paper.aci_gas, paper.l2_gas)
    assert "reference's schedule" in str(payload["aivm_gas_source"])
    assert "py-evm" in str(payload["evm_gas_source"])
    by_op = {r["operation"]: r for r in rows}
    assert "hmm_quote" in by_op["job submission"]["aivm_opcode_gas"]
    assert "submit_result" in by_op["settlement"]["aivm_opcode_gas"]
    assert "arbiter" in by_op["dispute resolution"]["aivm_detail"]


def test_the_evm_column_is_real_or_empty(capsys: pytest.CaptureFixture[str]) -> None:
    rows = table(capsys)["rows"]
    assert isinstance(rows, list)
    if not evm.runtime_available():
        assert all(r["evm_gas"] is None for r in rows)
        return
    for r in rows:
        assert r["evm_gas"] > 21_000  # a real transaction's receipt
        assert r["measured_savings_pct"] == pytest.approx(100 * (1 - r["aivm_gas"] / r["evm_gas"]))


def test_the_schedule_is_a_parameters_file_away(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DEFAULT_PARAMS_PATH.read_text(encoding="utf-8")
    cheap = text.replace("gas_hmm_quote = 2000 ", "gas_hmm_quote = 1000 ", 1)
    assert cheap != text
    path = tmp_path / "cheap.toml"
    path.write_text(cheap, encoding="utf-8")
    shipped = {r["operation"]: r["aivm_gas"] for r in table(capsys)["rows"]}  # type: ignore[union-attr]
    changed = {r["operation"]: r["aivm_gas"] for r in table(capsys, "--params", str(path))["rows"]}  # type: ignore[union-attr]
    assert shipped["job submission"] - changed["job submission"] == 1000
    assert shipped["stake"] == changed["stake"]


def test_the_table_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aivm", "gas-table"]) == 0
    out = capsys.readouterr().out
    assert "Table 9" in out and "dispute resolution" in out and "instructions" in out
