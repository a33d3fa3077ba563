"""The `aci-ref` command line: parameters, checks and the simulation."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aci_ref.errors import ParamsError
from aci_ref.params import DEFAULT_PARAMS_PATH, Params, default_params, load_params, param_sources

Command = Callable[[argparse.Namespace, Console], int]


def _show(value: object) -> str:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}" if value.denominator != 1 else str(value)
    return str(value)


def _jsonable(value: object) -> object:
    if isinstance(value, Fraction):
        return str(value) if value.denominator != 1 else value.numerator
    return value


def cmd_params(args: argparse.Namespace, console: Console) -> int:
    """Print every parameter with its value and source, or validate a file with --check."""
    path: Path | None = args.check or args.params
    try:
        params = load_params(path)
    except ParamsError as error:
        console.print(f"[red]invalid parameters file[/red] {path}: {error}")
        return 2
    if args.check is not None and not args.json:
        console.print(f"[green]ok[/green] {args.check}: every constraint holds")
        return 0
    defaults = default_params()
    sources = param_sources(DEFAULT_PARAMS_PATH)
    rows = [
        (name, getattr(params, name), getattr(defaults, name), sources.get(name, ""))
        for name in params.__dataclass_fields__
    ]
    if args.json:
        payload = {
            "file": str(path or DEFAULT_PARAMS_PATH),
            "params": {n: {"value": _jsonable(v), "source": s} for n, v, _, s in rows},
        }
        print(json.dumps(payload, indent=2))
        return 0
    table = Table(title=f"Protocol parameters ({path or DEFAULT_PARAMS_PATH})")
    table.add_column("key", style="bold")
    table.add_column("value", justify="right")
    table.add_column("source")
    for name, value, default, source in rows:
        shown = (
            _show(value)
            if value == default
            else f"[yellow]{_show(value)}[/yellow] (paper/ref {_show(default)})"
        )
        table.add_row(name, shown, source)
    console.print(table)
    return 0


def _load(args: argparse.Namespace, console: Console) -> Params | None:
    try:
        return load_params(args.params)
    except ParamsError as error:
        console.print(f"[red]invalid parameters file[/red] {args.params}: {error}")
        return None


def _fraction(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError) as error:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from error
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is outside [0, 1]")
    return value


def cmd_simulate(args: argparse.Namespace, console: Console) -> int:
    """Run the deterministic simulation and print a summary table or one JSON object."""
    from aci_ref.sim.report import render_summary
    from aci_ref.sim.simulate import SimConfig, simulate

    params = _load(args, console)
    if params is None:
        return 2
    if args.sampling_rate is not None:
        if args.sampling_rate == 0:
            console.print("[red]--sampling-rate must be in (0, 1][/red]")
            return 2
        params = replace(params, sampling_rate=args.sampling_rate)
    config = SimConfig(
        jobs=args.jobs,
        workers=args.workers,
        lazy_workers=args.lazy_workers,
        lazy_fraction=args.lazy_fraction,
        careless_workers=args.careless_workers,
        sybil_workers=args.sybil_workers,
        clients=args.clients,
        verifiers=args.verifiers,
        epochs=args.epochs,
        seed=args.seed,
        params=params,
    )
    errors = Console(stderr=True)
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=args.quiet,
    ) as bar:
        task = bar.add_task("jobs", total=config.jobs)
        report = simulate(config, lambda done, total: bar.update(task, completed=done))
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        console.print(render_summary(report))
    return 0 if report["conservation_ok"] else 1


def cmd_check_params(args: argparse.Namespace, console: Console) -> int:
    """Run every Z3 check of proofs/ on a parameters file; non-zero when a must-hold one fails."""
    from proofs.report import must_hold_failed, render_table, results_json, run_checks

    try:
        params = load_params(args.file)
    except ParamsError as error:
        console.print(f"[red]invalid parameters file[/red] {args.file}: {error}")
        return 2
    results = run_checks(params)
    if args.json:
        print(json.dumps(results_json(results), indent=2, default=str))
    else:
        console.print(render_table(results))
        verdict = "[red]violated[/red]" if must_hold_failed(results) else "[green]all hold[/green]"
        console.print(f"must-hold statements: {verdict}")
    return 1 if must_hold_failed(results) else 0


def cmd_verify_protocol(args: argparse.Namespace, console: Console) -> int:
    """`check-params` and then the property suites (ci profile) against the same parameters."""
    checked = cmd_check_params(argparse.Namespace(file=args.params, json=False), console)
    if checked == 2:
        return 2
    suites = DEFAULT_PARAMS_PATH.parent.parent / "tests" / "properties"
    if not suites.is_dir():
        console.print(f"[red]no property suites at {suites}[/red] (run from a source checkout)")
        return 2
    console.print(f"property suites: {suites} with ACI_PARAMS={args.params}")
    env = {**os.environ, "ACI_PARAMS": str(Path(args.params).resolve())}
    env.setdefault("ACI_HYPOTHESIS_PROFILE", "ci")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suites)]
    if args.workers > 1:
        command += ["-n", str(args.workers)]
    suites_rc = subprocess.run(command, env=env, check=False).returncode
    console.print(
        f"Z3 checks: {'ok' if checked == 0 else 'VIOLATED'}; "
        f"property suites: {'ok' if suites_rc == 0 else 'FAILED'}"
    )
    return 0 if checked == 0 and suites_rc == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aci-ref", description="Executable reference of the Hanzo ACI protocol."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("params", help="print the parameter table, or validate a file")
    p.add_argument("--check", type=Path, metavar="FILE", help="validate FILE and exit")
    p.add_argument("--params", type=Path, metavar="FILE", help="show FILE instead of the defaults")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_params)

    s = sub.add_parser("simulate", help="run the whole protocol in one process, deterministically")
    s.add_argument("--jobs", type=int, default=2000, help="jobs to submit (default 2000)")
    s.add_argument("--workers", type=int, default=8, help="workers, all kinds (default 8)")
    s.add_argument("--lazy-workers", type=int, default=2, help="lazy, careful workers (default 2)")
    s.add_argument(
        "--careless-workers",
        type=int,
        default=1,
        help="lazy workers with false metrics (default 1)",
    )
    s.add_argument("--sybil-workers", type=int, default=2, help="identities on one platform")
    s.add_argument(
        "--lazy-fraction", type=_fraction, default=Fraction(1, 10), help="δ, jobs skipped"
    )
    s.add_argument("--sampling-rate", type=_fraction, default=None, help="override α")
    s.add_argument("--epochs", type=int, default=10, help="epochs the jobs spread over")
    s.add_argument("--clients", type=int, default=8)
    s.add_argument("--verifiers", type=int, default=5)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--params", type=Path, metavar="FILE", help="parameters file")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(handler=cmd_simulate)

    c = sub.add_parser("check-params", help="Z3 checks of Theorems 1–4, Prop. 5 and the economics")
    c.add_argument("file", type=Path, metavar="FILE", help="parameters file")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(handler=cmd_check_params)

    v = sub.add_parser("verify-protocol", help="check-params plus the property suites")
    v.add_argument("--params", type=Path, metavar="FILE", default=DEFAULT_PARAMS_PATH)
    v.add_argument("--workers", type=int, default=2, help="pytest processes (default 2)")
    v.set_defaults(handler=cmd_verify_protocol)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `aci-ref` console script."""
    args = build_parser().parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 120)
    handler: Command = args.handler
    return handler(args, console)


if __name__ == "__main__":
    sys.exit(main())
