"""ref: vector generator — `aci-ref vectors generate OUT`: every runner's cases, written once.

The cases come from the same sources the test suite runs (the refusal rows, the scenarios of the
actor harness, the handler inputs); the generator only collects them and writes the tree. The
output depends on nothing but the code and `spec/parameters.toml`: running it twice writes the
same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from aci_ref.encoding import canonical_bytes
from aci_ref.params import Params, default_params
from aci_ref.vectors.chain_cases import accepted_cases, refused_cases
from aci_ref.vectors.consensus_cases import consensus_cases
from aci_ref.vectors.function_cases import function_cases
from aci_ref.vectors.replica_cases import replica_cases
from aci_ref.vectors.tree import VectorCase, write_tree


def reference_version() -> str:
    """The installed aci-ref version, written into every case's meta."""
    try:
        return version("aci-ref")
    except PackageNotFoundError:
        return "0+unknown"


def all_cases(params: Params) -> Iterator[VectorCase]:
    """ref: vector generator — every case of every runner."""
    yield from accepted_cases()
    yield from refused_cases()
    yield from function_cases(params)
    yield from consensus_cases()
    yield from replica_cases()


def generate(out: Path) -> dict[str, Any]:
    """Write the whole tree under `out`; return its manifest."""
    params = default_params()
    extra = {"params.cbor": canonical_bytes(params)}
    return write_tree(out, all_cases(params), reference_version(), extra)
