"""`aci-ref aivm run`: one contract call as JSON, and refusals as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aci_ref.cli import main
from tests.cli.support import one_error


def test_a_call_prints_its_result_gas_and_writes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aivm", "run", "ledger_demo", "increment", "5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["returned"] == [5] and report["gas_used"] > 0
    assert report["writes"] == [{"key": b"count".hex(), "before": None, "after": "05" + "00" * 7}]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ledger_demo", "increment", "5", "--gas", "100"], "aivm run: out_of_gas"),
        (["ledger_demo", "nosuch"], "aivm run: unknown_function"),
        (["ledger_demo", "fail"], "aivm run: contract_trap"),
        (["no_such_contract", "f"], "no contract 'no_such_contract'"),
        (["ledger_demo", "increment", "x"], "argument ARGS: invalid int value: 'x'"),
    ],
)
def test_refusals_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["aivm", "run", *argv]) == 2
    assert message in one_error(capsys.readouterr().err)


def test_a_contract_file_is_checked_like_a_bundled_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bomb.wat"
    path.write_text('(module (memory (export "memory") 1 65536))', encoding="utf-8")
    assert main(["aivm", "run", str(path), "f"]) == 2
    assert "aivm run: bad_module" in one_error(capsys.readouterr().err)
