"""The human-readable summary of a simulation report: each number with its unit and its meaning."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from rich.console import Group
from rich.table import Table

from aci_ref.params import BPS, Params, default_params

#: What each Table 2 row punishes, for the slashes table (keys are `Violation` values).
VIOLATIONS = {
    "wrong_output": "re-execution and arbitration found the output wrong",
    "invalid_attestation": "a result failed Level 1 (attestation or metrics) and was reported",
    "timeout": "no accepted result within timeout_sla_multiple × the SLA",
    "low_quality": "quality below the threshold when an epoch closed (Level 3)",
    "sybil": "another identity registered on an already used TEE platform",
    "false_accusation": "a verifier's accusation failed arbitration",
    "missed_fault": "a verifier accepted an output arbitration or a revealed probe proved wrong",
}


def _percent(share: Fraction | float) -> str:
    return f"{float(share) * 100:.4g} %"


def _bps(bps: int) -> str:
    return _percent(Fraction(bps, BPS))


def _slash_rate(params: Params, violation: str) -> str:
    for key in (f"slash_{violation}_bps", f"slash_{violation}_bps_per_epoch"):
        if hasattr(params, key):
            per_epoch = " per epoch" if key.endswith("per_epoch") else ""
            return f"{_bps(getattr(params, key))} of stake{per_epoch}"
    return ""


def _jobs_table(report: dict[str, Any], params: Params) -> Table:
    alpha = params.sampling_rate
    submitted = report["jobs_submitted"]
    detected = report["detected"]
    lazy, caught = detected["lazy_jobs"], detected["lazy_jobs_caught"]
    committee = params.verification_committee_size
    expected_sampled = float(alpha * submitted)
    table = Table(
        title="Jobs and detection",
        caption=f"counts of jobs unless a row says otherwise; α = {_percent(alpha)}",
    )
    table.add_column("row")
    table.add_column("value", justify="right")
    table.add_column("what it counts")
    rows = [
        ("submitted", submitted, "jobs the clients asked a quote for"),
        ("settled", report["jobs_settled"], "paid out: the price split as Table 5 says"),
        (
            "sampled for re-execution",
            report["sampled"],
            f"drawn for Level 2 re-execution (expected ≈ α × submitted = {expected_sampled:.1f})",
        ),
        ("disputed", report["jobs_disputed"], "re-execution disagreed: sent to arbitration"),
        ("timed out", report["jobs_timed_out"], "no accepted result in time: worker slashed"),
        (
            "refunded",
            report["jobs_refunded"],
            "the escrow went back to the client (timeouts, disputes not decided for the worker)",
        ),
        (
            "lazy jobs",
            f"{lazy} faked, {caught} caught",
            "outputs a lazy or careless worker did not compute; caught = the job led to a slash."
            " Level 1 catches every careless one, re-execution a lazy one with chance α"
            f" (expected ≈ α × lazy jobs = {float(alpha * lazy):.1f} from Level 2)",
        ),
        (
            "misbehaving workers",
            f"{detected['misbehaving_workers']} in all, "
            f"{detected['misbehaving_workers_caught']} caught",
            "lazy and careless workers plus Sybil identities; caught = slashed at least once",
        ),
        (
            "detections L1 / L2 / L3 / Sybil",
            f"{detected['level1']} / {detected['level2']} / {detected['level3']} / "
            f"{detected['sybil']}",
            "slashes by what found them: Level 1 checks of a result, Level 2 re-execution,"
            " Level 3 quality at an epoch's close, Sybil at registration",
        ),
        (
            "false positives",
            report["false_positives"],
            "honest workers slashed for anything but low quality (should be 0)",
        ),
        (
            "honest jobs disputed",
            report.get("honest_jobs_disputed", 0),
            "disputes over a job its worker did compute (should be 0)",
        ),
        (
            "verification overhead",
            f"{report['verification_overhead']:.4%}",
            "FLOPs re-executed by verifiers ÷ FLOPs of all jobs (expected ≈ α × committee size"
            f" {committee} = {_percent(alpha * committee)}, more when arbitration re-executes)",
        ),
    ]
    for label, value, meaning in rows:
        table.add_row(label, str(value), meaning)
    return table


def render_summary(report: dict[str, Any], params: Params | None = None) -> Group:
    """Three tables: the lifecycle and detection, the slashes, and the money.

    `params` are the run's parameters (the shipped ones when None); they give the amounts' unit,
    α and the shares the rows are explained with.
    """
    params = params or default_params()
    unit = params.token_base_units

    def tokens(amount: int) -> str:
        return f"{amount / unit:,.2f}"

    in_aci = f"amounts in ACI; 1 ACI = {unit:,} base units"
    slashes = Table(
        title="Slashes (Table 2)",
        caption=f"{in_aci}; a reporter's share of a slash is paid out, the rest is burned",
    )
    slashes.add_column("violation")
    slashes.add_column("slashes", justify="right")
    slashes.add_column("ACI taken", justify="right")
    slashes.add_column("rate")
    slashes.add_column("what it punishes")
    for violation, row in report["slashed"].items():
        slashes.add_row(
            violation,
            str(row["count"]),
            tokens(row["amount"]),
            _slash_rate(params, violation),
            VIOLATIONS.get(violation, ""),
        )

    money = Table(title="Fees (Table 5) and supply", caption=in_aci)
    money.add_column("account")
    money.add_column("ACI", justify="right")
    money.add_column("what it is")
    shares = {
        "worker": params.fee_worker_bps,
        "validators": params.fee_validators_bps,
        "verifiers": params.fee_verifiers_bps,
        "lps": params.fee_lps_bps,
        "burned": params.fee_burn_bps,
    }
    for part, amount in report["fees"].items():
        share = f"{_bps(shares[part])} of each settled job's price" if part in shares else ""
        money.add_row(f"fees → {part}", tokens(amount), share)
    supply = report["supply"]
    money.add_row(
        "supply (initial = final)",
        f"{tokens(supply['initial'])} = {tokens(supply['final'])}",
        "created at genesis = held at the end; nothing is minted, so the two are equal",
    )
    money.add_row(
        "burned (fees + slashes)",
        tokens(supply["burned"]),
        "the fee burn plus every slash less its reporter's share",
    )
    money.add_row(
        "conservation",
        "ok" if report["conservation_ok"] else "VIOLATED",
        "every base unit is in a balance, a stake, an escrow or the burn",
    )
    tables = [_jobs_table(report, params), slashes, money]
    if "validators" in report:
        tables.append(_consensus_table(report))
    return Group(*tables)


def _consensus_table(report: dict[str, Any]) -> Table:
    """The two tracks' figures of a run with validators (virtual time)."""
    table = Table(title="Consensus (§4), in virtual time")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    match, final = report["match_latency_ms"], report["settlement_finality_ms"]
    rows = [
        ("validators", report["validators"], "committee size n"),
        ("byzantine", report["byzantine"], "of them adversaries (at most f = (n - 1) // 3)"),
        (
            "fast-path rounds",
            report["fast_path_rounds"],
            "DAG rounds up to the last committed anchor",
        ),
        ("settlement blocks", report["settlement_blocks"], "HotStuff blocks decided and executed"),
        ("checkpoints", report["checkpoints"], "fast-path output roots settled (§4.4)"),
        ("safety violations", report["safety_violations"], "what the safety checker found"),
        ("state roots agree", report["state_roots_agree"], "honest validators, every checkpoint"),
        ("checkpoint roots agree", report["checkpoint_roots_agree"], "same output roots"),
        ("match latency p50 / p99", f"{match['p50']} / {match['p99']} ms", "accept → executed"),
        ("settlement finality p50 / p99", f"{final['p50']} / {final['p99']} ms", "event → block"),
    ]
    for label, value, meaning in rows:
        table.add_row(label, str(value), meaning)
    return table
