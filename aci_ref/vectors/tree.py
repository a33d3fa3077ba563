"""ref: vector tree — how test vectors are laid out on disk and listed in the manifest.

A case lives at `<runner>/<handler>/<suite>/<case>/` and holds `meta.json` and one canonical
CBOR file per part (`pre.cbor`, `steps.cbor`, `post.cbor`, `input.cbor`, `output.cbor`). The
tree's `manifest.json` lists every case with the SHA-256 of the canonical CBOR map
{file name: file bytes} of its directory, so a reader can check a copy without trusting it.
Nothing written depends on the clock or the machine: the same code writes the same bytes.
docs/vectors.md is the format's full statement.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aci_ref.crypto import sha256
from aci_ref.encoding import canonical_bytes

FORMAT_VERSION: Final = 1
"""Bumped whenever a file's meaning changes; readers refuse versions they do not know."""

_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class VectorCase:
    """ref: vector case — one test vector: where it lives, what it says, and its parts.

    `parts` maps a part name to a value `canonical_bytes` can encode; `meta` holds the few
    plain facts a reader needs before opening a part (roots, the expected rejection).
    """

    runner: str
    handler: str
    suite: str
    name: str
    description: str
    parts: Mapping[str, Any]
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{self.runner}/{self.handler}/{self.suite}/{self.name}"

    def files(self, version: str) -> dict[str, bytes]:
        """The case's files, by name, exactly as they are written."""
        meta = {
            "case": self.name,
            "description": self.description,
            "format": FORMAT_VERSION,
            "handler": self.handler,
            "parts": sorted(self.parts),
            "runner": self.runner,
            "suite": self.suite,
            "version": version,
            **self.meta,
        }
        out = {f"{name}.cbor": canonical_bytes(value) for name, value in self.parts.items()}
        out["meta.json"] = json_bytes(meta)
        return out


def json_bytes(value: Any) -> bytes:
    """JSON with sorted keys, two-space indentation and a final newline: one text per value."""
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def case_digest(files: Mapping[str, bytes]) -> bytes:
    """SHA-256 of the canonical CBOR map {file name: file bytes} of one case directory."""
    return sha256(canonical_bytes(dict(files)))


def slug(text: str) -> str:
    """A readable case name from free text: lower case, runs of other characters as `_`."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return name or "case"


def snake(name: str) -> str:
    """A class name as a case path component: `SubmitResult` → `submit_result`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def check_names(cases: Iterable[VectorCase]) -> None:
    """Every path component is a slug and no two cases share a path (a generator bug if not)."""
    seen: set[str] = set()
    for case in cases:
        for part in (case.runner, case.handler, case.suite, case.name):
            if not _NAME.match(part):
                raise ValueError(f"{case.path}: {part!r} is not a slug")
        if case.path in seen:
            raise ValueError(f"two cases at {case.path}")
        seen.add(case.path)


def write_tree(
    out: Path, cases: Iterable[VectorCase], version: str, extra: Mapping[str, bytes]
) -> dict[str, Any]:
    """ref: vector tree — write every case, the tree-level files `extra` and `manifest.json`.

    Returns the manifest.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        # files of an older tree would survive beside the new one and break its case digests
        raise FileExistsError(f"{out} exists and is not an empty directory")
    listed = list(cases)
    check_names(listed)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for case in sorted(listed, key=lambda c: c.path):
        folder = out / case.path
        folder.mkdir(parents=True, exist_ok=True)
        files = case.files(version)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        entries.append({"path": case.path, "sha256": case_digest(files).hex()})
    for name, data in extra.items():
        (out / name).write_bytes(data)
    manifest = {
        "cases": entries,
        "counts": dict(sorted(Counter(e["path"].split("/")[0] for e in entries).items())),
        "files": {name: sha256(data).hex() for name, data in sorted(extra.items())},
        "format": FORMAT_VERSION,
        "version": version,
    }
    (out / "manifest.json").write_bytes(json_bytes(manifest))
    return manifest


def read_case(folder: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A case's meta and its part files (name without `.cbor` → bytes)."""
    meta = json.loads((folder / "meta.json").read_text())
    parts = {name: (folder / f"{name}.cbor").read_bytes() for name in meta["parts"]}
    return meta, parts
