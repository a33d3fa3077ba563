"""What an experiment is, and the helpers every experiment shares (confidence intervals, figures).

An experiment is a measurement the paper makes a claim about: it takes its command-line options,
reports progress as (done, total), and returns one JSON-able dict. `render` turns that dict into
tables for a terminal and `plot` writes figures under `docs/figures/` where a curve says more than
a table. Nothing here touches the chain's rules: experiments drive the same code the chain runs.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from rich.console import RenderableType
from rich.table import Table

Progress = Callable[[int, int], None]
"""Called with (work done, total work); the command line draws it as a bar."""

Result = dict[str, Any]

FIGURES_DIR: Final = Path("docs") / "figures"
"""Where figures go by default, relative to the working directory."""

Z_95: Final = 1.959963984540054
"""The two-sided 95 % normal quantile, for Wilson intervals."""


def rate_argument(text: str) -> Fraction:
    """ref: command line — an exact rate in [0, 1] from "3/1000" or "0.003" (never a float)."""
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError) as error:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from error
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is outside [0, 1]")
    return value


def count_argument(low: int) -> Callable[[str], int]:
    """ref: command line — a parser for whole numbers of at least `low`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from error
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}")
        return value

    parse.__name__ = f"count of at least {low}"
    return parse


positive = count_argument(1)
"""A whole number of at least 1 (counts of jobs, epochs, workers, trials)."""

non_negative = count_argument(0)
"""A whole number of at least 0 (seeds, optional counts)."""


def no_progress(done: int, total: int) -> None:
    """A progress callback that ignores every report."""


@dataclass(frozen=True, slots=True)
class Experiment:
    """One `aci-ref experiment NAME`: its options, its run, its tables and its figures."""

    name: str
    summary: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Progress], Result]
    render: Callable[[Result], RenderableType]
    plot: Callable[[Result, Path], Sequence[Path]] | None = None


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion (95 % by default).

    It stays inside [0, 1] and is honest at 0 and at `trials` successes, where the normal
    interval collapses to a point.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def key_value_table(title: str, rows: Sequence[tuple[str, object, str]]) -> Table:
    """A three-column table: quantity, value, what it means."""
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    for name, value, meaning in rows:
        table.add_row(name, _cell(value), meaning)
    return table


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def new_figure(width: float = 6.4, height: float = 4.0) -> Any:
    """A matplotlib figure on the file-only Agg backend (no display is ever opened)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot.figure(figsize=(width, height), dpi=110)


def save_figure(figure: Any, directory: Path, name: str) -> Path:
    """Write `figure` as `directory/name.png` (metadata stripped, so the bytes are stable)."""
    from matplotlib import pyplot

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    pyplot.close(figure)
    return path
