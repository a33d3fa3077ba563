"""Helpers shared by the command-line tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from aci_ref.params import DEFAULT_PARAMS_PATH

TEXT = DEFAULT_PARAMS_PATH.read_text(encoding="utf-8")
CHECKOUT = Path(__file__).resolve().parent.parent.parent


def write_with(directory: Path, key: str, value: str) -> Path:
    """The shipped parameters file with `key`'s value replaced, written into `directory`."""
    lines = [
        f"{key} = {value}" if line.split("=")[0].strip() == key else line
        for line in TEXT.splitlines()
    ]
    path = directory / "params.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def one_error(err: str) -> str:
    """The single `aci-ref: error:` line `err` must consist of."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("aci-ref: error: "), err
    assert "Traceback" not in err
    return lines[0]


def run(
    args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m aci_ref.cli ARGS` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "aci_ref.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )
