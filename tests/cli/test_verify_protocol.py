"""`verify-protocol` without a source checkout: the Z3 checks run, the suites are explained."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import aci_ref.cli
from aci_ref.cli import main
from tests.cli.support import one_error


@pytest.fixture(autouse=True)
def z3_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about finding the suites; the Z3 verdict is check-params' business."""
    monkeypatch.setattr(aci_ref.cli, "_z3_checks", lambda params, console, as_json: 0)


def test_no_suites_beside_an_installed_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(aci_ref.cli, "checkout_suites", lambda: None)
    assert main(["verify-protocol"]) == 0
    captured = capsys.readouterr()
    assert "Z3 checks: ok; property suites: skipped" in captured.out
    (note,) = captured.err.splitlines()
    assert note.startswith("aci-ref: note: property suites skipped") and "--suites DIR" in note


def test_suites_asked_for_but_absent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-protocol", "--suites", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the Z3 checks
    assert "no test_*.py files there" in one_error(captured.err)


def test_suites_asked_for_without_pytest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "test_x.py").write_text("", encoding="utf-8")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pytest" else real(name, *a)
    )
    assert main(["verify-protocol", "--suites", str(tmp_path)]) == 2
    assert "need pytest" in one_error(capsys.readouterr().err)


def test_suites_named_with_suites_run_with_the_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "test_env.py"
    suite.write_text(
        "import os\n\n\ndef test_parameters_are_passed():\n"
        "    assert os.environ['ACI_PARAMS'].endswith('parameters.toml')\n",
        encoding="utf-8",
    )
    assert main(["verify-protocol", "--suites", str(tmp_path), "--workers", "1"]) == 0
    assert "Z3 checks: ok; property suites: ok" in capsys.readouterr().out
