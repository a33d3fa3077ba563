"""A reader that stops early (`| head -1`) ends the command quietly, as it ends any Unix filter."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.cli.support import CHECKOUT

BROKEN_PIPE_EXIT = 141


@pytest.mark.skipif(shutil.which("head") is None, reason="needs head(1)")
def test_params_json_into_head() -> None:
    """`params --json | head -1` used to end in a BrokenPipeError traceback."""
    script = (
        f"'{sys.executable}' -m aci_ref.cli params --json | head -1; echo \"${{PIPESTATUS[0]}}\""
    )
    for _ in range(3):  # whether the writer outlives head is a race; no outcome may show a trace
        done = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, cwd=CHECKOUT, timeout=120
        )
        first, status = done.stdout.splitlines()
        assert first == "{"
        assert int(status) in (0, BROKEN_PIPE_EXIT)
        assert done.stderr == ""


def test_a_reader_gone_before_the_first_write() -> None:
    """The deterministic case: the pipe is closed before the command writes a byte."""
    child = subprocess.Popen(
        [sys.executable, "-m", "aci_ref.cli", "params", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=CHECKOUT,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=120) == BROKEN_PIPE_EXIT
    assert err == ""
