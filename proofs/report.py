"""ref: proofs — running every check and presenting the results (table and JSON)."""

from __future__ import annotations

from typing import Any, Final

from rich.table import Table

from aci_ref.params import Params
from proofs.checks import CHECKS
from proofs.result import CheckResult


def run_checks(params: Params) -> list[CheckResult]:
    """ref: parameter checker — run every registered check (`proofs.checks.CHECKS`) at `params`."""
    return [check(params) for check in CHECKS]


def must_hold_failed(results: list[CheckResult]) -> bool:
    """Whether any check the protocol relies on does not hold."""
    return any(result.must_hold and not result.holds for result in results)


def results_json(results: list[CheckResult]) -> dict[str, Any]:
    """{"checks": [{"name", "holds", "counterexample"}], "ok"}; "ok" is False exactly when a
    must-hold check fails (the paper-claim checks inform, they do not fail a file)."""
    return {
        "checks": [
            {"name": r.name, "holds": r.holds, "counterexample": r.counterexample} for r in results
        ],
        "ok": not must_hold_failed(results),
    }


def verdict(result: CheckResult) -> str:
    """The verdict as the table prints it, saying only what Z3 concluded: a statement that does
    not hold is "violated" (or a failing paper claim) only with a counterexample in hand; without
    one Z3 could not decide, which fails a must-hold check all the same (it was not proved)."""
    if result.holds:
        return "holds"
    if result.counterexample is None:
        return "UNDECIDED" if result.must_hold else "paper claim undecided"
    return "VIOLATED" if result.must_hold else "paper claim fails"


_STYLE: Final = {"holds": "green", "VIOLATED": "red", "UNDECIDED": "red"}


def _verdict(result: CheckResult) -> str:
    text = verdict(result)
    style = _STYLE.get(text, "yellow")
    return f"[{style}]{text}[/{style}]"


def _counterexample(result: CheckResult) -> str:
    if result.counterexample is None:
        return ""
    return "\n".join(f"{key} = {value}" for key, value in result.counterexample.items())


def render_table(results: list[CheckResult]) -> Table:
    """A rich table: one row per check with its verdict, counterexample and detail."""
    table = Table(title="Z3 checks of the paper's statements", show_lines=True)
    table.add_column("check", style="bold", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("statement")
    table.add_column("counterexample")
    table.add_column("detail")
    for result in results:
        table.add_row(
            result.name,
            "must hold" if result.must_hold else "paper claim",
            _verdict(result),
            result.statement,
            _counterexample(result),
            result.detail,
        )
    return table
