"""ref: consensus package layering: the imports between `aci_ref.consensus` modules form no cycle.

Every import statement counts, wherever it sits (module level, inside a function, or under
`if TYPE_CHECKING:`), because a lazy or type-only import still ties two modules together.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import aci_ref.consensus

PACKAGE = "aci_ref.consensus"
ROOT = Path(aci_ref.consensus.__file__).parent


def _targets(node: ast.Import | ast.ImportFrom, module: str, local: set[str]) -> set[str]:
    """The package's own modules one import statement names."""
    names: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.startswith(PACKAGE + "."):
                names.add(alias.name[len(PACKAGE) + 1 :].split(".")[0])
        return names & local
    base = node.module or ""
    if node.level:
        # A relative import resolves against this module's package.
        parts = f"{PACKAGE}.{module}".split(".")[: -node.level]
        base = ".".join([*parts, base]) if base else ".".join(parts)
    if base == PACKAGE:
        names.update(alias.name for alias in node.names)
    elif base.startswith(PACKAGE + "."):
        names.add(base[len(PACKAGE) + 1 :].split(".")[0])
    return names & local


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module name -> the package modules it imports, from every import statement in its source."""
    sources = {path.stem: path for path in sorted(root.glob("*.py"))}
    local = set(sources)
    graph: dict[str, set[str]] = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges |= _targets(node, module, local)
        graph[module] = edges - {module}
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that returns to its start, or None when the graph has none."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(module: str) -> list[str] | None:
        path.append(module)
        on_path.add(module)
        for target in sorted(graph.get(module, ())):
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done:
                found = visit(target)
                if found is not None:
                    return found
        path.pop()
        on_path.discard(module)
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done:
            found = visit(module)
            if found is not None:
                return found
    return None


def test_consensus_imports_have_no_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_state_modules_sit_below_their_machines() -> None:
    graph = import_graph()
    assert {"hotstuff_state", "hotstuff_checks", "hotstuff_sync", "pacemaker"} <= graph["hotstuff"]
    assert {"dag_state", "dag_commit", "dag_sync"} <= graph["dag"]
    for helper in ("hotstuff_checks", "hotstuff_sync", "pacemaker"):
        assert "hotstuff_state" in graph[helper] and "hotstuff" not in graph[helper]
    for helper in ("dag_commit", "dag_sync"):
        assert "dag_state" in graph[helper] and "dag" not in graph[helper]
    assert not graph["hotstuff_state"] & {"hotstuff", "hotstuff_checks", "hotstuff_sync"}
    assert not graph["dag_state"] & {"dag", "dag_commit", "dag_sync"}


def test_lazy_and_type_only_imports_count(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from aci_ref.consensus.b import x\n", encoding="utf-8")
    (tmp_path / "b.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from aci_ref.consensus import c\n",
        encoding="utf-8",
    )
    (tmp_path / "c.py").write_text(
        "def late() -> None:\n    from . import a\n",
        encoding="utf-8",
    )
    graph = import_graph(tmp_path)
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
