"""The `aci-ref` command line: parameters, checks and the simulation."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

from rich.console import Console
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `aci-ref` console script."""
    args = build_parser().parse_args(argv)
    console = Console(stderr=False, soft_wrap=False)
    handler: Command = args.handler
    return handler(args, console)


if __name__ == "__main__":
    sys.exit(main())
