"""`aci-ref experiment NAME [options]`: run one experiment, show its tables or JSON, write plots."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aci_ref.experiments import experiments
from aci_ref.experiments.base import FIGURES_DIR, Experiment, Result


def add_experiment_parser(sub: Any) -> None:
    """Add `experiment` and one sub-command per registered experiment to `sub`."""
    e = sub.add_parser(
        "experiment",
        help="measure a PoAI claim of the paper (detection, Table 8, attacks, false positives)",
        description="Measure one of the paper's PoAI claims; each prints tables or --json.",
    )
    names = e.add_subparsers(dest="experiment", required=True, metavar="NAME")
    for name, experiment in experiments().items():
        p = names.add_parser(name, help=experiment.summary, description=experiment.summary)
        experiment.add_arguments(p)
        p.add_argument("--json", action="store_true", help="print one JSON object (default: off)")
        p.add_argument(
            "--quiet", action="store_true", help="no progress on stderr (default: a bar or lines)"
        )
        if experiment.plot is not None:
            p.add_argument(
                "--figures",
                type=Path,
                default=FIGURES_DIR,
                metavar="DIR",
                help=f"directory the plots are written to (default: {FIGURES_DIR})",
            )
            p.add_argument(
                "--no-plot", action="store_true", help="write no figure (default: write them)"
            )
        p.set_defaults(handler=cmd_experiment, experiment_object=experiment)


def _run(experiment: Experiment, args: argparse.Namespace) -> Result:
    from aci_ref.usage import PlainProgress

    errors = Console(stderr=True)
    if args.quiet:
        return experiment.run(args, lambda done, total: None)
    if errors.is_terminal:
        with Progress(
            TextColumn(experiment.name),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=errors,
            transient=True,
        ) as bar:
            task = bar.add_task(experiment.name, total=None)
            return experiment.run(
                args, lambda done, total: bar.update(task, completed=done, total=total)
            )
    return experiment.run(args, PlainProgress(sys.stderr, label=experiment.name, unit="steps"))


def cmd_experiment(args: argparse.Namespace, console: Console) -> int:
    """Run the chosen experiment; print JSON or tables; write its figures unless told not to."""
    from aci_ref.errors import RejectedError
    from aci_ref.usage import UsageError

    experiment: Experiment = args.experiment_object
    try:
        result = _run(experiment, args)
    except RejectedError as refused:
        # A combination of options the experiment's model cannot run (more faults than jobs, a
        # committee larger than the verifiers...): one line, like any other bad argument.
        raise UsageError(f"experiment {experiment.name}: {refused}") from refused
    figures: list[str] = []
    if experiment.plot is not None and not args.no_plot:
        figures = [str(path) for path in experiment.plot(result, args.figures)]
    if args.json:
        print(json.dumps({**result, "figures": figures}, indent=2, sort_keys=True))
    else:
        console.print(experiment.render(result))
        for path in figures:
            console.print(f"figure written: {path}", markup=False)
    return 0
