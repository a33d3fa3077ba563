"""The human-readable summary of a simulation report."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

TOKEN = 1_000_000


def _tokens(amount: int) -> str:
    return f"{amount / TOKEN:,.2f}"


def render_summary(report: dict[str, Any]) -> Group:
    """Three tables: the lifecycle and detection, the slashes, and the money."""
    jobs = Table(title="Jobs and detection", show_header=False)
    jobs.add_column("what")
    jobs.add_column("value", justify="right")
    detected = report["detected"]
    for label, value in [
        ("submitted", report["jobs_submitted"]),
        ("settled", report["jobs_settled"]),
        ("disputed", report["jobs_disputed"]),
        ("timed out", report["jobs_timed_out"]),
        ("refunded", report["jobs_refunded"]),
        ("sampled for re-execution", report["sampled"]),
        ("lazy jobs (caught)", f"{detected['lazy_jobs']} ({detected['lazy_jobs_caught']})"),
        (
            "misbehaving workers (caught)",
            f"{detected['misbehaving_workers']} ({detected['misbehaving_workers_caught']})",
        ),
        (
            "detections L1 / L2 / L3 / Sybil",
            f"{detected['level1']} / {detected['level2']} / {detected['level3']} / "
            f"{detected['sybil']}",
        ),
        ("false positives", report["false_positives"]),
        ("verification overhead", f"{report['verification_overhead']:.4%}"),
    ]:
        jobs.add_row(label, str(value))
    slashes = Table(title="Slashes (Table 2)")
    slashes.add_column("violation")
    slashes.add_column("count", justify="right")
    slashes.add_column("tokens", justify="right")
    for violation, row in report["slashed"].items():
        slashes.add_row(violation, str(row["count"]), _tokens(row["amount"]))
    money = Table(title="Fees (Table 5) and supply, in ACI")
    money.add_column("account")
    money.add_column("tokens", justify="right")
    for part, amount in report["fees"].items():
        money.add_row(f"fees → {part}", _tokens(amount))
    supply = report["supply"]
    money.add_row(
        "supply (initial = final)", f"{_tokens(supply['initial'])} = {_tokens(supply['final'])}"
    )
    money.add_row("burned (fees + slashes)", _tokens(supply["burned"]))
    money.add_row("conservation", "ok" if report["conservation_ok"] else "VIOLATED")
    return Group(jobs, slashes, money)
