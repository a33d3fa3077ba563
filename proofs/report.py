"""ref: proofs — running every check and presenting the results (table and JSON)."""

from __future__ import annotations

from typing import Any

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


def _verdict(result: CheckResult) -> str:
    if result.holds:
        return "[green]holds[/green]"
    if result.must_hold:
        return "[red]VIOLATED[/red]"
    return "[yellow]paper claim fails[/yellow]"


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
