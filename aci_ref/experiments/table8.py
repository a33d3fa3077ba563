"""`aci-ref experiment table8`: §8.3's 30-day testnet (Table 8) replayed at full scale.

The scenario — where jobs and faults sit, the two sampling policies, the re-executions — is
`aci_ref.experiments.table8_model`; this module is its command: options, the run, tables, figure.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from aci_ref.errors import RejectedError, Rejection
from aci_ref.experiments.base import (
    Experiment,
    Progress,
    Result,
    new_figure,
    non_negative,
    positive,
    rate_argument,
    save_figure,
)
from aci_ref.experiments.table8_model import (
    CONFIG_KEYS,
    MODEL_SETS,
    PAPER,
    PAPER_ALIASES,
    TABLE_ROWS,
    Layout,
    Verifier,
    analytic,
    draw_samples,
    inject_faults,
    run_policy,
)
from aci_ref.params import default_params


def _check(args: argparse.Namespace) -> None:
    if not 1 <= args.epochs <= args.jobs or args.workers < 1 or args.burst_epochs < 1:
        raise RejectedError(Rejection.BAD_INPUT, "need 1 <= epochs <= jobs, workers, burst >= 1")
    if args.faults < 0 or not 1 <= args.fault_workers <= args.workers:
        raise RejectedError(Rejection.BAD_INPUT, "need faults >= 0, 1 <= fault workers <= workers")
    if min(args.escalate_epochs, args.lookback_epochs) < 0:
        raise RejectedError(Rejection.BAD_INPUT, "escalation windows must be >= 0")


def reproduce_table8(args: argparse.Namespace, progress: Progress) -> Result:
    """Table 8, §8.3: the 30-day run replayed — sampled jobs, faults caught per level, false
    positives and overhead under each sampling policy, beside the paper's values (errata E4)."""
    started = time.perf_counter()
    _check(args)
    base = default_params()
    rate = base.sampling_rate if args.sampling_rate is None else args.sampling_rate
    params = replace(base, sampling_rate=rate)
    from aci_ref.poai.workloads import get_workload

    models = MODEL_SETS[args.models]
    cost = tuple(get_workload(model).profile().flops_per_input for model in models)
    layout = Layout(args.jobs, args.epochs, args.workers, args.seed, models, cost)
    faults = inject_faults(layout, args)
    drawn = draw_samples(layout, params, progress)
    sampling_s = time.perf_counter() - started
    verifier = Verifier(layout, faults, params)
    policies = {
        name: run_policy(name, layout, drawn, faults, verifier, args, progress)
        for name in ("uniform", "escalate")
    }
    return {
        "config": {
            **{key: getattr(args, key) for key in CONFIG_KEYS.split()},
            "burst_epochs": min(args.burst_epochs, args.epochs),
            "careless_share": str(args.careless_share),
            "careless_faults": sum(1 for f in faults.values() if f.careless),
            "faults": len(faults),
            "models": list(layout.models),
            "sampling_rate": str(rate),
            "caught_within_k": "[k-1]: caught in the k epochs from the injection epoch on",
            "overhead": "FLOPs re-executed by verifiers / FLOPs of all jobs",
        },
        "policies": policies,
        "faults": [
            {"job": f.job, "worker": f.worker, "epoch": f.epoch, "mode": f.mode}
            for f in sorted(faults.values(), key=lambda f: f.job)
        ],
        "honest_max_measure": dict(sorted(verifier.honest_worst.items())),
        "honest_mismatches": dict(sorted(verifier.honest_mismatches.items())),
        "thresholds": {
            "epsilon_num": str(params.epsilon_num),
            "epsilon_kl": str(params.epsilon_kl),
        },
        "paper": PAPER,
        "analytic": analytic(params, args.jobs, faults),
        "timing_s": {
            "sampling_draws": sampling_s,
            "model_runs": verifier.seconds,
            "total": time.perf_counter() - started,
        },
    }


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    def option(flag: str, default: object, text: str, **kwargs: Any) -> None:
        parser.add_argument(flag, default=default, help=f"{text} (default: {default})", **kwargs)

    option("--jobs", 8_412_893, "jobs processed over the run", type=positive)
    option("--faults", 47, "faulty jobs injected", type=positive)
    option("--fault-workers", 10, "workers the faults are spread over", type=positive)
    option("--workers", 500, "workers the jobs are spread over", type=positive)
    option("--epochs", 720, "epochs of one hour (720 = 30 days)", type=positive)
    option("--burst-epochs", 10, "consecutive epochs each faulty worker cheats in", type=positive)
    parser.add_argument(
        "--sampling-rate",
        type=rate_argument,
        metavar="A",
        help=f"α (default: Params.sampling_rate, {default_params().sampling_rate})",
    )
    option("--seed", 0, "seed of job ids, beacons, faults and hardware", type=non_negative)
    option("--models", "mlp", "mlp, or both (mlp and charlm alternate)", choices=MODEL_SETS)
    option(
        "--careless-share",
        Fraction(0),
        "share of faults with impossible metrics (Level 1); 0 = the paper's incorrect outputs",
        type=rate_argument,
    )
    option(
        "--escalate-epochs",
        10,
        "escalate: epochs a caught worker is fully re-executed",
        type=positive,
    )
    option("--lookback-epochs", 10, "escalate: past epochs re-audited when caught", type=positive)


def _render(result: Result) -> RenderableType:
    uniform, escalate = result["policies"]["uniform"], result["policies"]["escalate"]
    paper = result["paper"]
    table = Table(title="Table 8 (§8.3): PoAI verification over the run")
    for column in ("metric", "uniform", "escalate", "paper"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    for key in TABLE_ROWS.split():
        shown = [
            f"{v:.3f}" if isinstance(v, float) else str(v) for v in (uniform[key], escalate[key])
        ]
        table.add_row(
            key.replace("_", " "), *shown, str(paper.get(PAPER_ALIASES.get(key, key), ""))
        )
    expected = Table(title="uniform α-sampling, analytically")
    expected.add_column("quantity")
    expected.add_column("value", justify="right")
    for key, value in result["analytic"].items():
        expected.add_row(key, f"{value:.4g}")
    timing = result["timing_s"]
    expected.add_row(
        "wall time s (draws / models / total)",
        "{sampling_draws:.1f} / {model_runs:.1f} / {total:.1f}".format(**timing),
    )
    return Group(table, expected)


def _plot(result: Result, directory: Path) -> list[Path]:
    figure = new_figure()
    axes = figure.add_subplot(1, 1, 1)
    for number, (name, policy) in enumerate(result["policies"].items()):
        within = policy["caught_within_k"]
        axes.step(
            range(1, len(within) + 1),
            within,
            where="post",
            color=f"C{number}",
            ls=("-", "--")[number % 2],
            label=f"{name} ({policy['reexecutions']} re-executions)",
        )
    axes.plot(
        [5, 10],
        [PAPER["caught_within_5"], PAPER["caught_within_10"]],
        "k*",
        ms=9,
        label="paper §8.3 (38 within 5, 47 within 10)",
    )
    axes.axhline(result["config"]["faults"], color="grey", ls=":", lw=1, label="faults injected")
    config, expected = result["config"], result["analytic"]["expected_caught_uniform"]
    axes.text(1, 2, f"uniform α-sampling expects {expected:.2f} caught", fontsize=8)
    axes.set_title(
        f"Faults caught within k epochs of injection (α = {config['sampling_rate']}, "
        f"careless share {config['careless_share']})",
        fontsize=9,
    )
    axes.set_xlabel("k (epochs since injection, injection epoch = 1)")
    axes.set_ylabel("faults caught (cumulative)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    share = config["careless_share"]
    name = "table8" if share == "0" else f"table8-careless-{share.replace('/', '-')}"
    return [save_figure(figure, directory, name)]


EXPERIMENT = Experiment(
    name="table8",
    summary="Table 8 (§8.3): 30 days of sampling, faults caught, false positives, overhead",
    add_arguments=_add_arguments,
    run=reproduce_table8,
    render=_render,
    plot=_plot,
)
