"""`aci-ref experiment tee-attack`: forged attestations from an extracted enclave key, on the chain.

A `TeeAttacker` holds its enclave's key (§6.1 item 4, DESIGN §4): on δ of its jobs it returns a
cheap shortcut and signs an attestation with honest metrics. The certificate chain is genuine, so
the chain's Level 1 check admits every forged result (counted here); only a sampled re-execution
(Level 2) can catch one. Measured over seeds: the epoch each attacker is first slashed, beside
Theorem 2's 1 − (1 − α)^(⌊δN⌋t), and the attacker's expected loss beside what it gained.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

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
    wilson_interval,
)
from aci_ref.params import Params, default_params

WRONG_OUTPUT = frozenset({"wrong_output"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--attackers", type=positive, default=2, help="TEE attackers per world (2)")
    parser.add_argument(
        "--honest", type=non_negative, default=2, help="honest workers per world (2)"
    )
    parser.add_argument(
        "--delta", type=rate_argument, default=Fraction(1), help="δ, share of jobs forged (1)"
    )
    parser.add_argument(
        "--epoch-jobs", type=positive, default=100, help="jobs per worker per epoch, N (100)"
    )
    parser.add_argument("--epochs", type=positive, default=10, help="epochs T (10)")
    parser.add_argument("--seeds", type=positive, default=5, help="worlds (5)")
    parser.add_argument("--seed", type=non_negative, default=0, help="first seed (0)")
    parser.add_argument(
        "--sampling-rate", type=rate_argument, default=None, help="α (default: the shipped α)"
    )
    parser.add_argument(
        "--mode", default="cheap", help="the attacker's shortcut: random, cached, cheap (cheap)"
    )


def theorem2_curve(
    params: Params, rate: Fraction, delta: Fraction, n: int, epochs: int
) -> list[float]:
    """Theorem 2, §6.2: P(caught within t epochs) for t = 1 … T (the proofs' enclosure, low end)."""
    from proofs.theorem2 import lazy_detection_bound

    at = replace(params, sampling_rate=rate, epoch_jobs=n)
    return [float(lazy_detection_bound(at, delta, t).low) for t in range(1, epochs + 1)]


def run(args: argparse.Namespace, progress: Progress) -> Result:
    """Theorem 2, §6.2 against TEE attackers: Level 1 counts, Level 2 detections, losses."""
    from aci_ref.economics.ledger import Role
    from aci_ref.sim.adversaries import TeeAttacker
    from aci_ref.sim.adversary_runs import run_epochs, savings, unearned_fees
    from aci_ref.sim.world import WorkerSpec, build_world, world_params
    from proofs.model import deviating_jobs, slash_rate

    shipped = default_params().sampling_rate
    rate: Fraction = shipped if args.sampling_rate is None else args.sampling_rate
    params = world_params(rate)
    caught: list[int | None] = []
    forged = passed = sampled = lost = gained = saved = stake = honest_slashed = 0
    total = args.seeds * args.epochs
    for index, seed in enumerate(range(args.seed, args.seed + args.seeds)):
        attackers = [f"tee-{i}" for i in range(args.attackers)]
        specs = [WorkerSpec(n) for n in attackers]
        specs += [WorkerSpec(f"honest-{i}") for i in range(args.honest)]
        world = build_world(params, label=f"tee-attack/{seed}", workers=specs)
        stake += sum(world.stake(name, Role.WORKER) for name in attackers)
        policies = {
            name: TeeAttacker(args.delta, args.mode, f"tee-attack/{seed}/{name}")
            for name in attackers
        }

        def step(epoch: int, base: int = index * args.epochs) -> None:
            progress(base + epoch, total)

        log = run_epochs(
            world, policies, epochs=args.epochs, jobs_per_worker=args.epoch_jobs, progress=step
        )
        for name in attackers:
            caught.append(log.caught_epoch(name, WRONG_OUTPUT))
            lost += log.stake_lost(name)
            gained += unearned_fees(log, name)
            saved += savings(log, name, params)
            for record in log.jobs_of(name):
                if record.skipped:
                    forged += 1
                    passed += record.refused == ""
                    sampled += record.sampled
        honest_slashed += sum(c.offender.startswith("honest-") for c in log.slashes)
    progress(total, total)
    runs = len(caught)
    by_epoch = [
        sum(e is not None and e <= t for e in caught) / runs for t in range(1, args.epochs + 1)
    ]
    hazard = []
    for t in range(1, args.epochs + 1):
        at_risk = sum(e is None or e >= t for e in caught)
        hazard.append(sum(e == t for e in caught) / at_risk if at_risk else None)
    slashed = sum(e is not None for e in caught)
    curve = theorem2_curve(params, rate, args.delta, args.epoch_jobs, args.epochs)
    shipped_curve = theorem2_curve(params, shipped, args.delta, args.epoch_jobs, args.epochs)
    per_stake = Fraction(stake, runs)
    return {
        "config": {
            "attackers": args.attackers,
            "honest": args.honest,
            "delta": str(args.delta),
            "epoch_jobs": args.epoch_jobs,
            "epochs": args.epochs,
            "seeds": args.seeds,
            "mode": args.mode,
            "sampling_rate": str(rate),
            "shipped_sampling_rate": str(shipped),
            "token_base_units": params.token_base_units,
        },
        "forged_results": forged,
        "passed_level1": passed,
        "forged_sampled": sampled,
        "attacker_runs": runs,
        "attackers_caught": slashed,
        "caught_interval": list(wilson_interval(slashed, runs)),
        "caught_by_epoch": by_epoch,
        "caught_in_epoch_given_uncaught": hazard,
        "theorem1_per_epoch": curve[0],
        "theorem2_by_epoch": curve,
        "theorem2_shipped_by_epoch": shipped_curve,
        "wrong_jobs_per_epoch": deviating_jobs(args.delta, args.epoch_jobs),
        "mean_stake": int(per_stake),
        "expected_loss": int(per_stake * Fraction(curve[-1]) * slash_rate(params)),
        "mean_stake_lost": lost // runs,
        "mean_unearned_fees": gained // runs,
        "mean_savings": saved // runs,
        "honest_slashed": honest_slashed,
    }


def render(result: Result) -> RenderableType:
    """Level 1 counts, detection by epoch against Theorem 2, and the money."""
    unit = result["config"]["token_base_units"]
    counts = key_value_table(
        f"tee-attack at α = {result['config']['sampling_rate']}",
        [
            ("forged results", result["forged_results"], "submitted under the extracted key"),
            ("passed Level 1", result["passed_level1"], "admitted by the chain's Level 1 check"),
            ("sampled", result["forged_sampled"], "re-executed (Level 2)"),
            (
                "attackers caught",
                f"{result['attackers_caught']} / {result['attacker_runs']}",
                "slashed 100 % for a wrong output within T epochs",
            ),
            ("Theorem 1 per epoch", result["theorem1_per_epoch"], "1 − (1 − α)^⌊δN⌋"),
            ("expected loss (ACI)", result["expected_loss"] / unit, "Stake · P_T · SlashRate"),
            ("mean stake lost (ACI)", result["mean_stake_lost"] / unit, "measured, per attacker"),
            ("mean fees for forged (ACI)", result["mean_unearned_fees"] / unit, "measured gain"),
            ("honest workers slashed", result["honest_slashed"], "the control group"),
        ],
    )
    table = Table(title="caught within t epochs: measured vs Theorem 2")
    for column in ("t", "measured", "Theorem 2 (α run)", "Theorem 2 (α shipped)", "hazard"):
        table.add_column(column, justify="right")
    for t, (measured, bound, shipped, hazard) in enumerate(
        zip(
            result["caught_by_epoch"],
            result["theorem2_by_epoch"],
            result["theorem2_shipped_by_epoch"],
            result["caught_in_epoch_given_uncaught"],
            strict=True,
        ),
        start=1,
    ):
        shown = "—" if hazard is None else f"{hazard:.3f}"
        table.add_row(str(t), f"{measured:.3f}", f"{bound:.3f}", f"{shipped:.3f}", shown)
    return Group(counts, table)


def plot(result: Result, directory: Path) -> list[Path]:
    """Measured fraction caught by epoch beside Theorem 2's curves."""
    epochs = list(range(1, result["config"]["epochs"] + 1))
    figure = new_figure()
    axes = figure.add_subplot(1, 1, 1)
    axes.step(epochs, result["caught_by_epoch"], where="post", label="measured (chain)")
    axes.plot(epochs, result["theorem2_by_epoch"], "k--", label="Theorem 2, α of the run")
    axes.plot(epochs, result["theorem2_shipped_by_epoch"], "k:", label="Theorem 2, shipped α")
    axes.set_xlabel("epoch")
    axes.set_ylabel("fraction of TEE attackers slashed")
    axes.set_ylim(0, 1.05)
    axes.legend()
    return [save_figure(figure, directory, "tee_attack")]


EXPERIMENT = Experiment(
    name="tee-attack",
    summary="forged attestations (extracted enclave key) pass Level 1; Level 2 vs Theorem 2",
    add_arguments=add_arguments,
    run=run,
    render=render,
    plot=plot,
)
