"""Bad `simulate` flags: one line on stderr, exit status 2, and torch never loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aci_ref.cli import main
from tests.cli.support import CHECKOUT, one_error

REFUSED = [
    (["--workers", "0"], "--workers must be at least 1 (got 0)"),
    (["--clients", "0"], "--clients must be at least 1 (got 0)"),
    (["--lazy-workers", "-1"], "--lazy-workers must be at least 0 (got -1)"),
    (["--careless-workers", "-2"], "--careless-workers must be at least 0 (got -2)"),
    (["--sybil-workers", "-1"], "--sybil-workers must be at least 0 (got -1)"),
    (["--jobs", "0"], "--jobs must be at least 1 (got 0)"),
    (["--jobs", "-5"], "--jobs must be at least 1 (got -5)"),
    (["--epochs", "0"], "--epochs must be at least 1 (got 0)"),
    (["--seed", "-1"], "--seed must be at least 0 (got -1)"),
    (["--verifiers", "0"], "Level 2 would be off"),
    (["--verifiers", "1"], "a dispute needs one more to arbitrate it"),
    (["--verifiers", "-3"], "--verifiers must be at least 2 (got -3)"),
    (["--workers", "3", "--lazy-workers", "2", "--careless-workers", "2"], "more than --workers 3"),
    (["--lazy-fraction", "1.5"], "argument --lazy-fraction: 1.5 is outside [0, 1]"),
    (["--lazy-fraction", "-0.1"], "argument --lazy-fraction: -0.1 is outside [0, 1]"),
    (["--sampling-rate", "0"], "argument --sampling-rate: 0 is outside (0, 1]"),
    (["--sampling-rate", "2"], "argument --sampling-rate: 2 is outside (0, 1]"),
    (["--sampling-rate", "often"], "argument --sampling-rate: not a number: 'often'"),
    (["--jobs", "many"], "argument --jobs: invalid int value: 'many'"),
    (["--clients", str(10**8)], "not below the 64-bit limit 2**63"),
    (["--validators", "-1"], "--validators must be at least 0 (got -1)"),
    (["--validators", "100"], "--validators 100: at most 99"),
    (["--byzantine", "1"], "--byzantine needs --validators"),
    (["--validators", "4", "--byzantine", "2"], "more than f = 1 of --validators 4"),
    (["--validators", "3", "--byzantine", "1"], "more than f = 0 of --validators 3"),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "message"), REFUSED)
def test_simulate_refuses_in_one_line(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--quiet", *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in one_error(captured.err)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: command"),
        (["simulat"], "invalid choice: 'simulat'"),
        (["check-params"], "the following arguments are required: FILE"),
        (["verify-protocol", "--workers", "0"], "--workers must be at least 1 (got 0)"),
    ],
)
def test_usage_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in one_error(capsys.readouterr().err)


def test_refusals_come_before_torch_loads() -> None:
    """Every refusal above, in one fresh interpreter that must not have imported the simulator."""
    script = (
        "import json, sys\n"
        "from aci_ref.cli import main\n"
        "codes = [main(['simulate', '--quiet', *flags]) for flags in json.loads(sys.argv[1])]\n"
        "loaded = [m for m in ('torch', 'aci_ref.sim.simulate', 'aci_ref.poai.workloads')"
        " if m in sys.modules]\n"
        "print(json.dumps({'codes': codes, 'loaded': loaded}))\n"
    )
    flags = json.dumps([f for f, _ in REFUSED])
    done = subprocess.run(
        [sys.executable, "-c", script, flags],
        capture_output=True,
        text=True,
        cwd=CHECKOUT,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result == {"codes": [2] * len(REFUSED), "loaded": []}
    assert len(done.stderr.splitlines()) == len(REFUSED)
    assert "Traceback" not in done.stderr


def test_the_console_script_shows_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "aci_ref.cli", "simulate", "--workers", "0"],
        capture_output=True,
        text=True,
        cwd=CHECKOUT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    assert errors == [
        "aci-ref: error: --workers must be at least 1 (got 0): someone has to run the jobs"
    ]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "torch" not in imported and "aci_ref.sim.simulate" not in imported
