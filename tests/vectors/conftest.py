"""One generated vector tree per test session (per xdist worker)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aci_ref.vectors.generate import generate

ORACLE = f"{sys.executable} -m aci_ref.cli serve-oracle"


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vectors")
    generate(out)
    return out
