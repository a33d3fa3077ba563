"""The Solidity twin on a real EVM agrees with the AIVM contract, and both gas figures are real."""

from __future__ import annotations

import pytest

from aci_ref.aivm.evm import available
from aci_ref.params import default_params

pytestmark = pytest.mark.skipif(not available(), reason="solc-js (make solc) or py-evm missing")


def test_both_machines_compute_the_same_and_report_gas() -> None:
    from aci_ref.aivm.compare import compare_demo

    rows = compare_demo(default_params())
    assert [(r.aivm_result, r.evm_result) for r in rows] == [
        (5, 5),
        (12, 12),
        (0, 0),
        (0, 0),
        (0, 0),
    ]
    first, update = rows[0], rows[1]
    assert first.evm_gas > update.evm_gas > 21_000  # a fresh slot costs more; intrinsic included
    # The AIVM prices a write by its bytes, fresh or not; an update also reads 8 value bytes.
    assert update.aivm_gas - first.aivm_gas >= 8 * default_params().gas_storage_per_byte
    matmuls = [r.evm_gas for r in rows[2:]]
    assert matmuls == sorted(matmuls)  # the twin's matmul grows with n³


def test_the_command_says_where_each_figure_comes_from(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from aci_ref.cli import main

    assert main(["aivm", "compare", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        "the reference's schedule" in report["aivm_gas_source"]
        and "py-evm" in report["evm_gas_source"]
    )
    assert all(row["aivm_result"] == row["evm_result"] for row in report["rows"])
