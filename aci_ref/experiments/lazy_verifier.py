"""`aci-ref experiment lazy-verifier`: does skipping re-execution pay a verifier? (errata E90)

A world of honest workers and auditors (the probe programme's workers, which plant wrong outputs
under genuine attestations and reveal them once judged) runs jobs through the real chain. Its
verifiers follow three policies on the committees they are drawn to: re-execute and vote the
truth, accept unseen, or reject unseen; arbiters vote the truth. Each verifier's realised payoff
per task — pool payments received, less stake slashed, less the cost of the re-executions it
ran — is set beside the expected payoffs of `proofs.verifier` at the shares of wrong tasks the
run produced.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from aci_ref.experiments.base import (
    Experiment,
    Progress,
    Result,
    key_value_table,
    new_figure,
    non_negative,
    positive,
    rate_argument,
    save_figure,
)

POLICIES = ("honest", "accept", "reject")
"""What a committee member does: re-execute and vote the truth, or vote blind either way."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs", type=positive, default=3000, metavar="N", help="jobs (default: 3000)"
    )
    parser.add_argument(
        "--sampling-rate",
        type=rate_argument,
        default=Fraction(1, 20),
        metavar="F",
        help="α of the run, high so committees meet often (default: 1/20; the expected payoffs "
        "are also shown at the shipped α)",
    )
    parser.add_argument(
        "--auditors", type=positive, default=12, metavar="N", help="probe planters (default: 12)"
    )
    parser.add_argument(
        "--honest-workers",
        type=non_negative,
        default=12,
        metavar="N",
        help="honest workers (default: 12)",
    )
    parser.add_argument(
        "--cost-ratio",
        type=rate_argument,
        default=Fraction(1, 10),
        metavar="F",
        help="a re-execution's cost as a share of the job's price (default: 1/10)",
    )
    parser.add_argument(
        "--per-policy",
        type=positive,
        default=3,
        metavar="N",
        help="verifiers per policy (default: 3)",
    )


def _world(args: argparse.Namespace) -> Any:
    from aci_ref.sim.world import Behaviour, WorkerSpec, build_world, world_params

    workers = tuple(
        WorkerSpec(f"auditor-{i}", Behaviour.LAZY, auditor=True) for i in range(args.auditors)
    ) + tuple(WorkerSpec(f"honest-{i}") for i in range(args.honest_workers))
    params = world_params(args.sampling_rate)
    verifiers = args.per_policy * len(POLICIES)
    return build_world(params, label="lazy-verifier", verifiers=verifiers, workers=workers)


def _policy(world: Any, verifier: str) -> str:
    return POLICIES[world.verifiers.index(verifier) % len(POLICIES)]


def run(args: argparse.Namespace, progress: Progress) -> Result:
    from aci_ref.chain import ProbeRevealed, Slashed, VerifiersPaid
    from aci_ref.market.jobs import JobStatus
    from aci_ref.sim.world import Behaviour
    from proofs.verifier import payoffs, verifier_game

    world = _world(args)
    income: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    cost: Counter[str] = Counter()
    tasks: Counter[str] = Counter()
    wrong_tasks: Counter[str] = Counter()
    probes = planted = 0
    prices: list[int] = []
    for index in range(args.jobs):
        client = world.clients[index % len(world.clients)]
        job_id = world.order(client)
        job = world.job(job_id)
        auditor = world.state.workers[job.worker] and job.worker in world.probe_salts
        behaviour = Behaviour.LAZY if auditor else Behaviour.HONEST
        planted += auditor
        world.submit(job_id, behaviour=behaviour)
        world.seal()
        job = world.job(job_id)
        if job.status is JobStatus.VERIFYING:
            prices.append(job.price)
            for member in job.committee:
                policy = _policy(world, member)
                tasks[policy] += 1
                wrong_tasks[policy] += auditor
                if policy == "honest":
                    cost[member] += job.price
                    world.vote(member, job_id)
                else:
                    world.vote(member, job_id, accept=policy == "accept")
            if auditor and world.job(job_id).status in (JobStatus.SETTLED, JobStatus.DISPUTED):
                world.reveal(job_id)
            world.decide(job_id)
            world.review(job_id)
        progress(index + 1, args.jobs)
    world.seal(advance_ms=world.params.epoch_duration_ms)  # the last epoch's pool pays out
    for effect in world.log:
        if isinstance(effect, VerifiersPaid):
            for name, amount in effect.paid:
                income[name] += amount
        elif isinstance(effect, Slashed) and effect.record.offender in world.verifiers:
            lost[effect.record.offender] += effect.record.amount
        elif isinstance(effect, ProbeRevealed):
            probes += 1
    unit = world.params.token_base_units
    by_policy: dict[str, dict[str, Any]] = {}
    for policy in POLICIES:
        members = [v for v in world.verifiers if _policy(world, v) == policy]
        count = tasks[policy]
        earned = sum(income[m] for m in members)
        slashed = sum(lost[m] for m in members)
        spent = sum(cost[m] for m in members) * args.cost_ratio
        net = Fraction(earned - slashed) - spent
        by_policy[policy] = {
            "verifiers": members,
            "tasks": count,
            "wrong_tasks": wrong_tasks[policy],
            "paid_aci": earned / unit,
            "slashed_aci": slashed / unit,
            "reexecution_cost_aci": float(spent / unit),
            "payoff_per_task_aci": float(net / count / unit) if count else 0.0,
        }
    sampled = sum(tasks.values())
    wrong_share = Fraction(sum(wrong_tasks.values()), sampled) if sampled else Fraction(0)
    mean_price = Fraction(sum(prices), len(prices) * unit) if prices else Fraction(0)
    run_params = world.params
    shipped = verifier_game(_shipped())
    expected_run = payoffs(verifier_game(run_params), mean_price, args.cost_ratio, wrong_share)
    expected_shipped = payoffs(shipped, mean_price, args.cost_ratio, shipped.probe_share)
    curve = []
    grid = sorted({Fraction(m, 10**e) for e in range(1, 10) for m in (1, 2, 5)})
    for share in grid:
        values = payoffs(shipped, mean_price, args.cost_ratio, share)
        curve.append({"probe_share": float(share), **{k: float(v) for k, v in values.items()}})
    reward = shipped.reward_per_price * mean_price
    break_even = (args.cost_ratio * mean_price) / (reward + shipped.missed_fault_loss)
    return {
        "config": {
            "jobs": args.jobs,
            "sampling_rate": str(args.sampling_rate),
            "auditors": args.auditors,
            "honest_workers": args.honest_workers,
            "cost_ratio": str(args.cost_ratio),
            "verifiers_per_policy": args.per_policy,
        },
        "jobs_planted": planted,
        "tasks_judged": sampled,
        "probes_revealed": probes,
        "wrong_share_of_tasks": float(wrong_share),
        "mean_price_aci": float(mean_price),
        "by_policy": by_policy,
        "expected_at_run": {k: float(v) for k, v in expected_run.items()},
        "expected_at_shipped": {k: float(v) for k, v in expected_shipped.items()},
        "shipped_probe_share": float(shipped.probe_share),
        "break_even_probe_share": float(break_even),
        "curve_at_shipped": curve,
    }


def plot(result: Result, directory: Path) -> Sequence[Path]:
    """Expected payoff per task of each policy against the probe share φ, shipped values."""
    figure = new_figure()
    axes = figure.add_subplot(1, 1, 1)
    curve = result["curve_at_shipped"]
    shares = [point["probe_share"] for point in curve]
    for name, label in (
        ("honest", "re-execute"),
        ("always_accept", "accept unseen"),
        ("always_reject", "reject unseen"),
    ):
        axes.plot(shares, [point[name] for point in curve], label=label)
    axes.axvline(result["shipped_probe_share"], color="grey", linestyle=":", label="shipped φ")
    axes.axvline(
        result["break_even_probe_share"], color="black", linestyle="--", label="break-even φ"
    )
    axes.set_xscale("log")
    axes.set_yscale("symlog", linthresh=1e-3)
    axes.set_xlabel("probe share φ of the tasks a verifier judges")
    axes.set_ylabel("expected payoff per task (ACI)")
    axes.set_title("The verifier's dilemma at the shipped parameters (E90)")
    axes.legend(fontsize=8)
    return [save_figure(figure, directory, "lazy_verifier")]


def _shipped() -> Any:
    from aci_ref.params import default_params

    return default_params()


def render(result: Result) -> RenderableType:
    table = Table(title="Verifier policies: realised payoff per task (ACI)")
    for column in ("policy", "tasks", "wrong", "paid", "slashed", "cost", "payoff / task"):
        table.add_column(column, justify="right" if column != "policy" else "left")
    for policy, row in result["by_policy"].items():
        table.add_row(
            policy,
            str(row["tasks"]),
            str(row["wrong_tasks"]),
            f"{row['paid_aci']:.6g}",
            f"{row['slashed_aci']:.6g}",
            f"{row['reexecution_cost_aci']:.6g}",
            f"{row['payoff_per_task_aci']:.6g}",
        )
    expected = key_value_table(
        "Expected payoff per task (proofs.verifier), ACI",
        [
            *(
                (f"{name} (run's α, w)", value, "at the run's α and share of wrong tasks")
                for name, value in result["expected_at_run"].items()
            ),
            *(
                (f"{name} (shipped)", value, "shipped α, w = φ = probe_share_bps")
                for name, value in result["expected_at_shipped"].items()
            ),
        ],
    )
    facts = key_value_table(
        "Run",
        [
            ("tasks judged", result["tasks_judged"], "committee seats filled"),
            ("wrong share", result["wrong_share_of_tasks"], "share of judged tasks planted"),
            ("probes revealed", result["probes_revealed"], "auditors that revealed"),
            (
                "break-even φ",
                result["break_even_probe_share"],
                "probe share above which re-executing beats accepting unseen (shipped values)",
            ),
        ],
    )
    return Group(facts, table, expected)


EXPERIMENT = Experiment(
    name="lazy-verifier",
    summary="verifiers that vote without re-executing, against planted probes (E90)",
    add_arguments=add_arguments,
    run=run,
    render=render,
    plot=plot,
)
