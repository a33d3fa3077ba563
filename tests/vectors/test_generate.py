"""The generated tree: complete, self-consistent, and the same bytes every time."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import cbor2

from aci_ref.chain import ChainState
from aci_ref.chain.state import state_root
from aci_ref.crypto import sha256
from aci_ref.decoding import decode_as
from aci_ref.events import Event
from aci_ref.vectors.generate import generate
from aci_ref.vectors.refusals import CASES
from aci_ref.vectors.schema import state_schema
from aci_ref.vectors.tree import case_digest, read_case, snake

ROOT = Path(__file__).resolve().parents[2]


def _files(tree: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()
    }


def test_vectors_regenerate_byte_for_byte(tree: Path, tmp_path: Path) -> None:
    generate(tmp_path)
    first, second = _files(tree), _files(tmp_path)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_another_process_with_other_hash_seeds_writes_the_same_tree(
    tree: Path, tmp_path: Path
) -> None:
    """String hashes, and so the iteration order of sets and persistent maps, change from one
    interpreter to the next; nothing written may depend on them."""
    import os
    import subprocess
    import sys

    out = tmp_path / "again"
    for seed in ("1", "2"):
        target = out / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        command = [sys.executable, "-m", "aci_ref.cli", "vectors", "generate", str(target)]
        subprocess.run(command, check=True, env=env, capture_output=True, timeout=300)
        first, second = _files(tree), _files(target)
        assert [name for name in first if first[name] != second.get(name)] == []


def test_the_manifest_lists_every_case_with_its_hash(tree: Path) -> None:
    manifest = json.loads((tree / "manifest.json").read_text())
    listed = {entry["path"]: entry["sha256"] for entry in manifest["cases"]}
    on_disk = {str(p.parent.relative_to(tree)) for p in tree.rglob("meta.json")}
    assert set(listed) == on_disk
    for path, digest in listed.items():
        files = {p.name: p.read_bytes() for p in (tree / path).iterdir()}
        assert case_digest(files).hex() == digest, path
    assert manifest["files"]["params.cbor"] == sha256((tree / "params.cbor").read_bytes()).hex()
    assert sum(manifest["counts"].values()) == len(listed)


def test_every_runner_the_oracle_promises_is_there(tree: Path) -> None:
    handlers = {str(p.relative_to(tree)) for p in tree.glob("*/*") if p.is_dir()}
    promised = {
        "aivm/call",
        "block/epoch_close",
        "block/sampling",
        "block/settlement",
        "block/timeout",
        "chain/sequence",
        "consensus/certificate",
        "consensus/hotstuff_replica",
        "consensus/checkpoint_root",
        "consensus/qc",
        "consensus/vertex",
        "consensus/vote",
        "crypto/ed25519_verify",
        "economics/fee_split",
        "economics/slash",
        "encoding/canonical",
        "encoding/strict_decode",
        "hmm/buy",
        "hmm/quote",
        "merkle/proof",
        "merkle/root",
        "merkle/verify",
        "poai/level1",
        "poai/sampling",
    }
    assert promised <= handlers


def test_every_event_processor_has_accepted_cases_and_every_refusal_row_is_written(
    tree: Path,
) -> None:
    kinds = {snake(k.__name__) for k in typing.get_args(Event)} - {
        "seal_block",
        "call_contract",
    }
    for kind in sorted(kinds):
        suites = {p.name for p in (tree / "chain" / kind).iterdir()}
        assert suites - {"refused"}, f"{kind} has no accepted case"
    refused = [p for r in ("chain", "block", "aivm") for p in tree.glob(f"{r}/*/refused/*")]
    assert len(refused) == len(CASES)


def test_chain_cases_state_their_roots_and_decode_to_the_same_state(tree: Path) -> None:
    checked = 0
    for meta_path in sorted(tree.glob("chain/*/*/*/meta.json"))[::7]:
        meta, parts = read_case(meta_path.parent)
        pre = decode_as(ChainState, parts["pre"])
        assert state_root(pre).hex() == meta["pre_root"] == sha256(parts["pre"]).hex()
        steps = cbor2.loads(parts["steps"])
        if "post" in parts:
            accepted = [s for s in steps if "root" in s]
            assert accepted[-1]["root"].hex() == meta["post_root"] == sha256(parts["post"]).hex()
        else:
            assert all("rejection" in s for s in steps)
        checked += 1
    assert checked > 10


def test_the_contract_calls_carry_their_gas(tree: Path) -> None:
    kinds = []
    for folder in sorted((tree / "aivm" / "call").glob("*/*")):
        _, parts = read_case(folder)
        for step in cbor2.loads(parts["steps"]):
            kinds += [e["kind"] for e in step.get("effects", [])]
            called = [e["effect"] for e in step.get("effects", []) if e["kind"] == "ContractCalled"]
            assert all(c["gas_used"] > 0 and c["opcode_gas"] for c in called)
    assert {"ContractCalled", "ContractReverted"} <= set(kinds)


def test_the_documented_schema_is_the_code_s() -> None:
    doc = (ROOT / "docs" / "vectors.md").read_text()
    begin, end = doc.index("<!-- schema:begin -->"), doc.index("<!-- schema:end -->")
    listed = doc[begin:end].split("```text\n", 1)[1].rsplit("```", 1)[0]
    assert listed.rstrip("\n") == state_schema().rstrip("\n")


def test_the_contract_in_the_vectors_is_pinned() -> None:
    """Its bytes are in every state root of the contract cases: a new text compiler must not move
    them unnoticed (custom sections, the only part free to differ, are stripped)."""
    import hashlib

    from aci_ref.vectors.chain_cases import _marketplace

    digest = hashlib.sha256(_marketplace()).hexdigest()
    assert digest == "f46646f55845f44c708686823c88ba5c9cd50bcf19a589abea945fcc71a97ec4"


def test_an_old_tree_is_never_overwritten(tree: Path) -> None:
    import pytest

    with pytest.raises(FileExistsError):
        generate(tree)
