"""The vectors checked from another language: tools/checker recomputes, in Node with its own
crypto and cborg, every hash, root, proof, encoding and signature verdict of a generated tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "tools" / "checker"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node is not installed")


def _node(*args: str) -> subprocess.CompletedProcess[str]:
    if not (CHECKER / "node_modules" / "cborg").is_dir():
        pytest.fail("the checker's packages are missing: run `make checker`")
    assert NODE is not None
    return subprocess.run(
        [NODE, *args], capture_output=True, text=True, timeout=300, check=False, cwd=ROOT
    )


def test_the_node_checker_recomputes_every_vector(tree: Path) -> None:
    done = _node(str(CHECKER / "check.mjs"), str(tree), "--strict-known")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: every check passed" in done.stdout
    counts = {
        line.split()[0]: int(line.split("passed")[1].split()[0])
        for line in done.stdout.splitlines()
        if " passed " in line
    }
    for kind in ("manifest", "merkle/proof", "crypto/ed25519_verify", "encoding/canonical"):
        assert counts[kind] > 0, kind  # these kinds really ran, none was skipped away


def test_the_node_checker_catches_planted_faults(tree: Path) -> None:
    done = _node(str(CHECKER / "selftest.mjs"), str(tree))
    assert done.returncode == 0, done.stdout + done.stderr
