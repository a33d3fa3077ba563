"""The Table 8 scenario (§8.3): where jobs and faults sit, who re-executes what, and the tally.

Jobs are spread evenly over the epochs (job j is in epoch ⌊j·T/J⌋) and over the workers (job j
belongs to worker j mod W). Every job is drawn with the chain's rule, `selected_for_reexecution`,
under one beacon per epoch. Faults are injected into jobs of a few faulty workers, each worker's
faults inside a burst of consecutive epochs (a worker that starts cheating keeps at it for a while).
A "careless" fault carries impossible metrics, which Level 1 refuses with certainty (no attestation
is built: it is counted as a Level-1 catch in its own epoch); a "careful" one is a lazy output
(`lazy_output`, random or cached) with honest-looking metrics, which only a re-execution catches.

Models run only where a re-execution happens: the worker's run (its own variant and thread count,
as honest hardware differences) and the verifier's reference run, compared by `compare_outputs`.
Two policies: "uniform" (Algorithm 2 as written) and "escalate" (a worker caught in epoch e has all
its jobs of epochs e−L..e re-audited at once and every job of epochs e+1..e+E re-executed), which
catches at least what uniform does, since it re-executes a superset.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from dataclasses import dataclass, replace
from typing import Any, Final

from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.experiments.base import Progress
from aci_ref.params import Params
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
    return policy_summary(layout, drawn, faults, done, caught, false_positives, args)


def policy_summary(
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
