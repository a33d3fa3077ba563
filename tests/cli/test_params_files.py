"""Parameters files that cannot be used: one line naming the file (and the key), exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from aci_ref.cli import main
from aci_ref.params import DEFAULT_PARAMS_PATH
from tests.cli.support import one_error, write_with

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"


def commands(path: Path) -> list[list[str]]:
    """Every command that reads a parameters file, pointed at `path`."""
    return [
        ["params", "--check", str(path)],
        ["params", "--params", str(path)],
        ["simulate", "--quiet", "--params", str(path)],
        ["check-params", str(path)],
        ["verify-protocol", "--params", str(path)],
    ]


def refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2, argv
    captured = capsys.readouterr()
    assert captured.out == ""
    return one_error(captured.err)


def test_a_binary_file_is_refused_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to end in a UnicodeDecodeError traceback."""
    path = tmp_path / "params.toml"
    path.write_bytes(BINARY)
    for argv in commands(path):
        line = refusal(argv, capsys)
        assert f"parameters file {path}: not a TOML text file" in line, argv


def test_a_missing_file_or_a_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path, reason in [
        (tmp_path / "absent.toml", "No such file or directory"),
        (tmp_path, "Is a directory"),
    ]:
        for argv in commands(path):
            assert reason in refusal(argv, capsys), argv


def test_text_that_is_not_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "params.toml"
    path.write_text("sampling_rate = = 1\n", encoding="utf-8")
    assert "Invalid" in refusal(["params", "--check", str(path)], capsys)


def test_token_base_units_too_large_for_64_bit_amounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """10**15 used to pass `params --check` and then crash `simulate` in the encoder."""
    path = write_with(tmp_path, "token_base_units", str(10**15))
    for argv in (["params", "--check", str(path)], ["simulate", "--quiet", "--params", str(path)]):
        line = refusal(argv, capsys)
        assert "token_base_units: 1000000000000000 is outside [1, 1000000000]" in line


def test_the_shipped_file_and_the_bound_itself_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["params", "--check", str(DEFAULT_PARAMS_PATH)]) == 0
    at_bound = write_with(tmp_path, "token_base_units", str(10**9))
    assert main(["params", "--check", str(at_bound)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.count("every constraint holds") == 2


def test_a_run_past_the_64_bit_clock_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Epochs this long pass `params --check`, but 100 of them do not fit the simulator's clock."""
    path = write_with(tmp_path, "epoch_duration_ms", str(4 * 10**17))
    assert main(["params", "--check", str(path)]) == 0
    capsys.readouterr()
    line = refusal(["simulate", "--quiet", "--epochs", "100", "--params", str(path)], capsys)
    assert "the run's clock would reach" in line and "2**63" in line
