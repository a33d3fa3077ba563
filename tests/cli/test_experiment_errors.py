"""Bad `experiment` options: one line on stderr, exit status 2, nothing on stdout."""

from __future__ import annotations

import pytest

from aci_ref.cli import main
from aci_ref.experiments import MODULES, experiments
from tests.cli.support import one_error

REFUSED = [
    (["collusion", "--delta", "-1"], "argument --delta: -1 is outside [0, 1]"),
    (["collusion", "--colluders", "0"], "argument --colluders: 0 is below 1"),
    (["sybil", "--identities", "-3"], "argument --identities: -3 is below 1"),
    (["tee-attack", "--epochs", "x"], "argument --epochs: not a whole number: 'x'"),
    (["detection", "--trials", "0"], "argument --trials: 0 is below 1"),
    (["detection", "--sampling-rate", "often"], "not a number: 'often'"),
    (["lazy-verifier", "--cost-ratio", "2"], "argument --cost-ratio: 2 is outside [0, 1]"),
    (["stress-attack", "--seed", "-1"], "argument --seed: -1 is below 0"),
    (["false-positives", "--inputs", "0"], "argument --inputs: 0 is below 1"),
    (["table8", "--jobs", "10", "--faults", "47"], "experiment table8: bad_input"),
    (["nosuch"], "invalid choice: 'nosuch'"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), REFUSED)
def test_experiment_refuses_in_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["experiment", *argv, "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in one_error(captured.err)


def test_every_experiment_module_is_registered() -> None:
    assert len(experiments()) == len(MODULES)
