"""`aci-ref experiment collusion`: k colluding lazy workers on the real chain, beside Theorem 3.

k workers share one wrong answer per input and skip δ of their jobs (`ColludingWorkers`); the
world's verifiers are honest, or some of them collude and accept the partners' outputs
(`ColludingVerifiers`). Each variant runs the same seeds (the same beacons), so variants differ
only in how the colluding verifiers vote. Measured per colluder: detection within T epochs, stake
lost, savings (skipped compute valued at the worker's fee share) and fees paid for wrong outputs;
per sampled wrong job: whether the coalition held the committee's quorum, and how arbitration
ended. Beside it, Theorem 3's k·Stake·P_T·SlashRate > k·Savings_T with P_T from Theorem 2.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
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
    wilson_interval,
)
from aci_ref.params import Params, default_params

WRONG_OUTPUT = frozenset({"wrong_output"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--colluders", type=positive, default=4, help="colluding workers k (4)")
    parser.add_argument("--honest", type=non_negative, default=2, help="honest workers (2)")
    parser.add_argument(
        "--delta", type=rate_argument, default=Fraction(1, 5), help="δ skipped (0.2)"
    )
    parser.add_argument(
        "--epoch-jobs", type=positive, default=50, help="jobs per worker per epoch, N (50)"
    )
    parser.add_argument("--epochs", type=positive, default=10, help="epochs T (10)")
    parser.add_argument("--verifiers", type=positive, default=7, help="verifiers in the world (7)")
    parser.add_argument(
        "--colluding-verifiers",
        default="0,1,3",
        help="comma list of colluding-verifier counts, one variant each (0,1,3)",
    )
    parser.add_argument(
        "--sampling-rate",
        type=rate_argument,
        default=Fraction(1, 50),
        help="α for the runs (0.02; the shipped α is reported analytically beside it)",
    )
    parser.add_argument("--seeds", type=positive, default=2, help="worlds per variant (2)")
    parser.add_argument("--seed", type=non_negative, default=0, help="first seed (0)")


def _counts(text: str, verifiers: int) -> list[int]:
    from aci_ref.errors import RejectedError, Rejection

    counts = sorted({int(part) for part in text.split(",") if part.strip()})
    if not counts or counts[0] < 0 or counts[-1] >= verifiers:
        raise RejectedError(Rejection.BAD_INPUT, "colluding verifiers must be in [0, verifiers)")
    return counts


def theorem_side(
    params: Params, args: argparse.Namespace, rate: Fraction, price: Fraction
) -> Result:
    """Theorem 3, §6.2 at the run's sizes: Equation 4 with P_T from Theorem 2 (proofs helpers)."""
    from aci_ref.economics.ledger import Role
    from aci_ref.economics.staking import required_stake
    from aci_ref.sim.world import WORKER_CAPACITY
    from proofs.model import deviating_jobs, kept_share, slash_rate, worker_share
    from proofs.theorem2 import lazy_detection_bound
    from proofs.theorem3 import collusion_condition

    at = replace(params, sampling_rate=rate, epoch_jobs=args.epoch_jobs)
    m = deviating_jobs(args.delta, args.epoch_jobs)
    p_t = lazy_detection_bound(at, args.delta, args.epochs).low
    stake = Fraction(required_stake(params, Role.WORKER, WORKER_CAPACITY))
    loss = slash_rate(params) * kept_share(params)
    saved = args.epochs * m * price * worker_share(params)
    k = args.colluders
    return {
        "sampling_rate": str(rate),
        "wrong_jobs_per_epoch": m,
        "p_detect_within_T": float(p_t),
        "expected_slash_k": float(k * stake * p_t * loss),
        "savings_k": float(k * saved),
        "condition_holds": collusion_condition(k, stake, p_t, loss, saved),
    }


def _job_fate(
    world: Any, job_id: bytes, outcome: str, members: frozenset[str], params: Params
) -> dict[str, Any]:
    """How one sampled wrong job ended, and whether the coalition held each quorum."""
    from aci_ref.market.jobs import JobStatus
    from aci_ref.params import BPS

    job = world.job(job_id)

    def share(names: tuple[str, ...], stakes: tuple[int, ...]) -> Fraction:
        total = sum(stakes)
        held = sum(s for n, s in zip(names, stakes, strict=True) if n in members)
        return Fraction(held, total) if total else Fraction(0)

    committee = share(job.committee, job.committee_stakes)
    disputed = JobStatus.DISPUTED in job.history or job.status is JobStatus.DISPUTED
    arbiters = share(job.arbiters, job.arbiter_stakes) if disputed else Fraction(0)
    return {
        "committee_held": committee * BPS >= params.verification_quorum_bps,
        "disputed": disputed,
        "arbiter_share": float(arbiters),
        "outcome": outcome,
    }


def run_variant(
    args: argparse.Namespace, colluding: int, tick: Progress, done: list[int], total: int
) -> Result:
    """One variant (a number of colluding verifiers) over every seed."""
    from aci_ref.sim.adversaries import ColludingVerifiers, ColludingWorkers
    from aci_ref.sim.adversary_runs import run_epochs, savings, unearned_fees
    from aci_ref.sim.world import WorkerSpec, build_world, world_params

    params = world_params(args.sampling_rate)
    caught_epochs: list[int | None] = []
    fates: list[dict[str, Any]] = []
    lost = saved = unearned = prices = jobs = 0
    honest_verifier_slashes = bought_lost = honest_slashed = 0
    verifier_violations: dict[str, int] = {}
    for seed in range(args.seed, args.seed + args.seeds):
        colluders = [f"colluder-{i}" for i in range(args.colluders)]
        specs = [WorkerSpec(n) for n in colluders]
        specs += [WorkerSpec(f"honest-{i}") for i in range(args.honest)]
        world = build_world(
            params, label=f"collusion/{seed}", workers=specs, verifiers=args.verifiers
        )
        coalition = ColludingWorkers(frozenset(colluders), args.delta, f"collusion/{seed}")
        bought = frozenset(world.verifiers[:colluding])
        voters = ColludingVerifiers(bought, coalition.members)

        def step(epoch: int) -> None:
            done[0] += 1
            tick(done[0], total)

        log = run_epochs(
            world,
            dict.fromkeys(colluders, coalition),
            dict.fromkeys(bought, voters),
            epochs=args.epochs,
            jobs_per_worker=args.epoch_jobs,
            progress=step,
        )
        done[0] += args.epochs - log.epochs
        for name in colluders:
            caught_epochs.append(log.caught_epoch(name, WRONG_OUTPUT))
            lost += log.stake_lost(name)
            saved += savings(log, name, params)
            unearned += unearned_fees(log, name)
        for key, record in log.jobs.items():
            prices += record.price
            jobs += 1
            if record.skipped and record.sampled:
                fates.append(_job_fate(world, bytes.fromhex(key), record.outcome, bought, params))
        for caught in log.slashes:
            if caught.offender in world.verifiers:
                key = caught.violation
                verifier_violations[key] = verifier_violations.get(key, 0) + 1
            if caught.offender in bought:
                bought_lost += caught.amount
            elif caught.offender in world.verifiers:
                honest_verifier_slashes += 1
            elif caught.offender.startswith("honest-"):
                honest_slashed += 1
    runs = len(caught_epochs)
    slashed = sum(e is not None for e in caught_epochs)
    low, high = wilson_interval(slashed, runs)
    return {
        "colluding_verifiers": colluding,
        "colluder_runs": runs,
        "colluders_caught": slashed,
        "caught_interval": [low, high],
        "caught_by_epoch": [
            sum(e is not None and e <= t for e in caught_epochs) / runs
            for t in range(1, args.epochs + 1)
        ],
        "stake_lost": lost,
        "savings": saved,
        "unearned_fees": unearned,
        "mean_price": prices // max(1, jobs),
        "sampled_wrong_jobs": len(fates),
        "committee_held": sum(f["committee_held"] for f in fates),
        "escaped_holding_committee": sum(
            f["committee_held"] and f["outcome"] == "settled" for f in fates
        ),
        "escaped_without_committee": sum(
            not f["committee_held"] and f["outcome"] == "settled" for f in fates
        ),
        "disputed": sum(f["disputed"] for f in fates),
        "unresolved": sum(f["outcome"] == "unresolved" for f in fates),
        "honest_verifiers_slashed": honest_verifier_slashes,
        "colluding_verifier_stake_lost": bought_lost,
        "verifier_slashes": dict(sorted(verifier_violations.items())),
        "honest_workers_slashed": honest_slashed,
    }


def run(args: argparse.Namespace, progress: Progress) -> Result:
    """Theorem 3, §6.2: collusion measured on the chain beside Equation 4."""
    counts = _counts(args.colluding_verifiers, args.verifiers)
    total = len(counts) * args.seeds * args.epochs
    done = [0]
    variants = [run_variant(args, c, progress, done, total) for c in counts]
    progress(total, total)
    params = default_params()
    price = Fraction(variants[0]["mean_price"])
    return {
        "config": {
            "colluders": args.colluders,
            "honest": args.honest,
            "delta": str(args.delta),
            "epoch_jobs": args.epoch_jobs,
            "epochs": args.epochs,
            "verifiers": args.verifiers,
            "seeds": args.seeds,
            "sampling_rate": str(args.sampling_rate),
            "verification_committee_size": params.verification_committee_size,
            "arbitration_committee_size": params.arbitration_committee_size,
            "token_base_units": params.token_base_units,
        },
        "variants": variants,
        "theorem3": theorem_side(params, args, args.sampling_rate, price),
        "theorem3_shipped": theorem_side(params, args, params.sampling_rate, price),
    }


def render(result: Result) -> RenderableType:
    """One table of the variants, one of Theorem 3 at the run's α and at the shipped α."""
    unit = result["config"]["token_base_units"]
    table = Table(
        title="collusion: colluding workers (and verifiers) on the chain",
        caption="held: the colluding verifiers held the verification committee's quorum; "
        "split: arbitration undecided (refund, no slash); their loss: colluding verifiers' stake",
    )
    for column in (
        "colluding verifiers",
        "caught",
        "lost ACI",
        "saved ACI",
        "wrong sampled",
        "held → escaped",
        "escaped (not held)",
        "split",
        "their loss ACI",
        "honest slashed",
    ):
        table.add_column(column, justify="right", overflow="fold")
    for v in result["variants"]:
        table.add_row(
            str(v["colluding_verifiers"]),
            f"{v['colluders_caught']} / {v['colluder_runs']}",
            f"{v['stake_lost'] / unit:,.0f}",
            f"{v['savings'] / unit:.4f}",
            str(v["sampled_wrong_jobs"]),
            f"{v['committee_held']} → {v['escaped_holding_committee']}",
            str(v["escaped_without_committee"]),
            str(v["unresolved"]),
            f"{v['colluding_verifier_stake_lost'] / unit:,.0f}",
            str(v["honest_verifiers_slashed"] + v["honest_workers_slashed"]),
        )
    tables: list[RenderableType] = [table]
    for key in ("theorem3", "theorem3_shipped"):
        t = result[key]
        tables.append(
            key_value_table(
                f"Theorem 3 at α = {t['sampling_rate']}",
                [
                    ("P_T", t["p_detect_within_T"], "Theorem 2: 1 − (1 − α)^(⌊δN⌋T)"),
                    ("k·Stake·P_T·SlashRate", t["expected_slash_k"] / unit, "ACI, expected loss"),
                    ("k·Savings_T", t["savings_k"] / unit, "ACI, at the measured mean price"),
                    ("Equation 4 holds", t["condition_holds"], "collusion does not pay"),
                ],
            )
        )
    return Group(*tables)


def plot(result: Result, directory: Path) -> list[Path]:
    """Fraction of colluders caught by epoch, per variant, beside Theorem 2's curve."""
    config = result["config"]
    epochs = range(1, config["epochs"] + 1)
    rate = float(Fraction(config["sampling_rate"]))
    m = result["theorem3"]["wrong_jobs_per_epoch"]
    figure = new_figure()
    axes = figure.add_subplot(1, 1, 1)
    for v in result["variants"]:
        axes.step(
            list(epochs),
            v["caught_by_epoch"],
            where="post",
            label=f"{v['colluding_verifiers']} colluding verifiers",
        )
    axes.plot(list(epochs), [1 - (1 - rate) ** (m * t) for t in epochs], "k--", label="Theorem 2")
    axes.set_xlabel("epoch")
    axes.set_ylabel("fraction of colluders slashed")
    axes.set_title(
        f"k = {config['colluders']}, δ = {config['delta']}, α = {config['sampling_rate']}"
    )
    axes.set_ylim(0, 1.05)
    axes.legend()
    return [save_figure(figure, directory, "collusion")]


EXPERIMENT = Experiment(
    name="collusion",
    summary="k colluding lazy workers (and colluding verifiers) on the chain vs Theorem 3",
    add_arguments=add_arguments,
    run=run,
    render=render,
    plot=plot,
)
