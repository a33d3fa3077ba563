"""The differential runner: it agrees with the reference on every vector and every generated
program, finds each deliberately broken build of the reference and shrinks it to a minimal input,
and reports a broken implementation as such."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aci_ref.cli import main
from aci_ref.vectors.diff import Implementation, ImplementationError, field_diff, replay_tree
from aci_ref.vectors.fuzz import fuzz
from tests.vectors.conftest import ORACLE


def test_the_reference_agrees_with_itself_on_every_vector_and_program(tree: Path) -> None:
    with Implementation(ORACLE) as impl:
        ran, found = replay_tree(impl, tree, stop_at_first=False)
        assert found == []
        assert ran > 300
        result = fuzz(impl, 40)
    assert result.failure is None
    assert result.examples == 40


@pytest.mark.parametrize(
    ("mutant", "first_case", "shrunk"),
    [
        ("fee-rounding", "block/settlement/", [("fee", 1, 0)]),
        ("skip-signature", "chain/", [("bad_signature", 0, 0)]),
        ("merkle-split", "consensus/checkpoint_root/", [("proof", 4, 0)]),
        ("refusal-moves-state", "block/", [("transfer", 0, 0)]),
    ],
)
def test_each_broken_build_is_found_and_shrunk(
    tree: Path, mutant: str, first_case: str, shrunk: list[tuple[str, int, int]]
) -> None:
    with Implementation(f"{ORACLE} --mutant {mutant}") as impl:
        _, found = replay_tree(impl, tree)
        assert len(found) == 1
        assert found[0].case.startswith(first_case)
        result = fuzz(impl, 400)
    assert result.failure is not None
    (kind, a, b), (want_kind, want_a, want_b) = result.failure.program[0], shrunk[0]
    assert len(result.failure.program) == len(shrunk) == 1
    assert (kind, b) == (want_kind, want_b)
    assert a == want_a


def test_the_first_divergence_names_the_fields_that_differ(tree: Path) -> None:
    with Implementation(f"{ORACLE} --mutant fee-rounding") as impl:
        _, (divergence,) = replay_tree(impl, tree)
    assert divergence.step == 0
    assert any(line.startswith("ledger.balances.") for line in divergence.fields)
    assert "first divergence: block/settlement/" in divergence.report()


def test_field_diff_walks_maps_and_arrays() -> None:
    expected = {"a": {"b": [1, 2, 3], "c": b"\x00"}, "d": 1}
    got = {"a": {"b": [1, 5], "c": b"\x00"}, "e": 2}
    assert list(field_diff(expected, got)) == [
        "a.b: expected 3 items, got 2",
        "a.b[1]: expected 2, got 5",
        "d: missing (expected 1)",
        "e: unexpected 2",
    ]


def test_an_implementation_that_dies_or_babbles_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(ImplementationError, match="exited"):
        Implementation(f"{sys.executable} -c pass").request({"op": "hello"})
    babbler = tmp_path / "babble.py"
    babbler.write_text("import sys\nfor line in sys.stdin:\n    print('not json', flush=True)\n")
    impl = Implementation(f"{sys.executable} {babbler}")
    with pytest.raises(ImplementationError, match="not JSON"):
        impl.request({"op": "hello"})
    impl.close()


def test_the_diff_command_exits_by_what_it_found(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", "--impl", ORACLE, "--vectors", str(tree)]) == 0
    assert "diverged" in capsys.readouterr().out
    assert main(["diff", "--impl", f"{ORACLE} --mutant merkle-split", "--vectors", str(tree)]) == 1
    assert "first divergence" in capsys.readouterr().out
    assert main(["diff", "--impl", f"{sys.executable} -c pass", "--vectors", str(tree)]) == 2


def test_the_mutant_flag_offers_every_mutant() -> None:
    from aci_ref.vectors.command import MUTANT_NAMES
    from aci_ref.vectors.mutants import MUTANTS

    assert MUTANT_NAMES == tuple(sorted(MUTANTS))
