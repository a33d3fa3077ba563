"""The `aci-ref` command line: parameters, checks and the simulation.

A bad input is refused with one line on stderr, `aci-ref: error: ...`, and exit status 2. The
`simulate` command checks its flags and the parameters file before it imports the simulator,
which pulls in torch, so a mistyped flag is answered at once.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aci_ref.errors import ParamsError
from aci_ref.params import (
    AMOUNT_LIMIT,
    DEFAULT_PARAMS_PATH,
    Params,
    default_params,
    load_params,
    param_sources,
    params_origin,
)
from aci_ref.usage import PROGRESS_EVERY_S, PlainProgress, UsageError

Command = Callable[[argparse.Namespace, Console], int]

PROG = "aci-ref"
USAGE_EXIT = 2
INTERRUPTED_EXIT = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse alone also prints the whole usage)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _show(value: object) -> str:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}" if value.denominator != 1 else str(value)
    return str(value)


def _jsonable(value: object) -> object:
    if isinstance(value, Fraction):
        return str(value) if value.denominator != 1 else value.numerator
    return value


def _load(path: Path | None) -> Params:
    """`load_params`, with a refusal turned into the one-line usage error."""
    try:
        return load_params(path)
    except ParamsError as error:
        where = params_origin(path)
        detail = error.detail.removeprefix(f"{error.key}: ")
        key = "" if error.key in ("<file>", str(path)) else f"{error.key}: "
        raise UsageError(f"parameters file {where}: {key}{detail}") from error


# ---- params ---------------------------------------------------------------------------------


def cmd_params(args: argparse.Namespace, console: Console) -> int:
    """Print every parameter with its value and source, or validate a file with --check."""
    path: Path | None = args.check or args.params
    params = _load(path)
    if args.check is not None and not args.json:
        console.print(f"ok {params_origin(path)}: every constraint holds", markup=False)
        return 0
    defaults = default_params()
    sources = param_sources()
    rows = [
        (name, getattr(params, name), getattr(defaults, name), sources.get(name, ""))
        for name in params.__dataclass_fields__
    ]
    if args.json:
        payload = {
            "file": params_origin(path),
            "params": {n: {"value": _jsonable(v), "source": s} for n, v, _, s in rows},
        }
        print(json.dumps(payload, indent=2))
        return 0
    table = Table(title=f"Protocol parameters ({params_origin(path)})")
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


# ---- simulate -------------------------------------------------------------------------------

# The simulator's fixed choices that decide its genesis funds and its clock, as in `SimConfig`'s
# defaults and `Simulation._genesis` / `_block_interval` (aci_ref/sim/simulate.py). They are
# repeated here so a run that would overflow is refused before torch loads;
# tests/cli/test_simulator_agreement.py fails when the two drift apart.
_SIM_VALIDATORS = 4
SEQUENCER_JOBS = 2000
CONSENSUS_JOBS = 40
MAX_VALIDATORS = 99  # validator names v01…v99 sort in committee order
_SIM_LPS = 2
_SIM_WORKER_CAPACITY = 16
_SIM_CLIENT_TOKENS = 1_000_000
_SIM_JOBS_PER_BLOCK = 25
_SIM_TRAILING_BLOCKS = 4


def _rate(*, zero_allowed: bool) -> Callable[[str], Fraction]:
    """An argparse type for a fraction of jobs: [0, 1], or (0, 1] when zero means nothing."""

    def parse(text: str) -> Fraction:
        try:
            value = Fraction(text)
        except (ValueError, ZeroDivisionError) as error:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from error
        low = "[0" if zero_allowed else "(0"
        if not (0 <= value <= 1) or (value == 0 and not zero_allowed):
            raise argparse.ArgumentTypeError(f"{text} is outside {low}, 1]")
        return value

    return parse


def genesis_supply(params: Params, *, clients: int, verifiers: int, workers: int) -> int:
    """The base units the simulator creates at genesis (workers: all of them, Sybils included)."""
    worker_tokens = 2 * max(
        params.worker_min_stake, _SIM_WORKER_CAPACITY * params.worker_stake_per_capacity_unit
    )
    tokens = (
        clients * _SIM_CLIENT_TOKENS
        + verifiers * 2 * params.verifier_min_stake
        + _SIM_VALIDATORS * 2 * params.validator_min_stake
        + _SIM_LPS * 10 * params.lp_min_stake
        + workers * worker_tokens
    )
    return params.tokens(tokens)


def block_interval_ms(params: Params, *, jobs: int, epochs: int) -> tuple[int, int]:
    """The simulator's blocks in all and the ms between two of them."""
    blocks = max(1, -(-jobs // _SIM_JOBS_PER_BLOCK)) + 1 + _SIM_TRAILING_BLOCKS
    span = epochs * params.epoch_duration_ms
    interval = max(params.settlement_interval_ms, span // blocks)
    return blocks, min(interval, params.epoch_duration_ms)


def _at_least(flag: str, value: int, low: int, why: str = "") -> None:
    if value < low:
        reason = f": {why}" if why else ""
        raise UsageError(f"{flag} must be at least {low} (got {value}){reason}")


def check_simulate(args: argparse.Namespace, params: Params) -> None:
    """Refuse flags the simulation would crash on or silently ignore; torch is not loaded yet."""
    if args.jobs is None:
        args.jobs = CONSENSUS_JOBS if args.validators else SEQUENCER_JOBS
    _at_least("--jobs", args.jobs, 1)
    _at_least("--validators", args.validators, 0)
    _at_least("--byzantine", args.byzantine, 0)
    if args.byzantine and not args.validators:
        raise UsageError("--byzantine needs --validators: a sequencer run has no validators")
    if args.validators > MAX_VALIDATORS:
        raise UsageError(f"--validators {args.validators}: at most {MAX_VALIDATORS}")
    faulty = (args.validators - 1) // 3
    if args.validators and args.byzantine > faulty:
        raise UsageError(
            f"--byzantine {args.byzantine} is more than f = {faulty} of --validators"
            f" {args.validators}: beyond f neither safety nor liveness is promised (the"
            " adversarial suites in tests/adversarial show what breaks)"
        )
    _at_least("--workers", args.workers, 1, "someone has to run the jobs")
    _at_least("--lazy-workers", args.lazy_workers, 0)
    _at_least("--careless-workers", args.careless_workers, 0)
    _at_least("--sybil-workers", args.sybil_workers, 0)
    if args.lazy_workers + args.careless_workers > args.workers:
        raise UsageError(
            f"--lazy-workers {args.lazy_workers} plus --careless-workers {args.careless_workers}"
            f" is more than --workers {args.workers}: lazy and careless workers are counted"
            " among --workers (Sybil identities come on top)"
        )
    _at_least("--clients", args.clients, 1, "someone has to submit the jobs")
    _at_least("--epochs", args.epochs, 1, "the run spreads its jobs over this many epochs")
    _at_least("--seed", args.seed, 0, "random.Random(-n) replays seed n's draws")
    committee = params.verification_committee_size
    if params.sampling_rate > 0 and args.verifiers < committee + 1:
        if args.verifiers < 1:
            why = (
                f"with none, the jobs drawn for re-execution (α = {_show(params.sampling_rate)})"
                " would settle unchecked and Level 2 would be off"
            )
        else:
            why = (
                f"a drawn job's committee takes up to verification_committee_size = {committee}"
                " of them and a dispute needs one more to arbitrate it; with fewer, re-execution"
                " never gets a lazy worker slashed"
            )
        _at_least("--verifiers", args.verifiers, committee + 1, why)
    workers = args.workers + args.sybil_workers
    supply = genesis_supply(params, clients=args.clients, verifiers=args.verifiers, workers=workers)
    if supply >= AMOUNT_LIMIT:
        raise UsageError(
            f"this run would hand out {supply} base units at genesis ({args.clients} clients,"
            f" {args.verifiers} verifiers, {workers} workers at token_base_units"
            f" {params.token_base_units}), not below the 64-bit limit 2**63: use fewer"
            " participants or a smaller token_base_units"
        )
    blocks, block_ms = block_interval_ms(params, jobs=args.jobs, epochs=args.epochs)
    # The last jobs' deadlines lie timeout_sla_multiple SLAs (of 2 blocks) after the last block.
    end_ms = (blocks + 2 * 2 * params.timeout_sla_multiple) * block_ms
    if end_ms >= AMOUNT_LIMIT:
        raise UsageError(
            f"the run's clock would reach {end_ms} ms ({blocks} blocks {block_ms} ms apart),"
            " not below the 64-bit limit 2**63: use fewer --epochs or a shorter"
            " epoch_duration_ms"
        )


def _units(params: Params) -> dict[str, Any]:
    return {
        "amounts": (
            "base units (1 ACI = token_base_units base units): fees.*, slashed.*.amount, supply.*"
        ),
        "token_base_units": params.token_base_units,
        "verification_overhead": "FLOPs re-executed by verifiers / FLOPs of all jobs, in [0, 1]",
        "fractions": "config.lazy_fraction and config.sampling_rate: shares of jobs, in [0, 1]",
        "counts": "every other number counts jobs, workers, refused events, blocks or epochs",
    }


def cmd_simulate(args: argparse.Namespace, console: Console) -> int:
    """Run the deterministic simulation and print a summary table or one JSON object."""
    params = _load(args.params)
    if args.sampling_rate is not None:
        params = replace(params, sampling_rate=args.sampling_rate)
    check_simulate(args, params)

    from aci_ref.sim.report import render_summary
    from aci_ref.sim.simulate import SimConfig, simulate

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
    run: Callable[..., dict[str, Any]] = simulate
    if args.validators:
        from aci_ref.sim.consensus_sim import ConsensusSetup, simulate_consensus

        setup = ConsensusSetup(args.validators, args.byzantine)
        run = functools.partial(simulate_consensus, setup=setup)
    errors = Console(stderr=True)
    if args.quiet:
        report = run(config)
    elif errors.is_terminal:
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=errors,
            transient=True,
        ) as bar:
            task = bar.add_task("jobs", total=config.jobs)
            report = run(config, lambda done, total: bar.update(task, completed=done))
    else:
        # Without a terminal rich draws no bar; a log still wants to see the run advance.
        report = run(config, PlainProgress(sys.stderr))
    if args.json:
        payload = {**report, "params_file": params_origin(args.params), "units": _units(params)}
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        console.print(render_summary(report, params))
    return 0 if report["conservation_ok"] else 1


# ---- check-params and verify-protocol -------------------------------------------------------


def _z3_checks(params: Params, console: Console, *, as_json: bool) -> int:
    """Every Z3 check of proofs/ on the parameters: 0 when all must-hold ones hold, else 1."""
    from proofs.report import must_hold_failed, render_table, results_json, run_checks

    results = run_checks(params)
    if as_json:
        print(json.dumps(results_json(results), indent=2, default=str))
    else:
        console.print(render_table(results))
        verdict = "[red]violated[/red]" if must_hold_failed(results) else "[green]all hold[/green]"
        console.print(f"must-hold statements: {verdict}")
    return 1 if must_hold_failed(results) else 0


def cmd_check_params(args: argparse.Namespace, console: Console) -> int:
    """Run every Z3 check of proofs/ on a parameters file; non-zero when a must-hold one fails."""
    return _z3_checks(_load(args.file), console, as_json=args.json)


def checkout_suites() -> Path | None:
    """tests/properties of the source checkout this package runs from, None when installed."""
    suites = Path(__file__).resolve().parent.parent / "tests" / "properties"
    return suites if suites.is_dir() else None


def _note(message: str) -> None:
    print(f"{PROG}: note: {message}", file=sys.stderr)


def _suites_to_run(args: argparse.Namespace) -> Path | None:
    """The property suites to run, or None (with a note) when there are none and none were asked.

    An installed wheel carries no tests: the Z3 checks still run and decide the exit status, and
    only a user who named a directory with --suites gets an error when it holds no suites.
    """
    asked: Path | None = args.suites
    if asked is not None and not any(asked.glob("test_*.py")):
        raise UsageError(f"--suites {asked}: no test_*.py files there")
    suites = asked or checkout_suites()
    if suites is None:
        _note(
            "property suites skipped: they ship only with a source checkout (tests/properties);"
            " pass --suites DIR to run them from one"
        )
        return None
    if importlib.util.find_spec("pytest") is None:
        message = "the property suites need pytest: pip install 'aci-ref[dev]'"
        if asked is not None:
            raise UsageError(message)
        _note(f"property suites skipped: {message}")
        return None
    return suites


def cmd_verify_protocol(args: argparse.Namespace, console: Console) -> int:
    """`check-params` and then the property suites (ci profile) against the same parameters."""
    _at_least("--workers", args.workers, 1)
    params = _load(args.params)
    suites = _suites_to_run(args)
    checked = _z3_checks(params, console, as_json=False)
    if suites is None:
        console.print(
            f"Z3 checks: {'ok' if checked == 0 else 'VIOLATED'}; property suites: skipped"
        )
        return checked
    env = dict(os.environ)
    if args.params is not None:
        env["ACI_PARAMS"] = str(args.params.resolve())
    elif DEFAULT_PARAMS_PATH.is_file():
        env["ACI_PARAMS"] = str(DEFAULT_PARAMS_PATH)
    env.setdefault("ACI_HYPOTHESIS_PROFILE", "ci")
    console.print(
        f"property suites: {suites} with parameters {params_origin(args.params)}", markup=False
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suites)]
    if args.workers > 1 and importlib.util.find_spec("xdist") is not None:
        command += ["-n", str(args.workers)]
    suites_rc = subprocess.run(command, env=env, check=False).returncode
    console.print(
        f"Z3 checks: {'ok' if checked == 0 else 'VIOLATED'}; "
        f"property suites: {'ok' if suites_rc == 0 else 'FAILED'}"
    )
    return 0 if checked == 0 and suites_rc == 0 else 1


# ---- the parser -----------------------------------------------------------------------------


def _option(
    parser: argparse.ArgumentParser, flag: str, text: str, default_text: str, **kwargs: Any
) -> None:
    """An option whose help ends with its default, so `--help` answers "what if I omit it?"."""
    parser.add_argument(flag, help=f"{text} (default: {default_text})", **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Executable reference of the Hanzo ACI protocol.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("params", help="print the parameter table, or validate a file")
    p.add_argument("--check", type=Path, metavar="FILE", help="validate FILE and exit")
    p.add_argument("--params", type=Path, metavar="FILE", help="show FILE instead of the defaults")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_params)

    s = sub.add_parser(
        "simulate",
        help="run the whole protocol in one process, deterministically",
        description="Run the whole protocol in one process, deterministically.",
    )
    count: dict[str, Any] = {"type": int, "metavar": "N"}
    _option(
        s,
        "--jobs",
        "jobs the clients submit",
        f"{SEQUENCER_JOBS}, or {CONSENSUS_JOBS} with --validators",
        default=None,
        **count,
    )
    _option(
        s,
        "--workers",
        "workers that take jobs: honest, lazy and careless together",
        "8",
        default=8,
        **count,
    )
    _option(
        s,
        "--lazy-workers",
        "of --workers, how many skip work under genuine attestations (only re-execution"
        " catches them)",
        "2",
        default=2,
        **count,
    )
    _option(
        s,
        "--careless-workers",
        "of --workers, how many skip work and claim impossible metrics (Level 1 catches them)",
        "1",
        default=1,
        **count,
    )
    _option(
        s,
        "--sybil-workers",
        "extra identities registered on one TEE platform, on top of --workers",
        "2",
        default=2,
        **count,
    )
    _option(
        s,
        "--lazy-fraction",
        "δ: share of its jobs a lazy or careless worker skips, in [0, 1]",
        "1/10",
        type=_rate(zero_allowed=True),
        default=Fraction(1, 10),
        metavar="F",
    )
    _option(
        s,
        "--sampling-rate",
        "α: chance a job is re-executed, in (0, 1]; overrides the parameters file",
        "sampling_rate of the parameters file, 3/1000 shipped",
        type=_rate(zero_allowed=False),
        default=None,
        metavar="F",
    )
    _option(s, "--epochs", "epochs the jobs are spread over", "10", default=10, **count)
    _option(s, "--clients", "clients submitting jobs, in turn", "8", default=8, **count)
    _option(
        s,
        "--verifiers",
        "staked verifiers that re-execute drawn jobs and arbitrate disputes; at least"
        " verification_committee_size + 1",
        "5",
        default=5,
        **count,
    )
    _option(
        s,
        "--validators",
        "validators ordering the events through the two consensus tracks in the network"
        " simulator; 0 runs one trusted sequencer instead",
        "0",
        default=0,
        **count,
    )
    _option(
        s,
        "--byzantine",
        "of --validators, how many are adversaries (equivocating, withholding, forging), at most"
        " f = (N - 1) // 3",
        "0",
        default=0,
        **count,
    )
    _option(
        s, "--seed", "seed of every random choice; a seed replays a run", "0", default=0, **count
    )
    _option(
        s,
        "--params",
        "parameters file",
        "the shipped spec/parameters.toml",
        type=Path,
        metavar="FILE",
    )
    _option(s, "--json", "print one JSON object instead of tables", "off", action="store_true")
    _option(
        s,
        "--quiet",
        "no progress on stderr",
        f"off: a bar on a terminal, else a line every {PROGRESS_EVERY_S:g} s",
        action="store_true",
    )
    s.set_defaults(handler=cmd_simulate)

    c = sub.add_parser("check-params", help="Z3 checks of Theorems 1–4, Prop. 5 and the economics")
    c.add_argument("file", type=Path, metavar="FILE", help="parameters file")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(handler=cmd_check_params)

    v = sub.add_parser("verify-protocol", help="check-params plus the property suites")
    _option(
        v,
        "--params",
        "parameters file",
        "the shipped spec/parameters.toml",
        type=Path,
        metavar="FILE",
    )
    _option(
        v,
        "--suites",
        "directory of property suites (tests/properties of a source checkout); an installed"
        " package has none and then runs the Z3 checks alone",
        "the checkout's tests/properties when there is one",
        type=Path,
        metavar="DIR",
    )
    _option(v, "--workers", "pytest processes", "2", type=int, default=2, metavar="N")
    v.set_defaults(handler=cmd_verify_protocol)

    from aci_ref.aivm.command import add_aivm_parser
    from aci_ref.experiments.command import add_experiment_parser
    from aci_ref.vectors.command import add_vectors_parser

    add_experiment_parser(sub)
    add_aivm_parser(sub)
    add_vectors_parser(sub)
    return parser


def _silence_stdout() -> None:
    """After the reader of stdout left, point stdout at /dev/null so the exit flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # a captured stdout in tests has no file descriptor
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `aci-ref` console script."""
    # Idle OpenMP threads spin at every barrier, which starves a loaded machine; torch reads
    # this when it is first imported, which no command does before here.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        args = build_parser().parse_args(argv)
        console = Console(width=None if sys.stdout.isatty() else 120)
        handler: Command = args.handler
        status = handler(args, console)
        sys.stdout.flush()  # a closed pipe should fail here, inside the handler below
        return status
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return USAGE_EXIT
    except BrokenPipeError:
        # `aci-ref params --json | head -1`: the reader has what it wanted; stop like a Unix filter.
        _silence_stdout()
        return BROKEN_PIPE_EXIT
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT


if __name__ == "__main__":
    sys.exit(main())
