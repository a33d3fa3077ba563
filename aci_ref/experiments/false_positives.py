"""`aci-ref experiment false-positives`: do the §3.4 matchers accept honest hardware noise?

For each matcher (ε_num on the MLP's logits, seed pinning + ε_KL on the character LM, and the
exact hash of Algorithm 2 line 9 on both, for comparison) and each honest way a worker's run may
differ from the verifier's (two threads instead of one, a batched run, float64 accumulation, or
nothing at all), the share of honest outputs refused — the false-positive rate, with a Wilson
95 % interval — and the largest honest distance in units of the threshold (its inverse is the
headroom). Then the other side: how often each subtle tampering of `aci_ref.sim.tampering` is
caught, by a verifier re-executing under each of the same settings (the "within" nudge must be
accepted every time, everything else refused).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from rich.console import Group, RenderableType
from rich.table import Table

from aci_ref.crypto import sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.experiments.base import (
    Experiment,
    Progress,
    Result,
    new_figure,
    non_negative,
    positive,
    save_figure,
    wilson_interval,
)
from aci_ref.params import Params, default_params

if TYPE_CHECKING:
    from aci_ref.poai.workloads import Workload

DEFAULT_INPUTS: Final = 800
"""Inputs per workload at the defaults: about 80 s on one core, mostly the character LM."""

VARIATIONS: Final = (
    ("identical", "reference", 1),
    ("threads-2", "reference", 2),
    ("batched", "batched", 1),
    ("float64", "float64", 1),
)
"""(name, variant, threads): honest ways a run may differ from the verifier's reference run."""

MLP_ID: Final = "mlp-64-128-16"
LM_ID: Final = "charlm-d32-l2"
MATCHERS: Final = (("numeric", MLP_ID), ("exact", MLP_ID), ("kl", LM_ID), ("exact", LM_ID))
"""(matcher, workload) pairs measured, in report order."""

INPUT_DOMAIN: Final = "aci-ref/experiments/false-positives"
SAMPLE_POINTS: Final = 400
"""How many order statistics of each row's distances the result keeps for the CDF plot."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """ref: false-positives experiment — the number of inputs and the seed choosing them."""
    parser.add_argument(
        "--inputs",
        type=positive,
        default=DEFAULT_INPUTS,
        metavar="N",
        help=f"inputs per workload (default: {DEFAULT_INPUTS})",
    )
    parser.add_argument(
        "--seed",
        type=non_negative,
        default=0,
        metavar="S",
        help="seed choosing inputs and jobs (default: 0)",
    )


def _case(seed: int, model_id: str, index: int) -> tuple[int, bytes]:
    """The input index and the job id of the index-th case, both hashed from the seed."""
    digest = sha256(
        canonical_bytes({"domain": INPUT_DOMAIN, "index": index, "model": model_id, "seed": seed})
    )
    return int.from_bytes(digest[:4], "big") >> 1, digest


class _Tally:
    """Counts of one row: trials, refusals, rules seen and the distances in threshold units."""

    def __init__(self) -> None:
        self.trials = 0
        self.refused = 0
        self.rules: Counter[str] = Counter()
        self.ratios: list[float] = []

    def add(
        self, match: bool, measure: Fraction | None, rule: str, threshold: Fraction | None
    ) -> None:
        self.trials += 1
        self.refused += not match
        self.rules[rule] += 1
        if threshold is not None and measure is not None:
            self.ratios.append(float(measure / threshold))

    def summary(self) -> dict[str, Any]:
        low, high = wilson_interval(self.refused, self.trials)
        ratios = sorted(self.ratios)
        return {
            "trials": self.trials,
            "refused": self.refused,
            "rate": self.refused / self.trials if self.trials else 0.0,
            "wilson95": [low, high],
            "max_ratio": ratios[-1] if ratios else None,
            "min_ratio": ratios[0] if ratios else None,
            "rules": dict(sorted(self.rules.items())),
            "ratio_sample": _order_statistics(ratios, SAMPLE_POINTS),
        }


def _order_statistics(ordered: list[float], points: int) -> list[float]:
    """Evenly spaced order statistics of a sorted list, first and last included (all if few)."""
    if len(ordered) <= points:
        return ordered
    return [ordered[i * (len(ordered) - 1) // (points - 1)] for i in range(points)]


def _threshold(workload: Workload, params: Params) -> tuple[str, Fraction]:
    """The tolerant matcher of a workload's output kind and its threshold."""
    from aci_ref.poai.matching import OutputKind

    if workload.kind is OutputKind.NUMERIC:
        return "numeric", params.epsilon_num
    return "kl", params.epsilon_kl


def _honest_case(
    workload: Workload,
    data: bytes,
    seed: int,
    params: Params,
    honest: dict[tuple[str, str, str], _Tally],
) -> bytes:
    """Every honest worker run of one input, judged by both matchers; returns the plain run."""
    from aci_ref.poai.matching import compare_outputs, exact_match

    matcher, threshold = _threshold(workload, params)
    plain = workload.run(data, seed)  # the verifier's own run, also the worker's truth
    for name, variant, threads in VARIATIONS:
        claimed = (
            plain
            if (variant, threads) == ("reference", 1)
            else workload.run(data, seed, threads=threads, variant=variant)
        )
        reference = workload.reference_output(data, seed, claimed)
        result = compare_outputs(workload.kind, claimed, reference, params)
        honest[matcher, workload.model_id, name].add(
            result.match, result.measure, result.rule, threshold
        )
        same = exact_match(claimed, plain)
        honest["exact", workload.model_id, name].add(same.match, same.measure, same.rule, None)
    return plain


def _tampered_case(
    workload: Workload,
    data: bytes,
    seed: int,
    plain: bytes,
    params: Params,
    tampering: dict[tuple[str, str, str], _Tally],
) -> None:
    """Every subtle tampering of one input, verified under every setting."""
    from aci_ref.poai.matching import compare_outputs
    from aci_ref.sim.tampering import tampered_output, tamperings_for

    _, threshold = _threshold(workload, params)
    for how in tamperings_for(workload.kind):
        for side in ("above", "within") if how == "nudge" else ("outside",):
            lie = tampered_output(
                workload, data, seed, how, within=side == "within", params=params, honest=plain
            )
            tally = tampering.setdefault((workload.model_id, how, side), _Tally())
            for _, variant, threads in VARIATIONS:
                reference = workload.reference_output(
                    data, seed, lie, threads=threads, variant=variant
                )
                result = compare_outputs(workload.kind, lie, reference, params)
                tally.add(result.match, result.measure, result.rule, threshold)


def _passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spin, if torch is not loaded yet.

    The two-thread runs otherwise spin-wait at every barrier; on a machine whose cores are busy
    with other work that makes them ten to twenty times slower. libgomp reads the variable when
    it loads, so this only helps before the first torch import; a value the user set is kept.
    Only the speed changes: the runs' bits do not depend on how threads wait.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run(args: argparse.Namespace, progress: Progress) -> Result:
    """ref: false-positives experiment — honest refusal rates, headroom and tampering detection."""
    _passive_openmp()
    from aci_ref.poai.matching import seed_from_job
    from aci_ref.poai.workloads import get_workload, make_input
    from aci_ref.sim.tampering import DEFAULT_MARGIN

    params = default_params()
    inputs: int = args.inputs
    honest = {(m, w, v[0]): _Tally() for m, w in MATCHERS for v in VARIATIONS}
    tampering: dict[tuple[str, str, str], _Tally] = {}
    done, total = 0, 2 * inputs
    for model_id in (MLP_ID, LM_ID):
        workload = get_workload(model_id)
        for index in range(inputs):
            input_index, job_id = _case(args.seed, model_id, index)
            data, seed = make_input(workload, input_index), seed_from_job(job_id)
            plain = _honest_case(workload, data, seed, params, honest)
            _tampered_case(workload, data, seed, plain, params, tampering)
            done += 1
            progress(done, total)
    honest_rows = [
        {"matcher": m, "workload": w, "variation": v, **tally.summary()}
        for (m, w, v), tally in honest.items()
    ]
    for row in honest_rows:
        top = row["max_ratio"]
        row["headroom"] = 1 / top if top else None
    tamper_rows = [
        {
            "workload": w,
            "tampering": how,
            "side": side,
            "expected": "accept" if side == "within" else "reject",
            **tally.summary(),
        }
        for (w, how, side), tally in tampering.items()
    ]
    return {
        "inputs": inputs,
        "seed": args.seed,
        "epsilon_num": str(params.epsilon_num),
        "epsilon_kl": str(params.epsilon_kl),
        "margin": str(DEFAULT_MARGIN),
        "verifier_settings": [name for name, _, _ in VARIATIONS],
        "honest": honest_rows,
        "tampering": tamper_rows,
    }


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _interval(row: dict[str, Any]) -> str:
    low, high = row["wilson95"]
    return f"{100 * low:.2f}–{100 * high:.2f} %"


def render(result: Result) -> RenderableType:
    """ref: false-positives experiment — one table of honest refusals, one of detections."""
    honest = Table(
        title=f"Honest re-execution refused ({result['inputs']} inputs per workload; "
        f"ε_num = {result['epsilon_num']}, ε_KL = {result['epsilon_kl']} nats)"
    )
    for column in ("matcher", "workload", "worker run", "refused", "rate", "Wilson 95 %"):
        honest.add_column(column, justify="right" if column in ("refused", "rate") else "left")
    honest.add_column("max distance / ε", justify="right")
    honest.add_column("headroom", justify="right")
    for row in result["honest"]:
        headroom = row["headroom"]
        honest.add_row(
            row["matcher"],
            row["workload"],
            row["variation"],
            f"{row['refused']}/{row['trials']}",
            f"{100 * row['rate']:.2f} %",
            _interval(row),
            _ratio(row["max_ratio"]) if row["matcher"] != "exact" else "—",
            "∞" if headroom is None and row["matcher"] != "exact" else _ratio(headroom),
        )
    caught = Table(
        title=f"Subtle tamperings (margin {result['margin']} of ε; each verified under "
        f"{', '.join(result['verifier_settings'])})"
    )
    for column in ("workload", "tampering", "expected", "refused", "rate", "Wilson 95 %"):
        caught.add_column(column, justify="right" if column in ("refused", "rate") else "left")
    caught.add_column("distance / ε (min … max)", justify="right")
    caught.add_column("deciding rules")
    for row in result["tampering"]:
        name = row["tampering"] if row["side"] == "outside" else f"{row['tampering']} {row['side']}"
        caught.add_row(
            row["workload"],
            name,
            row["expected"],
            f"{row['refused']}/{row['trials']}",
            f"{100 * row['rate']:.2f} %",
            _interval(row),
            f"{_ratio(row['min_ratio'])} … {_ratio(row['max_ratio'])}",
            ", ".join(f"{rule} {count}" for rule, count in row["rules"].items()),
        )
    return Group(honest, caught)


def plot(result: Result, directory: Path) -> Sequence[Path]:
    """ref: false-positives experiment — CDFs of honest and nudged distances against ε."""
    figure = new_figure(11.0, 4.2)
    panels = (("numeric", MLP_ID, "max |Δ| / ε_num"), ("kl", LM_ID, "max-step KL / ε_KL"))
    for position, (matcher, model_id, label) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, 2, position)
        curves = [
            (row["variation"], row["ratio_sample"], "-")
            for row in result["honest"]
            if (row["matcher"], row["workload"]) == (matcher, model_id)
        ]
        curves += [
            (f"nudge {row['side']} (tampered)", row["ratio_sample"], "--")
            for row in result["tampering"]
            if row["workload"] == model_id and row["tampering"] == "nudge"
        ]
        seen: dict[tuple[float, ...], str] = {}
        for width, (name, ratios, style) in zip(range(len(curves), 0, -1), curves, strict=False):
            positive = [r for r in ratios if r > 0]
            zeros = len(ratios) - len(positive)
            if not positive:
                axes.plot([], [], style, label=f"{name}: all at 0")
                continue
            heights = [(i + 1 + zeros) / len(ratios) for i in range(len(positive))]
            note = f" ({100 * zeros / len(ratios):.0f} % at 0)" if zeros else ""
            twin = seen.setdefault(tuple(ratios), name)
            note += f" (= {twin})" if twin != name else ""
            axes.step(
                [positive[0], *positive],
                [zeros / len(ratios), *heights],
                style,
                where="post",
                linewidth=0.8 + width / 2,
                label=f"{name}{note}",
            )
        axes.axvline(1.0, color="black", linewidth=1.0, label="threshold ε")
        axes.set_xscale("log")
        axes.set_xlim(right=max(10.0, axes.get_xlim()[1]))
        axes.axvspan(1.0, axes.get_xlim()[1], color="red", alpha=0.08, label="refused")
        axes.set_ylim(0.0, 1.02)
        axes.set_xlabel(label)
        axes.set_ylabel("share of runs ≤ x")
        axes.set_title(f"{matcher} matcher on {model_id} ({result['inputs']} inputs)")
        axes.legend(fontsize=7, loc="center")
    return [save_figure(figure, directory, "false_positives")]


EXPERIMENT: Final = Experiment(
    name="false-positives",
    summary="§3.4 matchers: honest false-positive rates, headroom and subtle-tampering detection",
    add_arguments=add_arguments,
    run=run,
    render=render,
    plot=plot,
)
