"""Every Rejection code names a refusal the reference can actually make."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aci_ref.errors import Rejection

ROOT = Path(__file__).resolve().parents[2]
SOURCES = "\n".join(
    path.read_text(encoding="utf-8")
    for folder in ("aci_ref", "proofs")
    for path in sorted((ROOT / folder).rglob("*.py"))
    if path.name != "errors.py"
)


@pytest.mark.parametrize("code", list(Rejection), ids=lambda code: code.name)
def test_every_code_is_raised_somewhere(code: Rejection) -> None:
    assert re.search(rf"\bRejection\.{code.name}\b", SOURCES), f"{code.name} is never raised"


@pytest.mark.parametrize("code", list(Rejection), ids=lambda code: code.name)
def test_every_code_is_documented(code: Rejection) -> None:
    source = (ROOT / "aci_ref" / "errors.py").read_text(encoding="utf-8")
    line = re.search(
        rf"^\s+{code.name} = \"{code.value}\"\n\s+\"\"\"(.+?)\"\"\"", source, re.M | re.S
    )
    assert line, f"{code.name} has no docstring"
