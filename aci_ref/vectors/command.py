"""The `vectors generate`, `diff` and `serve-oracle` commands (docs/vectors.md)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from aci_ref.usage import UsageError


def add_vectors_parser(sub: Any) -> None:
    """Add `vectors`, `diff` and `serve-oracle` to the top-level parser's `sub`."""
    v = sub.add_parser("vectors", help="language-neutral test vectors (docs/vectors.md)")
    commands = v.add_subparsers(dest="vectors_command", required=True, metavar="COMMAND")
    g = commands.add_parser(
        "generate",
        help="write every runner's cases and manifest.json under OUT",
        description="Write the vector tree (cases, params.cbor, manifest.json) under OUT.",
    )
    g.add_argument("out", metavar="OUT", type=Path, help="a new or empty directory to write")
    g.set_defaults(handler=cmd_vectors_generate)
    d = sub.add_parser(
        "diff",
        help="replay the vectors (or fuzz) against an implementation over the oracle protocol",
        description="Run CMD as a subprocess speaking the oracle protocol (JSON lines on"
        " stdin/stdout, docs/vectors.md) and report the first divergence from the reference.",
    )
    d.add_argument("--impl", required=True, metavar="CMD", help="the command that starts it")
    d.add_argument(
        "--vectors", type=Path, metavar="DIR", help="a generated tree (default: generate one)"
    )
    d.add_argument("--fuzz", type=int, default=0, metavar="N", help="also run N generated programs")
    d.add_argument("--all", action="store_true", help="report every diverging case, not the first")
    d.set_defaults(handler=cmd_diff)
    s = sub.add_parser(
        "serve-oracle",
        help="answer the oracle protocol on stdin/stdout with the reference",
        description="The reference side of the differential runner's protocol.",
    )
    s.add_argument("--mutant", choices=MUTANT_NAMES, help=argparse.SUPPRESS)
    s.set_defaults(handler=cmd_serve_oracle)


MUTANT_NAMES = ("fee-rounding", "merkle-split", "refusal-moves-state", "skip-signature")
"""The names `--mutant` takes (`aci_ref.vectors.mutants:MUTANTS`, not imported here: building the
parser must stay cheap)."""


def cmd_vectors_generate(args: argparse.Namespace, console: Console) -> int:
    from aci_ref.vectors.generate import generate

    started = time.perf_counter()
    try:
        manifest = generate(args.out)
    except FileExistsError as error:
        raise UsageError(f"vectors generate: {error}") from None
    took = time.perf_counter() - started
    counts = ", ".join(f"{runner} {n}" for runner, n in manifest["counts"].items())
    console.print(f"{len(manifest['cases'])} cases in {args.out} ({counts}) in {took:.1f} s")
    return 0


def cmd_diff(args: argparse.Namespace, console: Console) -> int:
    from aci_ref.vectors.diff import Implementation, ImplementationError, replay_tree

    with tempfile.TemporaryDirectory() as scratch:
        tree = args.vectors
        if tree is None:
            from aci_ref.vectors.generate import generate

            tree = Path(scratch)
            generate(tree)
        try:
            with Implementation(args.impl) as impl:
                ran, found = replay_tree(impl, tree, stop_at_first=not args.all)
                for divergence in found:
                    console.print(divergence.report(), markup=False, highlight=False)
                console.print(f"{ran} vectors replayed, {len(found)} diverged")
                failed = bool(found)
                if args.fuzz:
                    from aci_ref.vectors.fuzz import fuzz

                    result = fuzz(impl, args.fuzz)
                    if result.failure is None:
                        console.print(f"fuzz: {result.examples} programs, no divergence")
                    else:
                        failed = True
                        program = ", ".join(f"{k}({a}, {b})" for k, a, b in result.failure.program)
                        console.print(f"fuzz: diverged; shrunk program: [{program}]", markup=False)
                        console.print(result.failure.divergence.report(), markup=False)
        except ImplementationError as error:
            print(f"aci-ref diff: {error}", file=sys.stderr)
            return 2
    return 1 if failed else 0


def cmd_serve_oracle(args: argparse.Namespace, console: Console) -> int:
    from aci_ref.vectors.oracle import serve

    if args.mutant:
        from aci_ref.vectors.mutants import MUTANTS

        MUTANTS[args.mutant]()
    return serve()
