"""`aci-ref experiment detection`: Theorem 1 (§3.4) and Theorem 2 (§6.2) measured by sampling.

A lazy worker does N jobs in each of T epochs and returns a wrong output on ⌊δN⌋ of them. Each
job's re-execution is decided by the chain's own rule, `selected_for_reexecution` (u =
SHA-256(beacon ‖ job id) / 2^256 < α), with job ids and beacons derived by hashing (seed, trial,
epoch, index) under domain strings. The worker is detected within t epochs when at least one of
its wrong jobs of epochs 1..t is selected. Over K trials the detected share is set beside the
theorem's 1 − (1 − α)^(⌊δN⌋t), with a Wilson interval.

Only the wrong jobs are drawn (honest jobs cannot reveal anything), and an epoch's draws stop at
the first selected wrong job: what matters per epoch is the smallest selected index, which also
answers every smaller δ at once (the wrong jobs are indices 0..⌊δN⌋−1; ids are hashes, so which
indices they are does not change any draw's distribution). The δ curves of the plot therefore
share their random numbers, which makes their comparison sharper and costs nothing extra.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from rich.console import Group, RenderableType
from rich.table import Table

from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
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
    wilson_interval,
)
from aci_ref.params import Params, default_params
from aci_ref.poai.verification import selected_for_reexecution
from proofs.model import PAPER_DEVIATION, decimal, deviating_jobs
from proofs.theorem1 import ALPHA_PAPER
from proofs.theorem2 import lazy_detection_bound

JOB_DOMAIN: Final = "aci-ref/experiments/detection/job"
BEACON_DOMAIN: Final = "aci-ref/experiments/detection/beacon"
DEFAULT_DELTAS: Final = "1/1000,1/200,1/100,1/50"
PAPER_EPOCH_JOBS: Final = 10_000
PAPER_EPOCHS: Final = 10
PAPER_PRINTED: Final = Fraction(953, 1000)
"""Theorem 1, §3.4 prints 0.953 for the 10-epoch detection probability (exact: 0.9504)."""


def rates_argument(text: str) -> tuple[Fraction, ...]:
    """ref: command line — a comma-separated list of exact rates (see `rate_argument`)."""
    return tuple(rate_argument(part.strip()) for part in text.split(",") if part.strip())


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    alpha = default_params().sampling_rate
    parser.add_argument(
        "--sampling-rate",
        type=rate_argument,
        default=alpha,
        metavar="A",
        help=f"α, the chance a job is re-executed (default: sampling_rate, {alpha})",
    )
    parser.add_argument(
        "--lazy-fraction",
        type=rate_argument,
        default=Fraction(1, 100),
        metavar="D",
        help="δ, the share of its jobs the lazy worker gets wrong (default: 1/100)",
    )
    parser.add_argument(
        "--epoch-jobs", type=positive, default=10_000, metavar="N", help="N (default: 10000)"
    )
    parser.add_argument("--epochs", type=positive, default=10, metavar="T", help="T (default: 10)")
    parser.add_argument(
        "--trials",
        type=positive,
        default=1000,
        metavar="K",
        help="lazy workers simulated (default: 1000)",
    )
    parser.add_argument(
        "--seed", type=non_negative, default=0, metavar="S", help="seed (default: 0)"
    )
    parser.add_argument(
        "--deltas",
        type=rates_argument,
        default=rates_argument(DEFAULT_DELTAS),
        metavar="LIST",
        help=f"δ values the plot shows, sharing the trials' draws (default: {DEFAULT_DELTAS})",
    )


def _beacon(seed: int, trial: int, epoch: int) -> bytes:
    fields = {"domain": BEACON_DOMAIN, "epoch": epoch, "seed": seed, "trial": trial}
    return hashlib.sha256(canonical_bytes(fields)).digest()


def first_selected(params: Params, seed: int, trial: int, epoch: int, limit: int) -> int:
    """Algorithm 2 line 7, §3.3: the smallest job index below `limit` the rule selects, else limit.

    Job `index` of (seed, trial, epoch) has id SHA-256(canonical {"domain", "epoch", "seed",
    "trial"} ‖ index as 8 bytes big-endian); the epoch's beacon is SHA-256(canonical {"domain",
    "epoch", "seed", "trial"}) under its own domain.
    """
    beacon = _beacon(seed, trial, epoch)
    prefix = hashlib.sha256(
        canonical_bytes({"domain": JOB_DOMAIN, "epoch": epoch, "seed": seed, "trial": trial})
    )
    for index in range(limit):
        hasher = prefix.copy()
        hasher.update(index.to_bytes(8, "big"))
        if selected_for_reexecution(params, beacon, hasher.digest()):
            return index
    return limit


def first_detection_epochs(
    params: Params, counts: tuple[int, ...], epochs: int, trials: int, seed: int, progress: Progress
) -> list[list[int]]:
    """Theorem 2, §6.2 (sampled): per trial, for each wrong-job count m, the first epoch (1..T)
    in which one of the m wrong jobs is selected, or 0 when none is within T epochs."""
    limit = max(counts, default=0)
    smallest = min(counts, default=0)
    outcome: list[list[int]] = []
    for trial in range(trials):
        first = [0] * len(counts)
        for epoch in range(1, epochs + 1):
            hit = first_selected(params, seed, trial, epoch, limit)
            for position, count in enumerate(counts):
                if first[position] == 0 and hit < count:
                    first[position] = epoch
            if hit < smallest:
                break
        outcome.append(first)
        progress(trial + 1, trials)
    return outcome


def _theorem(params: Params, deviation: Fraction, epochs: int) -> float:
    return float(lazy_detection_bound(params, deviation, epochs).low)


def curve(
    params: Params, deviation: Fraction, first: list[int], epochs: int
) -> list[dict[str, Any]]:
    """Theorem 2, §6.2: empirical detection within t epochs (t = 1..T), its Wilson 95 % interval
    and the theorem's bound, from each trial's first detection epoch (0 = never)."""
    rows: list[dict[str, Any]] = []
    for t in range(1, epochs + 1):
        detected = sum(1 for e in first if 0 < e <= t)
        low, high = wilson_interval(detected, len(first))
        rows.append(
            {
                "epoch": t,
                "detected": detected,
                "empirical": detected / len(first) if first else 0.0,
                "ci_low": low,
                "ci_high": high,
                "theorem": _theorem(params, deviation, t),
            }
        )
    return rows


def paper_check() -> dict[str, Any]:
    """Theorem 1, §3.4: the 10-epoch value at the paper's parameters, beside the printed 0.953."""
    params = replace(default_params(), sampling_rate=ALPHA_PAPER, epoch_jobs=PAPER_EPOCH_JOBS)
    value = lazy_detection_bound(params, PAPER_DEVIATION, PAPER_EPOCHS).low
    return {
        "statement": (
            "for α = 0.003, δ = 0.01, N = 10,000, T = 10 the theorem gives "
            f"{decimal(value, 4)}; §3.4 prints {decimal(PAPER_PRINTED, 3)} (DESIGN §3)"
        ),
        "theorem": float(value),
        "theorem_4_places": decimal(value, 4),
        "paper_printed": float(PAPER_PRINTED),
    }


def _check(args: argparse.Namespace) -> None:
    if args.epoch_jobs < 1 or args.epochs < 1 or args.trials < 1:
        raise RejectedError(Rejection.BAD_INPUT, "epoch jobs, epochs and trials must be >= 1")


def _run(args: argparse.Namespace, progress: Progress) -> Result:
    _check(args)
    params = replace(default_params(), sampling_rate=args.sampling_rate, epoch_jobs=args.epoch_jobs)
    deltas = tuple(sorted({args.lazy_fraction, *args.deltas}))
    counts = tuple(deviating_jobs(delta, args.epoch_jobs) for delta in deltas)
    firsts = first_detection_epochs(params, counts, args.epochs, args.trials, args.seed, progress)
    curves = {
        str(delta): curve(params, delta, [row[i] for row in firsts], args.epochs)
        for i, delta in enumerate(deltas)
    }
    main = curves[str(args.lazy_fraction)]
    final = main[-1]
    return {
        "config": {
            "sampling_rate": str(args.sampling_rate),
            "lazy_fraction": str(args.lazy_fraction),
            "epoch_jobs": args.epoch_jobs,
            "epochs": args.epochs,
            "trials": args.trials,
            "seed": args.seed,
            "deviating_jobs_per_epoch": deviating_jobs(args.lazy_fraction, args.epoch_jobs),
            "deltas": [str(delta) for delta in args.deltas],
        },
        "trials": args.trials,
        "detected": final["detected"],
        "empirical": final["empirical"],
        "theorem": final["theorem"],
        "ci_low": final["ci_low"],
        "ci_high": final["ci_high"],
        "theorem_in_ci": final["ci_low"] <= final["theorem"] <= final["ci_high"],
        "by_epoch": main,
        "curves": {str(delta): curves[str(delta)] for delta in args.deltas},
        "paper": paper_check(),
    }


def _render(result: Result) -> RenderableType:
    config = result["config"]
    summary = key_value_table(
        "Theorems 1–2: lazy-worker detection within T epochs",
        [
            ("α", config["sampling_rate"], "sampling rate (Algorithm 2 line 7)"),
            ("δ", config["lazy_fraction"], "share of jobs the worker gets wrong"),
            ("⌊δN⌋ × T", f"{config['deviating_jobs_per_epoch']} × {config['epochs']}", "wrong"),
            ("empirical", result["empirical"], f"detected in {result['trials']} trials"),
            ("Wilson 95 %", f"[{result['ci_low']:.4f}, {result['ci_high']:.4f}]", "interval"),
            ("theorem", result["theorem"], "1 − (1 − α)^(⌊δN⌋T)"),
            ("paper", result["paper"]["theorem_4_places"], result["paper"]["statement"]),
        ],
    )
    table = Table(title="detection within t epochs")
    for column in ("t", "empirical", "95 % interval", "theorem"):
        table.add_column(column, justify="right")
    for row in result["by_epoch"]:
        table.add_row(
            str(row["epoch"]),
            f"{row['empirical']:.4f}",
            f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]",
            f"{row['theorem']:.4f}",
        )
    return Group(summary, table)


def _plot(result: Result, directory: Path) -> list[Path]:
    figure = new_figure()
    axes = figure.add_subplot(1, 1, 1)
    curves = result["curves"] or {result["config"]["lazy_fraction"]: result["by_epoch"]}
    for number, (delta, rows) in enumerate(curves.items()):
        colour = f"C{number}"
        t = [row["epoch"] for row in rows]
        shift = [x + 0.06 * (number - len(curves) / 2) for x in t]
        mid = [row["empirical"] for row in rows]
        below = [row["empirical"] - row["ci_low"] for row in rows]
        above = [row["ci_high"] - row["empirical"] for row in rows]
        axes.errorbar(shift, mid, yerr=[below, above], fmt="o", ms=3, capsize=2, color=colour)
        axes.plot(t, [row["theorem"] for row in rows], "-", color=colour, label=f"δ = {delta}")
    config = result["config"]
    axes.set_title(
        f"Detection within t epochs (α = {config['sampling_rate']}, N = {config['epoch_jobs']}, "
        f"K = {config['trials']})",
        fontsize=9,
    )
    axes.set_xlabel("epochs t")
    axes.set_ylabel("P(detected)")
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(
        title="theorem (line), sampled ± 95 % (points)",
        loc="lower right",
        fontsize=8,
        title_fontsize=8,
    )
    return [save_figure(figure, directory, "detection")]


EXPERIMENT = Experiment(
    name="detection",
    summary="Theorems 1–2: a δ-lazy worker's detection within T epochs, sampled vs. the bound",
    add_arguments=_add_arguments,
    run=_run,
    render=_render,
    plot=_plot,
)
