"""`aci-ref experiment table8`: §8.3's 30-day testnet (Table 8) replayed at full scale.

Jobs are spread evenly over the epochs (job j is in epoch ⌊j·T/J⌋) and over the workers (job j
belongs to worker j mod W). Every job is drawn with the chain's rule, `selected_for_reexecution`,
under one beacon per epoch. Faults are injected into jobs of a few faulty workers, each worker's
faults inside a burst of consecutive epochs (a worker that starts cheating keeps at it for a while).
A "careless" fault carries impossible metrics, which Level 1 refuses with certainty (no attestation
is built: it is counted as a Level-1 catch in its own epoch); a "careful" one is a lazy output
(`lazy_output`, random or cached) with honest-looking metrics, which only a re-execution catches.

Models run only where a re-execution happens: the worker's run (its own variant and thread count,
as honest hardware differences) and the verifier's reference run, compared by `compare_outputs`.
Two policies side by side: "uniform" (Algorithm 2 as written) and "escalate" (a worker caught in
epoch e has all its jobs of epochs e−L..e re-audited at once and every job of epochs e+1..e+E
re-executed), which catches at least what uniform does, since it re-executes a superset.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from rich.console import Group, RenderableType
from rich.table import Table

from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.experiments.base import Experiment, Progress, Result, new_figure, save_figure
from aci_ref.experiments.detection import rate_argument
from aci_ref.params import Params, default_params
from aci_ref.poai.matching import seed_from_job
from aci_ref.poai.verification import selected_for_reexecution

DOMAIN: Final = "aci-ref/experiments/table8"
MODEL_SETS: Final = {"mlp": ("mlp-64-128-16",), "both": ("mlp-64-128-16", "charlm-d32-l2")}
CAREFUL_MODES: Final = ("random", "cached")
PAPER: Final = {
    "jobs_processed": 8_412_893,
    "jobs_sampled": 25_238,
    "sampled_pct": 0.3,
    "faults": 47,
    "caught": 47,
    "caught_within_5": 38,
    "caught_within_10": 47,
    "false_positives": 12,
    "honest_sampled": 25_191,
    "false_positive_pct": 0.05,
    "overhead_pct": 0.31,
    "detection_within_10_pct": 99.7,
}
"""§8.3, Table 8 and the text below it: the values the paper reports (not protocol constants)."""
PAPER_ALIASES: Final = {"honest_reexecuted": "honest_sampled"}
TABLE_ROWS: Final = """jobs_processed jobs_sampled sampled_pct reexecutions extra_reexecutions
caught caught_level1 caught_level2 caught_within_5 caught_within_10 false_positives
honest_reexecuted false_positive_pct overhead_pct"""
CONFIG_KEYS: Final = "jobs epochs workers fault_workers seed escalate_epochs lookback_epochs"


def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(canonical_bytes([DOMAIN, *parts])).digest(), "big")


@dataclass(frozen=True, slots=True)
class Layout:
    """§8.3 (ref: layout): which epoch, worker and model each job index has."""

    jobs: int
    epochs: int
    workers: int
    seed: int
    models: tuple[str, ...]
    flops: tuple[int, ...]  # each model's `flops_per_input`; job j runs model j mod len(models)

    def start(self, epoch: int) -> int:
        """The first job of `epoch` (the least j with ⌊j·T/J⌋ ≥ epoch)."""
        return -(-epoch * self.jobs // self.epochs)

    def epoch_of(self, job: int) -> int:
        return job * self.epochs // self.jobs

    def worker_jobs(self, worker: int, first: int, last: int) -> range:
        """The jobs of `worker` in epochs first..last (clipped to the run)."""
        low, high = self.start(max(0, first)), self.start(min(self.epochs - 1, last) + 1)
        return range(low + (worker - low) % self.workers, high, self.workers)

    def job_id(self, job: int) -> bytes:
        """SHA-256(canonical [domain, "job", seed] ‖ job index as 8 bytes big-endian)."""
        hasher = hashlib.sha256(canonical_bytes([DOMAIN, "job", self.seed]))
        hasher.update(job.to_bytes(8, "big"))
        return hasher.digest()

    def beacon(self, epoch: int) -> bytes:
        return hashlib.sha256(canonical_bytes([DOMAIN, "beacon", self.seed, epoch])).digest()

    def hardware(self, worker: int) -> tuple[str, int]:
        """A worker's honest hardware difference: a `VARIANTS` entry and 1 or 2 threads."""
        from aci_ref.poai.workloads import VARIANTS

        draw = _hash("hardware", self.seed, worker)
        return VARIANTS[draw % len(VARIANTS)], 1 + (draw >> 8) % 2


@dataclass(frozen=True, slots=True)
class Fault:
    """§8.3: one injected faulty job; `mode` is "metrics" (careless) or a lazy mode."""

    job: int
    worker: int
    epoch: int
    careless: bool
    mode: str


def inject_faults(layout: Layout, args: argparse.Namespace) -> dict[int, Fault]:
    """§8.3 (ref: fault injection): `faults` jobs of `fault_workers` workers, each worker's
    inside `burst_epochs` consecutive epochs from a hashed start; the ⌊share·F⌋ with the
    smallest hash are careless, the rest careful, alternating random and cached outputs."""
    chosen = sorted(range(layout.workers), key=lambda w: _hash("faulty", layout.seed, w))
    chosen = chosen[: args.fault_workers]
    burst = min(args.burst_epochs, layout.epochs)
    taken: dict[int, int] = {}
    for index in range(args.faults):
        worker = chosen[index % len(chosen)]
        first = _hash("burst", layout.seed, worker) % (layout.epochs - burst + 1)
        candidates = layout.worker_jobs(worker, first, first + burst - 1)
        free = [job for job in candidates if job not in taken]
        if not free:
            raise RejectedError(Rejection.BAD_INPUT, f"worker {worker}: more faults than jobs")
        taken[free[_hash("fault", layout.seed, index) % len(free)]] = worker
    careless = int(args.careless_share * len(taken))
    ranked = sorted(taken, key=lambda job: _hash("careless", layout.seed, job))
    careful = sorted(ranked[careless:])
    faults = {job: Fault(job, taken[job], layout.epoch_of(job), True, "metrics") for job in ranked}
    for number, job in enumerate(careful):
        faults[job] = replace(faults[job], careless=False, mode=CAREFUL_MODES[number % 2])
    return faults


def draw_samples(layout: Layout, params: Params, progress: Progress) -> list[list[int]]:
    """Algorithm 2 lines 6–7, §3.3: per epoch, every job the rule selects (all jobs drawn)."""
    prefix = hashlib.sha256(canonical_bytes([DOMAIN, "job", layout.seed]))
    drawn: list[list[int]] = []
    for epoch in range(layout.epochs):
        beacon, chosen = layout.beacon(epoch), []
        for job in range(layout.start(epoch), layout.start(epoch + 1)):
            hasher = prefix.copy()
            hasher.update(job.to_bytes(8, "big"))
            if selected_for_reexecution(params, beacon, hasher.digest()):
                chosen.append(job)
        drawn.append(chosen)
        progress(epoch + 1, 3 * layout.epochs)
    return drawn


class Verifier:
    """Algorithm 2 Level 2, §3.3 (ref: re-execution cache): each job is run once as the worker
    and once as the verifier, whichever policy asks; the verdict is remembered."""

    def __init__(self, layout: Layout, faults: dict[int, Fault], params: Params) -> None:
        self.layout, self.faults, self.params = layout, faults, params
        self.verdicts: dict[int, bool] = {}
        self.honest_worst: dict[str, float] = {}
        self.honest_mismatches: dict[str, int] = {}  # "model/rule" -> honest jobs flagged
        self.seconds = 0.0

    def mismatch(self, job: int) -> bool:
        """Whether the claimed output of `job` fails the §3.4 comparison with the reference."""
        if job not in self.verdicts:
            started = time.perf_counter()
            self.verdicts[job] = self._compare(job)
            self.seconds += time.perf_counter() - started
        return self.verdicts[job]

    def _compare(self, job: int) -> bool:
        from aci_ref.poai.matching import compare_outputs
        from aci_ref.poai.workloads import get_workload, lazy_output, make_input

        model = self.layout.models[job % len(self.layout.models)]
        workload = get_workload(model)
        data, seed = make_input(workload, job), seed_from_job(self.layout.job_id(job))
        fault = self.faults.get(job)
        if fault is not None:
            claimed = lazy_output(workload, data, fault.mode, seed)
        else:
            variant, threads = self.layout.hardware(job % self.layout.workers)
            claimed = workload.run(data, seed, threads=threads, variant=variant)
        reference = workload.reference_output(data, seed, claimed)
        result = compare_outputs(workload.kind, claimed, reference, self.params)
        if fault is None and result.measure is not None:
            worst = max(self.honest_worst.get(model, 0.0), float(result.measure))
            self.honest_worst[model] = worst
        if fault is None and not result.match:
            key = f"{model}/{result.rule}"
            self.honest_mismatches[key] = self.honest_mismatches.get(key, 0) + 1
        return not result.match


def run_policy(
    name: str,
    layout: Layout,
    drawn: list[list[int]],
    faults: dict[int, Fault],
    verifier: Verifier,
    args: argparse.Namespace,
    progress: Progress,
) -> dict[str, Any]:
    """Algorithm 2 over the whole run under one policy: "uniform" re-executes the drawn jobs;
    "escalate" also re-audits a caught worker's last L epochs and re-executes its next E."""
    escalate = name == "escalate"
    careless_by_epoch: dict[int, list[Fault]] = {}
    for fault in faults.values():
        if fault.careless:
            careless_by_epoch.setdefault(fault.epoch, []).append(fault)
    done: set[int] = set()
    caught: dict[int, tuple[int, int]] = {}  # fault job -> (level, epoch caught)
    until: dict[int, int] = {}
    false_positives = 0

    def reexecute(job: int, epoch: int) -> bool:
        nonlocal false_positives
        fault = faults.get(job)
        if job in done or (fault is not None and fault.careless):
            return False  # careless faults stop at Level 1 and are never re-executed
        done.add(job)
        if not verifier.mismatch(job):
            return False
        if fault is None:
            false_positives += 1
        else:
            caught[job] = (2, epoch)
        return True

    for epoch in range(layout.epochs):
        flagged = {f.worker for f in careless_by_epoch.get(epoch, [])}
        caught.update({f.job: (1, epoch) for f in careless_by_epoch.get(epoch, [])})
        due = set(drawn[epoch])
        for worker in sorted(w for w, last in until.items() if last >= epoch):
            due.update(layout.worker_jobs(worker, epoch, epoch))
        flagged.update(job % layout.workers for job in sorted(due) if reexecute(job, epoch))
        if escalate:
            for worker in sorted(flagged):
                until[worker] = max(until.get(worker, -1), epoch + args.escalate_epochs)
                for job in layout.worker_jobs(worker, epoch - args.lookback_epochs, epoch):
                    reexecute(job, epoch)
        progress((2 if escalate else 1) * layout.epochs + epoch + 1, 3 * layout.epochs)
    return _policy_summary(layout, drawn, faults, done, caught, false_positives, args)


def _policy_summary(
    layout: Layout,
    drawn: list[list[int]],
    faults: dict[int, Fault],
    done: set[int],
    caught: dict[int, tuple[int, int]],
    false_positives: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    sampled = sum(len(jobs) for jobs in drawn)
    careless = {job for job, fault in faults.items() if fault.careless}
    sampled_reexecuted = sum(1 for jobs in drawn for job in jobs if job not in careless)
    honest = sum(1 for job in done if job not in faults)
    cost, kinds = layout.flops, len(layout.flops)
    total = sum(cost[i] * len(range(i, layout.jobs, kinds)) for i in range(kinds))
    spent = sum(cost[job % kinds] for job in done)
    delays = {job: epoch - faults[job].epoch for job, (_, epoch) in caught.items()}
    horizon = max(10, args.lookback_epochs + 1)
    within = [sum(1 for d in delays.values() if d < k) for k in range(1, horizon + 1)]
    return {
        "jobs_processed": layout.jobs,
        "jobs_sampled": sampled,
        "sampled_pct": 100 * sampled / layout.jobs,
        "reexecutions": len(done),
        "extra_reexecutions": len(done) - sampled_reexecuted,
        "faults": len(faults),
        "caught": len(caught),
        "caught_level1": sum(1 for level, _ in caught.values() if level == 1),
        "caught_level2": sum(1 for level, _ in caught.values() if level == 2),
        "caught_within_5": within[4],
        "caught_within_10": within[9],
        "caught_within_k": within,
        "false_positives": false_positives,
        "honest_reexecuted": honest,
        "false_positive_pct": 100 * false_positives / honest if honest else 0.0,
        "overhead": spent / total,
        "overhead_pct": 100 * spent / total,
        "fault_catches": [
            {"job": job, "level": caught[job][0], "delay": delays[job]} for job in sorted(caught)
        ],
    }


def analytic(params: Params, jobs: int, faults: dict[int, Fault]) -> dict[str, Any]:
    """§8.3 against Theorem 1's model: what uniform α-sampling can be expected to catch."""
    alpha = params.sampling_rate
    total = len(faults)
    careful = sum(1 for f in faults.values() if not f.careless)
    return {
        "expected_sampled": float(alpha * jobs),
        "sampled_sd": math.sqrt(float(jobs * alpha * (1 - alpha))),
        "expected_caught_by_sampling": float(total * alpha),
        "p_all_caught_by_sampling": float(alpha**total),
        "expected_caught_uniform": float(total - careful + careful * alpha),
        "p_all_careful_caught": float(alpha**careful),
        "p_no_careful_caught": float((1 - alpha) ** careful),
    }


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

    option("--jobs", 8_412_893, "jobs processed over the run", type=int)
    option("--faults", 47, "faulty jobs injected", type=int)
    option("--fault-workers", 10, "workers the faults are spread over", type=int)
    option("--workers", 500, "workers the jobs are spread over", type=int)
    option("--epochs", 720, "epochs of one hour (720 = 30 days)", type=int)
    option("--burst-epochs", 10, "consecutive epochs each faulty worker cheats in", type=int)
    parser.add_argument(
        "--sampling-rate",
        type=rate_argument,
        metavar="A",
        help=f"α (default: Params.sampling_rate, {default_params().sampling_rate})",
    )
    option("--seed", 0, "seed of job ids, beacons, faults and hardware", type=int)
    option("--models", "mlp", "mlp, or both (mlp and charlm alternate)", choices=MODEL_SETS)
    option(
        "--careless-share",
        Fraction(0),
        "share of faults with impossible metrics (Level 1); 0 = the paper's incorrect outputs",
        type=rate_argument,
    )
    option(
        "--escalate-epochs", 10, "escalate: epochs a caught worker is fully re-executed", type=int
    )
    option("--lookback-epochs", 10, "escalate: past epochs re-audited when caught", type=int)


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
