"""The Solidity twin on a real EVM agrees with the AIVM contract, both gas figures are real, and
the committed compiled twins are exactly what the pinned compiler makes of the sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from aci_ref.aivm.evm import BUILD, TWINS, available, compiler_available, runtime_available
from aci_ref.params import default_params

needs_evm = pytest.mark.skipif(not runtime_available(), reason="py-evm missing")
needs_both = pytest.mark.skipif(not available(), reason="solc-js (make solc) or py-evm missing")


@pytest.mark.skipif(not compiler_available(), reason="solc-js missing (make solc)")
def test_the_committed_artifacts_are_what_the_pinned_compiler_makes(tmp_path: Path) -> None:
    from aci_ref.aivm.evm import build_artifacts

    written = build_artifacts(tmp_path)
    assert [p.name for p in written] == [f"{name}.json" for name in TWINS]
    for path in written:
        assert path.read_bytes() == (BUILD / path.name).read_bytes(), f"rebuild {path.name}"


@needs_evm
def test_load_compiled_refuses_a_twin_that_does_not_exist() -> None:
    from aci_ref.aivm.evm import load_compiled
    from aci_ref.errors import RejectedError, Rejection

    assert load_compiled("LedgerDemo").bytecode
    with pytest.raises(RejectedError) as refused:
        load_compiled("Nosuch")
    assert refused.value.rejection is Rejection.UNKNOWN_CONTRACT


def pattern_corner(n: int) -> int:
    """C[n-1][n-1] of A · A for the demo's pattern a_i = ((7i + 3) mod 17 − 8) · 2^13, exactly."""
    a = [(((7 * i + 3) % 17) - 8) << 13 for i in range(n * n)]
    total = sum(a[(n - 1) * n + k] * a[k * n + n - 1] for k in range(n))
    return (total + (1 << 15)) >> 16


@needs_evm
def test_both_machines_compute_the_same_and_report_gas() -> None:
    from aci_ref.aivm.compare import compare_demo

    rows = compare_demo(default_params())
    corners = [pattern_corner(n) for n in (4, 8, 16)]
    assert all(corners)  # nonzero products: the machines agree on real arithmetic
    assert [(r.aivm_result, r.evm_result) for r in rows] == [
        (5, 5),
        (12, 12),
        *((c, c) for c in corners),
    ]
    first, update = rows[0], rows[1]
    assert first.evm_gas > update.evm_gas > 21_000  # a fresh slot costs more; intrinsic included
    # The AIVM prices a write by its bytes, fresh or not; an update also reads 8 value bytes.
    assert update.aivm_gas - first.aivm_gas >= 8 * default_params().gas_storage_per_byte
    matmuls = [r.evm_gas for r in rows[2:]]
    assert matmuls == sorted(matmuls)  # the twin's matmul grows with n³


@needs_both
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
